"""Logging for workflow jobs: everything a job says goes to its Snakemake log file.

The package's modules log to their own loggers (`logging.getLogger(__name__)`, under
"facemotion"); a job's script wraps its work in `log_to`, which collects them."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import sys
import traceback


class JobError(Exception):
    """What stops a job for a reason the user can act on (a damaged intermediate file, nothing
    left to learn from): `log_to` writes its message as one line, to the log and the console,
    and ends the job with exit status 1 instead of a traceback."""


def skip_last_collection() -> None:
    """Called last in a job that loaded TensorFlow, its outputs written: Python's exit then need
    not walk every object the libraries made in one last garbage collection, a real share of a
    small training job (docs/performance.md)."""
    gc.freeze()


@contextlib.contextmanager
def log_to(path: str, name: str = "facemotion"):
    """Send everything a job writes to `path` for its duration, so the console shows only
    Snakemake's progress: the job's log records, a failure's traceback, and whatever libraries
    print to stdout or stderr themselves (TensorFlow's and absl's C++ start-up lines, decoder
    messages), caught at the file descriptors. Import such libraries inside the block.

    Records of INFO and above go to the file; warnings and errors of the logger `name` and the
    loggers under it (the package's modules: "facemotion.extraction.batch", ...) also to the console.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    log_file = open(path, "w", buffering=1)
    console_fds = os.dup(1), os.dup(2)
    os.dup2(log_file.fileno(), 1)
    os.dup2(log_file.fileno(), 2)
    console = open(os.dup(console_fds[1]), "w", buffering=1)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
    to_file = logging.StreamHandler(log_file)
    to_file.setFormatter(formatter)
    to_console = logging.StreamHandler(console)
    to_console.setFormatter(formatter)
    to_console.setLevel(logging.WARNING)
    root, job_logger = logging.getLogger(), logging.getLogger(name)
    root.addHandler(to_file)
    root.setLevel(logging.INFO)
    job_logger.addHandler(to_console)
    try:
        yield job_logger
    except JobError as error:
        root.error("%s", error)
        console.write(f"Error: {error}\n")
        raise SystemExit(1) from None
    except BaseException:
        # To the file only: the console gets the traceback from the failing script itself.
        root.error("job failed:\n%s", traceback.format_exc())
        raise
    finally:
        root.removeHandler(to_file)
        job_logger.removeHandler(to_console)
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, saved in zip((1, 2), console_fds):
            os.dup2(saved, fd)
            os.close(saved)
        console.close()
        log_file.close()
