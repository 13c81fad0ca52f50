"""Runbooks: load runbooks/*.md (YAML front matter + Markdown), match an alert to one, render its snippet."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Mapping

import yaml
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from bot.alert import KINDS, SEVERITIES, Alert, kind_from_text

SNIPPET_LIMIT = 2900  # one section block holds 3000 characters
_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n(.*)\Z", re.DOTALL)
_SECTION = re.compile(r"^## +(.+?)\s*$", re.MULTILINE)
_KEYS = {"title", "match", "severity", "owners", "diagnostics", "auto_diagnostics", "snippet"}
_MATCH_KEYS = {"sources", "kinds", "labels", "tables"}
ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


class RunbookError(Exception):
    """A runbook file is wrong; the message names the file and the problem."""


@dataclass(frozen=True)
class Runbook:
    path: str                        # relative to the runbooks folder, e.g. table-freshness.md
    title: str
    body: str                        # Markdown with Jinja2, after the front matter
    match: Mapping[str, Any] | None = None
    severity: str | None = None
    owners: tuple[str, ...] = ()
    diagnostics: tuple[str, ...] = ()
    auto_diagnostics: tuple[str, ...] = ()
    snippet: tuple[str, ...] = ()
    sections: Mapping[str, str] = field(default_factory=dict)

    def url(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/{self.path}" if base_url else f"runbooks/{self.path}"


def _list(meta: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = meta.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RunbookError(f"{where}: `{key}` must be a list of strings.")
    return tuple(value)


def parse(path: Path, root: Path) -> Runbook:
    where = str(path)
    text = path.read_text(encoding="utf-8")
    m = _FRONT.match(text)
    if not m:
        raise RunbookError(f"{where}: must start with YAML front matter between --- lines.")
    try:
        meta = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError as exc:
        raise RunbookError(f"{where}: front matter is not valid YAML: {exc}") from None
    if not isinstance(meta, dict):
        raise RunbookError(f"{where}: front matter must be a mapping.")
    unknown = set(meta) - _KEYS
    if unknown:
        raise RunbookError(f"{where}: unknown front matter key(s) {', '.join(sorted(unknown))}; "
                           f"known: {', '.join(sorted(_KEYS))}.")
    if not isinstance(meta.get("title"), str) or not meta["title"].strip():
        raise RunbookError(f"{where}: `title` is required.")
    match = meta.get("match")
    if match is not None:
        if not isinstance(match, dict) or set(match) - _MATCH_KEYS:
            raise RunbookError(f"{where}: `match` takes only {', '.join(sorted(_MATCH_KEYS))}.")
        for key in ("sources", "kinds", "tables"):
            _list(match, key, f"{where}: match")
        bad_kinds = set(match.get("kinds", [])) - set(KINDS)
        if bad_kinds:
            raise RunbookError(f"{where}: unknown kind(s) {', '.join(sorted(bad_kinds))}; known: {', '.join(KINDS)}.")
        if not isinstance(match.get("labels", {}), dict):
            raise RunbookError(f"{where}: match.labels must map label names to globs.")
    severity = meta.get("severity")
    if severity is not None and severity not in SEVERITIES:
        raise RunbookError(f"{where}: severity must be one of {', '.join(SEVERITIES)}.")
    body = m.group(2)
    sections = {}
    heads = list(_SECTION.finditer(body))
    for i, head in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(body)
        sections[head.group(1)] = body[head.start():end].strip()
    snippet = _list(meta, "snippet", where)
    missing = [s for s in snippet if s not in sections]
    if missing:
        raise RunbookError(f"{where}: snippet names section(s) not in the body: {', '.join(missing)}.")
    diagnostics = _list(meta, "diagnostics", where)
    auto = _list(meta, "auto_diagnostics", where)
    if set(auto) - set(diagnostics):
        raise RunbookError(f"{where}: auto_diagnostics must be listed in diagnostics too.")
    return Runbook(path=str(path.relative_to(root)), title=meta["title"].strip(), body=body, match=match,
                   severity=severity, owners=_list(meta, "owners", where), diagnostics=diagnostics,
                   auto_diagnostics=auto, snippet=snippet, sections=sections)


def load_all(folder: str | Path) -> list[Runbook]:
    root = Path(folder)
    if not root.is_dir():
        return []
    return [parse(p, root) for p in sorted(root.glob("*.md")) if p.name.lower() != "readme.md"]


@dataclass(frozen=True)
class Match:
    """The runbook an alert matched, and why, in one short line for the snippet."""
    runbook: Runbook
    reason: str


# Words that say something failed without saying what: "BlackboxProbeFailed" is no pipeline job. A kind a source
# guessed from one of these alone is a weak hint, not a kind a runbook may match on.
_GENERIC_WORDS = re.compile(r"fail(ed|ure|ing|s)?|errors?|down", re.IGNORECASE)
# Prometheus labels that name the scrape target, not the data: `job="blackbox"` is no data job.
_TARGET_LABELS = {"job", "instance", "alertname", "kind"}


def kind_is_stated(alert: Alert) -> bool:
    """Whether the alert's kind rests on more than a generic word in its title: an explicit `kind` label, words
    specific to the kind anywhere in the alert, or a source's structured field (a metric type, an incident type)
    that the title does not carry."""
    if alert.labels.get("kind", "").strip().lower() == alert.kind:
        return True
    if kind_from_text(alert.title) != alert.kind:
        return True   # the source did not get it from the title
    # Not the summary: templates put every label in it ("LABELS = map[job:blackbox]").
    texts = [alert.title] + [v for k, v in alert.labels.items() if k not in _TARGET_LABELS]
    return kind_from_text(*(_GENERIC_WORDS.sub(" ", t) for t in texts)) == alert.kind


def _score(runbook: Runbook, alert: Alert) -> tuple[int, int, list[str]] | None:
    """(matched on kind, how specific, the reasons) when the runbook matches the alert; None when it does not.
    Kind comes first: a runbook for the alert's kind beats any runbook matched on labels or title words alone."""
    match = runbook.match
    if match is None:
        return None
    score, reasons, by_kind = 0, [], 0
    if match.get("kinds"):
        if alert.kind not in match["kinds"] or not kind_is_stated(alert):
            return None
        by_kind = 1
        reasons.append(f"kind {alert.kind}")
    if match.get("tables"):
        table = alert.labels.get("table", "")
        glob = next((g for g in match["tables"] if table and fnmatchcase(table, g)), None)
        if glob is None:
            return None
        score += 3
        reasons.append(f"table {glob}")
    for label, pattern in (match.get("labels") or {}).items():
        if not fnmatchcase(alert.labels.get(label, ""), str(pattern)):
            return None
        # A glob on the alert's name is a title word: it ranks below a label that says what the data is.
        score += 1 if label == "alertname" else 3
        reasons.append(f"{label} {pattern}")
    if match.get("sources"):
        if alert.source not in match["sources"]:
            return None
        score += 1
        reasons.append(f"source {alert.source}")
    return by_kind, score, reasons


