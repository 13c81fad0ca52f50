"""The features the bot is made of, each registering its handlers, notifiers, jobs, verbs and listeners on one
registry. Adding a feature is adding it here; nothing registers itself on import."""
from __future__ import annotations

from bot.config import Settings
from bot.registry import Registry
from bot.runbook import Runbook


def build(settings: Settings, runbooks: list[Runbook]) -> Registry:
    from bot import diagnostics, handoff, incidents, lineage, monitoring, pagerduty, reports, silences, slack

    registry = Registry()
    for feature in (slack, incidents, pagerduty, diagnostics, monitoring, handoff, reports, lineage):
        feature.register(registry, settings, runbooks)
    registry.job("silences that ended", lambda conn, now: silences.end_due(conn, now))
    return registry
