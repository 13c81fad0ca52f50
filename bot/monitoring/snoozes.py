"""A silence on a Cloud Monitoring incident also snoozes its alert policy in Cloud Monitoring, for as long; ending
the silence early ends the snooze. Snoozes cannot be deleted: ending one sets its interval's end time to now, as
`gcloud monitoring snoozes cancel` does. Both calls go through the outbox; the incident's thread hears the outcome.

https://cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.snoozes
"""
from __future__ import annotations

import json
import sqlite3
import time
from datetime import datetime, timezone

from bot import clock, store
from bot.incident import name
from bot.monitoring.client import NOT_CONFIGURED, TIMEOUT, attempt
from bot.outbox import Deliverer
from bot.slack import delivery as slack
from bot.slack.mrkdwn import escape, slack_date

LANE = "snooze"      # apart from charts: a snooze never waits behind a chart being retried
SNOOZE, UNSNOOZE = "monitoring.snooze", "monitoring.unsnooze"
EDITOR = "roles/monitoring.snoozeEditor"


def _ts(epoch: float) -> dict:
    return {"seconds": int(epoch), "nanos": int((epoch % 1) * 1e9)}


def _rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def marker(silence_id: int) -> str:
    """How a snooze made for a silence is recognised, after a try whose answer was lost."""
    return f"[dre-bot silence {silence_id}]"


class _Base:
    lane = LANE

    def pace_key(self, row: sqlite3.Row) -> str:
        return LANE

    @staticmethod
    def silence(d: Deliverer, row: sqlite3.Row) -> tuple[dict, sqlite3.Row | None]:
        payload = json.loads(row["payload"])
        return payload, store.silence(d.conn, payload["silence"])

    @staticmethod
    def tell(d: Deliverer, row: sqlite3.Row, record: str, text: str) -> None:
        inc = store.incident(d.conn, row["incident_id"])
        if inc is not None:
            store.add_timeline(d.conn, inc["id"], "dre-bot", "cloud-monitoring", "silence", record)
            slack.enqueue_reply(d.conn, inc["id"], inc["channel"], text)


def _console(policy: str) -> str:
    project, policy_id = policy.split("/")[1], policy.split("/")[-1]
    return f"https://console.cloud.google.com/monitoring/alerting/policies/{policy_id}?project={project}"


class SnoozeHandler(_Base):
    def gave_up(self, d: Deliverer, row: sqlite3.Row, reason: str) -> None:
        policy = json.loads(row["payload"])["policy"]
        self.tell(d, row, f"Cloud Monitoring policy {policy} not snoozed: {reason}",
                  f":warning: Could not snooze the Cloud Monitoring policy `{escape(policy)}` ({escape(reason)}). "
                  f"The silence holds here, but Cloud Monitoring keeps notifying its own channels: snooze it by hand "
                  f"at {_console(policy)}")

    def prepare(self, d: Deliverer, row: sqlite3.Row):
        payload, silence = self.silence(d, row)
        # Silences keep incident time (bot.clock); Cloud Monitoring keeps wall time: the snooze lasts what is left.
        left = silence["ends_at"] - clock.now() if silence is not None else 0
        if left <= 5:
            d.done(row["id"], note="the silence ended before its snooze was made")
            return None
        clients, policy = d.clients.get("monitoring"), payload["policy"]
        project = policy.split("/")[1]
        display = f"{marker(silence['id'])} {name(row['incident_id'])} silenced by {silence['created_by']}" + \
            (f": {silence['reason']}" if silence["reason"] else "")
        ends_at, retrying = time.time() + left, row["attempts"] > 0

        def create() -> dict:
            client = clients.snoozes()
            if retrying:   # the last try may have made it, and only its answer was lost
                for found in client.list_snoozes(request={
                        "parent": f"projects/{project}", "filter": f'interval.end_time > "{_rfc3339(time.time())}"'},
                        retry=None, timeout=TIMEOUT):
                    if found.display_name.startswith(marker(silence["id"])):
                        return {"snooze": found.name, "until": found.interval.end_time.timestamp()}
            made = client.create_snooze(parent=f"projects/{project}", retry=None, timeout=TIMEOUT, snooze={
                "display_name": display[:512], "criteria": {"policies": [policy]},
                "interval": {"start_time": _ts(time.time()), "end_time": _ts(ends_at)}})
            return {"snooze": made.name, "until": made.interval.end_time.timestamp()}

        def go() -> dict:
            if clients is None:
                return {"error": NOT_CONFIGURED}
            return attempt(create, last_try=d.last_try(row),
                           project=project, role=EDITOR)
        return go

    def succeeded(self, d: Deliverer, row: sqlite3.Row, result: dict) -> None:
        payload, _ = self.silence(d, row)
        policy, sid = payload["policy"], payload["silence"]
        if result.get("error"):
            self.tell(d, row, f"Cloud Monitoring policy {policy} not snoozed: {result['error']}",
                      f":warning: Could not snooze the Cloud Monitoring policy `{escape(policy)}`: "
                      f"{escape(result['error'])} Silence {sid} still holds here; Cloud Monitoring keeps notifying "
                      "its own channels.")
            return
        store.set_snooze(d.conn, sid, result["snooze"])
        self.tell(d, row, f"Cloud Monitoring policy {policy} snoozed until {_rfc3339(result['until'])} "
                          f"({result['snooze']})",
                  f":zzz: Snoozed in Cloud Monitoring until {slack_date(result['until'])}: policy "
                  f"`{escape(policy)}` opens no incidents and sends no notifications until then. "
                  f"`/dre unsilence {sid}` ends the silence and the snooze.")


