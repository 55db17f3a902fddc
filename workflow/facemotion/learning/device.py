"""Which device a training job uses: a GPU when it asked for one, and then really; else never one.

A job that reserved a GPU (``training.gpu: 1``) but cannot use it must stop before training
instead of quietly training on the CPU. A CPU job must hide the GPUs from TensorFlow before
TensorFlow initialises CUDA, or every CPU fold on a shared GPU node would take GPU memory.
TensorFlow is imported here only inside the functions, so that hiding comes first.
"""

from __future__ import annotations

import importlib.metadata
import os

GPU_INSTALL = ("install envs/requirements-gpu.txt (tensorflow[and-cuda]) on the GPU nodes, "
               "see docs/running.md, 'On a SLURM cluster'")


class GPUUnavailableError(RuntimeError):
    """A job asked for a GPU and TensorFlow cannot use one."""


def gpu_problem(
    cuda_build: bool, cpu_package: str | None, cuda_visible_devices: str | None, visible_gpus: list[str]
) -> str | None:
    """Why TensorFlow cannot train on a GPU, or None when it can.

    ``cuda_build``: TensorFlow was built with CUDA; ``cpu_package``: the installed
    ``tensorflow-cpu`` version, if any (named as the cause of a build without CUDA);
    ``cuda_visible_devices``: that environment variable (None when unset); ``visible_gpus``: the
    GPUs TensorFlow lists.
    """
    if not cuda_build:
        cause = f"tensorflow-cpu {cpu_package} is installed" if cpu_package else "TensorFlow was built without CUDA"
        return f"{cause}, which cannot use a GPU: {GPU_INSTALL}"
    if cuda_visible_devices is not None and not cuda_visible_devices.strip():
        return ("CUDA_VISIBLE_DEVICES is set but empty, which hides every GPU: the job got no GPU from the "
                "scheduler (check the partition and that it has GPUs) or something cleared the variable")
    if not visible_gpus:
        shown = "unset" if cuda_visible_devices is None else repr(cuda_visible_devices)
        return (f"TensorFlow sees no CUDA device (CUDA_VISIBLE_DEVICES {shown}): no GPU or NVIDIA driver on "
                "this node (try nvidia-smi), or the CUDA libraries of tensorflow[and-cuda] are missing")
    return None


def _installed_version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def select_device(gpus: int) -> str:
    """Set TensorFlow up for ``gpus`` GPUs (0 or 1) before it starts; returns what it will use.

    0 hides every GPU (before CUDA initialises, through ``CUDA_VISIBLE_DEVICES``; afterwards
    through TensorFlow's visible devices). 1 raises :class:`GPUUnavailableError` naming the cause
    when TensorFlow cannot use a GPU, and lets TensorFlow take GPU memory as it needs it.
    """
    if gpus <= 0:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    import tensorflow as tf

    if gpus <= 0:
        try:
            tf.config.set_visible_devices([], "GPU")
        except RuntimeError as error:  # TensorFlow already started with GPUs visible
            raise RuntimeError(f"cannot hide the GPUs from TensorFlow any more ({error}); select the device "
                               "before TensorFlow runs its first operation") from error
        return "CPU (GPUs hidden)"
    visible = tf.config.list_physical_devices("GPU")
    problem = gpu_problem(
        bool(tf.sysconfig.get_build_info().get("is_cuda_build")),
        _installed_version("tensorflow-cpu"),
        os.environ.get("CUDA_VISIBLE_DEVICES"),
        [device.name for device in visible],
    )
    if problem:
        raise GPUUnavailableError(f"training.gpu is {gpus} but {problem}")
    for device in visible:
        try:
            tf.config.experimental.set_memory_growth(device, True)
        except RuntimeError:  # already initialised: its memory setting stays
            pass
    details = tf.config.experimental.get_device_details(visible[0])
    return f"GPU {visible[0].name} ({details.get('device_name', 'unknown model')})"
