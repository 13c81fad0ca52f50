"""Delivering to PagerDuty through the outbox: trigger (page), acknowledge, resolve, notes, page on demand.

Each item is rendered when it goes, from the incident as it is then: an acknowledge that an incident has since
outgrown (it is resolved) is not sent. Changes that came from PagerDuty are never enqueued here at all (see
inbound.py), so nothing bounces back and forth.
"""
from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import time
from typing import TYPE_CHECKING, Callable

from bot import events, outbox, store
from bot.incident import RESOLVED, name
from bot.outbox import Deliverer, DeliveryError
from bot.pagerduty import client as pd_client
from bot.pagerduty.paging import dedup_key, trigger_event

if TYPE_CHECKING:
    import pagerduty

log = logging.getLogger("dre-bot.pagerduty")
LANE = "pagerduty"
TRIGGER, ACK, RESOLVE, NOTE, PAGE = "pd.trigger", "pd.acknowledge", "pd.resolve", "pd.note", "pd.page"
THREAD_WAIT = 5.0   # seconds a page may wait for its Slack thread, so the page can link to it


def enqueue(conn: sqlite3.Connection, incident_id: int, kind: str, **payload: object) -> None:
    outbox.enqueue(conn, incident_id, kind, LANE, LANE, dict(payload))


def note_digest(text: str) -> str:
    return hashlib.sha256(text.strip().encode()).hexdigest()[:24]


def _read(response) -> dict:
    """A PagerDuty answer as the deliverer needs it: the body, or a DeliveryError saying what to do."""
    status = response.status_code
    if 200 <= status < 300:
        try:
            return response.json() if response.content else {}
        except ValueError:
            return {}
    headers = {k.lower(): v for k, v in response.headers.items()}
    try:
        err = response.json().get("error") or response.json()
    except ValueError:
        err = response.text[:200]
    if status == 429:
        reset = headers.get("ratelimit-reset") or headers.get("retry-after") or "1"
        raise DeliveryError(f"PagerDuty answered 429: {err}", retry_after=max(0.1, float(reset)))
    if status in (400, 401, 403, 404):
        raise DeliveryError(f"PagerDuty answered {status}: {err}", permanent=True)
    raise DeliveryError(f"PagerDuty answered {status}: {err}")


def _call(fn: Callable[[], dict]) -> Callable[[], dict]:
    def run() -> dict:
        import pagerduty   # loaded already: the call goes through one of its clients
        try:
            return fn()
        except pagerduty.HttpError as exc:
            return _read(exc.response)
        except pagerduty.UrlError as exc:
            raise DeliveryError(f"PagerDuty unreachable: {exc}") from None
    return run


def _send(events: pagerduty.EventsApiV2Client, /, *args, **kwargs) -> dict:
    """One event from a client made for it, closed after: its connection is not left for the garbage collector."""
    with events:
        return {"dedup_key": events.send_event(*args, **kwargs)}


class _Base:
    lane = LANE

    def pace_key(self, row: sqlite3.Row) -> str:
        return LANE

    def succeeded(self, d: Deliverer, row: sqlite3.Row, result: dict) -> None:
        pass

    what = "the PagerDuty call"
    by_hand = "Do it by hand in PagerDuty"

    def gave_up(self, d: Deliverer, row: sqlite3.Row, reason: str) -> None:
        """A call people rely on did not happen: the thread says so, and what to do instead."""
        inc = store.incident(d.conn, row["incident_id"])
        if inc is None:
            return
        where = inc["pd_incident_url"] or "PagerDuty"
        events.record(d.conn, events.NEWS, inc["id"], "dre-bot", "dre-bot", failed=True,
                      text=f":warning: {self.what} failed for good ({reason}). {self.by_hand}: {where}. "
                           f"`dre-bot outbox --dead` lists it; `dre-bot outbox --retry {row['id']}` tries again.")

    @staticmethod
    def incident(d: Deliverer, row: sqlite3.Row):
        inc = store.incident(d.conn, row["incident_id"])
        if inc is None:
            d.dead(row["id"], "incident no longer exists")
        return inc

    @staticmethod
    def rest(d: Deliverer) -> pagerduty.RestApiV2Client | None:
        return d.clients.get("pagerduty_rest")

    @staticmethod
    def thread_url(d: Deliverer, inc) -> str | None:
        if not inc["slack_ts"]:
            return None
        if "slack_workspace_url" not in d.clients:   # once per process: auth.test names the workspace
            try:
                d.clients["slack_workspace_url"] = d.clients["slack"].auth_test().get("url")
            except Exception:
                return None
        workspace = d.clients["slack_workspace_url"]
        return f"{workspace}archives/{inc['slack_channel']}/p{inc['slack_ts'].replace('.', '')}" if workspace else None

    @staticmethod
    def routing_key(d: Deliverer, inc) -> str | None:
        env = inc["pd_routing_key_env"] or "PAGERDUTY_ROUTING_KEY"
        return d.settings.env.get(env) or (d.settings.pagerduty_routing_key if env == "PAGERDUTY_ROUTING_KEY" else None)

    def target_and_sender(self, rest, directory, payload: dict, pd_id: str | None, key: str) -> tuple[str, str]:
        """The PagerDuty incident to change and the `From` email of the person changing it (network calls)."""
        _, from_email = directory.pd_user(payload.get("actor"))
        if not from_email:
            raise DeliveryError("no PagerDuty user for the actor and no PAGERDUTY_FROM_EMAIL", permanent=True)
        incident_id = pd_id or (self.find_pd_incident(rest, key) or {}).get("id")
        if not incident_id:
            raise DeliveryError(f"no PagerDuty incident with incident_key {key} yet")
        return incident_id, from_email

    def find_pd_incident(self, rest, key: str) -> dict | None:
        """The PagerDuty incident whose incident_key is our dedup key (the newest, if it was triggered again)."""
        response = rest.get("/incidents", params={"incident_key": key, "date_range": "all", "limit": 5,
                                                  "sort_by": "created_at:desc"})
        incidents = _read(response).get("incidents", [])
        return incidents[0] if incidents else None


