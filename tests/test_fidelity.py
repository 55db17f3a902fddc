"""Extraction keeps exactly what the seed's method keeps (issue 13): the real extraction on
generated hard videos and demo clips, compared with the slow reference in seed_reference.py;
and the sampler with its every-frame scan on synthetic streams whose headers lie."""

import importlib.util

import numpy as np
import pandas as pd
import pytest
from facemotion.extraction.extract import extract_recording
from facemotion.extraction.records import OK
from facemotion.extraction.sampling import sample_faces, scan_every_frame, seed_spread
from facemotion.extraction.settings import ExtractionSettings
from seed_reference import hard_set, seed_decision
from test_extract import FaceProbe, FakeSource, write_video

SETTINGS = ExtractionSettings()


@pytest.fixture(scope="module")
def hard_videos(tmp_path_factory):
    return hard_set(tmp_path_factory.mktemp("hard"), scale=0.6)


@pytest.mark.slow
@pytest.mark.parametrize("case", range(11))
def test_hard_video_is_kept_exactly_when_the_seed_keeps_it(hard_videos, case):
    video = hard_videos[case]
    reference = seed_decision(video.path, SETTINGS, video.start, video.end)
    result = extract_recording(video.path, SETTINGS, video.start, video.end)
    assert result.ok == reference.kept, (video.name, result.detail, len(reference.face_frames))
    if result.ok:
        frames = result.frame_index.tolist()
        assert set(frames) <= set(reference.face_frames), "every kept frame holds a face"
        if "every frame probed" in result.detail:
            assert frames == reference.frame_index, "spread over the detections as the seed spreads them"
        assert len(set(frames)) == SETTINGS.n_frames
    else:
        assert result.faces_found == len(reference.face_frames)
        assert f"{len(reference.face_frames)}" in result.detail.split(" face frames")[0]


@pytest.mark.slow
def test_hard_set_covers_kept_and_dropped_recordings(hard_videos):
    needing_the_scan = [hard_videos[i] for i in (0, 1, 3, 6, 7, 8, 9)]
    assert all(seed_decision(v.path, SETTINGS, v.start, v.end).kept for v in needing_the_scan)
    fast_only = ExtractionSettings(full_scan=False)  # the shortcut drops every one of them
    assert not any(extract_recording(v.path, fast_only, v.start, v.end).ok for v in needing_the_scan)


@pytest.mark.slow
def test_full_scan_is_paid_only_by_recordings_the_fast_path_cannot_fill(hard_videos, tmp_path):
    video = write_video(tmp_path / "face.mp4", 150, lambda i: (300 + i % 40, 175))  # a face in every frame
    face = extract_recording(video, SETTINGS)
    assert face.ok and "every frame probed" not in face.detail and face.frames_read < 150
    dropped = extract_recording(hard_videos[4].path, SETTINGS)
    assert not dropped.ok and "every frame probed" in dropped.detail


@pytest.mark.slow
def test_demo_recordings_whose_face_leaves_are_decided_as_the_seed_does(tmp_path):
    if importlib.util.find_spec("facemotion.corpora.demo") is None:
        pytest.skip("facemotion.corpora.demo not available")
    from facemotion.corpora.demo import plan_demo_corpus, render_demo_corpus

    plan = plan_demo_corpus(100, seed=0)
    picked = pd.concat([plan[plan.demo_kind == "face_leaves"], plan[plan.demo_kind == "ordinary"].head(2)])
    render_demo_corpus(picked, tmp_path)
    for row in picked.itertuples():
        reference = seed_decision(tmp_path / row.path, SETTINGS)
        result = extract_recording(tmp_path / row.path, SETTINGS)
        assert result.ok == reference.kept, (row.recording, result.detail, len(reference.face_frames))


# ----------------------------------------------------------------------------- synthetic streams


def decide(length, expected, has_face, n=8, limit=None):
    """The extraction's rule on synthetic streams: the fast path, then the scan if it fell short."""
    sample = sample_faces(FakeSource(length), FaceProbe(has_face), n, expected, limit=limit)
    if sample.status != OK:
        sample = scan_every_frame(FakeSource(length), FaceProbe(has_face), n, limit)
    return sample


def seed(length, has_face, n=8, limit=None):
    faces = [i for i in range(length if limit is None else min(length, limit)) if has_face(i)]
    return faces, ([faces[i] for i in np.linspace(0, len(faces) - 1, n).astype(int)] if len(faces) >= n else None)


STREAMS = {
    "face at the start only": (169, lambda i: i < 72),
    "face at the end only": (210, lambda i: i >= 190),
    "face in the middle only": (262, lambda i: 95 <= i < 167),
    "scattered stretches": (300, lambda i: i % 60 < 3),
    "too few": (200, lambda i: i in (5, 50, 100, 150, 199)),
    "no face": (90, lambda i: False),
    "everywhere": (150, lambda i: True),
}


@pytest.mark.parametrize("name", STREAMS)
@pytest.mark.parametrize("header", ["true", "overstated x3", "understated /3", "missing"])
def test_decision_is_the_seeds_whatever_the_header_says(name, header):
    length, has_face = STREAMS[name]
    expected = {"true": length, "overstated x3": 3 * length, "understated /3": length // 3, "missing": None}[header]
    sample = decide(length, expected, has_face)
    faces, chosen = seed(length, has_face)
    assert (sample.status == OK) == (chosen is not None)
    picked = [i for i, _ in sample.picks]
    if chosen is None:
        assert sample.faces_found == len(faces) and not picked
    else:
        assert all(has_face(i) for i in picked) and len(set(picked)) == 8
        if sample.scanned:
            assert picked == chosen


def test_segment_limit_bounds_the_scan():
    sample = decide(300, 300, lambda i: i >= 100, limit=104)  # 4 face frames inside the segment
    assert sample.status == "too_few_faces" and sample.faces_found == 4 and sample.frames_read == 104


def test_scan_stops_at_the_first_frame_that_cannot_be_decoded():
    class BrokenAt(FakeSource):
        def retrieve(self):
            return None if self.pos - 1 >= 30 else super().retrieve()

    sample = scan_every_frame(BrokenAt(100), FaceProbe(lambda i: True), 8)
    assert sample.status == OK and sample.length == 30 and [i for i, _ in sample.picks] == seed_spread(30, 8)


def test_seed_spread_is_numpys_linspace():
    for count in (8, 9, 17, 72, 1000):
        assert seed_spread(count, 8) == np.linspace(0, count - 1, 8).astype(int).tolist()
    assert seed_spread(5, 1) == [0]
