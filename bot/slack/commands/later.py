"""Verbs whose capability is not built yet: registered so `/dre help` is complete, each answering plainly."""
from __future__ import annotations

from bot.slack.commands import Call, Deps, Reply, verb

_NOT_YET = ("{what} is not configured in this dre-bot yet. It arrives with the {capability} capability; "
            "until then, {instead}.")


@verb("postmortem", "/dre postmortem INC-n")
def postmortem(deps: Deps, call: Call) -> Reply:
    """Draft a postmortem from the incident's timeline."""
    return Reply(_NOT_YET.format(what="Postmortem drafts", capability="postmortem",
                                 instead="`/dre timeline INC-n` prints the timeline"))
