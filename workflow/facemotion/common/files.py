"""Writing result files so that a killed job never leaves one looking complete, and reading them
so that a damaged one is named in one line with the command that makes it again."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import zipfile
from pathlib import Path

from facemotion.common.logs import JobError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside `path`; on success it replaces `path` in one step, on any
    failure (an interrupt included) it is removed and `path` stays as it was.

    The file gets the permissions `open()` would give it (0o666 less the umask), not
    tempfile.mkstemp's 0o600, which would hide results from the rest of a group sharing them."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield str(temporary)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


@contextlib.contextmanager
def reading(path: str | os.PathLike):
    """Read one of the workflow's own files inside this block: a failure to read it (a file cut
    short by a full disk or a killed copy: "Parquet magic bytes not found", a JSON or TSV ending
    mid-line) becomes a JobError naming the file and the command that makes it again, instead of a
    library's traceback in every job that reads it, rerun after rerun."""
    try:
        yield
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        reason = " ".join(str(error).split())[:200] or type(error).__name__
        raise JobError(f"{path} cannot be read ({reason}); make it again with: "
                       f"snakemake --forcerun {path}") from error


def read_json(path: str | os.PathLike):
    """A JSON file the workflow wrote (a fold's info, a model's sidecar)."""
    with reading(path):
        return json.loads(Path(path).read_text())
