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


_LABEL = __import__("re").compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


def parse_matcher(token: str) -> tuple[str, str]:
    """`table=analytics.orders*` -> ("table", "analytics.orders*"); ValueError with an example otherwise."""
    key, sep, value = token.partition("=")
    if not sep or not _LABEL.fullmatch(key) or not value:
        raise ValueError(f"`{token}` is not a matcher. Write label=glob, like `table=analytics.orders*` or "
                         "`source=montecarlo`.")
    return key, value


def describe(matchers: Mapping[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in matchers.items())
