"""Leave-one-session-out folds, either as the seed ran them (``"seed"``: the held-out session
split into a dev and a test half) or with separate validation recordings (``"loso"``): the next
session, or a random share of the training recordings where the corpus's own folds leave no
session to spare, or none, training on every other session for a fixed number of epochs
(``validation``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facemotion.common.values import natural_key
from facemotion.corpora.cross_corpus import CORPUS_PROTOCOLS

PROTOCOLS = ("loso", "seed")
VALIDATIONS = ("next_session", "share", "none")


def training_protocol(protocol: str) -> str:
    """How a fold of ``cv.protocol`` trains: the protocols over several corpora are leave-one-session-out
    folds of a manifest whose sessions are corpora (corpora.cross_corpus)."""
    return "loso" if protocol in CORPUS_PROTOCOLS else protocol


def validation_method(setting: str, has_train_only_sessions: bool, speakers_known: bool,
                      folds_are_corpora: bool = False) -> str:
    """``cv.validation`` resolved: ``auto`` draws a share of the training recordings where the
    corpus defines its own splits (training-only sessions, or folds of clips without speakers:
    holding out a whole further fold would train on less than the official protocol does) or the
    folds are whole corpora (leave_one_corpus_out: the next corpus would leave one training corpus),
    and takes the next session otherwise."""
    if setting != "auto":
        return setting
    return "share" if has_train_only_sessions or not speakers_known or folds_are_corpora else "next_session"


def sorted_sessions(sessions) -> list[str]:
    """Distinct session ids in natural sort order: the fold order."""
    return sorted({str(s) for s in sessions}, key=natural_key)


def validation_session(sessions, test_session: str) -> str | None:
    """The session after ``test_session`` in sorted order (cyclic); None with < 3 sessions."""
    order = sorted_sessions(sessions)
    if len(order) < 3:
        return None  # the only other session must stay in training
    return order[(order.index(str(test_session)) + 1) % len(order)]


@dataclass(frozen=True)
class FoldSplit:
    """Positions (into the arrays given to :func:`split_fold`) of one fold's parts.

    ``val`` is the dev half (``"seed"``, monitored only) or the validation recordings (``"loso"``,
    select the epoch); it can be empty. ``val_session`` is None for the seed protocol and for a
    validation share.
    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    test_session: str
    val_session: str | None


def test_halves(recordings, sessions, strata, seed: int) -> set[str]:
    """The seed protocol's test halves: each session's recordings split 50/50 into a dev and a test
    half, stratified by ``strata`` (per recording), drawn with ``seed``; returns the recordings of
    the test halves. Drawn over every recording of the corpus (the manifest), the halves are the
    same for every experiment and target, each testing those of its half it kept."""
    recordings, sessions = np.asarray(recordings).astype(str), np.asarray(sessions).astype(str)
    strata = np.asarray(strata)
    halves: set[str] = set()
    for session in sorted_sessions(sessions):
        members = np.flatnonzero(sessions == session)
        _, test = _half_split(members, strata[members], seed)
        halves.update(recordings[test])
    return halves


def manifest_test_halves(manifest, seed: int) -> set[str]:
    """:func:`test_halves` of a manifest (columns recording, session, label), stratified by the
    emotion label (empty where a recording has none), in the recordings' natural order, so that
    the manifest as built and as read back from results/manifest.tsv give the same halves."""
    recordings = manifest["recording"].astype(str).tolist()
    ordered = manifest.iloc[sorted(range(len(recordings)), key=lambda i: natural_key(recordings[i]))]
    return test_halves(ordered["recording"], ordered["session"], ordered["label"].fillna(""), seed)


