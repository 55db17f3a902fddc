"""Face extraction: the adaptive sampler on synthetic streams, box mapping, real video files,
bad files, landmarks, and the per-recording cache of run_batch."""

import importlib.util
import logging
import os
import time
from pathlib import Path

import cv2
import dlib
import numpy as np
import pandas as pd
import pytest
from facemotion.extraction import batch
from facemotion.extraction import cache as cache_module
from facemotion.extraction import settings as settings_module
from facemotion.extraction.batch import run_batch
from facemotion.extraction.extract import extract_recording
from facemotion.extraction.faces import crop_box, detect_face, geometry_features, map_box
from facemotion.extraction.sampling import even_targets, sample_faces
from facemotion.extraction.settings import ExtractionSettings, LandmarkModelError, find_landmark_model
from facemotion.extraction.video import VideoSource

# ----------------------------------------------------------------------------- synthetic streams


class FakeSource:
    """A stream of `length` frames; frame i is the int i. Fails the test on any re-decode."""

    def __init__(self, length):
        self.length, self.pos = length, 0
        self.retrieved = []

    def grab(self):
        if self.pos >= self.length:
            return False
        self.pos += 1
        return True

    def retrieve(self):
        index = self.pos - 1
        assert index not in self.retrieved, f"frame {index} retrieved twice"
        self.retrieved.append(index)
        return index

    def skip(self, count):
        done = min(count, self.length - self.pos)
        self.pos += done
        return done


class FaceProbe:
    def __init__(self, has_face):
        self.has_face, self.probed = has_face, []

    def __call__(self, frame):
        assert frame not in self.probed, f"frame {frame} probed twice"
        self.probed.append(frame)
        return f"face{frame}" if self.has_face(frame) else None


def run(length, expected, has_face=lambda i: True, n=8, limit=None, lookback=2):
    source, probe = FakeSource(length), FaceProbe(has_face)
    sample = sample_faces(source, probe, n, expected, limit=limit, lookback=lookback)
    assert source.pos == sample.frames_read
    assert sample.probed == len(probe.probed)
    assert [payload for _, payload in sample.picks] == [f"face{i}" for i, _ in sample.picks]
    indices = [i for i, _ in sample.picks]
    assert indices == sorted(set(indices)), "picks must be distinct and in order"
    return sample, indices, source, probe


def test_even_targets_are_bin_centres_and_distinct():
    assert even_targets(0, 400, 8) == [25, 75, 125, 175, 225, 275, 325, 375]
    assert even_targets(100, 116, 8) == [101, 103, 105, 107, 109, 111, 113, 115]
    assert even_targets(0, 5, 8) == [0, 1, 2, 3, 4]
    assert even_targets(3, 3, 2) == []


def test_faces_everywhere_probes_only_targets_and_stops_early():
    sample, indices, source, probe = run(400, 400)
    assert sample.status == "ok"
    assert indices == even_targets(0, 400, 8)
    assert probe.probed == indices  # the detector ran on the targets only
    assert sample.frames_read == 376 < 400  # stopped right after the last target
    # Per target: the target and the 2 look-back frames were decoded to pixels, nothing else.
    assert len(source.retrieved) == 8 * 3


def test_missing_target_takes_the_nearest_face_alternating_sides():
    no_face = set(range(70, 77)) | {125, 126}
    sample, indices, _, probe = run(400, 400, lambda i: i not in no_face)
    assert sample.status == "ok"
    # 75, 76, 74 have no face -> 77 (after); 125, 126 have none -> 124 (before, from the look-back).
    assert indices == [25, 77, 124, 175, 225, 275, 325, 375]
    assert probe.probed[:9] == [25, 75, 76, 74, 77, 125, 126, 124, 175]


def test_probe_order_is_target_then_alternating_then_growing_steps():
    no_face = set(range(60, 90))
    sample, indices, _, probe = run(400, 400, lambda i: i not in no_face)
    assert probe.probed[:11] == [25, 75, 76, 74, 77, 73, 78, 80, 83, 87, 93]
    assert indices[:3] == [25, 93, 125]


def test_probe_budget_gives_up_but_keeps_the_picks():
    source, probe = FakeSource(600), FaceProbe(lambda i: False)
    sample = sample_faces(source, probe, 8, 600, max_probes=20)
    assert sample.status == "no_face" and sample.gave_up and sample.probed == 20
    assert sample.frames_read < 600
    source, probe = FakeSource(600), FaceProbe(lambda i: i < 150)
    sample = sample_faces(source, probe, 8, 600, max_probes=20)
    assert sample.status == "too_few_faces" and sample.gave_up and sample.faces_found == 2
    sample = sample_faces(FakeSource(600), FaceProbe(lambda i: True), 8, 600, max_probes=8)
    assert sample.status == "ok" and not sample.gave_up


