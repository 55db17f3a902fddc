"""Benchmark face extraction against decode-only and against the seed's method (run by hand).

    .venv/bin/python tests/benchmarks/bench_extract.py [--frames 600] [--repeats 3] [--keep DIR]

Per video, in the same process and interleaved (best of --repeats):
  decode    grab() every frame (same capture options as the extractor: FFmpeg, 1 thread)
  extract   facemotion.extraction.extract.extract_recording (adaptive sampling, 8 frames)
  seed      the seed's method: read every frame, greyscale, resize to width 400, HOG on every
            frame, then keep 8 evenly spaced detections
Targets: extract <= 1.25 x decode, seed >= 6 x extract. Also prints seek-vs-grab timings.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for its test-video face

from facemotion.extraction import video  # noqa: E402
from facemotion.extraction.extract import extract_recording  # noqa: E402
from facemotion.extraction.faces import detect_face, face_detector  # noqa: E402
from facemotion.extraction.settings import ExtractionSettings  # noqa: E402
from facemotion.extraction.video import open_video  # noqa: E402
from test_extract import draw_face  # noqa: E402


def write_clip(path: Path, n_frames: int, size: tuple[int, int], fourcc: str, fps: int = 30, face=True) -> Path:
    """Textured, lit background, a face that drifts and bobs, per-frame sensor noise."""
    width, height = size
    rng = np.random.default_rng(3)
    background = cv2.GaussianBlur(rng.integers(0, 255, (height, width, 3), dtype=np.uint8), (0, 0), 4)
    ramp = np.linspace(0.7, 1.2, width, dtype=np.float32)[None, :, None]
    background = np.clip(background * ramp, 0, 255).astype(np.uint8)
    half = int(height * 0.36)
    face = cv2.cvtColor(draw_face(half), cv2.COLOR_GRAY2BGR) if face else None
    writer = cv2.VideoWriter(str(path), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {path} with {fourcc}")
    for i in range(n_frames):
        frame = background.copy()
        cx = int(width / 2 + width * 0.08 * math.sin(i / 40))
        cy = int(height / 2 + height * 0.03 * math.cos(i / 23))
        M = cv2.getRotationMatrix2D((half, half), 3 * math.sin(i / 30), 1.0)
        M[:, 2] += (cx - half, cy - half)
        if face is not None:
            cv2.warpAffine(face, M, (width, height), borderMode=cv2.BORDER_TRANSPARENT, dst=frame)
        noise = rng.integers(0, 10, (height, width, 3), dtype=np.uint8)
        writer.write(cv2.add(frame, noise))
    writer.release()
    return path


def demo_clip(out_dir: Path, n_frames: int) -> Path | None:
    """A longer clip from the demo corpus renderer, if facemotion.corpora.demo is there."""
    if importlib.util.find_spec("facemotion.corpora.demo") is None:
        return None
    from facemotion.corpora.demo import plan_demo_corpus, render_demo_corpus

    plan = plan_demo_corpus(40, seed=1)
    row = plan[(plan.demo_kind == "ordinary") & (plan.demo_fourcc == "mp4v")].head(1).copy()
    row["demo_n_frames"] = n_frames
    render_demo_corpus(row, out_dir / "demo")
    return out_dir / "demo" / row["path"].iloc[0]


def decode_only(path: Path) -> int:
    capture = open_video(str(path))
    frames = 0
    while capture.grab():
        frames += 1
    capture.release()
    return frames


def seed_method(path: Path, n_frames: int = 8, face_size: int = 100):
    """The seed: every frame decoded, greyscale, width 400, HOG; then N evenly spaced detections."""
    detector = face_detector()
    capture = open_video(str(path))
    crops = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        scale = 400 / grey.shape[1]
        small = cv2.resize(grey, (400, round(grey.shape[0] * scale)), interpolation=cv2.INTER_AREA)
        rects = detector(small, 0)
        if len(rects):
            r = rects[0]  # the seed used the first detection
            x0, y0 = max(0, int(r.left() / scale)), max(0, int(r.top() / scale))
            x1, y1 = int((r.right() + 1) / scale), int((r.bottom() + 1) / scale)
            crops.append(cv2.resize(grey[y0:y1, x0:x1], (face_size, face_size), interpolation=cv2.INTER_AREA))
    capture.release()
    if len(crops) < n_frames:
        return None
    return np.stack([crops[i] for i in np.linspace(0, len(crops) - 1, n_frames).astype(int)])


def extract_without_seeking(path: Path, settings: ExtractionSettings):
    saved, video.SEEK_MIN_GAP = video.SEEK_MIN_GAP, 1 << 30
    try:
        return extract_recording(path, settings)
    finally:
        video.SEEK_MIN_GAP = saved


def best_of(repeats: int, function, *args):
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        value = function(*args)
        times.append(time.perf_counter() - began)
    return min(times), value


def seek_vs_grab(path: Path, gaps=(10, 20, 40, 80, 160)) -> list[str]:
    """Time one seek (CAP_PROP_POS_FRAMES) against grab()-ing the same gap."""
    lines = []
    total = decode_only(path)
    for gap in gaps:
        seek_t, grab_t, hops = 0.0, 0.0, 0
        capture = open_video(str(path))
        capture.grab()
        pos = 1
        while pos + 2 * gap < total:
            began = time.perf_counter()
            for _ in range(gap):
                capture.grab()
            grab_t += time.perf_counter() - began
            pos += gap
            began = time.perf_counter()
            capture.set(cv2.CAP_PROP_POS_FRAMES, pos + gap)
            seek_t += time.perf_counter() - began
            assert int(capture.get(cv2.CAP_PROP_POS_FRAMES)) == pos + gap
            pos += gap
            hops += 1
        capture.release()
        if hops:
            seek_ms, grab_ms = seek_t / hops * 1e3, grab_t / hops * 1e3
            lines.append(f"    gap {gap:4d}: seek {seek_ms:6.2f} ms   grab x{gap} {grab_ms:6.2f} ms")
    return lines


def resize_costs(path: Path) -> str:
    capture = open_video(str(path))
    capture.grab()
    grey = cv2.cvtColor(capture.retrieve()[1], cv2.COLOR_BGR2GRAY)
    capture.release()
    size = (400, round(grey.shape[0] * 400 / grey.shape[1]))
    out = []
    for name, flag in (("INTER_AREA", cv2.INTER_AREA), ("INTER_LINEAR", cv2.INTER_LINEAR)):
        t, _ = best_of(5, lambda flag=flag: [cv2.resize(grey, size, interpolation=flag) for _ in range(100)])
        out.append(f"{name} {t * 10:.3f} ms")
    t, _ = best_of(3, lambda: [detect_face(grey, 400) for _ in range(20)])
    out.append(f"detect_face {t / 20 * 1e3:.2f} ms")
    return ", ".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="write the clips here (default: a temporary folder)")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)  # as run_batch does: one job per core
    with tempfile.TemporaryDirectory() as temporary:
        out = args.keep or Path(temporary)
        out.mkdir(parents=True, exist_ok=True)
        clips = [
            ("640x360 mp4v", write_clip(out / "clip_360.mp4", args.frames, (640, 360), "mp4v")),
            ("640x360 MJPG", write_clip(out / "clip_360.avi", args.frames, (640, 360), "MJPG")),
            ("1280x720 mp4v", write_clip(out / "clip_720.mp4", args.frames, (1280, 720), "mp4v")),
            ("640x360 mp4v short", write_clip(out / "short_360.mp4", 90, (640, 360), "mp4v")),
            ("640x360 no face", write_clip(out / "noface_360.mp4", args.frames, (640, 360), "mp4v", face=False)),
        ]
        demo = demo_clip(out, args.frames)
        if demo is not None:
            clips.insert(0, ("demo 640x360 mp4v", demo))
        settings = ExtractionSettings()
        extract_recording(clips[0][1], settings)  # warm up: detector construction, first open
        print(f"OpenCV {cv2.__version__}, best of {args.repeats}, n_frames={settings.n_frames}\n")
        header = f"{'video':20s} {'frames':>6s} {'decode s':>9s} {'extract s':>9s} {'no-seek s':>9s} " \
                 f"{'seed s':>8s} {'extract/decode':>14s} {'no-seek/decode':>14s} {'seed/extract':>12s}  status"
        print(header)
        print("-" * len(header))
        for name, path in clips:
            decode_t = extract_t = plain_t = seed_t = math.inf
            for _ in range(args.repeats):  # interleaved, so load changes hit all three alike
                t, frames = best_of(1, decode_only, path)
                decode_t = min(decode_t, t)
                t, result = best_of(1, extract_recording, path, settings)
                extract_t = min(extract_t, t)
                t, _ = best_of(1, extract_without_seeking, path, settings)
                plain_t = min(plain_t, t)
                t, seed = best_of(1, seed_method, path)
                seed_t = min(seed_t, t)
            print(f"{name:20s} {frames:6d} {decode_t:9.3f} {extract_t:9.3f} {plain_t:9.3f} {seed_t:8.3f} "
                  f"{extract_t / decode_t:14.2f} {plain_t / decode_t:14.2f} {seed_t / extract_t:12.1f}  "
                  f"{result.status} ({result.frames_read} read, frames {result.frame_index.tolist()})")
        named = dict(clips)
        print("\nseek vs grab (640x360 mp4v):")
        print("\n".join(seek_vs_grab(named["640x360 mp4v"])))
        print("\nper frame (640x360):", resize_costs(named["640x360 mp4v"]))


if __name__ == "__main__":
    main()