class UnsnoozeHandler(_Base):
    def gave_up(self, d: Deliverer, row: sqlite3.Row, reason: str) -> None:
        self.tell(d, row, f"Cloud Monitoring snooze not ended: {reason}",
                  f":warning: Could not end the Cloud Monitoring snooze ({escape(reason)}). It ends by itself when "
                  "the silence would have; to end it now, do it by hand in the console (Alerting → Snoozes).")

    def prepare(self, d: Deliverer, row: sqlite3.Row):
        _, silence = self.silence(d, row)
        snooze = silence["snooze"] if silence is not None else None
        if not snooze:       # the snooze was never made (the thread was told why), so there is nothing to end
            d.done(row["id"], note="no snooze to end")
            return None
        clients, project = d.clients.get("monitoring"), snooze.split("/")[1]

        def end() -> dict:
            client = clients.snoozes()
            current = client.get_snooze(name=snooze, retry=None, timeout=TIMEOUT)
            now = time.time()
            if current.interval.end_time.timestamp() <= now:     # already over: ended snoozes are read-only
                return {"snooze": snooze, "ended": current.interval.end_time.timestamp(), "already": True}
            # The start is in the past, so only the end time may change: to now (plus the second gcloud adds).
            updated = client.update_snooze(snooze={"name": snooze, "interval": {"end_time": _ts(now + 1)}},
                                           update_mask={"paths": ["interval.end_time"]}, retry=None,
                                           timeout=TIMEOUT)
            return {"snooze": snooze, "ended": updated.interval.end_time.timestamp()}

        def go() -> dict:
            if clients is None:
                return {"error": NOT_CONFIGURED}
            return attempt(end, last_try=d.last_try(row),
                           project=project, role=EDITOR)
        return go

    def succeeded(self, d: Deliverer, row: sqlite3.Row, result: dict) -> None:
        _, silence = self.silence(d, row)
        snooze = silence["snooze"] if silence is not None else "?"
        if result.get("error"):
            self.tell(d, row, f"Cloud Monitoring snooze {snooze} not ended: {result['error']}",
                      f":warning: Could not end the Cloud Monitoring snooze `{escape(snooze)}`: "
                      f"{escape(result['error'])} It ends by itself when the silence would have.")
            return
        if result.get("already"):
            return
        self.tell(d, row, f"Cloud Monitoring snooze {snooze} ended",
                  ":alarm_clock: Cloud Monitoring snooze ended: the policy notifies again.")
