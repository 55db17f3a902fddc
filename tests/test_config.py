import copy

import pytest
import yaml

from facemotion.config import ConfigError, validate_config


@pytest.fixture
def shipped_config():
    with open("config/config.yaml") as handle:
        return yaml.safe_load(handle)


def test_shipped_config_is_valid_and_defaults_fill_in(shipped_config):
    config = validate_config(shipped_config)
    assert config["extraction"]["n_frames"] == 8
    assert config["training"]["model"] == "seed_cnn"


def test_empty_config_gets_the_seed_defaults():
    config = validate_config({})
    assert config["corpus"] == {"format": "demo", "path": "resources/demo"}
    assert config["extraction"]["face_size"] == 100
    assert config["extraction"]["detect_width"] == 400
    assert config["classes"] == ["Angry", "Happy", "Neutral", "Sad"]
    assert config["targets"] == ["label", "activation", "valence"]
    assert config["training"]["epochs"] == 10


def test_landmark_features_default_to_the_dense_network():
    config = validate_config({"features": "landmarks"})
    assert config["training"]["model"] == "seed_dense"
    assert config["training"]["epochs"] == 30


@pytest.mark.parametrize("patch, expected", [
    ({"extraction": {"n_frames": 0}}, "extraction.n_frames: got 0; allowed: an integer >= 1"),
    ({"features": "hog"}, "features: got 'hog'; allowed: one of 'pixels', 'landmarks'"),
    ({"corpus": {"format": "tsv", "path": "nowhere/manifest.tsv"}}, "corpus.path: 'nowhere/manifest.tsv' does not exist"),
    ({"corpus": {"format": "avi"}}, "corpus.format: got 'avi'; allowed: one of 'demo', 'tsv'"),
    ({"extraction": {"n_frame": 8}}, "unknown key 'extraction.n_frame'"),
    ({"targets": ["label", "arousal"]}, "targets.1: got 'arousal'; allowed: one of 'label', 'activation', 'valence'"),
    ({"features": "landmarks", "training": {"model": "seed_cnn"}}, "training.model: 'seed_cnn' needs features 'pixels'"),
    ({"binning": {"low": 3.5, "high": 2.5}}, "binning: low (3.5) must be below high (2.5)"),
    ({"training": {"gpu": 2}}, "training.gpu: got 2; allowed: an integer >= 0 and <= 1"),
    ({"training": {"precision": "float16"}}, "training.precision: got 'float16'; allowed: one of 'float32', 'mixed_float16'"),
])
def test_invalid_values_name_the_key_and_what_is_allowed(patch, expected):
    with pytest.raises(ConfigError) as error:
        validate_config(copy.deepcopy(patch))
    assert expected in str(error.value)


def test_all_problems_are_reported_at_once():
    with pytest.raises(ConfigError) as error:
        validate_config({"extraction": {"n_frames": 0, "face_size": "big"}, "features": "hog"})
    message = str(error.value)
    assert "extraction.n_frames" in message and "extraction.face_size" in message and "features" in message


def test_nested_command_line_overrides_arrive_as_strings_and_still_validate():
    # `snakemake --config extraction='{n_frames: 4}'` delivers '4' (YAML BaseLoader).
    config = validate_config({"extraction": {"n_frames": "4", "margin": "0.1"}, "training": {"learning_rate": "1e-3"}})
    assert config["extraction"]["n_frames"] == 4 and config["extraction"]["margin"] == 0.1
    assert config["training"]["learning_rate"] == 0.001
    with pytest.raises(ConfigError, match="extraction.n_frames: got '4.5'"):
        validate_config({"extraction": {"n_frames": "4.5"}})
