"""Face extraction of one recording: the adaptive sampler over the video (or the folder of
frames), then, if it could not fill the positions, the seed's every-frame scan
(`facemotion.extraction.sampling`).

The fast path runs the detector only near `n_frames` evenly spaced positions, so extraction
costs about one decode of the video instead of the seed's decode + HOG on every frame; only
recordings it would drop pay for the scan, which decides as the seed does.
"""

from __future__ import annotations

import math
import os

import cv2
import numpy as np

from facemotion.corpora.recordings import frame_files
from facemotion.extraction.faces import FaceProbe
from facemotion.extraction.records import NO_FACE, OK, TOO_FEW_FACES, TOO_SHORT, UNREADABLE, ExtractionResult
from facemotion.extraction.sampling import Sample, sample_faces, scan_every_frame
from facemotion.extraction.settings import ExtractionSettings
from facemotion.extraction.video import FolderSource, VideoSource, decoder_messages, open_video

LOOKBACK = 2  # frames kept before each target so the nearest face on either side is found
# Probes (detections) allowed per wanted frame before a recording is given up: a faceless
# 600-frame clip then costs 64 detections instead of ~180 (or the seed's 600); a recording with
# faces costs n_frames probes plus ~5-13 per faceless stretch hit.
PROBES_PER_FRAME = 8


def _scan_every_frame(path: str, first: int, limit: int | None, probe: FaceProbe, n: int) -> Sample:
    """The seed's method on a fresh capture: grab to the segment's first frame (no seek that
    might land elsewhere), then probe every frame (`sampling.scan_every_frame`)."""
    source = VideoSource(lambda: open_video(path), seek_min_gap=math.inf)
    try:
        source.skip(first)
        return scan_every_frame(source, probe, n, limit)
    finally:
        source.release()


def extract_recording(path: str | os.PathLike, settings: ExtractionSettings, start: float | None = None,
                      end: float | None = None, region: str | None = None) -> ExtractionResult:
    """Extract one recording (or its start..end seconds): a video file or a folder of frames. A bad
    video or folder gives a status, never raises."""
    probe = FaceProbe(settings, region)  # raises on a bad region or a missing landmark model
    path = str(path)
    if os.path.isdir(path):
        extract = _extract_folder
    elif os.path.isfile(path):
        extract = _extract_open
    else:
        return ExtractionResult(UNREADABLE, detail=f"file not found: {path}")
    with decoder_messages() as messages:
        try:
            result = extract(path, settings, probe, start, end)
        except cv2.error as error:  # a decoder failure surfacing as an OpenCV exception
            result = ExtractionResult(UNREADABLE, detail=f"OpenCV error: {str(error).strip()}")
    if messages:
        decoder = "; ".join(messages[:3]) + (f" (+{len(messages) - 3} more)" if len(messages) > 3 else "")
        result.detail = f"{result.detail}; decoder: {decoder}" if result.detail else f"decoder: {decoder}"
    return result


def _extract_open(path, settings, probe, start, end) -> ExtractionResult:
    source = VideoSource(lambda: open_video(path))
    try:
        capture = source.capture
        if not capture.isOpened():
            return ExtractionResult(UNREADABLE, detail=f"cannot open as a video ({os.path.getsize(path)} bytes)")
        fps = capture.get(cv2.CAP_PROP_FPS)
        # FFmpeg gives INT64_MIN (or 0) where the header has no frame count: "unknown", not a count.
        reported = max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
        codec = int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode("ascii", "replace")
        first, limit = 0, None
        if start is not None or end is not None:
            if not fps or not math.isfinite(fps) or fps <= 0:
                return ExtractionResult(UNREADABLE, detail="frame rate unknown: cannot select a segment")
            first = round((start or 0.0) * fps)
            if end is not None:
                limit = max(0, round(end * fps) - first)
            skipped = source.skip(first)
            if skipped < first:
                detail = f"segment starts at frame {first} but the stream ended after {skipped} frames"
                return ExtractionResult(TOO_SHORT if skipped else UNREADABLE, detail=detail)
        expected = reported - first if reported > 0 else None
        sample = sample_faces(source, probe, settings.n_frames, expected, limit, lookback=LOOKBACK,
                              max_probes=PROBES_PER_FRAME * settings.n_frames)
    finally:
        source.release()
    if sample.status != OK and settings.full_scan:
        sample = _scan_every_frame(path, first, limit, probe, settings.n_frames)

    if sample.status == TOO_SHORT and not reported and sample.length == 1 and not first:
        # One frame and no frame count: FFmpeg opened a still image (a PNG or JPEG named .mp4).
        return ExtractionResult(UNREADABLE, 0, sample.frames_read,
                                f"not a video: a single still image (codec {codec.strip()}, no frame count)")
    header = f"header said {reported}" if reported else "no frame count in the header"
    frames = f"{sample.frames_read} frames read, {header}" + (f" from frame {first}" if first else "")
    early = sample.length is not None and limit is None and 0 < reported - first != sample.length
    detail = _detail(sample, settings.n_frames, limit, frames)
    if early and sample.status != UNREADABLE:
        detail += f"; stream has {sample.length} frames, not the {reported - first} its header says"
    return _result(sample, detail, first, settings)


