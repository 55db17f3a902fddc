"""A job that asked for a GPU trains on it or stops saying why; a CPU job never touches a GPU."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from facemotion.learning.device import GPUUnavailableError, gpu_problem, select_device
from test_training import make_data

ROOT = Path(__file__).resolve().parents[1]
GPU = ["/physical_device:GPU:0"]


@pytest.mark.parametrize("facts, cause", [
    ((False, "2.21.0", "0", []),
     "tensorflow-cpu 2.21.0 is installed, which cannot use a GPU: install envs/requirements-gpu.txt"),
    ((False, None, "0", []), "TensorFlow was built without CUDA"),
    ((True, None, "", []), "CUDA_VISIBLE_DEVICES is set but empty"),
    ((True, None, " ", GPU), "CUDA_VISIBLE_DEVICES is set but empty"),
    ((True, None, "0", []), "TensorFlow sees no CUDA device (CUDA_VISIBLE_DEVICES '0')"),
    ((True, None, None, []), "TensorFlow sees no CUDA device (CUDA_VISIBLE_DEVICES unset)"),
])
def test_each_reason_a_gpu_cannot_be_used_is_named(facts, cause):
    assert cause in gpu_problem(*facts)


@pytest.mark.parametrize("cuda_visible_devices", [None, "0", "GPU-1d3f"])
def test_a_visible_gpu_in_a_cuda_build_is_usable(cuda_visible_devices):
    assert gpu_problem(True, None, cuda_visible_devices, GPU) is None


def test_a_gpu_job_stops_in_this_cpu_environment_naming_tensorflow_cpu(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    with pytest.raises(GPUUnavailableError, match=r"training.gpu is 1 but tensorflow-cpu [\d.]+ is installed"):
        select_device(1)


def test_a_gpu_fold_stops_before_training(monkeypatch):
    from facemotion.learning import fitting as training

    monkeypatch.setattr(training, "fit", lambda *args, **kwargs: pytest.fail("trained without the GPU"))
    monkeypatch.setattr(training, "fit_normalisation", lambda *args, **kwargs: pytest.fail("read the data"))
    meta, pixels, _ = make_data()
    with pytest.raises(GPUUnavailableError):
        training.train_fold(meta, pixels, "label", "1", {"gpus": 1})


@pytest.mark.slow
def test_a_cpu_fold_hides_the_gpus_before_tensorflow_initialises():
    # A fresh process, as a workflow job: imports as the job script does, then trains one fold.
    script = """
import json, os, sys
sys.path.insert(0, "workflow"); sys.path.insert(0, "tests")
import facemotion.learning.fitting as training
from tensorflow.python.eager import context
import tensorflow as tf
from test_training import FAST, make_data
initialised = []
select_device = training.select_device
training.select_device = lambda gpus: initialised.append(context.context()._initialized) or select_device(gpus)
meta, pixels, _ = make_data()
_, _, info = training.train_fold(meta, pixels, "label", "2", {**FAST, "epochs": 1, "gpus": 0})
print(json.dumps({"initialised_when_hiding": initialised, "env": os.environ["CUDA_VISIBLE_DEVICES"],
                  "visible": [d.name for d in tf.config.get_visible_devices("GPU")], "device": info["device"]}))
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "CUDA_VISIBLE_DEVICES": "0,1"})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"initialised_when_hiding": [False], "env": "", "visible": [], "device": "CPU (GPUs hidden)"}
