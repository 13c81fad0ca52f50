"""Who owns an incident, and their Slack mentions: the runbook's owners and the matching [[owners]] rules (or
`[incidents] default_owner`), resolved to `<!subteam^ID>` and `<@U…>` so Slack really notifies them.

Resolution calls Slack, so it runs in the outbox handler at delivery time, never in a notifier's transaction.
https://docs.slack.dev/reference/methods/usergroups.list
https://docs.slack.dev/reference/methods/users.lookupByEmail
https://docs.slack.dev/messaging/formatting-message-text#mentioning-groups
"""
from __future__ import annotations

import json
import logging
import re
import sqlite3
import time
from fnmatch import fnmatchcase
from typing import Any, Callable, Mapping

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import events, store
from bot.config import Settings
from bot.outbox import Deliverer
from bot.runbook import Runbook
from bot.slack import blocks
from bot.slack.delivery import FIRST_CARD, LANE, REPLY_METADATA_EVENT, ReplyHandler, _find_reply, call_slack, posted
from bot.slack.mrkdwn import escape, truncate

log = logging.getLogger("dre-bot.slack")
MENTION = "slack.mention"
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


PD_ONCALL = "pagerduty:on-call"   # an owner found at delivery time by the PagerDuty feature's owner source


def owners_for(settings: Settings, runbook: Runbook | None, labels: Mapping[str, str]) -> list[str]:
    """The runbook's owners and those of every [[owners]] rule the incident's table, dataset or labels match;
    when that names no one, the on-call of the PagerDuty service (when PagerDuty's REST API is configured), else
    `[incidents] default_owner`. In order, each once."""
    found = list(runbook.owners) if runbook else []
    table, dataset = labels.get("table", ""), labels.get("dataset", "")
    for rule in settings.owners:
        hit = (any(fnmatchcase(table, g) for g in rule.tables) if table else False) or \
              (any(fnmatchcase(dataset, g) for g in rule.datasets) if dataset else False) or \
              (bool(rule.labels) and all(fnmatchcase(labels.get(k, ""), str(v)) for k, v in rule.labels.items()))
        if hit:
            found.extend(rule.notify)
    if found:
        return list(dict.fromkeys(found))
    return [PD_ONCALL] if settings.pagerduty_api_token and settings.pagerduty.default_service else \
        [settings.default_owner]


def shown(owners: list[str]) -> str:
    """The owners as the card shows them: names, never mentions (a card edit must not ping anyone)."""
    return ", ".join("PagerDuty on-call" if o == PD_ONCALL else o for o in owners)


def enqueue_mention(conn: sqlite3.Connection, incident_id: int, channel: str, owners: list[str], why: str,
                    text: str = "", urgent: bool = False) -> None:
    """A thread reply that mentions the owners (resolved when it is delivered), after every earlier Slack item;
    `text` (the runbook snippet, when the incident opens) goes above the mention line in the same message.
    `urgent` (a sev1): in a storm it takes the channel's turns like a new card, rather than waiting behind
    every other incident's card, still after its own."""
    store.add_outbox(conn, incident_id, MENTION, LANE, channel,
                     store.dumps({"owners": owners, "why": why, "text": text}), time.time(),
                     urgency=FIRST_CARD if urgent else 0)