class TriggerHandler(_Base):
    """Page: an Events API v2 trigger with the incident's stable dedup_key."""
    what = "The page"
    by_hand = "Nobody was paged: page the on-call by hand (`/dre page INC-n`, or in PagerDuty)"

    def gave_up(self, d: Deliverer, row: sqlite3.Row, reason: str) -> None:
        # The card says so instead of "paging…".
        store.update_incident(d.conn, row["incident_id"], {"pd_status": "page failed"}, only_if_null="pd_incident_id")
        super().gave_up(d, row, reason)

    def prepare(self, d: Deliverer, row: sqlite3.Row):
        inc = self.incident(d, row)
        if inc is None:
            return None
        key = self.routing_key(d, inc)
        if not key:
            d.dead(row["id"], f"no routing key in ${inc['pd_routing_key_env'] or 'PAGERDUTY_ROUTING_KEY'}")
            return None
        if inc["status"] == RESOLVED:
            d.done(row["id"], note="not paged: resolved before the page went out")
            return None
        if not inc["slack_ts"] and time.time() - row["created_at"] < THREAD_WAIT:
            # A page with a link to the thread is worth a moment; never more than that, whatever Slack is doing.
            d.defer(row["id"], 0.25, "waiting briefly for the Slack thread to link it")
            return None
        base = d.settings.runbook_base_url
        runbook = f"{base.rstrip('/')}/{inc['runbook']}" if inc["runbook"] and base else None
        thread = self.thread_url(d, inc)
        event = trigger_event(inc, thread, runbook)
        links = event.pop("links")
        dedup = inc["pd_dedup_key"] or dedup_key(d.settings, inc["id"])
        client = pd_client.events(d.settings, key)
        return _call(lambda: _send(client, "trigger", dedup, payload=event, links=links, client="dre-bot",
                                   **({"client_url": thread} if thread else {})))

    def succeeded(self, d: Deliverer, row: sqlite3.Row, result: dict) -> None:
        store.keep_pd_dedup_key(d.conn, row["incident_id"], result.get("dedup_key"))


class StatusHandler(_Base):
    """Acknowledge or resolve in PagerDuty: REST with the acting person's `From` where a token is configured,
    else Events API acknowledge/resolve with the routing key."""

    def __init__(self, target: str):
        self.target = target
        self.what = f"Telling PagerDuty the incident is {target}"
        self.by_hand = f"Mark it {target} in PagerDuty by hand"

    def prepare(self, d: Deliverer, row: sqlite3.Row):
        inc = self.incident(d, row)
        if inc is None:
            return None
        if not inc["pd_dedup_key"] and not inc["pd_incident_id"]:
            d.done(row["id"], note="nothing to update: this incident never paged")
            return None
        if self.target == "acknowledged" and inc["status"] == RESOLVED:
            d.done(row["id"], note="superseded: the incident is resolved now")
            return None
        payload = json.loads(row["payload"])
        rest = self.rest(d)
        if rest is not None:
            directory = d.clients["pd_users"]
            pd_id, key, target = inc["pd_incident_id"], inc["pd_dedup_key"], self.target

            def via_rest() -> dict:
                incident_id, from_email = self.target_and_sender(rest, directory, payload, pd_id, key)
                body = {"incident": {"type": "incident_reference", "status": target}}
                result = _read(rest.put(f"/incidents/{incident_id}", json=body, headers={"From": from_email}))
                return {"incident": (result.get("incident") or {}).get("id", incident_id), "from": from_email}
            return _call(via_rest)
        key = self.routing_key(d, inc)
        if not key:
            d.dead(row["id"], "neither PAGERDUTY_API_TOKEN nor a routing key is set")
            return None
        client, dedup = pd_client.events(d.settings, key), inc["pd_dedup_key"]
        action = "acknowledge" if self.target == "acknowledged" else "resolve"
        return _call(lambda: _send(client, action, dedup))


