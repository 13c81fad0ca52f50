"""Runbook snippets as Slack shows them: the matched runbook's sections rendered with the alert's values (escaped
for mrkdwn, in Jinja's sandbox), the generic triage list when none matches, and the check that every template
renders (`dre-bot runbooks check`)."""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from jinja2 import Template, TemplateError

from bot.alert import Alert
from bot.runbook import ENV, SNIPPET_LIMIT, Runbook, RunbookError, parse, sample_alerts
from bot.slack.mrkdwn import escape, from_markdown, truncate


def _escaped(value: Any) -> Any:
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, dict):
        return {k: _escaped(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_escaped(v) for v in value]
    return value


def template_context(alert: Alert) -> dict[str, Any]:
    """What a runbook template sees: the alert (escaped for mrkdwn) and `table`."""
    data = _escaped({k: v for k, v in alert.to_dict().items() if k != "raw"})
    return {"alert": data, "table": data["labels"].get("table") or "the table"}


@functools.lru_cache(maxsize=512)
def _compiled(source: str) -> Template:
    """A runbook section's template, compiled once: compiling took most of a snippet's time, on every new incident."""
    return ENV.from_string(source)


def render_snippet(runbook: Runbook, alert: Alert, base_url: str = "", reason: str = "") -> str:
    """The runbook's snippet sections as mrkdwn, with the alert's values, why this runbook matched, and a link
    to the whole runbook."""
    parts = []
    for heading in runbook.snippet:
        source = from_markdown(runbook.sections[heading])
        parts.append(_compiled(source).render(template_context(alert)).strip())
    link = f"<{runbook.url(base_url)}|{escape(runbook.title)}>" if base_url else f"`{runbook.url(base_url)}`"
    head = f":book: *Runbook: {escape(runbook.title)}*" + (f"\n_{escape(reason)}_" if reason else "")
    owners = f"\nOwners: {', '.join(escape(o) for o in runbook.owners)}" if runbook.owners else ""
    tail = f"\nFull runbook: {link}{owners}"
    return truncate(f"{head}\n" + "\n\n".join(parts), SNIPPET_LIMIT - len(tail)) + tail


def generic_snippet(alert: Alert, closest: list[Runbook] | tuple = (), base_url: str = "") -> str:
    """For an alert no runbook matches: a general triage list, the closest runbooks, and how to add one."""
    table = escape(alert.labels.get("table", "the affected table or job"))
    near = ", ".join(f"<{rb.url(base_url)}|{escape(rb.title)}>" if base_url else
                     f"{escape(rb.title)} (`{escape(rb.url(base_url))}`)" for rb in closest)
    return (
        ":book: *No runbook matches this alert yet.* General triage:\n"
        f"1. Confirm the signal: look at {table} and the alert's source link; is the data really late, short or wrong?\n"
        "2. Find what changed upstream in the last 24 h: deploys, schema changes, failed or late jobs.\n"
        "3. Decide the impact: which dashboards, models or consumers read it, and who must hear now.\n"
        "4. Contain, fix, then verify with the same check that fired.\n"
        + (f"Closest runbooks: {near}\n" if near else
           "No runbook comes close to this one; `/dre runbook <words>` searches them all.\n") +
        f"_To add a runbook: create `runbooks/<name>.md` with front matter whose `match` covers "
        f"kind `{escape(alert.kind)}` from source `{escape(alert.source)}`, then run `dre-bot runbooks check`._"
    )


def check(folder: str | Path, diagnostic_names: set[str]) -> list[str]:
    """Every problem in the runbooks folder, as sentences; empty when all is well."""
    problems = []
    root = Path(folder)
    if not root.is_dir():
        return [f"{root}: no runbooks folder."]
    for path in sorted(root.glob("*.md")):
        if path.name.lower() == "readme.md":
            continue
        try:
            runbook = parse(path, root)
        except RunbookError as exc:
            problems.append(str(exc))
            continue
        for name in runbook.diagnostics:
            if name not in diagnostic_names:
                problems.append(f"{path}: diagnostic `{name}` is not in runbooks/queries/.")
        try:
            for alert in sample_alerts(runbook):
                ENV.from_string(from_markdown(runbook.body)).render(template_context(alert))
                if runbook.snippet:
                    render_snippet(runbook, alert)
        except TemplateError as exc:
            problems.append(f"{path}: template does not render against a sample alert: {exc}")
    return problems
