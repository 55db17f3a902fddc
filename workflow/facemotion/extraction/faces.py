"""Finding a face in a frame: dlib's HOG detector on a downscaled greyscale frame, the crop
geometry, dlib's 68 landmarks and the seed's geometric features, and `FaceProbe`, which turns
a frame into a recording's features (the sampler's probe).

Coordinates: detection runs on the greyscale frame (or the `region` half of it) resized to
`detect_width` for the WHOLE frame's width, so a face has the same detector scale with or
without a region. Boxes are mapped back to full-resolution frame coordinates.

With `detector: none` (frames that are aligned face crops already) no detector runs: the whole
frame (or its `region` half) is the face box, so every decodable frame is a face frame.
"""

from __future__ import annotations

import functools
import hashlib
import math

import cv2
import dlib
import numpy as np

from facemotion.corpora.recordings import REGIONS
from facemotion.extraction.settings import ExtractionSettings, find_landmark_model


@functools.cache
def face_detector():
    """dlib's HOG frontal face detector, built once per process."""
    return dlib.get_frontal_face_detector()


@functools.cache
def _shape_predictor(path: str):
    return dlib.shape_predictor(path)


def shape_predictor(configured: str | None = None):
    """The 68-point predictor, loaded once per process (the file is ~100 MB)."""
    return _shape_predictor(str(find_landmark_model(configured).resolve()))


def region_bounds(width: int, region: str | None) -> tuple[int, int]:
    """Column range [x0, x1) of the frame half that holds the face (image left/right)."""
    if region is not None and region not in REGIONS:
        raise ValueError(f"region must be None or one of {REGIONS}, got {region!r}")
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
    """The first face the detector returns (its most confident: the seed's choice) as a
    full-resolution box, or None."""
    height, width = grey.shape
    x0, x1 = region_bounds(width, region)
    scale = detect_width / width
    # The height truncated, as the seed's imutils.resize does (int(h * r)).
    small_w, small_h = max(1, round((x1 - x0) * scale)), max(1, int(height * scale))
    # INTER_AREA: anti-aliased downscale, the seed's (imutils.resize's default); its cost is
    # small next to the HOG detector's (docs/performance.md).
    small = cv2.resize(grey[:, x0:x1], (small_w, small_h), interpolation=cv2.INTER_AREA)
    rects = (detector or face_detector())(small, upsample)
    if len(rects) == 0:
        return None
    first = rects[0]
    rect = (first.left(), first.top(), first.right() + 1, first.bottom() + 1)
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
    """frame -> features of the face detect_face finds, or None: the sampler's probe.

    Results are remembered by the greyscale frame's content (all they depend on), so the full
    scan after a failed fast path does not run the detector again on the frames already probed,
    and a frame whose position a seek got wrong is never taken for another. `remember=False`
    runs the detector on every frame it is given, as the seed did."""

    def __init__(self, settings: ExtractionSettings, region: str | None = None, remember: bool = True):
        region_bounds(1, region)  # validate early
        self.settings, self.region = settings, region
        self.detector = face_detector() if settings.detector == "hog" else None
        self.predictor = shape_predictor(settings.landmark_model) if settings.features == "landmarks" else None
        self.seen: dict[bytes, object] | None = {} if remember else None

    def __call__(self, frame: np.ndarray):
        grey = np.ascontiguousarray(frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
        if self.seen is None:
            return self._features(grey)
        key = hashlib.sha1(grey).digest() + bytes(str(grey.shape), "ascii")
        if key not in self.seen:
            self.seen[key] = self._features(grey)
        return self.seen[key]

    def _features(self, grey: np.ndarray):
        s = self.settings
        if self.detector is None:  # detector none: the frame (or its region) is the face
            x0, x1 = region_bounds(grey.shape[1], self.region)
            box = (x0, 0, x1, grey.shape[0])
        else:
            box = detect_face(grey, s.detect_width, s.upsample, self.region, self.detector)
        if box is None:
            return None
        if self.predictor is None:
            # No margin around a whole-frame box: it would reach into the other half of a region.
            crop = box if self.detector is None else crop_box(box, s.margin, grey.shape[1], grey.shape[0])
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