def test_faceless_stretch_moves_samples_to_where_faces_are():
    sample, indices, source, _ = run(400, 400, lambda i: i >= 200)
    assert sample.status == "ok"
    assert all(i >= 200 for i in indices)
    gaps = np.diff(indices)
    assert gaps.min() >= 15 and gaps.max() <= 40, f"unevenly spread: {indices}"
    assert len(set(source.retrieved)) == len(source.retrieved)


def test_face_only_briefly_gives_too_few_faces():
    sample, indices, _, _ = run(400, 400, lambda i: 100 <= i < 103)
    assert sample.status == "too_few_faces"
    assert indices == [100]  # one pick per window: 101 and 102 lie in the same window


def test_no_face_anywhere():
    sample, indices, _, probe = run(300, 300, lambda i: False)
    assert sample.status == "no_face" and indices == []
    assert sample.length == 300 and sample.frames_read == 300
    assert len(probe.probed) < 300


def test_stream_ending_before_its_header_says():
    sample, indices, source, _ = run(300, 400)  # header claims 400 frames, only 300 decode
    assert sample.status == "too_few_faces"
    assert indices == [25, 75, 125, 175, 225, 275]
    assert sample.length == 300


def test_stream_running_past_its_header_uses_the_extra_frames():
    sample, indices, _, _ = run(400, 200, lambda i: i >= 200)  # header says 200, stream has 400
    assert sample.status == "ok"
    assert indices == list(range(200, 208))
    sample, indices, _, _ = run(400, 200)
    assert sample.status == "ok" and indices == even_targets(0, 200, 8)
    assert sample.frames_read == 188  # the extra frames were not needed


@pytest.mark.parametrize("expected", [5, 100, None])
def test_short_stream_is_too_short(expected):
    sample, indices, _, _ = run(5, expected)
    assert sample.status == "too_short"
    assert sample.length == 5
    if expected == 5:
        assert indices == [0, 1, 2, 3, 4]


def test_empty_stream_is_unreadable():
    sample, _, _, _ = run(0, 100)
    assert sample.status == "unreadable"


def test_segment_limit_keeps_samples_inside():
    sample, indices, _, _ = run(1000, 1000, limit=80)
    assert sample.status == "ok"
    assert indices == even_targets(0, 80, 8)
    sample, indices, _, _ = run(1000, 1000, lambda i: i >= 60, limit=80)
    assert sample.status == "ok" and all(60 <= i < 80 for i in indices)  # squeezed into the faces
    assert sample.frames_read <= 80
    # Once too few frames are left for the open positions, decoding stops: the result is decided.
    sample, _, _, _ = run(1000, 1000, lambda i: i >= 75, limit=80)
    assert sample.status == "no_face" and sample.frames_read < 75
    sample, _, _, _ = run(1000, 1000, limit=6)
    assert sample.status == "too_short" and sample.frames_read == 0  # decided without decoding


def test_unknown_length_spreads_over_the_whole_stream():
    sample, indices, source, probe = run(1000, None)
    assert sample.status == "ok"
    assert indices[0] < 125 and indices[-1] > 875
    assert len(probe.probed) < 250
    sample, _, _, _ = run(1000, None, lambda i: False)
    assert sample.status == "no_face"


def test_sampling_is_deterministic():
    def pattern(i):
        return (i * 7919) % 13 > 3

    first = run(700, 650, pattern)[1]
    assert all(run(700, 650, pattern)[1] == first for _ in range(3))


# ----------------------------------------------------------------------------- VideoSource seek policy


class StubCapture:
    """cv2.VideoCapture stand-in: grab/retrieve/seek with configurable seek cost and landing."""

    def __init__(self, length=1000, seek_seconds=0.0, land=lambda target: target):
        self.length, self.pos, self.seek_seconds, self.land = length, 0, seek_seconds, land
        self.grabs, self.sets, self.released = 0, [], False

    def grab(self):
        if self.pos >= self.length:
            return False
        self.pos += 1
        self.grabs += 1
        time.sleep(0.0001)
        return True

    def retrieve(self):
        return True, np.zeros((2, 2, 3), np.uint8)

    def set(self, prop, value):
        assert prop == cv2.CAP_PROP_POS_FRAMES
        self.sets.append(value)
        time.sleep(self.seek_seconds)
        self.pos = min(self.land(int(value)), self.length)
        return True

    def get(self, prop):
        return float(self.pos)

    def release(self):
        self.released = True


