"""Silence stage: a firing alert that an active silence matches is recorded and goes no further."""
from __future__ import annotations

import json

from bot import store
from bot.pipeline import Context, Plan
from bot.pipeline.matchers import alert_labels, matches


def run(plan: Plan, ctx: Context) -> Plan:
    # Resolved alerts pass, so an incident opened before the silence can still close.
    if not plan.alert.firing:
        return plan
    labels = alert_labels(plan.alert)
    for silence in store.active_silences(ctx.conn, ctx.now):
        if matches(json.loads(silence["matchers"]), labels):
            return plan.but(silenced_by=silence["id"], stop=f"silenced by silence {silence['id']}")
    return plan