def _extract_folder(path, settings, probe, start, end) -> ExtractionResult:
    """A folder of frames (recordings.frame_files), read as a video whose frame count is exact. An image
    that cannot be decoded is a frame without a face; it does not end the every-frame scan."""
    if start is not None or end is not None:
        return ExtractionResult(UNREADABLE, detail="a folder of frames has no frame rate: start and end cannot "
                                                   "select a segment of it")
    files = frame_files(path)
    if not files:
        others = len(os.listdir(path))
        contents = f"{others} other entries" if others else "it is empty"
        return ExtractionResult(UNREADABLE, detail=f"no frames: no .jpg, .jpeg or .png image in the folder "
                                                   f"({contents})")
    n = settings.n_frames
    source = FolderSource(files)
    sample = sample_faces(source, probe, n, len(files), lookback=LOOKBACK, max_probes=PROBES_PER_FRAME * n)
    if sample.status != OK and settings.full_scan:
        source = FolderSource(files)
        sample = scan_every_frame(source, probe, n, undecodable_ends=False)
    if source.undecodable and not source.decoded:
        tried = "its" if sample.scanned else "the"
        return ExtractionResult(UNREADABLE, 0, sample.frames_read,
                                f"none of {tried} {len(source.undecodable)} images read could be decoded "
                                f"(e.g. {source.undecodable[0]}); {len(files)} images in the folder")
    detail = _detail(sample, n, None, f"{sample.frames_read} frames read, {len(files)} images in the folder")
    if source.undecodable:
        names = ", ".join(source.undecodable[:3]) + (" ..." if len(source.undecodable) > 3 else "")
        detail += f"; {len(source.undecodable)} images could not be decoded ({names})"
    return _result(sample, detail, 0, settings)


def _detail(sample: Sample, n: int, limit: int | None, frames: str) -> str:
    """The report's detail: what was found, how, and how much of the stream was read."""
    probed = "every frame probed" if sample.scanned else f"{sample.probed} frames probed"
    detail = {
        OK: f"{n} of {sample.faces_found} face frames kept" if sample.scanned else f"{n} face frames",
        NO_FACE: "0 face frames",
        TOO_FEW_FACES: f"only {sample.faces_found} of {n} face frames",
        TOO_SHORT: f"{limit if sample.length is None else sample.length} frames, fewer than the {n} wanted",
    }.get(sample.status)
    detail = "no frame could be decoded" if detail is None else f"{detail}; {probed}; {frames}"
    if sample.gave_up:
        detail += f"; gave up after {sample.probed} probes"
    return detail


def _result(sample: Sample, detail: str, first: int, settings: ExtractionSettings) -> ExtractionResult:
    result = ExtractionResult(sample.status, sample.faces_found, sample.frames_read, detail,
                              np.array([first + i for i, _ in sample.picks], dtype=np.int32))
    if sample.status == OK:
        payloads = [payload for _, payload in sample.picks]
        if settings.features == "pixels":
            result.pixels = np.stack(payloads).astype(np.uint8)
        else:
            result.landmarks = np.stack([p[0] for p in payloads]).astype(np.float32)
            result.geometry = np.stack([p[1] for p in payloads]).astype(np.float32)
    return result
