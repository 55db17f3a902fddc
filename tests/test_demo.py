"""Tests for the synthetic demo corpus (facemotion.corpora.demo)."""

import hashlib

import cv2
import numpy as np
import pandas as pd
import pytest
from facemotion.corpora import demo

N_FRAMES = 8  # the workflow's frame target used for rendering in these tests


def _hashes(root):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _read_frames(path):
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), path
    fps = cap.get(cv2.CAP_PROP_FPS)
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames, fps


def _small_plan():
    """16 recordings with every hard kind and both containers, as the workflow would see them."""
    plan = demo.plan_demo_corpus(16, seed=5)
    for i, kind in enumerate(["no_face", "too_short", "face_leaves"]):
        plan.loc[i, "demo_kind"] = kind
    for i, (ext, fourcc) in zip((3, 4), demo.FORMATS):
        plan.loc[i, "path"] = f"videos/{plan.loc[i, 'recording']}.{ext}"
        plan.loc[i, "demo_fourcc"] = fourcc
    return plan


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    plan = _small_plan()
    out = tmp_path_factory.mktemp("demo")
    demo.render_demo_corpus(plan, out, n_frames=N_FRAMES)
    return plan, out


# ----------------------------------------------------------------------------- plan


def test_plan_is_deterministic_and_seeded():
    pd.testing.assert_frame_equal(demo.plan_demo_corpus(60, seed=1), demo.plan_demo_corpus(60, seed=1))
    assert not demo.plan_demo_corpus(60, seed=1).equals(demo.plan_demo_corpus(60, seed=2))


def test_plan_schema():
    plan = demo.plan_demo_corpus()
    assert len(plan) == 300
    assert list(plan.columns[:7]) == ["recording", "path", "speaker", "session", "label", "activation", "valence"]
    assert all(c.startswith("demo_") for c in plan.columns[7:])
    assert plan.recording.is_unique
    assert plan.recording.str.fullmatch(r"[A-Za-z0-9_]+").all()
    assert (plan.path == "videos/" + plan.recording + "." + plan.path.str.rsplit(".", n=1).str[1]).all()
    assert set(plan.label) == set(demo.EMOTIONS)
    for col in ("activation", "valence"):
        assert plan[col].between(1, 5).all()
        assert (plan[col] == plan[col].round(2)).all()


def test_speakers_and_sessions():
    plan = demo.plan_demo_corpus(300)
    counts = plan.speaker.value_counts()
    assert sorted(counts.index) == [f"F0{k}" for k in range(1, 7)] + [f"M0{k}" for k in range(1, 7)]
    assert counts.max() - counts.min() <= 1
    assert sorted(plan.session.unique()) == [str(k) for k in range(1, 7)]
    pairs = plan.groupby("session").speaker.agg(lambda s: tuple(sorted(set(s))))
    assert pairs.to_dict() == {str(k): (f"F0{k}", f"M0{k}") for k in range(1, 7)}


@pytest.mark.parametrize("n", [37, 100, 300, 1000])
def test_class_shares_match_seed_corpus(n):
    counts = demo.plan_demo_corpus(n).label.value_counts()
    for label, share in zip(demo.EMOTIONS, demo.CLASS_SHARES):
        assert abs(counts.get(label, 0) - share * n) < 1


def test_ratings_follow_the_class_and_fill_the_bins():
    plan = demo.plan_demo_corpus(300)
    means = plan.groupby("label")[["activation", "valence"]].mean()
    assert means.activation["Angry"] > means.activation["Neutral"] > means.activation["Sad"]
    assert means.valence["Happy"] > means.valence["Neutral"] > means.valence["Sad"]
    for col in ("activation", "valence"):
        bins = pd.cut(plan[col], [0, 2.5, 3.5, 5], include_lowest=True).value_counts(normalize=True)
        assert bins.min() > 0.18, (col, bins.to_dict())


def test_hard_recordings_are_rare_and_spread():
    plan = demo.plan_demo_corpus(300)
    hard = plan[plan.demo_kind != "ordinary"]
    assert set(hard.demo_kind) == set(demo.HARD_KINDS)
    assert 0.02 <= len(hard) / len(plan) <= 0.04
    assert hard.label.nunique() >= 3
    assert (plan.loc[plan.demo_kind == "too_short", "demo_n_frames"] < N_FRAMES).all()


def test_nuisance_factors_do_not_depend_on_label():
    plan = demo.plan_demo_corpus(1200, seed=3)
    plan["duration"] = plan.demo_n_frames / plan.demo_fps
    plan["is_mp4"] = plan.path.str.endswith(".mp4")
    ordinary = plan[plan.demo_kind == "ordinary"]
    by_class = ordinary.groupby("label")[["duration", "is_mp4", "demo_fps"]].mean()
    overall = ordinary[["duration", "is_mp4", "demo_fps"]].mean()
    assert (by_class.duration - overall.duration).abs().max() < 0.2  # seconds; sd of durations ~0.7
    assert (by_class.is_mp4 - overall.is_mp4).abs().max() < 0.12
    assert (by_class.demo_fps - overall.demo_fps).abs().max() < 1.0


