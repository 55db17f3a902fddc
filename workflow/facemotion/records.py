"""What extraction gives per recording, as plain data (no OpenCV or dlib): the result, the
kept record with its manifest fields, the statuses and the report columns, the parsing of missing
values, and the frames of a recording that is a folder of images."""

from __future__ import annotations

import dataclasses
import math
import os
import re
from dataclasses import dataclass

import numpy as np

# The extraction statuses of a recording, as the report and the plots show them: kept (ok), or why
# not.
OK, NO_FACE, TOO_FEW_FACES, TOO_SHORT, UNREADABLE = "ok", "no_face", "too_few_faces", "too_short", "unreadable"

REPORT_COLUMNS = ["recording", "status", "faces_found", "frames_read", "detail"]
REGIONS = ("left", "right")  # the half of the frame that holds the face; missing: the whole frame
# A recording's path may be a folder of frames: its images with these suffixes (any case), other files ignored.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass
class ExtractionResult:
    status: str
    faces_found: int = 0
    frames_read: int = 0          # frames of the recording (or segment) the stream advanced through
    detail: str = ""
    frame_index: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.int32))
    pixels: np.ndarray | None = None      # uint8 (n_frames, face_size, face_size)
    landmarks: np.ndarray | None = None   # float32 (n_frames, 68, 2), relative to the face box
    geometry: np.ndarray | None = None    # float32 (n_frames, 6)

    @property
    def ok(self) -> bool:
        return self.status == OK


@dataclass
class Record:
    """A kept recording: its manifest fields and its extraction result."""
    recording: str
    speaker: str
    session: str
    label: str
    activation: float
    valence: float
    result: ExtractionResult


def _missing(value) -> bool:
    if isinstance(value, str):
        return not value.strip()
    return value is None or (isinstance(value, float) and math.isnan(value))


def optional_float(value) -> float | None:
    return None if _missing(value) else float(value)


def optional_text(value) -> str | None:
    return None if _missing(value) else str(value).strip()


def float_or_nan(value) -> float:
    value = optional_float(value)
    return math.nan if value is None else value


def natural_key(s: str):
    """Sort key in which "2" comes before "10": fold order, validation sessions, tables, frame files."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(s))]


def frame_files(folder: str | os.PathLike) -> list[str]:
    """The frames of a folder recording: its image files (IMAGE_SUFFIXES) in natural order, so that
    DFEW's 1.jpg ... 16.jpg are read 1, 2, ..., 10, not 1, 10, 11. Hidden files (a copy's "._1.jpg"
    resource forks) and subfolders are not frames."""
    with os.scandir(folder) as entries:
        names = [entry.name for entry in entries if is_frame(entry)]
    return [os.path.join(folder, name) for name in sorted(names, key=natural_key)]


def is_frame(entry: os.DirEntry) -> bool:
    """Whether a folder entry is one of a folder recording's frames (see frame_files)."""
    return not entry.name.startswith(".") and entry.name.lower().endswith(IMAGE_SUFFIXES) and entry.is_file()
