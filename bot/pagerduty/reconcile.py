"""Reconciliation: compare open incidents with PagerDuty's own state and repair what a lost webhook left behind,
writing what was repaired on the timeline. Runs on the scheduler thread every [pagerduty] reconcile_interval."""
from __future__ import annotations

import logging
import sqlite3
from typing import TYPE_CHECKING

from bot import clock, service, store
from bot.incident import ACKNOWLEDGED, OPEN_STATES, RESOLVED, TRIGGERED, REOPENED
from bot.pagerduty import delivery
from bot.service import Actor

if TYPE_CHECKING:
    import pagerduty   # annotations only: the client is made in bot.pagerduty.client

log = logging.getLogger("dre-bot.pagerduty")
RECONCILER = Actor("reconciliation with PagerDuty", origin="pagerduty")


def fetch(rest: pagerduty.RestApiV2Client, inc) -> dict | None:
    """PagerDuty's view of one incident: by its id, else by our dedup key (network; no transaction open)."""
    if inc["pd_incident_id"]:
        response = rest.get(f"/incidents/{inc['pd_incident_id']}")
        if response.is_success:
            return response.json().get("incident")
    if inc["pd_dedup_key"]:
        response = rest.get("/incidents", params={"incident_key": inc["pd_dedup_key"], "date_range": "all",
                                                  "limit": 5, "sort_by": "created_at:desc"})
        if response.is_success:
            found = response.json().get("incidents") or []
            return found[0] if found else None
    return None


def run(conn: sqlite3.Connection, rest: pagerduty.RestApiV2Client, since: float | None = None) -> list[str]:
    """One pass; the repairs made, as sentences."""
    since = clock.now() - 86400 if since is None else since
    candidates = store.incidents_in_pagerduty(conn, since)
    repairs = []
    for inc in candidates:
        try:
            remote = fetch(rest, inc)
        except Exception as exc:  # PagerDuty down: try again next pass
            log.warning("reconciliation could not reach PagerDuty for INC-%s: %s", inc["id"], exc)
            continue
        if remote is None:
            continue
        with store.transaction(conn):
            current = store.incident(conn, inc["id"])
            repair = _repair(conn, current, remote)
        if repair:
            repairs.append(repair)
    return repairs


def _repair(conn: sqlite3.Connection, inc, remote: dict) -> str | None:
    if store.on_its_way(conn, inc["id"], delivery.LANE):
        # Our own change is still on its way to PagerDuty: not a lost webhook. Repairing now would send it again
        # as the bot, not as the person who made it; the next pass looks again.
        return None
    theirs, ours = remote.get("status"), inc["status"]
    store.reconcile_pagerduty(conn, inc["id"], remote.get("id"), remote.get("html_url"), theirs)
    note = None
    if theirs == "resolved" and ours in OPEN_STATES:
        service.change_status(conn, inc["id"], RESOLVED, RECONCILER, note="PagerDuty says resolved; a webhook was lost")
        note = f"INC-{inc['id']}: resolved, as in PagerDuty"
    elif theirs == "acknowledged" and ours in (TRIGGERED, REOPENED):
        service.change_status(conn, inc["id"], ACKNOWLEDGED, RECONCILER,
                              note="PagerDuty says acknowledged; a webhook was lost")
        note = f"INC-{inc['id']}: acknowledged, as in PagerDuty"
    elif ours == RESOLVED and theirs in ("triggered", "acknowledged"):
        delivery.enqueue(conn, inc["id"], delivery.RESOLVE, actor=None)
        store.add_timeline(conn, inc["id"], RECONCILER.id, "pagerduty", "reconcile",
                           "Reconciliation: resolved here but open in PagerDuty; resolving it there")
        note = f"INC-{inc['id']}: resolving in PagerDuty"
    elif ours == ACKNOWLEDGED and theirs == "triggered":
        delivery.enqueue(conn, inc["id"], delivery.ACK, actor=inc["ack_by"])
        store.add_timeline(conn, inc["id"], RECONCILER.id, "pagerduty", "reconcile",
                           "Reconciliation: acknowledged here but not in PagerDuty; acknowledging it there")
        note = f"INC-{inc['id']}: acknowledging in PagerDuty"
    return note
