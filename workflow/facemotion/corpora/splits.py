"""Official split files (DFEW, MAFW, FERV39k): their entries with the file and line each came
from, and the checks that the folds are what the release says they are.

A release's folds are the test sets: each labelled clip is tested in exactly one fold, and the
training set of fold K is every other fold's test set. The readers check that from the files
themselves rather than trust it, because a copy that was edited, truncated or mixed from two
releases gives numbers that cannot be compared with published ones. Every problem is collected
and reported at once, each naming the file and the line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from facemotion.corpora import scan
from facemotion.corpora.manifest import ManifestError

MAX_PROBLEMS = 20


@dataclass(frozen=True)
class SplitEntry:
    clip: str    # the clip's id as the release names it (e.g. DFEW 02522, FERV39k Action/Sad/0010)
    label: str   # the label as written in the file (DFEW 1-7, MAFW anger, FERV39k Sad)
    file: Path
    line: int    # 1 = the file's first line

    @property
    def where(self) -> str:
        return f"{self.file} line {self.line}"


def missing_files(files: list[Path]) -> list[str]:
    return [f"split file {file} is missing" for file in files if not file.is_file()]


def refuse(source: str, problems: list[str]) -> None:
    """Raise one ManifestError listing the problems (the first MAX_PROBLEMS and a count)."""
    if not problems:
        return
    shown = problems[:MAX_PROBLEMS]
    more = [f"... and {len(problems) - MAX_PROBLEMS} more"] if len(problems) > MAX_PROBLEMS else []
    raise ManifestError(f"{source}: {len(problems)} problem(s) with the official split files:\n  - "
                        + "\n  - ".join(shown + more))


def duplicates(entries: list[SplitEntry]) -> list[str]:
    """A clip listed twice among `entries` (one file or several)."""
    first: dict[str, SplitEntry] = {}
    problems = []
    for entry in entries:
        if entry.clip in first:
            problems.append(f"{entry.where}: clip {entry.clip} is listed twice (also {first[entry.clip].where})")
        else:
            first[entry.clip] = entry
    return problems


def check_folds(test_sets: dict[str, list[SplitEntry]],
                train_sets: dict[str, list[SplitEntry]]) -> tuple[dict[str, tuple[str, SplitEntry]], list[str]]:
    """Each clip's fold (the test set that lists it) and its entry there, and the problems: a clip
    in two test sets, a training set that is not exactly the other folds' test sets, a clip whose
    label differs between the files."""
    problems = duplicates([entry for entries in test_sets.values() for entry in entries])
    fold_of: dict[str, tuple[str, SplitEntry]] = {}
    for fold, entries in test_sets.items():
        for entry in entries:
            fold_of.setdefault(entry.clip, (fold, entry))
    for fold, entries in train_sets.items():
        problems += duplicates(entries)
        listed = set()
        for entry in entries:
            listed.add(entry.clip)
            tested = fold_of.get(entry.clip)
            if tested is None:
                problems.append(f"{entry.where}: clip {entry.clip} is in no test set (a training set must be "
                                "the other folds' test sets)")
            elif tested[0] == fold:
                problems.append(f"{entry.where}: clip {entry.clip} is trained on in the fold that tests it "
                                f"({tested[1].where})")
            elif tested[1].label != entry.label:
                problems.append(f"{entry.where}: clip {entry.clip} has label {entry.label}, but "
                                f"{tested[1].where} gives {tested[1].label}")
        lacking = [entry for other, other_tested in test_sets.items() if other != fold for entry in other_tested
                   if entry.clip not in listed]
        for entry in lacking:
            where = entries[0].file if entries else f"the training set of fold {fold}"
            problems.append(f"{where}: lacks clip {entry.clip}, which {entry.where} tests in another fold "
                            "(a training set must be the other folds' test sets)")
    return fold_of, problems


def read_lines(path: Path) -> list[tuple[int, str]]:
    """The file's non-blank lines with their numbers (1 = first line); a byte-order mark and
    Windows line ends are dropped."""
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    return [(number, line.strip()) for number, line in enumerate(text.splitlines(), 1) if line.strip()]


def listed_rows(source: str, fold_of: dict[str, tuple[str, SplitEntry]], path_of, recording_of,
                class_of: dict[str, str], split_of=lambda fold: "") -> list[dict]:
    """One manifest row per listed clip (its fold is its session; speakers unknown), after
    refusing the clips whose file or frame folder is absent."""
    paths = {clip: scan.as_path(path_of(clip)) for clip in fold_of}
    refuse(source, [f"{listing.where}: clip {clip} is listed but {paths[clip]} does not exist (or holds no image)"
                    for clip, (_, listing) in sorted(fold_of.items()) if not scan.recording_exists(paths[clip])])
    return [scan.entry(recording_of(clip), paths[clip], "", fold, listing.label, class_of.get(listing.label),
                         split=split_of(fold))
            for clip, (fold, listing) in sorted(fold_of.items())]


def unlisted(media: Path, suffix: str, listed: set[str]) -> list[str]:
    """Names of the clips under `media` that no split file lists: files ending in `suffix`, or
    (an empty suffix) folders of frames."""
    names = []
    with os.scandir(media) as items:
        for item in items:
            if item.name.startswith("."):
                continue
            if suffix and item.name.endswith(suffix) and item.name[:-len(suffix)] not in listed:
                names.append(item.name)
            elif not suffix and item.is_dir() and item.name not in listed:
                names.append(item.name)
    return names


def scan_folds(root: Path, options, corpus: str, test_files: dict[str, Path], train_files: dict[str, Path],
               read_split_file, media: dict[str, Path], class_of: dict[str, str], spelling=None) -> scan.CorpusScan:
    """A release with K official folds (DFEW, MAFW): the split files read and checked, one row per
    test-listed clip with its fold as session, the clips no split file lists as unlabelled.
    `spelling(folder, suffix)`: a function from a clip's id to its name in the folder, and a note
    saying how the folder spells them (DFEW: zero-padded or not); without it the names are the ids."""
    source = f"{corpus.lower()} corpus at {root}"
    chosen = options.source or "clips"  # the release's clips unless frames are asked for
    if chosen not in media:
        raise ManifestError(f"{source}: corpus.source must be one of {', '.join(media)}, got {chosen!r}")
    refuse(source, missing_files([*test_files.values(), *train_files.values()]))
    problems, test_sets, train_sets = [], {}, {}
    for files, sets in ((test_files, test_sets), (train_files, train_sets)):
        for fold, path in files.items():
            sets[fold], found = read_split_file(path)
            problems += found
    fold_of, found = check_folds(test_sets, train_sets)
    refuse(source, problems + found)

    folder = root / media[chosen]
    if not folder.is_dir():
        others = "; ".join(f"corpus.source: {name} reads {media[name]}/" for name in media if name != chosen)
        raise ManifestError(f"{source}: no {media[chosen]}/ folder found (corpus.source: {chosen}; {others})")
    suffix = ".mp4" if chosen == "clips" else ""
    name_of, spelt = spelling(folder, suffix) if spelling else (str, "")
    result = scan.CorpusScan(rows=listed_rows(source, fold_of,
                                                lambda clip: os.path.join(folder, name_of(clip) + suffix),
                                                lambda clip: clip, class_of))
    # The clips outside the single-labelled folds (multi-labelled or compound-emotion clips).
    result.unlabelled = sorted(scan.as_path(folder / name)
                               for name in unlisted(folder, suffix, {name_of(clip) for clip in fold_of}))
    result.notes += [spelt] if spelt else []
    sizes = ", ".join(f"{fold} {len(entries)}" for fold, entries in test_sets.items())
    result.notes.append(f"{corpus}: {len(fold_of)} single-labelled clips in the {len(test_sets)} official folds "
                        f"({sizes}); {corpus} names no speakers, so the folds are NOT speaker-independent")
    return result