def find(runbooks: list[Runbook], alert: Alert) -> Match | None:
    """The runbook for the alert: first those for its kind, then the most specific; ties go to the first file."""
    scored = [(s, i, rb) for i, rb in enumerate(runbooks) if (s := _score(rb, alert)) is not None]
    if not scored:
        return None
    (by_kind, score, reasons), _, runbook = max(scored, key=lambda t: (t[0][0], t[0][1], -t[1]))
    return Match(runbook, "Matched: " + ", ".join(reasons))


def best_match(runbooks: list[Runbook], alert: Alert) -> Runbook | None:
    found = find(runbooks, alert)
    return found.runbook if found else None


_WORD = re.compile(r"[a-z][a-z0-9]{3,}")


def _words(*texts: object) -> set[str]:
    return {w for t in texts if isinstance(t, str) for w in _WORD.findall(t.lower())}


def closest(runbooks: list[Runbook], alert: Alert, limit: int = 3) -> list[Runbook]:
    """For an alert no runbook matches: the runbooks for its kind, then those for its source, then those sharing
    words with it (title and summary against the runbook's title and headings); none when nothing is shared."""
    said = _words(alert.title, alert.summary, *alert.labels.values())

    def rank(rb: Runbook) -> int:
        match = rb.match or {}
        shared = len(said & _words(rb.title, *rb.sections))
        return 100 * (alert.kind in match.get("kinds", [])) + 10 * (alert.source in match.get("sources", [])) + shared
    ranked = sorted((rb for rb in runbooks if rank(rb)), key=rank, reverse=True)
    return ranked[:limit]


def sample_alerts(runbook: Runbook) -> list[Alert]:
    """Alerts a runbook must render for: one with every label it may use, one with none."""
    match = runbook.match or {}
    tables = [t.replace("*", "x").replace("?", "x") for t in match.get("tables", [])] or ["proj.analytics.orders"]
    labels = {"table": tables[0], "dataset": "analytics", "project": "proj", "pipeline": "orders_daily"}
    for label, pattern in (match.get("labels") or {}).items():
        labels[label] = str(pattern).replace("*", "x").replace("?", "x")
    source = (match.get("sources") or ["generic"])[0]
    kind = (match.get("kinds") or ["custom"])[0]
    full = Alert(source=source, fingerprint="sample", status="firing", title="Sample <!channel> alert",
                 kind=kind, summary="sample", labels=labels, started_at="2026-01-01T00:00:00+00:00")
    bare = Alert(source=source, fingerprint="sample", status="firing", title="Sample alert", kind=kind)
    return [full, bare]
