import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from facemotion.common.targets import EMOTIONS, TARGETS
from facemotion.config import ConfigError, experiment_configs, load_schema
from facemotion.corpora.cross_corpus import CORPUS_PROTOCOLS
from facemotion.learning.folds import PROTOCOLS
from facemotion.learning.networks import DEFAULT_EPOCHS, MODEL_FOR_FEATURES, NORMALISATIONS
from tiny_run import validated


@pytest.fixture
def shipped_config():
    with open("config/config.yaml") as handle:
        return yaml.safe_load(handle)


def test_shipped_config_is_valid_and_defaults_fill_in(shipped_config):
    config = validated(shipped_config)
    assert config["extraction"]["n_frames"] == 8
    assert config["training"]["model"] == "seed_cnn"


def test_empty_config_gets_the_seed_defaults():
    config = validated({})
    assert config["corpus"] == {"format": "demo", "path": "resources/demo", "source": "clips",
                                "actor_folds": "balanced"}
    assert config["extraction"]["face_size"] == 100
    assert config["extraction"]["detect_width"] == 400
    assert config["classes"] == ["Angry", "Happy", "Neutral", "Sad"]
    assert config["targets"] == ["label", "activation", "valence"]
    assert config["training"]["epochs"] == 10


def test_landmark_features_default_to_the_dense_network():
    config = validated({"features": "landmarks"})
    assert config["training"]["model"] == "seed_dense"
    assert config["training"]["epochs"] == 30
    assert config["training"]["normalisation"] == "per_feature"  # the seed's landmark z-scoring


def test_normalisation_defaults_to_the_seeds_per_feature_type_in_every_experiment():
    with open("config/seed_comparison.yaml") as handle:
        config = yaml.safe_load(handle)
    config["corpus"] = {"format": "demo", "path": "resources/demo"}
    experiments = experiment_configs(config)
    assert experiments["pixels"]["training"]["normalisation"] == "global"
    assert experiments["landmarks"]["training"]["normalisation"] == "per_feature"


def test_a_normalisation_the_features_do_not_allow_is_refused():
    with pytest.raises(ConfigError, match="training.normalisation: 'per_pixel' is not available for features "
                                          "'landmarks'; allowed: per_feature, global"):
        validated({"features": "landmarks", "training": {"normalisation": "per_pixel"}})
    with pytest.raises(ConfigError, match="'per_feature' is not available for features 'pixels'"):
        validated({"training": {"normalisation": "per_feature"}})


def test_the_schema_lists_what_the_package_knows():
    schema = load_schema()["properties"]
    assert schema["classes"]["default"] == list(EMOTIONS)
    assert schema["targets"]["items"]["enum"] == schema["targets"]["default"] == list(TARGETS)
    assert schema["features"]["enum"] == list(MODEL_FOR_FEATURES)
    training = schema["training"]["properties"]
    assert training["model"]["enum"] == list(DEFAULT_EPOCHS) == list(MODEL_FOR_FEATURES.values())
    assert schema["cv"]["properties"]["protocol"]["enum"] == [*PROTOCOLS, *CORPUS_PROTOCOLS]
    assert set(training["normalisation"]["enum"]) == {m for ms in NORMALISATIONS.values() for m in ms}


