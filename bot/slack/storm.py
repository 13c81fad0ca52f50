"""A storm in one channel stays readable: when more new incidents wait for a channel's pace than
`[delivery] storm_threshold`, ONE summary message lists them, ahead of their cards, and is edited in place as
more arrive and as each card is posted (its line becomes a link to the card). Cards then follow at the channel's
pace, or at once for the incident someone asks for (the line's button, `/dre show INC-n`). docs/STORMS.md.

Slack allows about one new message a second per channel (chat.postMessage); edits are chat.update, a Tier 3
method (50+ a minute per workspace), not counted against the channel: so the summary's first post takes the
channel's next turn, and its edits are paced on a workspace-wide key, at most one every EDIT_EVERY seconds per
storm, coalesced (one waiting edit, which renders the latest state when it goes).
https://api.slack.com/apis/rate-limits  https://docs.slack.dev/reference/methods/chat.update
Metadata on the summary (event_type "dre_storm_summary") lets a retry after a lost answer find it instead of
posting a second one. https://docs.slack.dev/messaging/message-metadata
"""
from __future__ import annotations

import json
import logging
import sqlite3
import time
from typing import Callable


from bot import service, store
from bot.config import Settings
from bot.incident import name
from bot.outbox import Deliverer
from bot.slack import blocks
from bot.slack.commands import Call, Deps, Reply, UsageError, incident_arg, verb
from bot.slack.delivery import (ASKED, CARD, LANE, SUMMARY, CardHandler, SlackHandler, call_slack,
                                channel_id_by_name, find_in_channel, looks_like_id, posted)

log = logging.getLogger("dre-bot.slack")
STORM = "slack.storm"
METADATA_EVENT = "dre_storm_summary"      # a contract: other code finds storm summaries by it
EDIT_EVERY = 2.0                          # seconds between two edits of one summary, at least
EDITS_KEY = "chat.update"                 # the pacing key of summary edits: workspace-wide, not a channel
STALE = 3                                 # quiet for this many quiet times and not closed: the storm is over


def quiet_time(settings: Settings) -> float:
    """How long a channel's queue of new cards stays empty before its storm is over: the time its pace takes to
    post `storm_threshold` cards (fewer arriving in that time never make a storm), at least 2 s."""
    d = settings.delivery
    return max(2.0, d.storm_threshold / d.channel_rate)


def note_new_card(conn: sqlite3.Connection, settings: Settings, incident_id: int, channel: str) -> None:
    """An incident's first card was just enqueued for `channel` (in the notifier's transaction): join the storm
    going on there, or start one when the channel's queue of new cards passes the threshold (and the channel's
    burst: a queue the burst posts at once is no storm)."""
    if not settings.delivery.storm_threshold:
        return
    threshold = max(settings.delivery.storm_threshold, settings.delivery.channel_burst)
    now, current = time.time(), store.open_storm(conn, channel)
    if current is not None and current.quiet_since is not None and \
            now - current.quiet_since > STALE * quiet_time(settings):
        # Quiet long past its end, yet never closed (its closing edit could not be made): over.
        store.end_storm(conn, current.id, now)
        current = None
    if current is None:
        waiting = store.waiting_first_posts(conn, channel, CARD)
        if len(waiting) <= threshold:
            return
        storm_id = store.add_storm(conn, channel, now)
        store.add_storm_incidents(conn, storm_id, waiting)
        log.info("storm in %s: %d new cards waiting; one summary lists them", channel, len(waiting))
        _enqueue(conn, storm_id, channel, now, first=True)
        return
    store.add_storm_incidents(conn, current.id, [incident_id])
    _enqueue(conn, current.id, channel, _next_edit(current, now))


def _next_edit(current, now: float) -> float:
    """When the summary may be edited next: now, or EDIT_EVERY after its last edit."""
    return max(now, (current.last_sent_at or 0.0) + EDIT_EVERY)


def _enqueue(conn: sqlite3.Connection, storm_id: int, channel: str, due: float, first: bool = False) -> None:
    """The summary's post or edit, due at `due`. Coalesced: when one is already waiting, it is brought forward
    to `due` if later, as it renders the latest state anyway."""
    waiting = store.waiting_item(conn, channel, STORM, "storm", storm_id)
    if waiting is not None:
        store.bring_forward(conn, waiting.id, due)
        return
    store.add_outbox(conn, None, STORM, LANE, channel, store.dumps({"storm": storm_id, "first": first}),
                     time.time(), urgency=SUMMARY, due=due)


def _card_settled(d: Deliverer, incident_id: int) -> None:
    """An incident's card was posted (or gave up): the summaries listing it say so; when no new card of the
    channel waits any more, the storm is quiet, and over after quiet_time."""
    now = time.time()
    for current in store.open_storms_of_incident(d.conn, incident_id):
        if not store.waiting_first_posts(d.conn, current.channel, CARD):
            store.storm_quiet(d.conn, current.id, now)
        _enqueue(d.conn, current.id, current.channel, _next_edit(current, now))


class StormCardHandler(CardHandler):
    """The card handler, telling the storm summaries when a card is out."""

    def succeeded(self, d: Deliverer, row: sqlite3.Row, result: dict) -> None:
        first_post = result.get("ts") and not store.incident(d.conn, row["incident_id"])["slack_ts"]
        super().succeeded(d, row, result)
        if first_post:
            _card_settled(d, row["incident_id"])

    def gave_up(self, d: Deliverer, row: sqlite3.Row, reason: str) -> None:
        inc = store.incident(d.conn, row["incident_id"])
        if inc is not None and not inc["slack_ts"]:
            _card_settled(d, row["incident_id"])


