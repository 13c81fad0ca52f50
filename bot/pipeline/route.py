"""Route stage: the first route whose label globs all match picks a new incident's channel; else DRE_CHANNEL."""
from __future__ import annotations

from bot.pipeline import Context, Plan
from bot.pipeline.matchers import alert_labels, matches


def run(plan: Plan, ctx: Context) -> Plan:
    if plan.incident_id is not None:
        return plan  # an existing incident keeps its thread
    labels = alert_labels(plan.alert)
    for route in ctx.settings.routes:
        if matches(route.match, labels):
            return plan.but(channel=route.channel)
    return plan.but(channel=ctx.settings.channel)
