"""What extraction gives per recording, as plain data (no OpenCV or dlib): the result, the
kept record with its manifest fields, the statuses and the report columns."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

# The extraction statuses of a recording, as the report and the plots show them: kept (ok), or why
# not.
OK, NO_FACE, TOO_FEW_FACES, TOO_SHORT, UNREADABLE = "ok", "no_face", "too_few_faces", "too_short", "unreadable"

REPORT_COLUMNS = ["recording", "status", "faces_found", "frames_read", "detail"]


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