def test_only_the_face_changes_with_the_label():
    row = demo.plan_demo_corpus(12, seed=4).iloc[0].to_dict()
    row.update(demo_kind="ordinary", demo_intensity=1.0)
    frames = {}
    for label in demo.EMOTIONS:
        frames[label] = next(demo._clip_frames(dict(row, label=label), N_FRAMES)).astype(int)
    for label in ("Angry", "Happy", "Sad"):
        diff = np.abs(frames[label] - frames["Neutral"]).max(axis=2) > 0
        ys, xs = np.nonzero(diff)
        assert 0 < diff.mean() < 0.04  # a handful of feature pixels, same background/noise/pose
        assert xs.max() - xs.min() < 0.35 * demo.FRAME_W and ys.max() - ys.min() < 0.5 * demo.FRAME_H


# ----------------------------------------------------------------------------- render


def test_render_is_byte_identical(rendered, tmp_path):
    plan, out = rendered
    demo.render_demo_corpus(plan, tmp_path, n_frames=N_FRAMES)
    first, second = _hashes(out), _hashes(tmp_path)
    assert len(first) == len(plan) + 2  # the videos, manifest.tsv and the generator's mark
    assert first == second


def test_manifest_drops_private_columns(rendered):
    plan, out = rendered
    manifest = pd.read_csv(out / "manifest.tsv", sep="\t", dtype={"session": str})
    public = plan[[c for c in plan.columns if not c.startswith("demo_")]]
    pd.testing.assert_frame_equal(manifest, public)


def test_videos_read_back(rendered):
    plan, out = rendered
    assert {p.rsplit(".", 1)[1] for p in plan.path} == {"mp4", "avi"}
    for row in plan.itertuples():
        frames, fps = _read_frames(out / row.path)
        assert fps == pytest.approx(row.demo_fps, abs=0.01)
        assert frames[0].shape == (demo.FRAME_H, demo.FRAME_W, 3)
        if row.demo_kind == "too_short":
            assert 0 < len(frames) < N_FRAMES
        else:
            assert len(frames) == row.demo_n_frames
            assert 1.4 <= len(frames) / fps <= 4.1


def _face_hits(path, dlib, detector, step=2):
    hits = []
    for frame in _read_frames(path)[0][::step]:
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        small = cv2.resize(grey, (400, round(grey.shape[0] * 400 / grey.shape[1])), interpolation=cv2.INTER_AREA)
        hits.append(len(detector(small, 0)) > 0)
    return np.array(hits)


def test_dlib_finds_faces_where_intended(rendered):
    dlib = pytest.importorskip("dlib")
    detector = dlib.get_frontal_face_detector()
    plan, out = rendered
    kinds = plan.set_index("path").demo_kind
    ordinary = [p for p, k in kinds.items() if k == "ordinary"][:6]
    rate = np.concatenate([_face_hits(out / p, dlib, detector) for p in ordinary]).mean()
    assert rate >= 0.9
    assert _face_hits(out / kinds.index[kinds == "no_face"][0], dlib, detector).sum() == 0
    leaves = _face_hits(out / kinds.index[kinds == "face_leaves"][0], dlib, detector)
    assert leaves[0] and leaves.mean() < 0.5


def test_a_folder_with_files_the_generator_did_not_write_is_refused(rendered, tmp_path):
    plan, _ = rendered
    user = tmp_path / "mycorpus"
    (user / "videos").mkdir(parents=True)
    (user / "manifest.tsv").write_text("my own manifest\n")
    with pytest.raises(FileExistsError, match=f"corpus.path: '{user}' is a folder with files that the demo "
                                              "generator did not create.*set corpus.format"):
        demo.render_demo_corpus(plan, user, n_frames=N_FRAMES)
    assert (user / "manifest.tsv").read_text() == "my own manifest\n"
    assert sorted(p.name for p in user.rglob("*")) == ["manifest.tsv", "videos"]
    with pytest.raises(FileExistsError, match="is a file"):
        demo.render_demo_corpus(plan, user / "manifest.tsv", n_frames=N_FRAMES)
    # A new folder, one holding only empty folders, and its own earlier output are written.
    assert demo.demo_folder_problem(tmp_path / "new") is None
    (tmp_path / "empty" / "videos").mkdir(parents=True)
    assert demo.demo_folder_problem(tmp_path / "empty") is None
    assert demo.demo_folder_problem(rendered[1]) is None
