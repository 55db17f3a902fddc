"""The seed's method, done the slow, obvious way, and the hard videos a real corpus has.

`seed_decision` is the reference the extraction is compared with (tests/test_fidelity.py and
tests/benchmarks/bench_fidelity.py): decode every frame from the start with read(), run the
project's face probe (same detector settings) on each frame of the recording or segment, keep
the recording if and only if at least n_frames of them hold a face, and take n_frames of those
detections at numpy.linspace(0, count - 1, n_frames) positions, as the seed did.

`hard_set` writes videos whose faces come and go, files cut short and headers that lie.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from facemotion.extraction.faces import FaceProbe
from facemotion.extraction.settings import ExtractionSettings
from facemotion.extraction.video import open_video
from test_extract import write_video


def noisy_video(path, n_frames, face_at=lambda i: (320, 180), **options) -> Path:
    """write_video with camera-like noise: no two frames alike, so no detection is reused by
    content within a pass (which would flatter the project against the reference)."""
    return write_video(path, n_frames, face_at, noise=8, **options)


@dataclass
class SeedDecision:
    kept: bool
    frames: int                      # frames decoded in the recording (or segment)
    face_frames: list[int]           # indices (from the video's first frame) with a face, in the segment
    frame_index: list[int] = field(default_factory=list)  # the n_frames chosen, when kept


def seed_decision(path, settings: ExtractionSettings, start: float | None = None, end: float | None = None,
                  region: str | None = None) -> SeedDecision:
    probe = FaceProbe(settings, region, remember=False)  # the seed ran the detector on every frame
    capture = open_video(str(path))  # the extractor's decoder (FFmpeg, 1 thread): same frames
    fps = capture.get(cv2.CAP_PROP_FPS)
    first = round((start or 0.0) * fps) if start is not None or end is not None else 0
    stop = round(end * fps) if end is not None else math.inf
    faces, index = [], 0
    while index < stop:
        ok, frame = capture.read()
        if not ok:
            break
        if index >= first and probe(frame) is not None:
            faces.append(index)
        index += 1
    capture.release()
    n = settings.n_frames
    frames = max(0, index - first)
    if len(faces) < n:
        return SeedDecision(False, frames, faces)
    chosen = [faces[i] for i in np.linspace(0, len(faces) - 1, n).astype(int)]
    return SeedDecision(True, frames, faces, chosen)


# ----------------------------------------------------------------------------- hard videos


@dataclass
class HardVideo:
    name: str
    path: Path
    start: float | None = None
    end: float | None = None


def _face_where(frames) -> callable:
    frames = set(frames)
    return lambda i: (320, 180) if i in frames else None


def truncated_avi(path: Path, n_frames: int, keep_fraction: float) -> Path:
    """An XVID .avi with a face in every frame, cut after `keep_fraction` of its bytes: its
    header still counts every frame."""
    full = noisy_video(path.with_suffix(".full.avi"), n_frames, fourcc="XVID")
    data = full.read_bytes()
    path.write_bytes(data[: int(len(data) * keep_fraction)])
    full.unlink()
    return path


def understated_avi(path: Path, n_frames: int, claimed: int, face_frames) -> Path:
    """An MJPG .avi whose header (avih total frames, strh length) claims `claimed` frames."""
    noisy_video(path, n_frames, _face_where(face_frames), fourcc="MJPG")
    data = bytearray(path.read_bytes())
    avih, strh = data.index(b"avih"), data.index(b"strh")
    struct.pack_into("<I", data, avih + 8 + 16, claimed)  # dwTotalFrames
    struct.pack_into("<I", data, strh + 8 + 32, claimed)  # dwLength
    path.write_bytes(bytes(data))
    return path


def raw_mjpeg(path: Path, n_frames: int, face_frames) -> Path:
    """Concatenated JPEG frames with no container: no frame count at all."""
    source = noisy_video(path.with_suffix(".src.avi"), n_frames, _face_where(face_frames), fourcc="MJPG")
    capture = open_video(str(source))
    with open(path, "wb") as out:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            out.write(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes())
    capture.release()
    source.unlink()
    return path


def hard_set(folder: Path, scale: float = 1.0) -> list[HardVideo]:
    """Faces in part of the clip only, scattered, none; files cut short; headers that overstate,
    understate or lack the length. `scale` shrinks the clips (tests use ~0.5)."""
    folder.mkdir(parents=True, exist_ok=True)

    def n(frames: int) -> int:
        return max(1, round(frames * scale))

    scattered = [round(i * n(200) / 10) + 3 for i in range(10)]
    stretches = [i for lo in (n(20), n(80), n(150)) for i in range(lo, lo + 5)]
    return [
        HardVideo("face in the first 43% only", noisy_video(
            folder / "first_part.mp4", n(169), _face_where(range(n(72))))),
        HardVideo("face in the middle only", noisy_video(
            folder / "middle.mp4", n(262), _face_where(range(n(95), n(167))))),
        HardVideo("10 scattered face frames", noisy_video(
            folder / "scattered.mp4", n(200), _face_where(scattered))),
        HardVideo("3 stretches of 5 face frames", noisy_video(
            folder / "stretches.mp4", n(180), _face_where(stretches))),
        HardVideo("7 scattered face frames (dropped)", noisy_video(
            folder / "seven.mp4", n(150), _face_where(scattered[:7]))),
        HardVideo("no face", noisy_video(folder / "no_face.mp4", n(120), _face_where([]))),
        HardVideo("20 face frames at the end, MJPG avi", noisy_video(
            folder / "end.avi", n(210), _face_where(range(n(210) - 20, n(210))), fourcc="MJPG")),
        HardVideo("cut short: header overstates", truncated_avi(folder / "truncated.avi", n(472), 0.17)),
        HardVideo("header understates (claims 40)", understated_avi(
            folder / "understated.avi", n(240), 40, range(n(150), n(240))), ),
        HardVideo("no frame count (raw MJPEG)", raw_mjpeg(
            folder / "raw.mjpeg", n(160), range(n(120), n(160)))),
        HardVideo("segment 2-6 s, face in its first second", noisy_video(
            folder / "segment.mp4", n(250), _face_where(range(50, 75))), start=2.0, end=6.0),
    ]
