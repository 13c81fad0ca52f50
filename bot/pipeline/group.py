"""Group stage: alerts sharing a grouping key join the open incident for it (or reopen a recent one)."""
from __future__ import annotations

from bot import store
from bot.incident import group_key
from bot.pipeline import Context, Plan


def run(plan: Plan, ctx: Context) -> Plan:
    key = group_key(plan.alert, ctx.settings.group_keys)
    plan = plan.but(group_key=key)
    if plan.incident_id is not None:
        return plan
    found = store.open_incident_for_key(ctx.conn, key)
    if found is not None:
        return plan.but(incident_id=found["id"], reason="group")
    if not plan.alert.firing:
        return plan.but(stop="resolved alert for no open incident")
    recent = store.resolved_incident_for_key(ctx.conn, key, ctx.now - ctx.settings.reopen_window)
    if recent is not None:
        return plan.but(incident_id=recent["id"], reason="reopen")
    return plan
