"""Time to acknowledge and time to resolve, per incident, as docs/METRICS.md defines them.

- Start: the incident's `opened_at`, when its first alert started as the sender saw it (or when it reached us).
- Time to acknowledge (TTA): until the first human response, that is the first acknowledgement (from Slack or
  PagerDuty), or a resolution by a person when nobody acknowledged first. An incident that resolved on its own
  (all its alerts cleared) with nobody acknowledging has no TTA: it is counted as resolved unattended.
- Time to resolve (TTR): until the incident's last resolution, for incidents resolved now. A reopened incident
  that resolved again counts once, from its first start to its final resolution.
- MTTA and MTTR are reported as the median and the 90th percentile (nearest rank) over incidents that opened in
  the window, never as a mean, which one forgotten incident would dominate.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence


@dataclass(frozen=True)
class Timings:
    tta: float | None       # seconds to the first human response, None when there was none
    ttr: float | None       # seconds to the final resolution, None while open

    @property
    def unattended(self) -> bool:
        return self.tta is None and self.ttr is not None


def of(incident: Mapping) -> Timings:
    """The timings of one incident row (the incidents table)."""
    opened, responded, resolved = incident["opened_at"], incident["first_response_at"], incident["resolved_at"]
    is_resolved = incident["status"] == "resolved" and resolved is not None
    return Timings(tta=max(0.0, responded - opened) if responded is not None else None,
                   ttr=max(0.0, resolved - opened) if is_resolved else None)


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile: the smallest value at least `pct`% of the values are at or below."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float | None:
    """The middle value (the mean of the two middle values for an even count)."""
    if not values:
        return None
    ordered, mid = sorted(values), len(values) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
