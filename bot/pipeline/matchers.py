"""Label matchers shared by silences and routes: every `label = glob` pair must hold."""
from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Mapping

from bot.alert import Alert


def alert_labels(alert: Alert) -> dict[str, str]:
    """The labels matchers see: the alert's own plus source, kind and severity."""
    return {**alert.labels, "source": alert.source, "kind": alert.kind, "severity": alert.severity,
            "title": alert.title}


def matches(matchers: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    for key, pattern in matchers.items():
        negate = pattern.startswith("!")
        value = labels.get(key, "")
        hit = fnmatchcase(value, pattern[1:] if negate else pattern)
        if hit == negate:
            return False
    return True
