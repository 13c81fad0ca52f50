"""Dedup, grouping, silences and reopening, scripted as Alertmanager's acceptance tests are:
post these alerts, then expect exactly these Slack messages and no more."""
import json

from tests.conftest import FAST_DELIVERY, parents, replies, sample, settle


def _alert(table, name="RowCountDrop", status="firing", fingerprint=None, severity="warning"):
    labels = {"alertname": name, "severity": severity, "table": table}
    item = {"status": status, "labels": labels, "annotations": {"summary": f"{name} on {table}"},
            "startsAt": "2026-11-26T06:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph"}
    if fingerprint:
        item["fingerprint"] = fingerprint
    return {"version": "4", "status": status, "receiver": "dre-bot", "groupLabels": {}, "commonLabels": {},
            "commonAnnotations": {}, "externalURL": "http://am:9093", "groupKey": "{}:{}", "alerts": [item]}


def test_repeats_dedupe_into_the_count_without_new_replies(bot, slack):
    for _ in range(5):
        assert bot.post("alertmanager", _alert("analytics.orders", fingerprint="f1")).status_code == 202
    settle(bot)
    cards = parents(slack)
    assert len(cards) == 1
    assert len(replies(slack, cards[0]["ts"])) == 1          # the snippet only: no reply per repeat
    assert "*Alerts*\\n5" in json.dumps(cards[0]["blocks"])
    assert bot.query("SELECT alert_count FROM incidents") == [{"alert_count": 5}]


def test_alerts_on_the_same_table_group_into_one_incident(bot, slack):
    bot.post("alertmanager", _alert("analytics.orders", "RowCountDrop", fingerprint="a"))
    settle(bot)
    bot.post("montecarlo", sample("montecarlo_freshness.json"), auth="mc")                 # another table
    bot.post("alertmanager", _alert("analytics.orders", "NullRateHigh", fingerprint="b", severity="critical"))
    settle(bot)
    cards = parents(slack)
    assert len(cards) == 2
    orders = next(c for c in cards if "RowCountDrop" in c["text"])
    thread = replies(slack, orders["ts"])
    assert len(thread) == 3 and "NullRateHigh" in thread[1]["text"]      # a line saying another alert joined
    assert "Severity raised: paging the owners again" in thread[2]["text"]  # and the owners paged again
    assert "sev1" in orders["text"]                                       # severity raised to the worst
    rows = bot.query("SELECT incident_id, count(*) AS n FROM incident_alerts GROUP BY incident_id ORDER BY incident_id")
    assert [r["n"] for r in rows] == [2, 1]


def test_grouping_key_is_configurable(make_bot, slack):
    bot = make_bot(FAST_DELIVERY + '\n[grouping]\nkeys = ["pipeline", "table"]\n')
    a = _alert("analytics.orders", fingerprint="a")
    b = _alert("analytics.customers", fingerprint="b")
    for doc in (a, b):
        doc["alerts"][0]["labels"]["pipeline"] = "nightly_load"
        bot.post("alertmanager", doc)
    settle(bot)
    assert len(parents(slack)) == 1


def test_a_silence_suppresses_matching_alerts_and_records_them(bot, slack):
    out = bot.cli("silence", "add", "table=analytics.ord*", "source=alertmanager", "--for", "1h",
                  "--reason", "backfill running")
    assert out.returncode == 0, out.stderr
    bot.post("alertmanager", _alert("analytics.orders", fingerprint="s1"))
    bot.post("alertmanager", _alert("analytics.customers", fingerprint="s2"))
    settle(bot)
    cards = parents(slack)
    assert len(cards) == 1 and "analytics.customers" in json.dumps(cards[0]["blocks"])
    assert bot.query("SELECT fingerprint FROM suppressed") == [{"fingerprint": "am:s1"}]
    assert "analytics.ord*" in bot.cli("silence", "list").stdout


def test_bad_silence_matcher_or_duration_says_what_to_type(bot):
    out = bot.cli("silence", "add", "table", "--for", "1h")
    assert out.returncode != 0 and "label=glob" in out.stderr.lower()
    out = bot.cli("silence", "add", "table=x", "--for", "soon")
    assert out.returncode != 0 and "90m" in out.stderr


def test_firing_again_within_the_reopen_window_reopens_the_same_thread(bot, slack):
    bot.post("alertmanager", _alert("analytics.orders", fingerprint="r1"))
    settle(bot)
    bot.post("alertmanager", _alert("analytics.orders", status="resolved", fingerprint="r1"))
    settle(bot)
    bot.post("alertmanager", _alert("analytics.orders", fingerprint="r1"))
    settle(bot)
    cards = parents(slack)
    assert len(cards) == 1 and "reopened" in cards[0]["text"]
    texts = [r["text"] for r in replies(slack, cards[0]["ts"])]
    assert len(texts) == 3 and "Resolved" in texts[1] and "Reopened" in texts[2]
    statuses = [t["text"] for t in bot.query("SELECT text FROM timeline WHERE kind = 'status' ORDER BY id")]
    assert statuses[0].startswith("Resolved") and statuses[1].startswith("Reopened")


def test_outside_the_reopen_window_a_new_incident_opens(make_bot, slack):
    bot = make_bot(FAST_DELIVERY + '\n[incidents]\nreopen_window = "0s"\n')
    bot.post("alertmanager", _alert("analytics.orders", fingerprint="n1"))
    settle(bot)
    bot.post("alertmanager", _alert("analytics.orders", status="resolved", fingerprint="n1"))
    settle(bot)
    bot.post("alertmanager", _alert("analytics.orders", fingerprint="n1"))
    settle(bot)
    assert len(parents(slack)) == 2


def test_incident_resolves_only_when_all_its_alerts_resolved(bot, slack):
    bot.post("alertmanager", _alert("analytics.orders", "A", fingerprint="x1"))
    bot.post("alertmanager", _alert("analytics.orders", "B", fingerprint="x2"))
    settle(bot)
    bot.post("alertmanager", _alert("analytics.orders", "A", status="resolved", fingerprint="x1"))
    settle(bot)
    assert bot.query("SELECT status FROM incidents") == [{"status": "triggered"}]
    bot.post("alertmanager", _alert("analytics.orders", "B", status="resolved", fingerprint="x2"))
    settle(bot)
    assert bot.query("SELECT status FROM incidents") == [{"status": "resolved"}]


def test_routes_pick_the_channel_by_labels(make_bot, slack):
    bot = make_bot(FAST_DELIVERY + '\n[[routes]]\nmatch = { table = "finance.*" }\nchannel = "#finance-data"\n')
    bot.post("alertmanager", _alert("finance.invoices", fingerprint="c1"))
    bot.post("alertmanager", _alert("analytics.orders", fingerprint="c2"))
    settle(bot)
    assert len(parents(slack, "#finance-data")) == 1
    assert len(parents(slack, "#data-incidents")) == 1
