"""`/dre help`: made from the verbs' own docstrings."""
from __future__ import annotations

from bot.slack.commands import Call, Deps, Reply, UsageError, verb


@verb("help", "/dre help [verb]")
def help_(deps: Deps, call: Call) -> Reply:
    """What dre-bot can do, or how to use one verb.

    Inside an incident's thread, `@dre-bot <verb>` acts on that thread's incident without naming it."""
    if call.args:
        v = deps.registry.verbs.get(call.args[0].lower())
        if v is None:
            raise UsageError(f"There is no `{call.args[0]}` verb. `/dre help` lists them.")
        return Reply(f"*{v.usage}*\n{v.summary}" + (f"\n{v.details}" if v.details else ""))
    lines = [f"• `{v.usage}`: {v.summary}" for v in deps.registry.verbs.values()]
    return Reply("*dre-bot*: work data incidents from Slack.\n" + "\n".join(lines) +
                 "\nIn an incident's thread, `@dre-bot <verb>` acts on that incident: `@dre-bot ack`.")
