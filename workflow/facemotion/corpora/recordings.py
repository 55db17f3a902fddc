"""What a recording of a corpus can be: a video file, or a folder of its frames; and the half of
the frame its speaker is in."""

from __future__ import annotations

import os

from facemotion.common.values import natural_key

REGIONS = ("left", "right")  # the half of the frame that holds the face; missing: the whole frame
# A recording's path may be a folder of frames: its images with these suffixes (any case), other files ignored.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def frame_files(folder: str | os.PathLike) -> list[str]:
    """The frames of a folder recording: its image files (IMAGE_SUFFIXES) in natural order, so that
    DFEW's 1.jpg ... 16.jpg are read 1, 2, ..., 10, not 1, 10, 11. Hidden files (a copy's "._1.jpg"
    resource forks) and subfolders are not frames."""
    with os.scandir(folder) as entries:
        names = [entry.name for entry in entries if is_frame(entry)]
    return [os.path.join(folder, name) for name in sorted(names, key=natural_key)]


def is_frame(entry: os.DirEntry) -> bool:
    """Whether a folder entry is one of a folder recording's frames (see frame_files)."""
    return not entry.name.startswith(".") and entry.name.lower().endswith(IMAGE_SUFFIXES) and entry.is_file()