def test_checking_the_config_does_not_start_tensorflow():
    """Every workflow start checks the config; the models' facts come without Keras."""
    check = "import sys, facemotion.config; print(sorted({'keras', 'tensorflow'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "workflow")}).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("patch, expected", [
    ({"extraction": {"n_frames": 0}}, "extraction.n_frames: got 0; allowed: an integer >= 1"),
    ({"features": "hog"}, "features: got 'hog'; allowed: one of 'pixels', 'landmarks'"),
    ({"corpus": {"format": "tsv", "path": "nowhere/manifest.tsv"}},
     "corpus.path: 'nowhere/manifest.tsv' does not exist"),
    ({"corpus": {"format": "avi"}}, "corpus.format: got 'avi'; allowed: one of 'demo', 'tsv'"),
    ({"extraction": {"n_frame": 8}}, "unknown key 'extraction.n_frame'"),
    ({"targets": ["label", "arousal"]},
     "targets.1: got 'arousal'; allowed: one of 'label', 'activation', 'valence'"),
    ({"features": "landmarks", "training": {"model": "seed_cnn"}},
     "training.model: 'seed_cnn' needs features 'pixels'"),
    ({"binning": {"low": 3.5, "high": 2.5}}, "binning: low (3.5) must be below high (2.5)"),
    ({"training": {"gpu": 2}}, "training.gpu: got 2; allowed: an integer >= 0 and <= 1"),
    ({"training": {"precision": "float16"}},
     "training.precision: got 'float16'; allowed: one of 'float32', 'mixed_float16'"),
    ({"rating_scale": {"min": 5, "max": 1}}, "rating_scale: min (5) must be below max (1)"),
    ({"plots": {"cmap": "Bluez"}},
     "plots.cmap: 'Bluez' is not a Matplotlib or seaborn colour map; did you mean 'Blues'"),
    ({"cv": {"speakers_may_span_sessions": "yes"}},
     "cv.speakers_may_span_sessions: got 'yes'; allowed: true or false"),

    # Issue 35: these said "allowed: value", not that session names are text, listed once.
    ({"cv": {"test_sessions": [1, 2]}},
     "cv.test_sessions.1: got 2; allowed: a string (names are text: write '2')"),
    ({"cv": {"test_sessions": ["1", "1"]}}, "cv.test_sessions: ['1', '1'] has non-unique elements"),
    ({"cv": {"test_sessions": []}}, "cv.test_sessions: [] should be non-empty"),
])
def test_invalid_values_name_the_key_and_what_is_allowed(patch, expected):
    with pytest.raises(ConfigError) as error:
        validated(copy.deepcopy(patch))
    assert expected in str(error.value)


def test_all_problems_are_reported_at_once():
    with pytest.raises(ConfigError) as error:
        validated({"extraction": {"n_frames": 0, "face_size": "big"}, "features": "hog"})
    message = str(error.value)
    assert "extraction.n_frames" in message and "extraction.face_size" in message and "features" in message


def test_nested_command_line_overrides_arrive_as_strings_and_still_validate():
    # `snakemake --config extraction='{n_frames: 4}'` delivers '4' (YAML BaseLoader).
    config = validated({"extraction": {"n_frames": "4", "margin": "0.1"}, "training": {"learning_rate": "1e-3"}})
    assert config["extraction"]["n_frames"] == 4 and config["extraction"]["margin"] == 0.1
    assert config["training"]["learning_rate"] == 0.001
    with pytest.raises(ConfigError, match="extraction.n_frames: got '4.5'"):
        validated({"extraction": {"n_frames": "4.5"}})


def test_experiments_override_the_top_level_and_follow_their_features():
    configs = experiment_configs({"training": {"learning_rate": 0.001},
                                  "experiments": {"pixels": {}, "landmarks": {"features": "landmarks"}}})
    assert list(configs) == ["pixels", "landmarks"]
    assert configs["pixels"]["training"]["model"] == "seed_cnn"
    assert configs["landmarks"]["training"]["model"] == "seed_dense"
    assert configs["landmarks"]["training"]["epochs"] == 30
    assert configs["landmarks"]["training"]["learning_rate"] == 0.001  # kept from the top level
    assert "experiments" not in configs["landmarks"]


def test_without_experiments_there_is_one_called_default():
    config = {}
    assert experiment_configs(config) == {"default": config}


