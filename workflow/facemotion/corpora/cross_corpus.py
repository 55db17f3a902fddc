"""Several corpora in one run (config `corpus` as a list; docs/cross_corpus.md).

Each corpus is read by its own reader (corpora.reading.build_manifest); here its rows are put into
the one manifest: a `corpus` column, its recording, speaker and session ids prefixed with its name
(two corpora may both have a speaker M01 or a session 1), and its sessions set by the protocol, so
that the folds of leave-one-session-out are the protocol's folds and nothing downstream needs to
know there were several corpora:

- loso, seed (pooled): every corpus keeps its own sessions, each a fold trained on every other
  session of every corpus;
- leave_one_corpus_out: a corpus is one session, so each fold tests one corpus, trained on the
  others;
- cross_corpus: the training corpora keep their sessions with split `train` (training only); each
  test corpus is one session, a fold trained on the training corpora only (never on another test
  corpus: :func:`fold_train_sessions`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from facemotion.corpora.manifest import MAX_ID_LENGTH, TRAIN_ONLY, ManifestError

CORPUS_PROTOCOLS = ("cross_corpus", "leave_one_corpus_out")
CORPUS_COLUMN = "corpus"
# Between a corpus's name and its own ids: a corpus name has no dot (the schema's pattern), so the
# name is what comes before the first one.
SEPARATOR = "."


def several_corpora(config: dict) -> bool:
    """Whether the run reads a list of corpora (even a list of one): its ids then carry the names."""
    return isinstance(config["corpus"], list)


def used_corpora(config: dict) -> list[dict]:
    """The listed corpora the run reads, in the list's order: under cross_corpus those cv.train or
    cv.test names (another listed corpus is not read at all), else every one."""
    corpora, cv = config["corpus"], config["cv"]
    if cv["protocol"] != "cross_corpus":
        return list(corpora)
    return [corpus for corpus in corpora if corpus["name"] in cv["train"] or corpus["name"] in cv["test"]]


def _prefixed(name: str, ids: pd.Series) -> pd.Series:
    return ids.map(lambda value: f"{name}{SEPARATOR}{value}" if value else "")


def corpus_rows(table: pd.DataFrame, name: str, cv: dict) -> tuple[pd.DataFrame, list[str]]:
    """One corpus's normalised manifest as rows of the run's manifest (see the module's docstring),
    and notes for the log."""
    table = table.copy()
    notes = []
    table[CORPUS_COLUMN] = name
    for column in ("recording", "speaker"):
        table[column] = _prefixed(name, table[column].astype(str))
    tested_whole = cv["protocol"] == "leave_one_corpus_out" or (
        cv["protocol"] == "cross_corpus" and name in cv["test"])
    if cv["protocol"] == "cross_corpus" and name in cv["train"]:
        table["session"] = _prefixed(name, table["session"].astype(str))
        table["split"] = TRAIN_ONLY
    elif tested_whole:
        # A corpus's own training-only part (FERV39k's training set) would make its fold train on
        # the corpus it tests: left out.
        train_only = table["split"] == TRAIN_ONLY
        if train_only.any():
            notes.append(f"{name}: left out {int(train_only.sum())} recording(s) of its training-only sessions: "
                         f"the corpus is tested under cv.protocol {cv['protocol']}, and its fold trains on other "
                         "corpora only")
        table = table[~train_only].copy()
        table["session"] = name
    else:
        table["session"] = _prefixed(name, table["session"].astype(str))
    too_long = table["recording"].str.len() > MAX_ID_LENGTH
    if too_long.any():
        raise ManifestError(f"corpus {name}: recording ids prefixed with the corpus's name must be at most "
                            f"{MAX_ID_LENGTH} characters (they name output files), e.g. "
                            f"{table.loc[too_long, 'recording'].iloc[0]!r}; choose a shorter corpus name")
    return table, notes


def class_problems(manifest: pd.DataFrame, classes: list[str], cv: dict) -> list[str]:
    """A class that a tested corpus lacks (its UAR would count a class it cannot test), or that
    every training corpus of cross_corpus lacks (no model could learn it), each naming corpus and
    class. Pooled and leave_one_corpus_out test every corpus, so every corpus needs every class."""
    present = manifest.groupby(CORPUS_COLUMN)["label"].agg(set)
    tested = cv["test"] if cv["protocol"] == "cross_corpus" or restricts_corpora(cv) else list(present.index)
    problems = []
    for name in tested:
        absent = [c for c in classes if c not in present.get(name, set())]
        if absent:
            problems.append(f"corpus {name} has no recording of class(es) {', '.join(absent)}, and it is tested: "
                            f"remove them from classes, or test another corpus")
    if cv["protocol"] == "cross_corpus":
        trained = set().union(*(present.get(name, set()) for name in cv["train"]))
        absent = [c for c in classes if c not in trained]
        if absent:
            problems.append(f"no training corpus ({', '.join(cv['train'])}) has a recording of class(es) "
                            f"{', '.join(absent)}: no model could learn them; remove them from classes, or train on "
                            "a corpus that has them")
    return problems


def fold_corpora(manifest: pd.DataFrame, sessions: list[str], protocol: str) -> dict[str, dict[str, str]]:
    """Per fold (held-out session): the corpora its model trains on and the corpus it tests, as
    summary.tsv, speakers.tsv and the front page name them ({} for a single corpus)."""
    if CORPUS_COLUMN not in manifest.columns:
        return {}
    order = list(dict.fromkeys(manifest[CORPUS_COLUMN]))
    folds = {}
    for session in sessions:
        held_out = manifest["session"] == session
        trains = manifest["session"].isin(fold_train_sessions(manifest, protocol)) if protocol == "cross_corpus" \
            else ~held_out
        trained = set(manifest.loc[trains, CORPUS_COLUMN])
        tested = manifest.loc[held_out & (manifest["split"] != TRAIN_ONLY), CORPUS_COLUMN]
        folds[session] = {"train_corpora": ", ".join(c for c in order if c in trained),
                          "test_corpus": ", ".join(dict.fromkeys(tested))}
    return folds


def fold_train_sessions(manifest: pd.DataFrame, protocol: str) -> list[str] | None:
    """The sessions every fold trains on under cross_corpus: the training corpora's (never another
    test corpus); None under the other protocols, whose folds train on every other session."""
    if protocol != "cross_corpus":
        return None
    return sorted(set(manifest.loc[manifest["split"] == TRAIN_ONLY, "session"]))


def corpus_of(session: str) -> str:
    """The corpus of a session id of several corpora's manifest (its name before the first dot)."""
    return str(session).split(SEPARATOR)[0]


