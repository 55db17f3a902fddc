"""Logging for workflow jobs: everything a job says goes to its Snakemake log file."""

from __future__ import annotations

import contextlib
import logging
import sys
import traceback
from typing import Callable


def sayer(log: logging.Logger | Callable[[str], object] | None) -> Callable[[str], object]:
    """One way to report progress from library code: a logger, any callable (tests collect
    messages with `list.append`), or None for silence."""
    if hasattr(log, "info"):
        return log.info
    return log or (lambda message: None)


@contextlib.contextmanager
def log_to(path: str, name: str = "facemotion"):
    """Log to `path` (and stderr) for the duration of a job; a failure's traceback lands there too."""
    handlers = [logging.FileHandler(path, mode="w"), logging.StreamHandler(sys.stderr)]
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
    root = logging.getLogger()
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield logging.getLogger(name)
    except BaseException:
        logging.getLogger(name).error("job failed:\n%s", traceback.format_exc())
        raise
    finally:
        for handler in handlers:
            root.removeHandler(handler)
            handler.close()
