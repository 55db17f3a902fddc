"""Extraction jobs: many recordings in one process (or shared over forked workers), each from
the per-recording cache or extracted and cached."""

from __future__ import annotations

import collections
import contextlib
import functools
import logging
import multiprocessing
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import cv2

from facemotion.common.values import float_or_nan, optional_float, optional_text
from facemotion.extraction.cache import UnreadableCacheEntry, cache_key, load_result, save_result
from facemotion.extraction.extract import extract_recording
from facemotion.extraction.faces import face_detector
from facemotion.extraction.records import ExtractionResult, Record
from facemotion.extraction.settings import ExtractionSettings

log = logging.getLogger(__name__)


def run_batch(rows: Iterable[Mapping], settings: ExtractionSettings, cache_dir: Path,
              processes: int = 1) -> tuple[list[Record], list[dict]]:
    """Extract (or reuse from `cache_dir`) every manifest row (a mapping of its columns);
    returns the kept (ok) records and the report: one dict of REPORT_COLUMNS per row, in order.
    With `processes` > 1 the rows are shared out over that many forked worker processes."""
    fingerprint = settings.fingerprint()  # once: it asks OpenCV for its build
    # A folder per settings: two extractions of one corpus (experiments) keep their own entries.
    cache_dir = Path(cache_dir) / fingerprint
    cache_dir.mkdir(parents=True, exist_ok=True)
    face_detector()  # before forking: the workers inherit it
    cv2.setNumThreads(1)  # one process per core; resize/cvtColor threads only contend
    rows = list(rows)
    extract_row = functools.partial(_extract_row, settings=settings, cache_dir=cache_dir, fingerprint=fingerprint)
    kept, report, counts = [], [], {"extracted": 0, "reused": 0}
    with contextlib.ExitStack() as stack:
        if processes > 1 and len(rows) > 1:
            pool = stack.enter_context(_process_pool(min(processes, len(rows))))
            outcomes = pool.imap(extract_row, rows)  # results in the rows' order
        else:
            outcomes = map(extract_row, rows)
        for row, (result, reused, message) in zip(rows, outcomes):
            counts["reused" if reused else "extracted"] += 1
            log.info(message)
            report.append({"recording": str(row["recording"]), "status": result.status,
                           "faces_found": result.faces_found, "frames_read": result.frames_read,
                           "detail": " ".join(result.detail.split())})
            if result.ok:
                kept.append(Record(str(row["recording"]), str(row["speaker"]), str(row["session"]),
                                   str(row["label"]), float_or_nan(row.get("activation")),
                                   float_or_nan(row.get("valence")), result))
    statuses = ", ".join(f"{s} {n}" for s, n in sorted(collections.Counter(r["status"] for r in report).items()))
    log.info("batch: %d recordings, %d extracted, %d reused from %s; %s", len(report), counts["extracted"],
             counts["reused"], cache_dir, statuses or "none")
    return kept, report


def _process_pool(processes: int):
    # fork: the workers start in milliseconds with the detector and settings of this process.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else None).Pool(processes)


def _extract_row(row: Mapping, settings: ExtractionSettings, cache_dir: Path,
                 fingerprint: str) -> tuple[ExtractionResult, bool, str]:
    """One manifest row from the cache or extracted (and cached): (result, reused, log message)."""
    recording, path = str(row["recording"]), str(row["path"])
    start, end, region = optional_float(row.get("start")), optional_float(row.get("end")), \
        optional_text(row.get("region"))
    entry = cache_dir / f"{recording}.npz"
    key = cache_key(path, fingerprint, start, end, region) if os.path.isfile(path) or os.path.isdir(path) else None
    unreadable = ""
    try:
        result = load_result(entry, key) if key is not None else None
    except UnreadableCacheEntry as error:
        result, unreadable = None, f"unreadable cache entry, extracting {recording} again: {error}; "
    if result is not None:
        return result, True, f"reused {recording}: {result.status}"
    began = time.perf_counter()
    result = extract_recording(path, settings, start, end, region)
    if key is not None:
        save_result(entry, key, result)
    return result, False, (f"{unreadable}extracted {recording}: {result.status} in "
                           f"{time.perf_counter() - began:.2f} s ({result.detail})")
