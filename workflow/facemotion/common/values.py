"""Plain values as tables and manifests hold them: a missing value (empty text, None, NaN) and the
natural sort order of ids."""

from __future__ import annotations

import math
import re


def _missing(value) -> bool:
    if isinstance(value, str):
        return not value.strip()
    return value is None or (isinstance(value, float) and math.isnan(value))


def optional_float(value) -> float | None:
    return None if _missing(value) else float(value)


def optional_text(value) -> str | None:
    return None if _missing(value) else str(value).strip()


def float_or_nan(value) -> float:
    value = optional_float(value)
    return math.nan if value is None else value


def natural_key(s: str):
    """Sort key in which "2" comes before "10": fold order, validation sessions, tables, frame files.
    Total: names whose numbers tie ("1", "01", "001") follow by the name itself, so that the order
    never depends on the order a file system lists a folder in."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(s))], str(s)
