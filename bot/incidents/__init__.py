"""Working incidents from Slack: the incident verbs (status, ack, resolve, reopen, assign, note, timeline, new),
silences and runbook look-ups. The state changes themselves are the core's (bot/service.py, bot/silences.py)."""
from __future__ import annotations


def register(registry, settings, runbooks) -> None:
    from bot.incidents import commands, runbook_commands, silence_commands
    from bot.slack.commands import verbs_in
    for module in (commands, silence_commands, runbook_commands):
        for verb in verbs_in(module):
            registry.verb(verb)
