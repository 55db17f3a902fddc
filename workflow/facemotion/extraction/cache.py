"""The per-recording extraction cache: one .npz per recording, valid for exactly its key
(settings fingerprint, video content, segment)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from facemotion.common.files import atomic_path
from facemotion.corpora.manifest import content_hash, content_size
from facemotion.extraction.records import ExtractionResult


def cache_key(path: str, fingerprint: str, start, end, region) -> str:
    """What a cached result depends on: the settings' fingerprint, the video's content, the segment.

    The content as the leakage check identifies it (size, SHA-256 of the first and last 64 KiB;
    for a folder of frames, of each frame with its name), not the path and time: a corpus copied
    or moved elsewhere is not decoded again."""
    return json.dumps({"settings": fingerprint, "size": content_size(path),
                       "content": content_hash(path, whole=False), "start": start, "end": end,
                       "region": region}, sort_keys=True)


def save_result(path: Path, key: str, result: ExtractionResult) -> None:
    """Write atomically, so a killed run never leaves a half-written entry under the final name."""
    arrays = {"key": np.array(key), "status": np.array(result.status), "detail": np.array(result.detail),
              "faces_found": np.array(result.faces_found), "frames_read": np.array(result.frames_read),
              "frame_index": result.frame_index}
    for name in ("pixels", "landmarks", "geometry"):
        if getattr(result, name) is not None:
            arrays[name] = getattr(result, name)
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        np.savez(handle, **arrays)  # a handle, not a name: np.savez would append ".npz" to the name


class UnreadableCacheEntry(Exception):
    """A cache entry exists but cannot be read (truncated, corrupted): it is extracted again."""


def load_result(path: Path, key: str) -> ExtractionResult | None:
    """The cached result if `path` holds one for exactly `key`, None if it holds none (absent,
    other key); raises UnreadableCacheEntry, naming the file, if it cannot be read."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["key"][()]) != key:
                return None
            return ExtractionResult(
                str(data["status"][()]), int(data["faces_found"]), int(data["frames_read"]),
                str(data["detail"][()]), data["frame_index"].astype(np.int32),
                *(data[name] if name in data.files else None for name in ("pixels", "landmarks", "geometry")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise UnreadableCacheEntry(f"{path}: {type(error).__name__}: {error}") from error