def split_fold(
    sessions, y, test_session: str, protocol: str = "loso", seed: int = 0,
    validation: str = "next_session", share: float = 0.1, speakers=None, in_test_half=None,
) -> FoldSplit:
    """Split rows into train / val / test for the fold that holds out ``test_session``.

    ``sessions`` and ``y`` are per-row (already restricted to the target's usable rows).
    ``"seed"``: train = all other sessions; the held-out session is split into val (dev) and
    test: test = its rows ``in_test_half`` (per row, from :func:`test_halves` over the manifest),
    or without it a 50/50 split of its rows stratified by ``y`` with ``seed``. ``"loso"``: test = the whole
    held-out session; val = the next session (:func:`validation_session`) or, with ``validation``
    ``"share"``, a ``share`` of the other sessions' rows (whole ``speakers`` when given and not
    empty, else rows stratified by ``y``; drawn with ``seed``); train = the rest; with
    ``"none"``, val is empty and train is every other session.
    """
    sess = np.asarray([str(s) for s in sessions])
    y = np.asarray(y)
    test_session = str(test_session)
    present = sorted_sessions(sess)
    if len(present) < 2:
        raise ValueError(f"leave-one-session-out needs >= 2 sessions, got {present}")
    if test_session not in present:
        raise ValueError(f"test session {test_session!r} not among {present}")
    held_out = np.flatnonzero(sess == test_session)
    if protocol == "seed":
        train = np.flatnonzero(sess != test_session)
        if in_test_half is None:  # the halves drawn over these rows
            _, tested = _half_split(held_out, y[held_out], seed)
            in_test_half = np.isin(np.arange(len(sess)), tested)
        in_test_half = np.asarray(in_test_half, dtype=bool)
        return FoldSplit(train, held_out[~in_test_half[held_out]], held_out[in_test_half[held_out]], test_session,
                         None)
    if protocol == "loso" and validation == "none":
        return FoldSplit(np.flatnonzero(sess != test_session), np.array([], dtype=np.int64), held_out,
                         test_session, None)
    if protocol == "loso" and validation == "share":
        rest = np.flatnonzero(sess != test_session)
        val = _share(rest, y[rest], None if speakers is None else np.asarray(speakers)[rest], share, seed)
        train = np.setdiff1d(rest, val)
        return FoldSplit(train, np.sort(val), held_out, test_session, None)
    if protocol == "loso":
        val_session = validation_session(present, test_session)
        val = np.flatnonzero(sess == val_session) if val_session else np.array([], dtype=np.int64)
        train = np.flatnonzero((sess != test_session) & (sess != val_session))
        return FoldSplit(train, val, held_out, test_session, val_session)
    raise ValueError(f"unknown protocol {protocol!r}; expected one of {PROTOCOLS}")


def _half_split(idx: np.ndarray, y: np.ndarray, seed: int):
    # Imported here, as in _whole_speakers: Snakemake imports this module to plan every run, and
    # scikit-learn (with SciPy under it) would be most of its start-up (docs/performance.md).
    from sklearn.model_selection import train_test_split

    if len(idx) < 2:
        return np.array([], dtype=np.int64), idx
    try:
        return train_test_split(idx, test_size=0.5, stratify=y, random_state=seed)
    except ValueError:
        # Too few members of some class to stratify (tiny sessions): plain random halves.
        return train_test_split(idx, test_size=0.5, random_state=seed)


def _share(idx: np.ndarray, y: np.ndarray, speakers, share: float, seed: int) -> np.ndarray:
    """A ``share`` of ``idx`` for validation: whole speakers where they are known, else a sample
    stratified by ``y`` (plain random where a class is too small to stratify). Corpora pooled with
    and without speaker ids give each part its share: the recordings without a speaker are not one
    speaker, whom a draw would move to validation whole."""
    if len(idx) < 2:
        return np.array([], dtype=np.int64)
    named = np.zeros(len(idx), bool) if speakers is None else np.asarray(speakers) != ""
    if named.all():
        return _whole_speakers(idx, np.asarray(speakers), share, seed)
    if not named.any():
        return _stratified_share(idx, y, share, seed)
    return np.concatenate([_whole_speakers(idx[named], np.asarray(speakers)[named], share, seed),
                           _stratified_share(idx[~named], np.asarray(y)[~named], share, seed)])


def _whole_speakers(idx: np.ndarray, speakers: np.ndarray, share: float, seed: int) -> np.ndarray:
    from sklearn.model_selection import GroupShuffleSplit

    if len(set(speakers)) < 2:
        return np.array([], dtype=np.int64)
    splitter = GroupShuffleSplit(n_splits=1, test_size=share, random_state=seed)
    _, val = next(splitter.split(idx, groups=speakers))
    return idx[val]


def _stratified_share(idx: np.ndarray, y: np.ndarray, share: float, seed: int) -> np.ndarray:
    from sklearn.model_selection import train_test_split

    if len(idx) < 2:
        return np.array([], dtype=np.int64)
    try:
        _, val = train_test_split(idx, test_size=share, stratify=y, random_state=seed)
    except ValueError:
        _, val = train_test_split(idx, test_size=share, random_state=seed)
    return val
