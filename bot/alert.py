"""Alert: the one normalized type every source produces."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

FIRING = "firing"
RESOLVED = "resolved"

# Our scale, most severe first. Each source maps its own scale onto it.
SEVERITIES = ("sev1", "sev2", "sev3", "sev4")
SEVERITY_NAMES = {"sev1": "critical", "sev2": "error", "sev3": "warning", "sev4": "info"}
DEFAULT_SEVERITY = "sev3"

# Words senders use, mapped onto our scale. Anything else is the default.
_SEVERITY_WORDS = {
    "sev1": "sev1", "sev-1": "sev1", "p1": "sev1", "critical": "sev1", "page": "sev1", "fatal": "sev1",
    "emergency": "sev1", "alert": "sev1",
    "sev2": "sev2", "sev-2": "sev2", "p2": "sev2", "error": "sev2", "high": "sev2", "major": "sev2",
    "sev3": "sev3", "sev-3": "sev3", "p3": "sev3", "warning": "sev3", "warn": "sev3", "medium": "sev3",
    "sev4": "sev4", "sev-4": "sev4", "p4": "sev4", "p5": "sev4", "info": "sev4", "low": "sev4", "none": "sev4",
    "informational": "sev4", "notice": "sev4", "debug": "sev4",
}

# The alert kinds runbooks match on.
KINDS = ("freshness", "volume", "schema", "distribution", "job_failure", "quota",
         "replication_lag", "pii", "infrastructure", "custom")


def severity_from(word: object, default: str = DEFAULT_SEVERITY) -> str:
    """Map a sender's severity word ("CRITICAL", "warning", "SEV-2", "P1") onto sev1..sev4."""
    if not isinstance(word, str):
        return default
    return _SEVERITY_WORDS.get(word.strip().lower(), default)


def split_table(name: str) -> dict[str, str]:
    """Labels for a table name: `project:dataset.table`, `project.dataset.table` or `dataset.table`."""
    cleaned = name.strip().strip("`").replace(":", ".")
    parts = [p for p in cleaned.split(".") if p]
    labels = {"table": ".".join(parts)} if parts else {}
    if len(parts) >= 3:
        labels["project"], labels["dataset"] = parts[-3], parts[-2]
    elif len(parts) == 2:
        labels["dataset"] = parts[0]
    return labels


def parse_time(value: str | None) -> float | None:
    """Epoch seconds from an ISO 8601 time as senders write it (Z, offsets, nanoseconds); None if unreadable."""
    if not value:
        return None
    import re
    from datetime import datetime, timezone
    text = re.sub(r"(\.\d{6})\d+", r"\1", value.strip()).replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def label_fingerprint(labels: Mapping[str, str]) -> str:
    """A stable hash of a label set, as Alertmanager computes an alert's identity from its labels."""
    canonical = json.dumps(sorted(labels.items()), separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def web_url(url: object) -> bool:
    """Only http(s) links may become Slack links: `javascript:`, `data:` and the like would run or mislead."""
    if not isinstance(url, str):
        return False
    from urllib.parse import urlsplit
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc) and not any(c in url for c in "<>|\n")


@dataclass(frozen=True)
class Link:
    text: str
    url: str


@dataclass(frozen=True)
class Alert:
    source: str
    fingerprint: str
    status: str
    title: str
    severity: str = DEFAULT_SEVERITY
    kind: str = "custom"
    summary: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    links: tuple[Link, ...] = ()
    started_at: str | None = None
    ended_at: str | None = None
    finding: str = ""           # the sender's own words for what is wrong ("Has 42 rows vs. 101 expected")
    raw: Any = None

    def __post_init__(self) -> None:
        # Every sender's links pass here, so a link with another scheme never reaches a card, whoever sent it.
        safe = tuple(link for link in self.links if web_url(link.url))
        if len(safe) != len(self.links):
            import logging
            logging.getLogger("dre-bot.alert").warning("dropped %d link(s) that are not http(s) from %s",
                                                       len(self.links) - len(safe), self.fingerprint[:80])
            object.__setattr__(self, "links", safe)
        if self.status not in (FIRING, RESOLVED):
            raise ValueError(f"status must be firing or resolved, not {self.status!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, not {self.severity!r}")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {self.kind!r}")

    @property
    def firing(self) -> bool:
        return self.status == FIRING

    @property
    def table(self) -> str | None:
        return self.labels.get("table")

    def to_dict(self) -> dict[str, Any]:
        # Field by field, not dataclasses.asdict, which deep-copies every value: this runs for every alert.
        d = {f.name: getattr(self, f.name) for f in _FIELDS}
        d["labels"] = dict(self.labels)
        d["links"] = [{f.name: getattr(link, f.name) for f in _LINK_FIELDS} for link in self.links]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Alert":
        fields = dict(d)
        fields["labels"] = dict(fields.get("labels") or {})
        fields["links"] = tuple(Link(**link) for link in fields.get("links") or ())
        return cls(**fields)


_FIELDS, _LINK_FIELDS = dataclasses.fields(Alert), dataclasses.fields(Link)


# Words in a metric, policy or alert name that say which kind of failure it is, checked in order.
_KIND_WORDS = (
    ("pii", ("pii", "dlp", "sensitive", "data_access", "exposure")),
    ("replication_lag", ("replication", "datastream", "change_stream", "changestream", "cdc", "lag")),
    ("quota", ("quota", "slot", "reservation", "ratelimit", "rate_limit", "concurrent")),
    ("job_failure", ("job", "dataproc", "datafusion", "data_fusion", "dataflow", "composer", "airflow", "dag",
                     "task", "pipeline", "failed", "failure")),
    ("freshness", ("fresh", "stale", "last_modified", "late", "delay", "sla")),
    ("volume", ("volume", "row_count", "rowcount", "row count", "rows")),
    ("schema", ("schema", "column")),
    ("distribution", ("distribution", "null", "field_health", "field health", "dimension", "cardinality",
                      "unique")),
)


def kind_from_text(*texts: object, explicit: object = None) -> str:
    """The alert kind: an explicit `kind` label when valid, else guessed from names, else custom."""
    if isinstance(explicit, str) and explicit.strip().lower() in KINDS:
        return explicit.strip().lower()
    haystack = " ".join(t.lower() for t in texts if isinstance(t, str))
    for kind, words in _KIND_WORDS:
        if any(w in haystack for w in words):
            return kind
    return "custom"