class NoteHandler(_Base):
    """A note on the PagerDuty incident, written as the person who wrote it in Slack (REST only)."""
    what = "Copying the note to PagerDuty"
    by_hand = "Add it there by hand"

    def prepare(self, d: Deliverer, row: sqlite3.Row):
        inc = self.incident(d, row)
        if inc is None:
            return None
        rest = self.rest(d)
        if rest is None or not (inc["pd_dedup_key"] or inc["pd_incident_id"]):
            d.done(row["id"], note="not sent: no PAGERDUTY_API_TOKEN or no PagerDuty incident")
            return None
        payload = json.loads(row["payload"])
        directory, pd_id, key = d.clients["pd_users"], inc["pd_incident_id"], inc["pd_dedup_key"]

        def post() -> dict:
            incident_id, from_email = self.target_and_sender(rest, directory, payload, pd_id, key)
            _read(rest.post(f"/incidents/{incident_id}/notes", json={"note": {"content": payload["text"]}},
                            headers={"From": from_email}))
            return {"incident": incident_id}
        return _call(post)

    def succeeded(self, d: Deliverer, row: sqlite3.Row, result: dict) -> None:
        text = json.loads(row["payload"])["text"]
        store.add_sent_note(d.conn, row["incident_id"], note_digest(text), time.time())


class PageHandler(_Base):
    """`/dre page INC-n <target>`: a PagerDuty incident on a service, assigned to a user or an escalation policy,
    keyed by the incident's dedup key so asking twice pages once."""
    what = "The page you asked for"
    by_hand = "Nobody was paged: page them by hand in PagerDuty"

    def prepare(self, d: Deliverer, row: sqlite3.Row):
        inc = self.incident(d, row)
        if inc is None:
            return None
        payload, rest = json.loads(row["payload"]), self.rest(d)
        key = inc["pd_dedup_key"] or dedup_key(d.settings, inc["id"])
        if rest is None:
            return TriggerHandler().prepare(d, row)
        directory, thread = d.clients["pd_users"], self.thread_url(d, inc)

        pd_id = inc["pd_incident_id"] if inc["pd_status"] != "resolved" else None

        def create() -> dict:
            _, from_email = directory.pd_user(payload.get("actor"))
            if not from_email:
                raise DeliveryError("no PagerDuty user for the actor and no PAGERDUTY_FROM_EMAIL", permanent=True)
            # Already in PagerDuty (paged before, or our earlier try got through): reassign it, never a second one.
            open_now = ({"id": pd_id} if pd_id else None) or self.find_pd_incident(rest, key)
            if open_now and open_now.get("status", "triggered") != "resolved":
                change: dict = {"type": "incident_reference"}
                if payload.get("user"):
                    change["assignments"] = [{"assignee": {"id": payload["user"], "type": "user_reference"}}]
                elif payload.get("escalation_policy"):
                    change["escalation_policy"] = {"id": payload["escalation_policy"],
                                                   "type": "escalation_policy_reference"}
                else:
                    return {"id": open_now["id"], "html_url": open_now.get("html_url"), "dedup_key": key}
                result = _read(rest.put(f"/incidents/{open_now['id']}", json={"incident": change},
                                        headers={"From": from_email}))
                updated = result.get("incident") or open_now
                return {"id": updated.get("id"), "html_url": updated.get("html_url"), "dedup_key": key}
            body: dict = {"type": "incident", "title": f"{name(inc['id'])} {inc['title']}"[:255],
                          "service": {"id": payload["service"], "type": "service_reference"},
                          "incident_key": key, "urgency": "high" if inc["severity"] in ("sev1", "sev2") else "low",
                          "body": {"type": "incident_body",
                                   "details": f"{inc['summary'] or inc['title']}\n\nSlack: {thread or 'n/a'}"}}
            if payload.get("user"):
                body["assignments"] = [{"assignee": {"id": payload["user"], "type": "user_reference"}}]
            if payload.get("escalation_policy"):
                body["escalation_policy"] = {"id": payload["escalation_policy"], "type": "escalation_policy_reference"}
            result = _read(rest.post("/incidents", json={"incident": body}, headers={"From": from_email}))
            created = result.get("incident") or {}
            return {"id": created.get("id"), "html_url": created.get("html_url"), "dedup_key": key}
        return _call(create)

    def succeeded(self, d: Deliverer, row: sqlite3.Row, result: dict) -> None:
        store.record_page(d.conn, row["incident_id"], result.get("dedup_key"), result.get("id"), result.get("html_url"))
        events.record(d.conn, events.NEWS, row["incident_id"], "pagerduty", "dre-bot")   # the card links it now
