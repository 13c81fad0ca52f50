"""The card's one-line finding from a diagnostic's result: "`orders` last written 30 h ago, allowed 24 h",
"42 rows today vs. 101 expected". Pure: columns and rows in, (line, whether it shows a problem) out."""
from __future__ import annotations

from typing import Any


def _hours(minutes: Any) -> str:
    hours = float(minutes) / 60
    return f"{hours:.0f} h" if hours >= 2 else f"{float(minutes):.0f} min"


def finding(query: str, columns: list[str], rows: list[list[Any]]) -> tuple[str, bool] | None:
    """None when the result says nothing that fits one line."""
    if not rows:
        return None
    first = dict(zip(columns, rows[0]))
    if query == "freshness" and first.get("minutes_since_last_write") is not None:
        name = first.get("table_name") or "the table"
        line = (f"`{name}` last written {_hours(first['minutes_since_last_write'])} ago, "
                f"allowed {_hours(first['max_age_minutes'])}")
        return line, bool(first.get("is_stale"))
    if query == "volume" and first.get("row_count") is not None and first.get("baseline_avg") is not None:
        when = "today" if first.get("is_partial_day") else f"on {first.get('day')}"
        pct = first.get("pct_vs_baseline")
        line = f"{first['row_count']} rows {when} vs. {first['baseline_avg']} expected"
        return line, pct is not None and abs(float(pct)) >= 20
    if query == "nulls" and first.get("null_pct") is not None:
        return f"`{first['column_name']}` is {float(first['null_pct']):g}% null", float(first["null_pct"]) > 0
    return None