def test_video_source_seeks_long_gaps_only_and_stops_when_seeking_is_slow():
    fast = StubCapture()
    source = VideoSource(lambda: fast)
    assert source.skip(10) == 10 and fast.sets == []  # short gap: grab()
    assert source.skip(100) == 100 and fast.sets == [110] and fast.grabs == 10
    assert source.seeking
    slow = StubCapture(seek_seconds=0.05)  # a seek costs far more than grabbing 100 frames
    source = VideoSource(lambda: slow)
    source.skip(20)
    source.skip(100)
    assert not source.seeking
    assert source.skip(100) == 100 and slow.sets == [120] and source.pos == 220


def test_video_source_seek_landing_short_grabs_on_to_the_end():
    capture = StubCapture(length=150, land=lambda target: 150)  # header longer than the stream
    source = VideoSource(lambda: capture)
    assert source.skip(300) == 150
    assert not source.grab()


def test_video_source_seek_landing_elsewhere_reopens_and_grabs():
    captures = []

    def open_capture():
        captures.append(StubCapture(land=lambda target: target + 7))  # seek overshoots
        return captures[-1]

    source = VideoSource(open_capture)
    source.skip(10)
    assert source.skip(50) == 50 and source.pos == 60
    assert len(captures) == 2 and captures[0].released and captures[1].pos == 60 and captures[1].sets == []


# ----------------------------------------------------------------------------- test videos


def draw_face(half: int) -> np.ndarray:
    """A shaded, drawn face in a (2*half)^2 grey image that dlib's HOG detector finds."""
    img = np.full((2 * half, 2 * half), 90, np.uint8)
    s = half / 200

    def p(x, y):
        return int(half + x * s), int(half + y * s)

    def a(x, y):
        return int(x * s), int(y * s)

    cv2.ellipse(img, p(0, -20), a(85, 110), 0, 0, 360, 50, -1)  # hair
    cv2.rectangle(img, p(-30, 90), p(30, 200), 170, -1)  # neck
    cv2.ellipse(img, p(0, 5), a(75, 100), 0, 0, 360, 190, -1)  # face
    for side in (-1, 1):
        cv2.ellipse(img, p(side * 32, -30), a(22, 7), 0, 180, 360, 60, max(1, int(5 * s)))  # brow
        cv2.ellipse(img, p(side * 32, -12), a(16, 8), 0, 0, 360, 245, -1)  # eye white
        cv2.circle(img, p(side * 32, -12), max(1, int(6 * s)), 30, -1)  # iris
        cv2.ellipse(img, p(side * 32, -12), a(16, 8), 0, 0, 360, 80, max(1, int(2 * s)))
    cv2.line(img, p(0, -10), p(-8, 30), 150, max(1, int(3 * s)))  # nose
    cv2.ellipse(img, p(0, 35), a(14, 7), 0, 0, 180, 120, max(1, int(3 * s)))
    cv2.ellipse(img, p(0, 60), a(28, 10), 0, 0, 180, 70, -1)  # mouth
    cv2.line(img, p(-28, 60), p(28, 60), 60, max(1, int(3 * s)))
    return cv2.GaussianBlur(img, (0, 0), 2 * s)