@pytest.mark.parametrize("experiments, expected", [
    ({"lm": {"features": "landmarks", "training": {"model": "seed_cnn"}}},
     "experiments.lm.training.model: 'seed_cnn' needs features 'pixels'"),
    ({"small": {"extraction": {"n_frames": 0}}}, "experiments.small.extraction.n_frames: got 0"),
    ({"a": {"corpus": {"format": "tsv"}}}, "experiments.a: key 'corpus' not allowed"),
    ({"a b": {}}, "experiments: key 'a b' not allowed; allowed: a name matching"),
    ({"more": {"classes": ["Angry", "Fear"]}}, "experiments.more.classes: ['Fear'] are not among"),
    ({"folds": {"cv": {"folds": 3}}}, "experiments.folds.cv.folds: got 3"),
])
def test_invalid_experiments_are_named(experiments, expected):
    with pytest.raises(ConfigError) as error:
        experiment_configs({"experiments": experiments})
    assert expected in str(error.value)


def test_the_seed_comparison_runs_both_seed_variants_under_the_seed_protocol():
    with open("config/seed_comparison.yaml") as handle:
        config = yaml.safe_load(handle)
    config["corpus"] = {"format": "demo"}  # the licensed corpus is not here
    configs = experiment_configs(config)
    assert list(configs) == ["pixels", "landmarks"]
    pixels, landmarks = configs["pixels"], configs["landmarks"]
    assert (pixels["features"], pixels["training"]["model"], pixels["training"]["epochs"]) == ("pixels", "seed_cnn", 10)
    assert (landmarks["features"], landmarks["training"]["model"], landmarks["training"]["epochs"]) == (
        "landmarks", "seed_dense", 30)
    for variant in configs.values():
        assert variant["cv"]["protocol"] == "seed"
        assert variant["extraction"]["face_size"] == 100 and variant["training"]["batch_size"] == 128
        # Five models per fold, so that the comparison's p-values carry the variance between seeds.
        assert variant["training"]["repeats"] == 5


def test_the_seed_settings_train_five_repeats_and_the_demo_one():
    with open("config/seed.yaml") as handle:
        seed = yaml.safe_load(handle)
    seed["corpus"] = {"format": "demo"}
    assert validated(seed)["training"]["repeats"] == 5
    with open("config/config.yaml") as handle:
        assert validated(yaml.safe_load(handle))["training"]["repeats"] == 1


def test_seaborn_colour_maps_are_allowed():
    assert validated({"plots": {"cmap": "rocket"}})["plots"]["cmap"] == "rocket"


def test_the_demo_corpus_is_never_generated_into_a_users_folder(tmp_path):
    (tmp_path / "mycorpus").mkdir()
    (tmp_path / "mycorpus" / "manifest.tsv").write_text("recording\tpath\n")
    with pytest.raises(ConfigError, match="corpus.path: '.*mycorpus' is a folder with files that the demo generator "
                                          "did not create.*set corpus.format"):
        validated({"corpus": {"path": "mycorpus"}}, workdir=tmp_path)


def test_params_are_canonical_whatever_the_order_and_number_spelling():
    from facemotion.config import canonical

    one = validated({"plots": {"width": 6, "cmap": "Blues"}, "binning": {"high": 4, "low": 2},
                           "training": {"learning_rate": 1, "epochs": 3}})
    other = validated({"binning": {"low": 2.0, "high": 4.0}, "training": {"epochs": 3, "learning_rate": 1.0},
                             "plots": {"cmap": "Blues", "width": 6.0}})
    for section in ("plots", "binning", "training", "extraction"):
        assert repr(canonical(one[section])) == repr(canonical(other[section]))  # what Snakemake compares
    assert repr(one["plots"]["width"]) == "6.0" and repr(one["training"]["epochs"]) == "3"
    assert list(canonical({"b": {"d": 1, "c": [{"f": 1, "e": 2}]}, "a": 0})) == ["a", "b"]
    assert repr(canonical({"b": {"d": 1, "c": [{"f": 1, "e": 2}]}})) == "{'b': {'c': [{'e': 2, 'f': 1}], 'd': 1}}"
