"""Group stage: alerts sharing a grouping key join the open incident for it (or reopen a recent one); with
[grouping] lineage = true, an alert whose table shares a failing upstream with an open incident's tables joins it
(bot/lineage/decide.py says what counts)."""
from __future__ import annotations

from bot import store
from bot.incident import group_key
from bot.lineage.decide import decide
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
    table = plan.alert.labels.get("table")
    if ctx.settings.group_by_lineage and table and ctx.lineage.edges:
        join = decide(ctx.lineage, table, store.open_incident_tables(ctx.conn), ctx.settings.lineage.max_share)
        if join is not None:
            return plan.but(incident_id=join.incident_id, reason="lineage", lineage=join)
    recent = store.resolved_incident_for_key(ctx.conn, key, ctx.now - ctx.settings.reopen_window)
    if recent is not None:
        return plan.but(incident_id=recent["id"], reason="reopen")
    return plan