class SummaryHandler(SlackHandler):
    """Posts the storm summary once, then edits it in place."""

    def pace_key(self, row: sqlite3.Row) -> str:
        return row["channel"] if json.loads(row["payload"]).get("first") else EDITS_KEY

    def gave_up(self, d: Deliverer, row: sqlite3.Row, reason: str) -> None:
        """The summary cannot be posted or edited any more (deleted in Slack, say): the storm is over for it, so
        new incidents are not listed in a message nobody can see, and the next storm gets a summary of its own."""
        store.end_storm(d.conn, json.loads(row["payload"])["storm"], time.time())

    def prepare(self, d: Deliverer, row: sqlite3.Row) -> Callable[[], dict] | None:
        current = store.storm(d.conn, json.loads(row["payload"])["storm"])
        if current is None or current.ended_at is not None:
            d.done(row["id"], note="the storm is over")
            return None
        if current.slack_ts is None and store.earlier_waiting_in_channel(d.conn, row["id"], row["channel"], STORM):
            d.defer(row["id"], 0.5, "waiting for the summary's first post")   # never two summaries
            return None
        lines = [dict(line) for line in store.storm_lines(d.conn, current.id)]
        waiting = len(store.waiting_first_posts(d.conn, current.channel, CARD))
        over = not waiting and current.quiet_since is not None and \
            time.time() >= current.quiet_since + quiet_time(d.settings) - 0.05
        text, body = blocks.storm_summary(lines, waiting, over, d.settings.delivery.channel_rate)
        meta = {"event_type": METADATA_EVENT, "event_payload": {"storm": current.id, "over": over}}
        client, outcome = self.client(d), {"over": over, "listed": len(lines)}
        if current.slack_ts:
            ch, ts = current.slack_channel, current.slack_ts
            return call_slack(lambda: {**posted(client.chat_update(channel=ch, ts=ts, text=text, blocks=body,
                                                                   metadata=meta).data), **outcome})
        known = store.slack_channel_id(d.conn, current.channel)
        channel_id = known or (current.channel if looks_like_id(current.channel) else None)
        first_try, channel, storm_id = row["attempts"] == 0, current.channel, current.id
        since = current.started_at

        def post() -> dict:
            if not first_try:   # after a lost answer or a crash: find the summary before posting another
                found_in = channel_id or channel_id_by_name(client, channel)
                found = find_in_channel(client, found_in, since, METADATA_EVENT, "storm", storm_id) \
                    if found_in else None
                if found:
                    return {**found, "again": True, **outcome}
            return {**posted(client.chat_postMessage(channel=channel, text=text, blocks=body, metadata=meta,
                                                     unfurl_links=False, unfurl_media=False).data), **outcome}
        return call_slack(post)

    def succeeded(self, d: Deliverer, row: sqlite3.Row, result: dict) -> None:
        storm_id, now = json.loads(row["payload"])["storm"], time.time()
        if result.get("ts"):
            store.storm_posted(d.conn, storm_id, result.get("channel"), result["ts"])
        store.storm_sent(d.conn, storm_id, now)
        current = store.storm(d.conn, storm_id)
        if current is None or current.ended_at is not None:
            return
        if result.get("again"):   # the summary found was an older rendering: show the latest
            _enqueue(d.conn, storm_id, current.channel, now)
            return
        if current.quiet_since is None:
            return   # cards still wait: their posts bring the next edit
        if result.get("over") and result.get("listed") == len(store.storm_lines(d.conn, storm_id)):
            store.end_storm(d.conn, storm_id, now)
            log.info("storm in %s is over", current.channel)
            return
        # Every card is out: the closing edit comes after the quiet time, unless more incidents come first.
        _enqueue(d.conn, storm_id, current.channel,
                 max(current.quiet_since + quiet_time(d.settings), now + EDIT_EVERY))


@verb("show", "/dre show INC-n")
def show(deps: Deps, call: Call) -> Reply:
    """Post an incident's card now, ahead of its channel's queue (in an alert storm cards wait for Slack's pace).

    Its thread follows the card. When the card is already posted, a link to it. The storm summary's
    *Post card now* button does the same."""
    incident_id = incident_arg(call)
    conn = deps.conn()
    inc = store.incident(conn, incident_id)
    if inc is None:
        raise UsageError(service.unknown_incident(incident_id))
    if inc["slack_ts"]:
        return Reply(f"{deps.thread_link(inc['slack_channel'], inc['slack_ts'], name(incident_id))}: its card is "
                     "already posted.")
    with store.transaction(conn):
        moved = store.hurry_incident(conn, incident_id, LANE, ASKED)
    if moved:
        return Reply(f"{name(incident_id)}'s card goes out next in {inc['channel']}, then its thread.")
    if store.incident_item_waiting(conn, incident_id, CARD):
        return Reply(f"{name(incident_id)}'s card is being posted right now.")
    return Reply(f"{name(incident_id)}'s card is not waiting to be posted: it may have failed. `dre-bot outbox "
                 "--dead` shows the dead letters, and `--retry` puts one back in line.", ok=False)
