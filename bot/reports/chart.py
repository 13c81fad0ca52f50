"""The stats chart: incidents per day (bars) and the MTTR trend (line, daily median), as a PNG.
matplotlib with the Agg backend: no display, safe in threads when each chart has its own Figure."""
from __future__ import annotations

import io

from bot.reports.stats import Stats


def png(s: Stats, title: str) -> bytes:
    from matplotlib.figure import Figure   # here, not at import: matplotlib adds most of a second to every start

    fig = Figure(figsize=(8, 3.6), dpi=100)
    ax = fig.add_subplot()
    labels = [d[5:] for d, _, _ in s.days]            # MM-DD
    counts = [n for _, n, _ in s.days]
    ax.bar(range(len(labels)), counts, color="#4a90d9", label="incidents")
    ax.set_ylabel("incidents per day")
    ax.set_xticks(range(len(labels)), labels, rotation=45 if len(labels) > 10 else 0, fontsize=8)
    ax.yaxis.get_major_locator().set_params(integer=True)
    trend = ax.twinx()
    hours = [None if m is None else m / 3600 for _, _, m in s.days]
    points = [(i, h) for i, h in enumerate(hours) if h is not None]
    if points:
        trend.plot([i for i, _ in points], [h for _, h in points], color="#d0021b", marker="o", label="MTTR (median)")
    trend.set_ylabel("MTTR, hours (median)")
    trend.set_ylim(bottom=0)
    ax.set_title(title, fontsize=10)
    handles = [h for a in (ax, trend) for h in a.get_legend_handles_labels()[0]]
    ax.legend(handles, [h.get_label() for h in handles], loc="upper left", fontsize=8)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
