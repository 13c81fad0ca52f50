"""Dedup stage: an alert whose fingerprint an incident already holds belongs to that incident."""
from __future__ import annotations

from bot import store
from bot.incident import RESOLVED
from bot.pipeline import Context, Plan


def run(plan: Plan, ctx: Context) -> Plan:
    found = store.incident_for_fingerprint(ctx.conn, plan.alert.fingerprint)
    if found is None:
        return plan
    if found["status"] != RESOLVED:
        return plan.but(incident_id=found["id"], reason="dedup")
    if not plan.alert.firing:
        return plan.but(incident_id=found["id"], reason="dedup", stop="already resolved")
    if (found["resolved_at"] or 0) >= ctx.now - ctx.settings.reopen_window:
        return plan.but(incident_id=found["id"], reason="reopen")
    return plan  # resolved long ago: a new incident