@dataclass(frozen=True)
class Folds:
    """One experiment's folds over the run's manifest (docs/cross_corpus.md#within-and-across-corpora-side-by-side).

    ``tested``: fold -> the manifest's sessions it tests (a fold is one session, or a whole corpus
    of a manifest whose corpora keep their sessions); ``training``: fold -> the sessions it may
    train on (None: every session but the fold's); ``corpora``: fold -> train_corpora and
    test_corpus, as summary.tsv names them ({} for a single corpus)."""

    tested: dict[str, list[str]]
    training: dict[str, list[str] | None]
    corpora: dict[str, dict[str, str]]

    @property
    def names(self) -> list[str]:
        return list(self.tested)

    def remapped(self, fold: str) -> list[str] | None:
        """The sessions ``fold`` tests where they are not the fold itself (a corpus of several
        sessions), for the training job to read them as one; else None."""
        return None if self.tested[fold] == [fold] else list(self.tested[fold])

    def read(self, fold: str) -> list[str] | None:
        """The sessions a fold's training job reads (trains on or tests); None: every one."""
        if self.training[fold] is None:
            return None
        return sorted({*self.training[fold], *self.tested[fold]})


def sessions_as_fold(meta: pd.DataFrame, sessions: list[str], fold: str) -> pd.DataFrame:
    """``meta`` with the ``sessions`` a fold tests (:meth:`Folds.remapped`) named by the fold, so
    that the training job holds them out, and its predictions name them, as one session."""
    session = meta["session"].astype(str)
    return meta.assign(session=session.where(~session.isin(sessions), fold))


def restricts_corpora(cv: dict) -> bool:
    """Whether a loso (pooled) cv names the corpora it trains on or tests: folds of its own."""
    return cv["protocol"] == "loso" and bool(cv["train"] or cv["test"])


def experiment_folds(manifest: pd.DataFrame, sessions: list[str], cv: dict, top_level_cv: dict) -> Folds:
    """The folds of an experiment with cv settings ``cv`` over the manifest the top level's
    ``top_level_cv`` built, whose tested sessions are ``sessions``.

    The top level's own protocol: each session is a fold (as always). Over several corpora read as
    cv.protocol loso (every corpus keeps its sessions), an experiment may run another protocol:
    loso naming cv.train and cv.test (within RAVDESS: each of its sessions a fold, trained on
    its other sessions), cross_corpus (each corpus of cv.test a fold, all of its sessions,
    trained on cv.train's), leave_one_corpus_out (each corpus a fold, trained on the others'
    sessions)."""
    own = cv["protocol"] in CORPUS_PROTOCOLS or restricts_corpora(cv)
    same = all(cv[key] == top_level_cv[key] for key in ("protocol", "train", "test"))
    if not own or (same and not restricts_corpora(cv)):
        train = fold_train_sessions(manifest, cv["protocol"])
        return Folds({s: [s] for s in sessions}, dict.fromkeys(sessions, train),
                     fold_corpora(manifest, sessions, cv["protocol"]))
    order = list(dict.fromkeys(manifest[CORPUS_COLUMN]))
    every = sorted(set(manifest["session"]))
    if cv["protocol"] == "loso":
        trains = [c for c in order if c in (cv["train"] or order)]
        tested = {s: [s] for s in sessions if corpus_of(s) in (cv["test"] or order)}
        train_sessions = [s for s in every if corpus_of(s) in trains]
        return Folds(tested, dict.fromkeys(tested, train_sessions),
                     {s: {"train_corpora": ", ".join(trains), "test_corpus": corpus_of(s)} for s in tested})
    names = cv["test"] if cv["protocol"] == "cross_corpus" else order
    tested = {name: [s for s in sessions if corpus_of(s) == name] for name in names}
    tested = {name: members for name, members in tested.items() if members}
    trains = {name: [c for c in order if (c in cv["train"] if cv["protocol"] == "cross_corpus" else c != name)]
              for name in tested}
    return Folds(tested, {name: [s for s in every if corpus_of(s) in trains[name]] for name in tested},
                 {name: {"train_corpora": ", ".join(trains[name]), "test_corpus": name} for name in tested})
