"""Diagnostic results for Slack: a compact monospace table in the thread, truncated with a count of what was left
out; the full (redacted) result as CSV for the file upload."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Any

MAX_SHOWN_ROWS, MAX_CELL, MAX_TEXT = 15, 32, 2600


def cell(value: Any) -> str:
    if value is None:
        return "∅"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.4g}"
    text = str(value).replace("\n", " ").replace("`", "'")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def table(columns: list[str], rows: list[list[Any]]) -> tuple[str, int]:
    """A monospace table (no backticks inside, so it can sit in a ``` block); the number of rows left out."""
    shown = rows[:MAX_SHOWN_ROWS]
    grid = [[cell(c) for c in columns]] + [[cell(v) for v in row] for row in shown]
    widths = [max(len(r[i]) for r in grid) for i in range(len(columns))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in grid]
    lines.insert(1, "  ".join("-" * w for w in widths))
    text, left_out = "\n".join(lines), len(rows) - len(shown)
    while len(text) > MAX_TEXT and len(lines) > 3:
        lines.pop()
        left_out += 1
        text = "\n".join(lines)
    return text, left_out


def to_csv(columns: list[str], rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return buf.getvalue()


def human_bytes(n: int | None) -> str:
    if n is None:
        return "unknown"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"
