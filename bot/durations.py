"""Durations as people type them: 30s, 90m, 2h, 1d, 1w, or combined like 1h30m."""
from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_duration(text: str | int | float) -> float:
    """Seconds in a duration; raises ValueError with an example when it is not one."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        if text < 0:
            raise ValueError(f"A duration cannot be negative: {text}.")
        return float(text)
    cleaned = str(text).strip().lower().replace(" ", "")
    if not cleaned or _PART.sub("", cleaned):
        raise ValueError(f"{text!r} is not a duration. Use a number and a unit, like 90m, 2h, 1d or 1h30m.")
    return float(sum(float(n) * _UNITS[u] for n, u in _PART.findall(cleaned)))


def format_duration(seconds: float) -> str:
    """2h 5m, 3d 4h, 45s: the two largest units."""
    seconds = int(max(0, seconds))
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return " ".join(parts[:2])
