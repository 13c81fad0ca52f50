"""The outbox's store functions on a real, migrated SQLite file: what the deliverer picks, and how each outcome
lands in the row."""
from __future__ import annotations

import json

from bot import store


def _item(conn, incident_id, kind="slack.card", lane="slack", channel="#data", at=100.0, payload=None) -> int:
    store.add_outbox(conn, incident_id, kind, lane, channel, json.dumps(payload or {}), at)
    return conn.execute("SELECT max(id) FROM outbox").fetchone()[0]


def _incident(conn) -> int:
    return store.add_incident(conn, group_key="k", status="triggered", title="Late", severity="sev2", kind="freshness",
                              source="alertmanager", table_name=None, labels="{}", links="[]", summary="",
                              channel="#data", runbook=None, alert_count=1, opened_at=50.0, updated_at=50.0,
                              finding=None)


def test_only_the_first_waiting_item_of_an_incident_and_lane_is_due(conn):
    inc = _incident(conn)
    card = _item(conn, inc)
    reply = _item(conn, inc, kind="slack.reply")
    page = _item(conn, inc, kind="pagerduty.trigger", lane="pagerduty", channel="pagerduty")
    loose = _item(conn, None, kind="slack.message")
    later = _item(conn, None, kind="slack.message", at=500.0)
    assert [r.id for r in store.due_outbox(conn, 200.0, [])] == [card, page, loose]
    assert [r.id for r in store.due_outbox(conn, 200.0, ["pagerduty"])] == [card, loose]
    assert store.next_due_after(conn, 200.0) == 500.0 and later
    store.mark_inflight(conn, card)
    assert reply not in [r.id for r in store.due_outbox(conn, 200.0, [])]   # behind its card, even in flight
    store.mark_delivered(conn, card, 210.0, None, json.dumps({"ts": "1.2"}))
    assert [r.id for r in store.due_outbox(conn, 300.0, [])] == [reply, page, loose]


def test_a_storm_of_cards_in_one_channel_never_hides_a_page_or_another_channels_reply(conn):
    page = _item(conn, None, kind="pagerduty.trigger", lane="pagerduty", channel="pagerduty")
    for _ in range(300):   # a storm's first cards, more urgent, all waiting for #data's pace
        store.add_outbox(conn, _incident(conn), "slack.card", "slack", "#data", "{}", 100.0, urgency=1)
    other = _item(conn, None, kind="slack.message", channel="#other")
    due = store.due_outbox(conn, 200.0, [], limit=200)
    assert len(due) == 200
    assert page in [r.id for r in due[:3]] and other in [r.id for r in due[:3]]
    cards = [r for r in due if r.kind == "slack.card"]
    assert cards == sorted(cards, key=lambda r: r.id)   # the channel's own queue keeps its order


def test_an_outbox_row_is_a_record_with_every_column(conn):
    outbox_id = _item(conn, None, payload={"text": "hi"})
    row = store.outbox_row(conn, outbox_id)
    columns = [r["name"] for r in conn.execute("PRAGMA table_info(outbox)")]
    assert sorted(row.keys()) == sorted(columns)
    assert (row.status, row.attempts, row.next_at, row.lane) == ("pending", 0, 100.0, "slack")
    assert json.loads(row["payload"]) == {"text": "hi"} and dict(row)["kind"] == "slack.card"
    assert store.outbox_row(conn, outbox_id + 1) is None


def test_each_outcome_lands_in_the_row(conn):
    outbox_id = _item(conn, None)
    store.mark_inflight(conn, outbox_id)
    store.mark_inflight(conn, outbox_id)
    assert (store.outbox_row(conn, outbox_id).status, store.outbox_row(conn, outbox_id).attempts) == ("inflight", 2)
    store.rate_limited(conn, outbox_id, 130.0, "ratelimited")
    row = store.outbox_row(conn, outbox_id)
    assert (row.status, row.attempts, row.next_at, row.last_error) == ("pending", 1, 130.0, "ratelimited")
    store.retry_later(conn, outbox_id, 140.0, "timeout")
    store.defer_outbox(conn, outbox_id, 150.0, "waiting")
    row = store.outbox_row(conn, outbox_id)
    assert (row.status, row.attempts, row.next_at, row.last_error) == ("pending", 1, 150.0, "waiting")
    store.mark_dead(conn, outbox_id, "gave up")
    assert store.outbox_row(conn, outbox_id).status == "dead"
    assert store.revive_dead(conn, 160.0, outbox_id + 99) == 0
    assert store.revive_dead(conn, 160.0, outbox_id) == 1
    row = store.outbox_row(conn, outbox_id)
    assert (row.status, row.attempts, row.next_at) == ("pending", 0, 160.0)
    store.mark_inflight(conn, outbox_id)
    store.requeue_inflight(conn)
    assert store.outbox_row(conn, outbox_id).status == "pending"
    store.mark_delivered(conn, outbox_id, 170.0, "already there", "{}")
    row = store.outbox_row(conn, outbox_id)
    assert (row.status, row.delivered_at, row.last_error, row.result) == ("done", 170.0, "already there", "{}")


def test_reviving_every_dead_letter_counts_them(conn):
    ids = [_item(conn, None) for _ in range(3)]
    for outbox_id in ids[:2]:
        store.mark_dead(conn, outbox_id, "no")
    assert store.revive_dead(conn, 200.0) == 2
    assert store.revive_dead(conn, 200.0) == 0


def test_what_is_still_on_its_way(conn):
    inc = _incident(conn)
    card = _item(conn, inc)
    assert store.untried_last_in_lane(conn, inc, "slack.card", "slack")
    assert store.incident_item_waiting(conn, inc, "slack.card")
    store.mark_inflight(conn, card)
    assert not store.untried_last_in_lane(conn, inc, "slack.card", "slack")   # tried: a refresh must follow
    assert store.incident_item_waiting(conn, inc, "slack.card")
    reply = _item(conn, inc, kind="slack.reply")
    assert not store.untried_last_in_lane(conn, inc, "slack.reply", "pagerduty")
    assert store.untried_last_in_lane(conn, inc, "slack.reply", "slack") and reply
    store.mark_delivered(conn, card, 1.0, None, "{}")
    assert not store.incident_item_waiting(conn, inc, "slack.card")

    text = _item(conn, None, kind="slack.message", channel="#reports")
    chart = _item(conn, None, kind="slack.chart", channel="#reports")
    assert store.earlier_waiting_in_channel(conn, chart, "#reports", "slack.message")
    assert not store.earlier_waiting_in_channel(conn, chart, "#other", "slack.message")
    assert not store.earlier_waiting_in_channel(conn, text, "#reports", "slack.message")
    store.mark_delivered(conn, text, 1.0, None, "{}")
    assert not store.earlier_waiting_in_channel(conn, chart, "#reports", "slack.message")
