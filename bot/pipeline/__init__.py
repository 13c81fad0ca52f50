"""The alert pipeline: stages with one signature, run in order, each a module of its own.

A stage takes the Plan so far and the Context (read access to the store, settings, the clock) and returns the
Plan it decided; a Plan with `stop` set ends the run. Stages never know about each other.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace
from typing import Callable

from bot.alert import Alert
from bot.config import Settings
from bot.lineage.decide import Join
from bot.lineage.graph import EMPTY, Graph


@dataclass(frozen=True)
class Context:
    conn: sqlite3.Connection
    settings: Settings
    now: float
    lineage: Graph = EMPTY   # which tables read which; the group stage uses it with [grouping] lineage = true


@dataclass(frozen=True)
class Plan:
    alert: Alert
    group_key: str = ""
    incident_id: int | None = None   # the incident the alert belongs to; None opens a new one
    reason: str = "new"              # new, dedup, group, lineage, reopen
    channel: str | None = None
    silenced_by: int | None = None
    stop: str | None = None          # why nothing more happens (silenced, nothing to resolve)
    lineage: Join | None = None      # joined by lineage: the path that links the alert's table to the incident

    def but(self, **changes: object) -> "Plan":
        return replace(self, **changes)


Stage = Callable[[Plan, Context], Plan]


def stages() -> list[Stage]:
    from bot.pipeline import dedup, group, route, silence
    return [silence.run, dedup.run, group.run, route.run]


def plan_for(alert: Alert, ctx: Context) -> Plan:
    plan = Plan(alert=alert)
    for stage in stages():
        plan = stage(plan, ctx)
        if plan.stop:
            break
    return plan