def write_video(path, n_frames, face_at=lambda i: (320, 180), size=(640, 360), half=140, fourcc="mp4v", fps=25,
                noise=0):
    """Textured background with the drawn face centred at face_at(i) (None: no face); `noise` > 0
    adds sensor noise up to that value, so that no two frames are the same, as in a camera's."""
    width, height = size
    rng = np.random.default_rng(7)
    background = cv2.GaussianBlur(rng.integers(0, 255, (height, width, 3), dtype=np.uint8), (0, 0), 3)
    face = cv2.cvtColor(draw_face(half), cv2.COLOR_GRAY2BGR)
    writer = cv2.VideoWriter(str(path), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    assert writer.isOpened()
    for i in range(n_frames):
        frame = background.copy()
        centre = face_at(i)
        if centre is not None:
            x, y = centre[0] - half, centre[1] - half
            frame[y:y + 2 * half, x:x + 2 * half] = face
        if noise:
            frame = cv2.add(frame, rng.integers(0, noise, frame.shape, dtype=np.uint8))
        writer.write(frame)
    writer.release()
    return Path(path)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    face = write_video(root / "face.mp4", 150, lambda i: (300 + i % 40, 175))
    truncated = root / "truncated.avi"
    write_video(root / "full.avi", 150, fourcc="XVID")
    truncated.write_bytes((root / "full.avi").read_bytes()[:60_000])
    (root / "random.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    (root / "empty.mp4").write_bytes(b"")
    return {
        "face": face,
        "gap": write_video(root / "gap.mp4", 150, lambda i: None if 10 <= i < 75 else (320, 180)),
        "no_face": write_video(root / "no_face.mp4", 60, lambda i: None),
        "short": write_video(root / "short.mp4", 5),
        "right": write_video(root / "right.mp4", 60, lambda i: (480, 180)),
        "truncated": truncated,
        "truncated_mp4": _truncate(face, root / "truncated.mp4"),
        "random": root / "random.mp4",
        "empty": root / "empty.mp4",
        "missing": root / "missing.mp4",
    }


def _truncate(source: Path, target: Path) -> Path:
    target.write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    return target


# ----------------------------------------------------------------------------- box mapping


def test_map_box_scales_back_and_adds_the_region_offset():
    # 1280-wide frame detected at 400: factor 3.2; right half starts at x=640.
    assert map_box((10, 20, 110, 120), 3.2, 3.2, 0) == (32.0, 64.0, 352.0, 384.0)
    assert map_box((10, 20, 110, 120), 3.2, 3.2, 640) == (672.0, 64.0, 992.0, 384.0)


def test_crop_box_margin_and_clamping():
    assert crop_box((100, 50, 200, 150), 0.0, 640, 360) == (100, 50, 200, 150)
    assert crop_box((100, 50, 200, 150), 0.25, 640, 360) == (75, 25, 225, 175)
    assert crop_box((-30, 300, 70, 400), 0.1, 640, 360) == (0, 290, 80, 360)  # clamped to the frame
    assert crop_box((700, 10, 800, 110), 0.0, 640, 360) is None  # wholly outside


@pytest.mark.parametrize("region,offset", [(None, 0), ("right", 640)])
def test_detect_face_returns_full_resolution_box(region, offset):
    frame = np.full((720, 1280), 90, np.uint8)
    frame[60:660, 660:1260] = draw_face(300)  # face centre (960, 360), ~225 px wide
    box = detect_face(frame, 400, 0, region)
    assert box is not None
    cx, cy, w = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2, box[2] - box[0]
    assert abs(cx - 960) < 25 and abs(cy - 360) < 50 and 160 < w < 300
    if region == "right":  # = detecting in the right half alone at the same scale, shifted by 640
        half = detect_face(frame[:, 640:], 200, 0)
        assert (half[0] + 640, half[1], half[2] + 640, half[3]) == box
    assert detect_face(frame, 400, 0, "left") is None


def test_detect_face_takes_the_detectors_first_face_on_the_seeds_downscaled_frame():
    """The seed's choice: the first detection (dlib lists the most confident first), not the
    largest; on the frame imutils.resize makes, whose height is truncated (720x480: 400x266)."""
    seen = []

    def detector(small, upsample):
        seen.append(small.shape)
        return [dlib.rectangle(200, 20, 260, 80), dlib.rectangle(10, 10, 150, 150)]  # the smaller first

    box = detect_face(np.zeros((480, 720), np.uint8), 400, 0, detector=detector)
    assert seen == [(266, 400)]
    assert box[0] == pytest.approx(200 * 720 / 400) and box[2] == pytest.approx(261 * 720 / 400)


def test_geometry_features_on_known_points():
    points = np.zeros((68, 2))
    points[39], points[42] = (0, 0), (10, 0)
    points[18:22] = [(0, -4), (0, -4), (0, -4), (0, -2)]     # mean 3.5 over |21-39| = 2
    points[22:26] = [(10, -3), (10, -3), (10, -3), (10, -3)]  # mean 3 over 3
    points[33], points[52] = (5, 10), (5, 14)                 # normaliser 4
    points[48:51] = [(5, 18), (5, 18), (5, 18)]               # 8 / 4
    points[53] = (5, 16)
    points[36:42] = (0, 0)
    points[42:48] = (10, 0)                                   # inter-ocular 10
    points[48], points[54] = (0, 18), (20, 18)                # overrides: width 20 -> 2.0
    points[51], points[57] = (5, 13), (5, 21)                 # height 8 -> 0.8
    features = geometry_features(points)
    assert features.dtype == np.float32
    expected_lip_left = (np.hypot(5, 8) + 8 + 8) / 3 / 4
    expected_lip_right = (4 + 6 + np.hypot(15, 8)) / 3 / 4  # 54 was moved to (20, 18)
    np.testing.assert_allclose(features, [1.75, 1.0, expected_lip_left, expected_lip_right, 2.0, 0.8], rtol=1e-6)


# ----------------------------------------------------------------------------- real videos


def test_face_video_gives_evenly_spaced_crops(videos):
    result = extract_recording(videos["face"], ExtractionSettings())
    assert result.status == "ok", result.detail
    assert result.pixels.shape == (8, 100, 100) and result.pixels.dtype == np.uint8
    assert result.frame_index.dtype == np.int32
    assert list(result.frame_index) == even_targets(0, 150, 8)
    assert result.frames_read < 150
    # The crop is the drawn face: it correlates with the face drawing around dlib's usual box.
    reference = cv2.resize(draw_face(140)[101:218, 82:199], (100, 100), interpolation=cv2.INTER_AREA)
    assert np.corrcoef(result.pixels[0].ravel(), reference.ravel())[0, 1] > 0.8


def test_face_gap_uses_nearby_frames(videos):
    result = extract_recording(videos["gap"], ExtractionSettings())
    assert result.status == "ok", result.detail
    assert all(not 10 <= i < 75 for i in result.frame_index)
    assert len(set(result.frame_index)) == 8


def test_margin_grows_the_crop(videos):
    plain = extract_recording(videos["face"], ExtractionSettings(n_frames=2))
    wide = extract_recording(videos["face"], ExtractionSettings(n_frames=2, margin=0.25))
    assert list(plain.frame_index) == list(wide.frame_index)
    # With margin 0.25 the box is 1.5x as large: its middle 2/3 is the plain crop shrunk.
    centre = cv2.resize(plain.pixels[0], (66, 66), interpolation=cv2.INTER_AREA).astype(float)
    assert np.abs(wide.pixels[0][17:83, 17:83].astype(float) - centre).mean() < 10
    assert np.abs(wide.pixels[0][17:83, 17:83].astype(float) - plain.pixels[0][17:83, 17:83]).mean() > 15


def test_segment_uses_only_frames_inside_it(videos):
    result = extract_recording(videos["face"], ExtractionSettings(), start=2.0, end=4.0)  # 25 fps
    assert result.status == "ok", result.detail
    assert list(result.frame_index) == [50 + t for t in even_targets(0, 50, 8)]
    beyond = extract_recording(videos["face"], ExtractionSettings(), start=10.0, end=12.0)
    assert beyond.status == "too_short"
    short = extract_recording(videos["face"], ExtractionSettings(), start=1.0, end=1.2)
    assert short.status == "too_short"


def test_region_restricts_detection_but_keeps_frame_coordinates(videos):
    right = extract_recording(videos["right"], ExtractionSettings(n_frames=3), region="right")
    whole = extract_recording(videos["right"], ExtractionSettings(n_frames=3))
    assert right.status == whole.status == "ok"
    np.testing.assert_array_equal(right.pixels, whole.pixels)
    assert extract_recording(videos["right"], ExtractionSettings(n_frames=3), region="left").status == "no_face"
    with pytest.raises(ValueError):
        extract_recording(videos["right"], ExtractionSettings(), region="middle")


def test_no_face_video(videos):
    result = extract_recording(videos["no_face"], ExtractionSettings())
    assert result.status == "no_face" and result.faces_found == 0 and result.pixels is None


def test_short_video(videos):
    result = extract_recording(videos["short"], ExtractionSettings())
    assert result.status == "too_short" and result.frames_read == 5


@pytest.mark.parametrize("name", ["truncated_mp4", "random", "empty", "missing"])
def test_bad_files_are_unreadable_with_a_reason(videos, name):
    result = extract_recording(videos[name], ExtractionSettings())
    assert result.status == "unreadable"
    assert result.detail
    assert ("file not found" in result.detail) == (name == "missing")


def test_truncated_avi_reports_the_early_end(videos):
    result = extract_recording(videos["truncated"], ExtractionSettings())
    assert result.status == "ok" and "every frame probed" in result.detail  # the seed keeps its frames
    assert "header says" in result.detail


def test_landmarks_on_a_drawn_face(videos):
    result = extract_recording(videos["face"], ExtractionSettings(features="landmarks"))
    assert result.status == "ok", result.detail
    assert result.pixels is None
    assert result.landmarks.shape == (8, 68, 2) and result.landmarks.dtype == np.float32
    assert result.geometry.shape == (8, 6) and result.geometry.dtype == np.float32
    # Normalised to the face box: the points lie roughly inside it; eyes above the mouth.
    assert -0.2 < result.landmarks.min() and result.landmarks.max() < 1.2
    assert (result.landmarks[:, 36:48, 1].mean(1) < result.landmarks[:, 48:68, 1].mean(1)).all()
    assert np.isfinite(result.geometry).all() and (result.geometry > 0).all()
    # A static face: the features hardly move while the face slides sideways.
    assert result.geometry.std(0).max() < 0.1


def test_demo_corpus_videos(tmp_path):
    if importlib.util.find_spec("facemotion.corpora.demo") is None:
        pytest.skip("facemotion.corpora.demo not available")
    from facemotion.corpora.demo import plan_demo_corpus, render_demo_corpus

    plan = plan_demo_corpus(60, seed=0)
    picked = pd.concat([plan[plan.demo_kind == "ordinary"].head(3), plan[plan.demo_kind == "no_face"].head(1)])
    render_demo_corpus(picked, tmp_path)
    for row in picked.itertuples():
        result = extract_recording(tmp_path / row.path, ExtractionSettings())
        expected = {"ordinary": "ok", "no_face": "no_face"}[row.demo_kind]
        assert result.status == expected, (row.recording, result.detail)


# ----------------------------------------------------------------------------- settings, model


OPENCV_BUILD = """
  Video I/O:
    FFMPEG:                      YES
      avcodec:                   YES (62.28.101)
      avformat:                  YES (62.12.101)
      swscale:                   YES (9.5.101)
    GStreamer:                   NO
    v4l/v4l2:                    YES (linux/videodev2.h)
"""


def test_ffmpeg_versions_come_from_opencvs_build_information():
    assert settings_module.ffmpeg_versions(OPENCV_BUILD) == "avcodec 62.28.101, avformat 62.12.101, swscale 9.5.101"
    assert settings_module.ffmpeg_versions("  Video I/O:\n    FFMPEG:   NO\n    GStreamer:   NO\n") == "none"
    assert settings_module.library_versions()["ffmpeg"] == settings_module.ffmpeg_versions(cv2.getBuildInformation())


def test_settings_validate_and_fingerprint(monkeypatch, tmp_path):
    base = ExtractionSettings()
    assert base.fingerprint() == ExtractionSettings().fingerprint()
    assert base.fingerprint() != ExtractionSettings(margin=0.1).fingerprint()
    assert base.fingerprint() != ExtractionSettings(features="landmarks").fingerprint()
    # The landmark model only matters for landmark features; "" from the config means the default.
    assert base.fingerprint() == ExtractionSettings(landmark_model="x.dat").fingerprint()
    assert ExtractionSettings(landmark_model="").landmark_model is None
    # For landmarks its content does, not its path: another model written over the same file.
    model = tmp_path / "model.dat"
    model.write_bytes(b"one model")
    landmarks = ExtractionSettings(features="landmarks", landmark_model=str(model))
    first = landmarks.fingerprint()
    model.write_bytes(b"another model")
    assert landmarks.fingerprint() != first
    (tmp_path / "moved.dat").write_bytes(b"another model")
    assert ExtractionSettings(features="landmarks", landmark_model=str(tmp_path / "moved.dat")).fingerprint() \
        == landmarks.fingerprint()
    before = base.fingerprint()
    for library in (cv2, dlib):  # an upgraded decoder or detector: not the same values
        with monkeypatch.context() as upgraded:
            upgraded.setattr(library, "__version__", "99.0")
            assert base.fingerprint() != before
    with monkeypatch.context() as rebuilt:  # the same OpenCV version built with another FFmpeg
        rebuilt.setattr(cv2, "getBuildInformation", lambda: OPENCV_BUILD.replace("62.28.101", "61.19.100"))
        assert base.fingerprint() != before
    assert base.fingerprint() == before
    for bad in ({"features": "hog"}, {"n_frames": 0}, {"margin": 1.5}, {"face_size": 2.5}):
        with pytest.raises(ValueError):
            ExtractionSettings(**bad)


def test_landmark_model_lookup(tmp_path, monkeypatch):
    model = tmp_path / "model.dat"
    model.write_bytes(b"x")
    assert find_landmark_model(model) == model
    assert find_landmark_model(None).is_file()  # the packaged model in this environment
    with pytest.raises(LandmarkModelError, match="face_recognition_models"):
        find_landmark_model(tmp_path / "absent.dat")
    monkeypatch.setitem(__import__("sys").modules, "face_recognition_models", None)  # import fails
    monkeypatch.setattr(settings_module, "DEBIAN_LANDMARK_MODEL", tmp_path / "none.dat")
    with pytest.raises(LandmarkModelError) as error:
        find_landmark_model(None)
    message = str(error.value)
    assert "landmark_model" in message and "face_recognition_models" in message and "libdlib-data" in message


# ----------------------------------------------------------------------------- batch + cache


def manifest_rows(paths: dict) -> list[dict]:
    """Rows as the workflow passes them to run_batch: plain values, None where empty."""
    rows = []
    for i, (recording, path) in enumerate(paths.items()):
        rows.append({"recording": recording, "path": str(path), "speaker": f"S{i % 2}", "session": str(i % 3),
                     "label": "Happy", "activation": 3.0 if i % 2 else None, "valence": 2.5,
                     "start": None, "end": None, "region": None})
    return rows


@pytest.fixture
def counted(monkeypatch):
    calls = []
    monkeypatch.setattr(batch, "extract_recording", _counter(calls))
    return calls


def logged(caplog) -> list[str]:
    """The messages of run_batch's logger so far."""
    return [record.getMessage() for record in caplog.records if record.name == "facemotion.extraction.batch"]


def test_run_batch_reports_every_row_and_goes_on_after_bad_files(videos, tmp_path, counted, caplog):
    rows = manifest_rows({"a": videos["face"], "b": videos["random"], "c": videos["missing"],
                          "d": videos["no_face"], "e": videos["empty"], "f": videos["short"]})
    caplog.set_level(logging.INFO)
    kept, report = run_batch(rows, ExtractionSettings(), tmp_path / "cache")
    assert all(list(row) == ["recording", "status", "faces_found", "frames_read", "detail"] for row in report)
    assert [row["recording"] for row in report] == list("abcdef")
    assert [row["status"] for row in report] == ["ok", "unreadable", "unreadable", "no_face", "unreadable",
                                                 "too_short"]
    assert [r.recording for r in kept] == ["a"]
    assert kept[0].speaker == "S0" and np.isnan(kept[0].activation) and kept[0].valence == 2.5
    assert not any("\t" in row["detail"] or "\n" in row["detail"] for row in report)
    assert any("extracted a" in m for m in logged(caplog))
    assert "batch: 6 recordings, 6 extracted, 0 reused" in logged(caplog)[-1]


def test_run_batch_over_worker_processes_gives_the_same_batch(videos, tmp_path, caplog):
    rows = manifest_rows({"a": videos["face"], "b": videos["random"], "c": videos["gap"], "d": videos["no_face"]})
    kept1, report1 = run_batch(rows, ExtractionSettings(n_frames=4), tmp_path / "one")
    caplog.set_level(logging.INFO)
    caplog.clear()
    kept2, report2 = run_batch(rows, ExtractionSettings(n_frames=4), tmp_path / "two", processes=2)
    messages = logged(caplog)
    assert report2 == report1 and [r.recording for r in kept2] == [r.recording for r in kept1] == ["a", "c"]
    for one, two in zip(kept1, kept2):
        np.testing.assert_array_equal(one.result.pixels, two.result.pixels)
    assert [m.split()[1].rstrip(":") for m in messages[:4]] == list("abcd")  # logged in the rows' order
    assert len(list((tmp_path / "two").rglob("*.npz"))) == 4  # the workers fill the cache too


def test_cache_reuses_results_and_extracts_only_what_changed(videos, tmp_path, counted, caplog):
    cache = tmp_path / "cache"
    first = manifest_rows({"a": videos["face"], "d": videos["no_face"]})
    kept1, report1 = run_batch(first, ExtractionSettings(), cache)
    assert counted == ["face.mp4", "no_face.mp4"]
    counted.clear()
    caplog.set_level(logging.INFO)
    second = manifest_rows({"a": videos["face"], "d": videos["no_face"], "g": videos["gap"]})
    kept2, report2 = run_batch(second, ExtractionSettings(), cache)
    assert counted == ["gap.mp4"]
    messages = logged(caplog)
    assert any(m.startswith("reused a") for m in messages) and any(m.startswith("extracted g") for m in messages)
    assert report2[:2] == report1
    np.testing.assert_array_equal(kept2[0].result.pixels, kept1[0].result.pixels)
    np.testing.assert_array_equal(kept2[0].result.frame_index, kept1[0].result.frame_index)
    counted.clear()
    run_batch(first, ExtractionSettings(face_size=64), cache)  # a setting changed: everything again
    assert counted == ["face.mp4", "no_face.mp4"]
    run_batch(first, ExtractionSettings(), cache)  # and back: each setting keeps its entries
    assert counted == ["face.mp4", "no_face.mp4"]
    counted.clear()
    segment = [{**first[0], "start": 1.0, "end": 3.0}, first[1]]  # a row's segment changed
    run_batch(segment, ExtractionSettings(face_size=64), cache)
    assert counted == ["face.mp4"]


def test_cache_is_not_reused_after_a_library_upgrade(videos, tmp_path, counted, monkeypatch):
    rows = manifest_rows({"a": videos["face"]})
    run_batch(rows, ExtractionSettings(n_frames=2), tmp_path / "cache")
    run_batch(rows, ExtractionSettings(n_frames=2), tmp_path / "cache")
    assert counted == ["face.mp4"]
    monkeypatch.setattr(cv2, "__version__", "99.0")
    run_batch(rows, ExtractionSettings(n_frames=2), tmp_path / "cache")
    assert counted == ["face.mp4", "face.mp4"]


def test_cache_follows_the_videos_content_not_its_path_or_time(videos, tmp_path, counted):
    video = tmp_path / "v.mp4"
    video.write_bytes(videos["face"].read_bytes())
    run_batch(manifest_rows({"v": video}), ExtractionSettings(n_frames=2), tmp_path / "cache")
    stat = video.stat()
    os.utime(video, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # touched
    run_batch(manifest_rows({"v": video}), ExtractionSettings(n_frames=2), tmp_path / "cache")
    moved = tmp_path / "elsewhere" / "v.mp4"  # the corpus copied elsewhere
    moved.parent.mkdir()
    moved.write_bytes(video.read_bytes())
    run_batch(manifest_rows({"v": moved}), ExtractionSettings(n_frames=2), tmp_path / "cache")
    assert counted == ["v.mp4"]
    video.write_bytes(videos["gap"].read_bytes())  # replaced by another video
    run_batch(manifest_rows({"v": video}), ExtractionSettings(n_frames=2), tmp_path / "cache")
    assert counted == ["v.mp4", "v.mp4"]


def test_cache_write_is_atomic(videos, tmp_path, counted, monkeypatch):
    cache = tmp_path / "cache"
    rows = manifest_rows({"a": videos["face"]})
    run_batch(rows, ExtractionSettings(n_frames=2), cache)
    entry = cache / ExtractionSettings(n_frames=2).fingerprint() / "a.npz"
    before = entry.read_bytes()

    def dies_halfway(handle, **arrays):
        handle.write(b"PK\x03\x04 half an archive")
        raise KeyboardInterrupt  # the job is killed while writing

    monkeypatch.setattr(cache_module.np, "savez", dies_halfway)
    entry.unlink()  # a killed job leaves no entry, and none half-written
    with pytest.raises(KeyboardInterrupt):
        run_batch(rows, ExtractionSettings(n_frames=2), cache)
    assert sorted(p.name for p in cache.rglob("*a.npz*")) == []  # no temporary left behind
    entry.write_bytes(before)
    monkeypatch.undo()
    # A damaged entry (e.g. written by something else) is not trusted: extracted again.
    entry.write_bytes(b"garbage")
    counted.clear()
    monkeypatch.setattr(batch, "extract_recording", _counter(counted))
    kept, report = run_batch(rows, ExtractionSettings(n_frames=2), cache)
    assert counted == ["face.mp4"] and [row["status"] for row in report] == ["ok"]


@pytest.mark.parametrize("damage", ["truncated", "empty", "not_a_zip"])
def test_an_unreadable_cache_entry_is_extracted_again_and_logged(videos, tmp_path, counted, damage, caplog):
    cache = tmp_path / "cache"
    rows = manifest_rows({"a": videos["face"]})
    run_batch(rows, ExtractionSettings(n_frames=2), cache)
    entry = cache / ExtractionSettings(n_frames=2).fingerprint() / "a.npz"
    good = entry.read_bytes()
    entry.write_bytes({"truncated": good[: len(good) // 2], "empty": b"", "not_a_zip": b"garbage"}[damage])
    caplog.set_level(logging.INFO)
    kept, report = run_batch(rows, ExtractionSettings(n_frames=2), cache)
    assert counted == ["face.mp4", "face.mp4"] and report[0]["status"] == "ok"
    assert any(m.startswith("unreadable cache entry, extracting a again") and str(entry) in m for m in logged(caplog))
    assert entry.read_bytes() == good  # healed: the next run reuses it
    counted.clear()
    run_batch(rows, ExtractionSettings(n_frames=2), cache)
    assert counted == []


def _counter(calls):
    real = extract_recording

    def counting(path, *args, **kwargs):
        calls.append(Path(path).name)
        return real(path, *args, **kwargs)

    return counting
