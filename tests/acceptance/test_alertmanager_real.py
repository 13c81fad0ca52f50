"""A real Prometheus Alertmanager (not a canned payload) sending its webhooks to dre-bot.

Alertmanager groups by alertname and table, so two alerts on one table arrive as two separate webhooks; dre-bot
groups by table, so they must land in one thread. Needs the binary: `apt-get install -y prometheus-alertmanager`
(skipped without it, failed without it when CI=true).
"""
import datetime as dt
import json

import pytest

from tests.alertmanager_fixture import Alertmanager, find_binary, iso, webhook_config
from tests.conftest import TOKEN, parents, replies, settle, wait_for


@pytest.fixture
def alertmanager(bot, tmp_path):
    binary = find_binary()
    am = Alertmanager(binary, tmp_path, webhook_config(bot.url, TOKEN)).start()
    yield am
    am.stop()


def _alerts(starts: dt.datetime, ends: dt.datetime) -> list[dict]:
    def one(name: str, table: str, severity: str, summary: str) -> dict:
        return {
            "labels": {"alertname": name, "table": table, "severity": severity, "team": "data"},
            "annotations": {"summary": summary},
            "startsAt": iso(starts),
            "endsAt": iso(ends),
            "generatorURL": f"http://127.0.0.1:9090/graph?g0.expr={name}",
        }
    return [
        one("BigQueryTableStale", "analytics.orders", "critical", "analytics.orders has not loaded for 3h"),
        one("BigQueryRowCountDrop", "analytics.orders", "warning", "analytics.orders row count fell 40%"),
        one("BigQueryTableStale", "analytics.customers", "warning", "analytics.customers has not loaded for 2h"),
    ]


def _delivered(bot, am, n: int):
    """Wait until Alertmanager has sent `n` webhooks and dre-bot has processed all `n` and posted to Slack."""
    def done():
        if am.webhooks_failed():
            raise AssertionError(f"Alertmanager failed to notify dre-bot:\n{am.log()[-3000:]}\n{bot.log()[-3000:]}")
        rows = bot.query("SELECT status, count(*) AS n FROM inbox GROUP BY status")
        return am.webhooks_sent() >= n and rows == [{"status": "done", "n": n}]
    wait_for(done, timeout=12, what=f"{n} Alertmanager webhooks to be processed")
    settle(bot)
    assert am.webhooks_sent() == n                    # no retries, no repeats
    return [json.loads(r["body"]) for r in bot.query("SELECT body FROM inbox ORDER BY id")]


def _cards_by_table(slack) -> dict[str, dict]:
    cards = parents(slack)
    by_table = {}
    for card in cards:
        blocks = json.dumps(card["blocks"]) + card["text"]
        tables = [t for t in ("analytics.orders", "analytics.customers") if t in blocks]
        assert len(tables) == 1, (tables, card["text"])
        by_table[tables[0]] = card
    assert len(cards) == 2 and len(by_table) == 2, [c["text"] for c in cards]
    return by_table


def _thread_count(slack, card: dict, needle: str) -> int:
    return sum(needle in r["text"] for r in replies(slack, card["ts"]))


def test_real_alertmanager_opens_one_thread_per_table_and_resolves_them(bot, slack, alertmanager):
    now = dt.datetime.now(dt.timezone.utc)
    started = now - dt.timedelta(minutes=5)
    alertmanager.push(_alerts(started, now + dt.timedelta(hours=1)))

    # three Alertmanager groups (alertname x table) -> three webhooks -> two incidents (by table)
    bodies = _delivered(bot, alertmanager, 3)
    assert all(b["version"] == "4" and b["status"] == "firing" and len(b["alerts"]) == 1 for b in bodies)
    assert all(b["alerts"][0]["fingerprint"] for b in bodies)
    cards = _cards_by_table(slack)
    assert "resolved" not in cards["analytics.orders"]["text"]
    incidents = bot.query("SELECT table_name, status, alert_count FROM incidents ORDER BY id")
    assert sorted((i["status"], i["alert_count"]) for i in incidents) == [("triggered", 1), ("triggered", 2)]
    assert len(bot.query("SELECT * FROM incident_alerts")) == 3
    # whichever of the two orders webhooks came first opened the thread; the other joined it, once
    assert _thread_count(slack, cards["analytics.orders"], "Another alert joined") == 1
    assert _thread_count(slack, cards["analytics.customers"], "Another alert joined") == 0

    # the same alerts, ended: Alertmanager sends them resolved at its next group_interval
    alertmanager.push(_alerts(started, dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))
    bodies = _delivered(bot, alertmanager, 6)[3:]
    assert all(b["status"] == "resolved" for b in bodies)
    cards = _cards_by_table(slack)                    # still the same two threads, nothing new
    for table, card in cards.items():
        assert "resolved" in card["text"], (table, card["text"])
        assert card["edits"] >= 1
        assert _thread_count(slack, card, "*Resolved*") == 1, [r["text"] for r in replies(slack, card["ts"])]
    assert bot.query("SELECT status FROM incidents") == [{"status": "resolved"}, {"status": "resolved"}]
