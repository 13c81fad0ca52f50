"""`/dre runbook <words>`: search runbook titles and text."""
from __future__ import annotations

import re

from bot.runbook import Runbook
from bot.slack.commands import Call, Deps, Reply, UsageError, verb
from bot.slack.mrkdwn import escape


def search(runbooks: list[Runbook], words: list[str]) -> list[Runbook]:
    """Runbooks ranked by how often the words appear: a title hit counts five times a body hit."""
    terms = [w.lower() for w in words if len(w) > 1]
    scored = []
    for rb in runbooks:
        title, body = rb.title.lower(), rb.body.lower()
        score = sum(5 * title.count(t) + len(re.findall(re.escape(t), body)) for t in terms)
        if score:
            scored.append((score, rb))
    return [rb for _, rb in sorted(scored, key=lambda t: -t[0])]


@verb("runbook", "/dre runbook <words>")
def runbook(deps: Deps, call: Call) -> Reply:
    """Find runbooks by words in their titles and text; shows the best matches with links."""
    if not call.args:
        raise UsageError("Which runbook? `/dre runbook freshness` or `/dre runbook backfill`.")
    found = search(deps.runbooks, call.args)[:3]
    if not found:
        names = ", ".join(rb.title for rb in deps.runbooks)
        return Reply(f"No runbook mentions `{escape(call.text)}`. There are: {escape(names)}.")
    base = deps.settings.runbook_base_url
    lines = [f"• {'<' + rb.url(base) + '|' + escape(rb.title) + '>' if base else escape(rb.title) + ' `' + rb.url(base) + '`'}"
             + (f": {', '.join(rb.match.get('kinds', []))}" if rb.match else " (procedure)") for rb in found]
    return Reply("*Runbooks*\n" + "\n".join(lines))
