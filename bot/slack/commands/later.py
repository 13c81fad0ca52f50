"""Verbs whose capability is not built yet: registered so `/dre help` is complete, each answering plainly."""
from __future__ import annotations

from bot.slack.commands import Call, Deps, Reply, verb

_NOT_YET = ("{what} is not configured in this dre-bot yet. It arrives with the {capability} capability; "
            "until then, {instead}.")


@verb("handoff", "/dre handoff [note]")
def handoff(deps: Deps, call: Call) -> Reply:
    """Post the on-call handoff: what is open, what happened this shift, what the next person must know."""
    return Reply(_NOT_YET.format(what="Handoffs", capability="handoff",
                                 instead="`/dre status` shows what is open"))


@verb("stats", "/dre stats [7d|30d] [source=...] [table=...]")
def stats(deps: Deps, call: Call) -> Reply:
    """Incident counts, MTTA and MTTR, top tables and sources."""
    return Reply(_NOT_YET.format(what="Stats", capability="reports", instead="`/dre status all` lists incidents"))


@verb("postmortem", "/dre postmortem INC-n")
def postmortem(deps: Deps, call: Call) -> Reply:
    """Draft a postmortem from the incident's timeline."""
    return Reply(_NOT_YET.format(what="Postmortem drafts", capability="postmortem",
                                 instead="`/dre timeline INC-n` prints the timeline"))
