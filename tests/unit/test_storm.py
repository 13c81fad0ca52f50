"""Storms, without a network: who takes a channel's next turn (the outbox's urgency), what the summary shows
within Block Kit's limits, and the `[delivery] storm_threshold` key."""
from __future__ import annotations

import json

from bot import store
from bot.slack import blocks
from tests.unit.test_config import load_toml, refusal


def _incident(conn, title="Late") -> int:
    return store.add_incident(conn, group_key=title, status="triggered", title=title, severity="sev2",
                              kind="freshness", source="alertmanager", table_name=None, labels="{}", links="[]",
                              summary="", channel="#data", runbook=None, alert_count=1, opened_at=50.0,
                              updated_at=50.0, finding=None)


def _item(conn, incident_id, kind, urgency=0, due=None) -> int:
    store.add_outbox(conn, incident_id, kind, "slack", "#data", "{}", 100.0, urgency=urgency, due=due)
    return conn.execute("SELECT max(id) FROM outbox").fetchone()[0]


def test_new_cards_go_before_older_replies_and_the_summary_before_all(conn):
    old, new = _incident(conn, "old"), _incident(conn, "new")
    reply = _item(conn, old, "slack.reply")
    card = _item(conn, new, "slack.card", urgency=1)
    its_reply = _item(conn, new, "slack.reply")
    summary = _item(conn, None, "slack.storm", urgency=2)
    assert [r.id for r in store.due_outbox(conn, 200.0, [])] == [summary, card, reply]
    assert its_reply not in [r.id for r in store.due_outbox(conn, 200.0, [])]   # still behind its own card


def test_asking_for_an_incident_moves_its_card_then_its_thread_to_the_front(conn):
    first, asked = _incident(conn, "first"), _incident(conn, "asked")
    waiting = _item(conn, first, "slack.card", urgency=1)
    card = _item(conn, asked, "slack.card", urgency=1)
    thread = _item(conn, asked, "slack.reply")
    assert store.hurry_incident(conn, asked, "slack", 3) == 2
    assert [r.id for r in store.due_outbox(conn, 200.0, [])] == [card, waiting]
    store.mark_delivered(conn, card, 201.0, None, "{}")
    assert [r.id for r in store.due_outbox(conn, 202.0, [])] == [thread, waiting]


def test_one_waiting_summary_item_is_brought_forward_not_doubled(conn):
    item = _item(conn, None, "slack.storm", urgency=2, due=500.0)
    conn.execute("UPDATE outbox SET payload = ? WHERE id = ?", (json.dumps({"storm": 7}), item))
    assert store.waiting_item(conn, "#data", "slack.storm", "storm", 7).id == item
    assert store.waiting_item(conn, "#data", "slack.storm", "storm", 8) is None
    assert store.waiting_item(conn, "#other", "slack.storm", "storm", 7) is None
    store.bring_forward(conn, item, 300.0)
    store.bring_forward(conn, item, 400.0)            # never later than it was
    assert store.outbox_row(conn, item).next_at == 300.0


def _line(n, posted=False):
    return {"id": n, "severity": "sev2", "title": f"orders <late> {n} " + "x" * 200, "slack_channel": "C1",
            "slack_ts": f"1700000{n:03d}.000100" if posted else None, "labels": json.dumps({"table": f"a.t{n}"})}


def test_the_summary_lists_each_incident_within_block_kits_limits():
    lines = [_line(n, posted=n % 2 == 0) for n in range(1, 361)]
    lines[300] = {**lines[300], "severity": "sev1"}
    text, body = blocks.storm_summary(lines, waiting=180, over=False, rate=1.0)
    assert len(body) <= 50 and len(text) <= 4000
    assert "360 new incidents" in text and "INC-1, INC-2," in text and "INC-300 and 60 more" in text
    shown = "\n".join(b["text"]["text"] for b in body if b["type"] == "section")
    assert all(len(b["text"]["text"]) <= 3000 for b in body if b["type"] == "section")
    assert "<https://slack.com/archives/C1/p1700000002000100|INC-2> · :large_orange_circle: sev2 · orders &lt;late&gt; 2" in shown
    assert "\nINC-299 · " in shown and "INC-301 · " not in shown and "and 60 more" in shown
    buttons = [e for b in body if b["type"] == "actions" for e in b["elements"]]
    assert len(buttons) == blocks.STORM_BUTTONS and buttons[0]["value"] == "301"   # waiting, the most severe first
    assert all(int(e["value"]) % 2 == 1 for e in buttons)                          # posted cards have none
    text, body = blocks.storm_summary(lines[:3], waiting=0, over=True, rate=1.0)
    assert text.startswith("Alert storm over: 3 new incidents: INC-1, INC-2, INC-3")


def test_storm_threshold_is_a_whole_number_zero_turns_it_off(tmp_path):
    assert load_toml(tmp_path, "").delivery.storm_threshold == 5
    assert load_toml(tmp_path, "[delivery]\nstorm_threshold = 0\n").delivery.storm_threshold == 0
    says = refusal(tmp_path, "[delivery]\nstorm_threshold = -2\n")
    assert "storm_threshold" in says and "0 turns storm summaries off" in says
