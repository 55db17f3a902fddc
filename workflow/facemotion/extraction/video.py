"""Reading video with OpenCV: one way to open a file, a frame source that seeks or grabs, a frame
source over a folder of images, and the decoder's messages captured for the report."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable

import cv2

# Seek (CAP_PROP_POS_FRAMES) only across gaps of at least this many frames: a seek costs about
# as much as grabbing 20-30 frames (OpenCV seeks to the keyframe before target-16 and decodes
# forward; docs/performance.md), and with GOPs up to 24 the decoder never revisits a frame it
# decoded. Some files seek slowly (truncated AVIs, long GOPs), so VideoSource also times every
# seek and grabs instead for the rest of a file once a seek was slower than grabbing the same gap.
SEEK_MIN_GAP = 40


class VideoSource:
    """A cv2.VideoCapture as a sampling.FrameSource; `skip` seeks or grabs (see SEEK_MIN_GAP)."""

    def __init__(self, open_capture: Callable[[], cv2.VideoCapture], seek_min_gap: int | None = None):
        self.open_capture = open_capture
        self.seek_min_gap = SEEK_MIN_GAP if seek_min_gap is None else seek_min_gap
        self.capture = open_capture()
        self.pos = 0              # index of the frame the next grab() delivers
        self.seeking = True       # turned off for the rest of the file once a seek disappoints
        self.grabs, self.grab_seconds = 0, 0.0

    def grab(self) -> bool:
        began = time.perf_counter()
        ok = self.capture.grab()
        self.grab_seconds += time.perf_counter() - began
        if ok:
            self.pos += 1
            self.grabs += 1
        return ok

    def retrieve(self):
        ok, frame = self.capture.retrieve()
        return frame if ok and frame is not None and frame.size else None

    def skip(self, count: int) -> int:
        if self.seeking and count >= self.seek_min_gap:
            return self._seek(count)
        for done in range(count):
            if not self.grab():
                return done
        return count

    def _seek(self, count: int) -> int:
        start, target = self.pos, self.pos + count
        began = time.perf_counter()
        self.capture.set(cv2.CAP_PROP_POS_FRAMES, target)
        elapsed = time.perf_counter() - began
        landed = int(round(self.capture.get(cv2.CAP_PROP_POS_FRAMES)))
        if landed == target:
            self.pos = target
            # Only a verdict once grabs were timed: slower than grabbing the gap -> stop seeking.
            if self.grabs >= 8 and elapsed > count * self.grab_seconds / self.grabs:
                self.seeking = False
            return count
        self.seeking = False
        if start <= landed < target:
            # Landed short, typically at the real end of a stream shorter than its header.
            self.pos = landed
            return landed - start + self.skip(target - landed)
        # Position unknown: reopen and grab forward (correct, if slow, for broken files).
        self.capture.release()
        self.capture, self.pos = self.open_capture(), 0
        return max(0, self.skip(target) - start)

    def release(self):
        self.capture.release()


class FolderSource:
    """The image files of a frame-folder recording as a sampling.FrameSource: frame i is the i-th
    file (recordings.frame_files gives them in natural order). grab() and skip() only move the
    position; retrieve() decodes, so skipped frames cost nothing. A file that cannot be decoded is
    a frame without pixels, as a bad video frame is, and is remembered for the report."""

    def __init__(self, files: list[str]):
        self.files = files
        self.pos = 0              # index of the frame the next grab() delivers
        self.decoded = 0
        self.undecodable: list[str] = []

    def grab(self) -> bool:
        if self.pos >= len(self.files):
            return False
        self.pos += 1
        return True

    def retrieve(self):
        path = self.files[self.pos - 1]
        # Colour, as a video frame is: the probe converts it to greyscale the same way.
        frame = cv2.imread(path, cv2.IMREAD_COLOR)
        if frame is None or not frame.size:
            self.undecodable.append(os.path.basename(path))
            return None
        self.decoded += 1
        return frame

    def skip(self, count: int) -> int:
        count = max(0, min(count, len(self.files) - self.pos))
        self.pos += count
        return count

    def release(self):
        pass


@contextlib.contextmanager
def decoder_messages():
    """Collect what FFmpeg prints on file descriptor 2 meanwhile: its errors appear nowhere else."""
    messages: list[str] = []
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield messages
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield messages
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            for line in sink.read().decode(errors="replace").splitlines():
                # Drop what changes from run to run: addresses, OpenCV's log timestamps and sources.
                line = re.sub(r" @ 0x[0-9a-f]+", "", line)
                line = re.sub(r"^\[\s*\w+:\d+@[\d.]+\]\s*(global\s+\S+:\d+\s+\w+\s+)?", "OpenCV: ", line).strip()
                if line and line not in messages:
                    messages.append(line)


def open_video(path: str) -> cv2.VideoCapture:
    # FFmpeg explicitly (no image-sequence or other backends); one decoder thread: the fastest
    # for the corpora's small videos (docs/performance.md), and it suits one job per core.
    return cv2.VideoCapture(path, cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
