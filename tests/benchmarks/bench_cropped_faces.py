"""How often the seed's HOG path finds a face in frames that are aligned face crops already (run by hand).

    .venv/bin/python tests/benchmarks/bench_cropped_faces.py [--clips 48] [--keep DIR]

Why `extraction.detector: none` exists. Releases such as DFEW (clip_224x224) and FERV39k ship each
clip as a folder of face crops, 224x224, cut tight around the face. We have no such corpus here, so
this builds DFEW-like crops from the synthetic demo faces (facemotion.corpora.demo): each demo clip is
rendered as the workflow renders it, 16 frames evenly spaced over it are taken (as DFEW's 16-frame
clips), and each is cropped to a square centred on the drawn face, its side `tightness` x the face's
height (forehead to chin; the renderer's own placement of the face, so no detector decides the
crop), resized to 224x224 and written as JPEG into one folder per clip. Then, per tightness:

  frames  the seed's HOG path on each crop (greyscale, resized to width 400, dlib's frontal face
          detector, upsample 0: facemotion.extraction.faces.detect_face with the default settings), and the
          median side of the box it finds over the crop's side (HOG's crop of the crop)
  clips   the folder extracted with the default settings (hog, n_frames 8): kept or not
  none    the same folder with extraction.detector: none: kept or not
  CPU     CPU seconds of extracting every folder with hog over those with none

and, as the control, the HOG path on the same 16 frames uncropped (640x360, as the demo has them).
The faces are synthetic drawings: the figures say how HOG treats tight crops of these faces, not
what it does on DFEW's real faces.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow"))

from facemotion.corpora import demo  # noqa: E402
from facemotion.extraction.extract import extract_recording  # noqa: E402
from facemotion.extraction.faces import detect_face  # noqa: E402
from facemotion.extraction.settings import ExtractionSettings  # noqa: E402

CROP_SIZE = 224
FRAMES_PER_CLIP = 16
TIGHTNESS = (0.8, 1.0, 1.2, 1.5, 2.0)  # crop side over the face's height (2 x demo.FACE_B on the canvas)


def clip_frames_with_faces(row: dict) -> list[tuple[np.ndarray, tuple[float, float, float]]]:
    """The clip's frames with the face's centre (x, y) and height in frame pixels, from the affine
    map the renderer places the face sprite with."""
    placements = []
    composite = demo._composite

    def recording(frame, face, sprite, m):
        placements.append(m.copy())
        composite(frame, face, sprite, m)

    demo._composite = recording
    try:
        frames = [frame.copy() for frame in demo._clip_frames(row, 8)]
    finally:
        demo._composite = composite
    faces = []
    for m in placements:
        centre = m @ (demo.FACE_CX, demo.FACE_CY, 1.0)
        scale = float(np.hypot(*m[:, 0]))
        faces.append((float(centre[0]), float(centre[1]), 2 * demo.FACE_B * scale))
    return list(zip(frames, faces))


def square_crop(frame: np.ndarray, face: tuple[float, float, float], tightness: float) -> np.ndarray:
    """A square of side tightness x the face's height centred on the face, padded by replicating
    the border where it leaves the frame, resized to CROP_SIZE."""
    cx, cy, height = face
    half = tightness * height / 2
    x0, y0, x1, y1 = (round(v) for v in (cx - half, cy - half, cx + half, cy + half))
    pad = max(0, -x0, -y0, x1 - frame.shape[1], y1 - frame.shape[0])
    padded = cv2.copyMakeBorder(frame, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    crop = padded[y0 + pad:y1 + pad, x0 + pad:x1 + pad]
    return cv2.resize(crop, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_AREA)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=48, help="demo clips (ordinary ones, with a face throughout)")
    parser.add_argument("--keep", help="write the crops into this folder (default: a temporary one)")
    args = parser.parse_args()

    plan = demo.plan_demo_corpus(max(24, 2 * args.clips), seed=0)
    rows = plan[plan["demo_kind"] == "ordinary"].head(args.clips).to_dict("records")
    hog, none = ExtractionSettings(), ExtractionSettings(detector="none")

    def face_box(frame):
        return detect_face(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), hog.detect_width, hog.upsample)

    counts = {t: {"frames": 0, "clips": 0, "none": 0, "box": [], "cpu_hog": 0.0, "cpu_none": 0.0}
              for t in TIGHTNESS}
    control = 0
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(args.keep or scratch)
        for row in rows:
            frames = clip_frames_with_faces(row)
            picked = [frames[i] for i in np.linspace(0, len(frames) - 1, FRAMES_PER_CLIP).astype(int)]
            control += sum(face_box(frame) is not None for frame, _ in picked)
            for tightness in TIGHTNESS:
                c = counts[tightness]
                folder = root / f"tightness_{tightness}" / row["recording"]
                folder.mkdir(parents=True, exist_ok=True)
                for index, (frame, face) in enumerate(picked, start=1):
                    crop = square_crop(frame, face, tightness)
                    cv2.imwrite(str(folder / f"{index}.jpg"), crop, [cv2.IMWRITE_JPEG_QUALITY, 90])
                    box = face_box(cv2.imread(str(folder / f"{index}.jpg")))
                    if box is not None:
                        c["frames"] += 1
                        c["box"].append((box[2] - box[0]) / CROP_SIZE)
                for settings, kept, cpu in ((hog, "clips", "cpu_hog"), (none, "none", "cpu_none")):
                    began = time.process_time()
                    c[kept] += extract_recording(folder, settings).ok
                    c[cpu] += time.process_time() - began
    n_frames, n_clips = FRAMES_PER_CLIP * len(rows), len(rows)
    print(f"{n_clips} demo clips x {FRAMES_PER_CLIP} frames, crops {CROP_SIZE}x{CROP_SIZE} (synthetic faces)")
    print(f"{'crop side / face height':>24} {'HOG face frames':>18} {'HOG box / crop':>15} {'clips kept (hog)':>18} "
          f"{'clips kept (none)':>18} {'CPU hog / none':>15}")
    for tightness, c in counts.items():
        box = f"{np.median(c['box']):.2f}" if c["box"] else "-"
        print(f"{tightness:>24.1f} {c['frames']:>7d} / {n_frames} {100 * c['frames'] / n_frames:4.0f} % {box:>15} "
              f"{c['clips']:>6d} / {n_clips} {100 * c['clips'] / n_clips:4.0f} % "
              f"{c['none']:>6d} / {n_clips} {100 * c['none'] / n_clips:4.0f} % "
              f"{c['cpu_hog'] / max(c['cpu_none'], 1e-9):>14.1f}x")
    print(f"{'uncropped 640x360 frames':>24} {control:>7d} / {n_frames} {100 * control / n_frames:4.0f} %")


if __name__ == "__main__":
    main()