class Directory:
    """Slack user group handles and emails to ids, each answer kept for `ttl` seconds: a storm of incidents must
    not call usergroups.list once per incident, and a renamed group is seen within minutes."""

    def __init__(self, ttl: float = 600.0, clock: Callable[[], float] = time.monotonic):
        self.ttl, self.clock = ttl, clock
        self._groups: tuple[float, dict[str, str]] | None = None
        self._emails: dict[str, tuple[float, str | None]] = {}

    def group(self, client: WebClient, handle: str) -> str | None:
        now = self.clock()
        if self._groups is None or now - self._groups[0] > self.ttl:
            groups = client.usergroups_list().data.get("usergroups", [])
            self._groups = (now, {g["handle"]: g["id"] for g in groups if not g.get("date_delete")})
        return self._groups[1].get(handle.lstrip("@"))

    def user(self, client: WebClient, email: str) -> str | None:
        now = self.clock()
        cached = self._emails.get(email.lower())
        if cached is None or now - cached[0] > self.ttl:
            try:
                uid = client.users_lookupByEmail(email=email).data["user"]["id"]
            except SlackApiError as exc:
                if exc.response.get("error") != "users_not_found":
                    raise
                uid = None
            cached = self._emails[email.lower()] = (now, uid)
        return cached[1]

    def mention(self, client: WebClient, owner: str) -> str:
        """`<!subteam^ID>` for "@handle", `<@U…>` for an email or a user id; a sentence saying what to fix when
        Slack knows no such group or person, so the line never pings the wrong one."""
        if _USER_ID.match(owner):
            return f"<@{owner}>"
        if owner.startswith("@"):
            gid = self.group(client, owner)
            return f"<!subteam^{gid}>" if gid else \
                f"{escape(owner)} (no Slack user group has this handle: create it or fix the owners in dre-bot.toml)"
        uid = self.user(client, owner)
        return f"<@{uid}>" if uid else \
            f"{escape(owner)} (no Slack user has this email: fix the owners in dre-bot.toml or the runbook)"


_WHY = {"opened": "Paging the owners", "escalated": "Severity raised: paging the owners again",
        "reassigned": "Reassigned: paging the new owner"}


class MentionHandler(ReplyHandler):
    """Posts "Paging the owners: <!subteam^S123> …" in the thread (under the snippet, when the incident opens: one
    message, not two); like any reply, exactly once."""

    def __init__(self, directory: Directory | None = None):
        self.directory = directory or Directory()

    def prepare(self, d: Deliverer, row: sqlite3.Row) -> Callable[[], dict] | None:
        inc = self.thread_of(d, row)
        if inc is None:
            return None
        payload: dict[str, Any] = json.loads(row["payload"])
        client, directory = self.client(d), self.directory
        ch, ts, item, first_try = inc["slack_channel"], inc["slack_ts"], row["id"], row["attempts"] == 0
        meta = {"event_type": REPLY_METADATA_EVENT, "event_payload": {"item": item}}

        owners = self.expand(d, inc, payload["owners"])

        def post() -> dict:
            if not first_try:
                found = _find_reply(client, ch, ts, item)
                if found:
                    return found
            mentions = ", ".join(directory.mention(client, o) for o in owners())
            line = f":rotating_light: {_WHY.get(payload['why'], 'Paging the owners')}: {mentions}"
            above = payload.get("text") or ""
            text = f"{truncate(above, 2900 - len(line) - 2)}\n\n{line}" if above else line
            answer = posted(client.chat_postMessage(channel=ch, thread_ts=ts, metadata=meta, **blocks.reply(text)).data)
            return {**answer, "paged": owners()}
        return call_slack(post)

    @staticmethod
    def expand(d: Deliverer, inc, owners: list[str]) -> Callable[[], list[str]]:
        """Owners named by a source ("pagerduty:on-call") become the people it finds, at delivery time (network,
        off the deliverer's transaction); when it finds no one or cannot answer, `[incidents] default_owner`."""
        found: list[str] = []

        def people() -> list[str]:
            if found:
                return found
            for owner in owners:
                source = d.registry.owner_sources.get(owner.partition(":")[0]) if ":" in owner else None
                if source is None:
                    found.append(owner)
                    continue
                try:
                    found.extend(source(d, inc))
                except Exception as exc:   # PagerDuty down: page the default owner rather than no one
                    log.warning("could not find the owners of INC-%s from %s: %s", inc["id"], owner, exc)
            if not found:
                found.append(d.settings.default_owner)
            return found
        return people

    def succeeded(self, d: Deliverer, row: sqlite3.Row, result: dict) -> None:
        paged = result.get("paged")
        if paged and json.loads(row["payload"]).get("why") == "opened":
            store.update_incident(d.conn, row["incident_id"], {"paged": shown(paged)})
            events.record(d.conn, events.NEWS, row["incident_id"], "slack", "dre-bot")   # the card shows who
