"""Adaptive frame sampling: accumulate `n` face frames spread evenly over a stream.

The seed ran the face detector on every frame and then kept N evenly spaced detections; a
HOG detection at width 400 costs ~35 decodes of a 640x360 MPEG-4 frame, so that is tens of
times the decode time. Here the detector runs only near `n` evenly spaced target positions:

* targets are the centres of `n` equal bins over the expected length;
* at a target, frames are probed nearest first: t, t+1, t-1, t+2, t-2 (the frames before
  t come from a small look-back buffer, `lookback` frames retrieved on the way in), then
  forward at growing steps (t+3, t+5, t+8, t+12, ... x`growth`) up to the next target:
  faces come and go in stretches, so neighbouring frames add little;
* when a whole window has no face, the remaining positions are re-planned evenly over the
  rest of the stream, so a face missing in a stretch moves samples to where there is one;
* a faceless recording is given up after `max_probes` probes;
* decoding stops as soon as every position is decided. Frames in between are skipped with
  `FrameSource.skip` (grab() or a seek, the source decides); nothing is decoded twice.

The frame count a container reports is only an estimate: if the stream ends early, the
positions not reached are missing (too_few_faces / too_short); if it runs past the
estimate, the extra frames are probed one by one until the positions are filled. Without
any estimate the stream is probed at a stride that doubles as candidates accumulate.

This fast path decides "kept" exactly as the seed does whenever it fills the positions: it
found `n` face frames. When it cannot, the seed's method decides: `scan_every_frame` probes every
decodable frame, as the seed did, and keeps the recording if at least `n` of them hold a face,
taking `n` of those spread evenly over them (the seed's `linspace` over its detections). Only
recordings the fast path would drop pay for that scan.

Everything here is pure over a `FrameSource` and a probe, so it is tested on synthetic
streams; `facemotion.extraction.video` supplies the OpenCV source, `facemotion.extraction.faces` the dlib probe.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from facemotion.extraction.records import NO_FACE, OK, TOO_FEW_FACES, TOO_SHORT, UNREADABLE

Probe = Callable[[Any], Any]  # frame -> payload, or None when the frame has no face


class FrameSource(Protocol):
    def grab(self) -> bool:
        """Advance to the next frame (decode it, no conversion); False at the end of the stream."""

    def retrieve(self) -> Any:
        """The pixels of the frame last grabbed, or None if they cannot be had."""

    def skip(self, count: int) -> int:
        """Advance past `count` frames without retrieving them; returns how many there were."""


@dataclass
class Sample:
    picks: list[tuple[int, Any]] = field(default_factory=list)  # (frame index from the start, payload)
    frames_read: int = 0     # frames the stream advanced through (decoded or skipped)
    probed: int = 0          # frames the probe ran on
    length: int | None = None  # frames in the stream (or segment) once its end was reached
    gave_up: bool = False    # the probe budget ran out before the positions were filled
    status: str = UNREADABLE
    faces_found: int = 0     # face frames found (the fast path stops looking once it has n)
    scanned: bool = False    # every frame was probed (scan_every_frame)


def even_targets(lo: int, hi: int, k: int) -> list[int]:
    """Centres of k equal bins over [lo, hi); every frame when the range has k or fewer."""
    if hi - lo <= k:
        return list(range(lo, hi))
    return [lo + (2 * j + 1) * (hi - lo) // (2 * k) for j in range(k)]


class _Cursor:
    """Sequential position in the source, bounded by a hard limit (a segment's end)."""

    def __init__(self, source: FrameSource, limit: int | None):
        self.source, self.limit = source, limit
        self.pos = 0          # index of the frame the next grab() delivers
        self.length = None    # set once the end of the stream or segment is reached

    def _at_end(self) -> bool:
        if self.length is None and self.limit is not None and self.pos >= self.limit:
            self.length = self.limit
        return self.length is not None and self.pos >= self.length

    def skip_to(self, index: int) -> bool:
        """Make `index` the next frame; False if the stream ends before it."""
        if index > self.pos:
            want = index - self.pos if self.limit is None else min(index, self.limit) - self.pos
            got = self.source.skip(want) if want > 0 else 0
            self.pos += got
            if got < want:
                self.length = self.pos
        return self.pos == index and not self._at_end()

    def read(self) -> tuple[bool, Any]:
        """(False, None) at the end; else (True, frame or None if it could not be retrieved)."""
        if self._at_end():
            return False, None
        if not self.source.grab():
            self.length = self.pos
            return False, None
        self.pos += 1
        return True, self.source.retrieve()


class _BudgetSpent(Exception):
    pass


class _Prober:
    def __init__(self, probe: Probe, budget: int | None):
        self.probe, self.budget, self.count = probe, budget, 0

    def __call__(self, frame):
        if frame is None:
            return None
        if self.budget is not None and self.count >= self.budget:
            raise _BudgetSpent
        self.count += 1
        return self.probe(frame)


def _forward_offsets(span: int, lookback: int, growth: float) -> list[int]:
    """Offsets after a target to probe: every frame up to `lookback`, then geometrically
    sparser (faces come and go in stretches, not single frames)."""
    offsets = list(range(min(span, lookback + 1)))
    while offsets and offsets[-1] + 1 < span:
        offsets.append(min(span - 1, max(offsets[-1] + 1, math.ceil(offsets[-1] * growth))))
    return offsets


def _search(cur: _Cursor, probe: _Prober, target: int, window_end: int, lookback: int, growth: float):
    """A face frame near `target` within [target - lookback, window_end), or None. Probe order:
    t, t+1, t-1, ..., t+lookback, t-lookback, then forward at growing steps."""
    if not cur.skip_to(max(cur.pos, target - lookback)):
        return None
    behind = []  # retrieved on the way in, nearest last; bounded by `lookback`
    while cur.pos < target:
        index = cur.pos
        more, frame = cur.read()
        if not more:
            break
        behind.append((index, frame))
    ahead = _forward_offsets(window_end - target, lookback, growth) if cur.pos == target else []
    for step, offset in enumerate(ahead):
        if not cur.skip_to(target + offset):
            break
        more, frame = cur.read()
        if not more:
            break
        payload = probe(frame)
        if payload is not None:
            return target + offset, payload
        if step > 0 and behind:
            index, frame = behind.pop()
            payload = probe(frame)
            if payload is not None:
                return index, payload
    while behind:  # the stream or the window ended before the look-back frames were tried
        index, frame = behind.pop()
        payload = probe(frame)
        if payload is not None:
            return index, payload
    return None


def sample_faces(source: FrameSource, probe: Probe, n: int, expected: int | None,
                 limit: int | None = None, lookback: int = 2, initial_stride: int = 4,
                 growth: float = 1.5, max_probes: int | None = None) -> Sample:
    """Accumulate `n` face frames spread over the stream; see the module docstring.

    expected: the frame count the container reports (an estimate; None or <= 0: unknown).
    limit: frames that may be used at most (a segment's length); the stream may go on.
    max_probes: give up after this many probes (a faceless recording would otherwise cost a
    probe on a good share of its frames); the picks so far are kept.
    """
    if n < 1 or lookback < 0 or initial_stride < 1 or growth <= 1:
        raise ValueError(f"need n >= 1, lookback >= 0, initial_stride >= 1, growth > 1; "
                         f"got {n}, {lookback}, {initial_stride}, {growth}")
    if expected is None or expected <= 0:
        expected = limit
    cur, prober = _Cursor(source, limit), _Prober(probe, max_probes)
    picks: list[tuple[int, Any]] = []  # filled in place, so a spent budget keeps what was found
    try:
        if expected is None:
            _sample_unknown_length(cur, prober, n, initial_stride, picks)
        else:
            _sample_planned(cur, prober, n, expected if limit is None else min(expected, limit), lookback, growth,
                            picks)
        gave_up = False
    except _BudgetSpent:
        gave_up = True
    if len(picks) > n:  # candidates of an unknown-length stream: keep n evenly spaced
        picks[:] = [picks[(2 * j + 1) * len(picks) // (2 * n)] for j in range(n)]
    sample = Sample(picks=picks, frames_read=cur.pos, probed=prober.count, length=cur.length, gave_up=gave_up,
                    faces_found=len(picks))
    if cur.pos == 0 and cur.length == 0:
        sample.status = UNREADABLE if limit is None else TOO_SHORT
    elif (cur.length is not None and cur.length < n) or (limit is not None and limit < n):
        sample.status = TOO_SHORT
    elif not picks:
        sample.status = NO_FACE
    else:
        sample.status = OK if len(picks) == n else TOO_FEW_FACES
    return sample


def _sample_planned(cur: _Cursor, probe: _Prober, n: int, end: int, lookback: int, growth: float,
                    picks: list) -> None:
    plan = even_targets(0, end, n)
    while len(picks) < n:
        need = n - len(picks)
        if cur.limit is not None and cur.limit - cur.pos < need:
            break  # the segment has too few frames left to fill the positions
        if not plan:
            if cur.length is not None:
                break
            # The stream runs past its estimate: every further frame is a candidate.
            end = cur.pos + need
            plan = list(range(cur.pos, end))
        target, window_end = plan[0], (plan[1] if len(plan) > 1 else end)
        found = _search(cur, probe, target, window_end, lookback, growth)
        if found is not None:
            picks.append(found)
            plan.pop(0)
        elif cur.length is not None and cur.pos >= cur.length:
            break
        else:
            # No face anywhere near this target: spread what is left over the rest.
            plan = even_targets(cur.pos, end, need)


def _sample_unknown_length(cur: _Cursor, probe: _Prober, n: int, stride: int, picks: list) -> None:
    """Probe every `stride` frames, keeping face frames; when more than 2n accumulate, keep
    every other one and double the stride (the caller then keeps n evenly spaced ones).
    Memory stays bounded by 2n + 1 payloads; each doubling of the covered length costs ~n probes."""
    candidates = picks  # until the end, `picks` holds the candidates
    next_probe = stride // 2
    while cur.skip_to(next_probe):
        index = cur.pos
        more, frame = cur.read()
        if not more:
            break
        payload = probe(frame)
        if payload is not None:
            candidates.append((index, payload))
            if len(candidates) > 2 * n:
                candidates[:] = candidates[::2]
                stride *= 2
        next_probe = index + stride


def seed_spread(count: int, n: int) -> list[int]:
    """The seed's choice of n of `count` detections: numpy.linspace(0, count - 1, n) truncated."""
    return np.linspace(0, count - 1, n).astype(int).tolist()


def scan_every_frame(source: FrameSource, probe: Probe, n: int, limit: int | None = None,
                     undecodable_ends: bool = True) -> Sample:
    """The seed's method: probe every frame from the source's position until the stream ends (or
    `limit` frames); keep the recording if at least `n` frames hold a face, with `n` of them
    chosen by `seed_spread`. Like the seed's read() loop, a frame that cannot be decoded ends
    the stream, unless `undecodable_ends` is False (a folder of images, whose files are
    independent: a bad one is a frame without a face). The payload of every face frame is held
    until the choice is made (10 KB a frame for 100x100 crops)."""
    faces: list[tuple[int, Any]] = []
    frames = 0
    while limit is None or frames < limit:
        if not source.grab():
            break
        frame = source.retrieve()
        if frame is None and undecodable_ends:
            break
        payload = None if frame is None else probe(frame)
        if payload is not None:
            faces.append((frames, payload))
        frames += 1
    sample = Sample(frames_read=frames, probed=frames, length=frames, faces_found=len(faces), scanned=True)
    if frames == 0:
        sample.status = UNREADABLE if limit is None else TOO_SHORT
    elif frames < n:
        sample.status = TOO_SHORT
    elif not faces:
        sample.status = NO_FACE
    elif len(faces) < n:
        sample.status = TOO_FEW_FACES
    else:
        sample.status = OK
        sample.picks = [faces[i] for i in seed_spread(len(faces), n)]
    return sample
