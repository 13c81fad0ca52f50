"""Each sender's open and close gives exactly one thread whose card is updated in place."""
import json

from tests.conftest import parents, replies, sample, settle


def _only_thread(slack):
    cards = parents(slack)
    assert len(cards) == 1, [c["text"] for c in cards]
    return cards[0]


def test_alertmanager_firing_then_resolved_is_one_thread(bot, slack):
    assert bot.post("alertmanager", sample("alertmanager_webhook_firing.json")).status_code == 202
    settle(bot)
    card = _only_thread(slack)
    assert "INC-1" in card["text"] and "Fire" in card["text"]
    assert json.dumps(card["blocks"]).count("incident_ack") == 1
    assert card["metadata"] is None or card["metadata"]["event_type"] == "dre_incident"
    thread = replies(slack, card["ts"])
    assert len(thread) == 1 and "runbook" in thread[0]["text"].lower()   # the snippet, and nothing else

    assert bot.post("alertmanager", sample("alertmanager_webhook_resolved.json")).status_code == 202
    settle(bot)
    card = _only_thread(slack)
    assert card["edits"] >= 1 and "resolved" in card["text"]
    assert "incident_ack" not in json.dumps(card["blocks"])        # no buttons on a resolved card
    thread = replies(slack, card["ts"])
    assert len(thread) == 2 and "Resolved" in thread[1]["text"]
    status = bot.query("SELECT status, alert_count FROM incidents")
    assert status == [{"status": "resolved", "alert_count": 1}]
    kinds = [t["kind"] for t in bot.query("SELECT kind FROM timeline ORDER BY id")]
    assert kinds == ["opened", "status"]


def test_gcp_monitoring_open_and_close(bot, slack):
    doc = json.loads(sample("gcp_monitoring_open_v1.2.json"))
    assert bot.post("gcp-monitoring", json.dumps(doc), auth=None, path_suffix="?token=test-webhook-token") \
        .status_code == 202
    settle(bot)
    card = _only_thread(slack)
    assert "choonho-server-cpu-alert-policy-test" in card["text"]
    doc["incident"]["state"] = "closed"
    doc["incident"]["ended_at"] = doc["incident"]["started_at"] + 600
    assert bot.post("gcp-monitoring", json.dumps(doc), auth="basic").status_code == 202
    settle(bot)
    card = _only_thread(slack)
    assert "resolved" in card["text"] and card["edits"] >= 1


def test_gcp_console_test_notification_opens_a_thread(bot, slack):
    assert bot.post("gcp-monitoring", sample("gcp_monitoring_test.json")).status_code == 202
    settle(bot)
    assert "Test Incident" in json.dumps(_only_thread(slack)["blocks"])


def test_montecarlo_signed_sample_opens_a_thread(bot, slack):
    assert bot.post("montecarlo", sample("montecarlo_custom_rule_incident.json"), auth="mc").status_code == 202
    settle(bot)
    card = _only_thread(slack)
    assert "Monte Carlo" in card["text"]
    assert "getmontecarlo.com/incidents/f83867b6" in json.dumps(card["blocks"])


def test_freshness_alert_gets_the_freshness_runbook_snippet(bot, slack):
    assert bot.post("gcp-monitoring", sample("gcp_monitoring_freshness.json")).status_code == 202
    settle(bot)
    card = _only_thread(slack)
    snippet = replies(slack, card["ts"])[0]["text"]
    assert "Table freshness breach" in snippet and "Triage" in snippet
    assert "dre-sandbox.analytics.orders" in snippet        # rendered with the alert's table
    assert bot.query("SELECT runbook FROM incidents")[0]["runbook"] == "table-freshness.md"


def test_alertmanager_batch_with_firing_and_resolved(bot, slack):
    assert bot.post("alertmanager", sample("alertmanager_volume.json")).status_code == 202
    settle(bot)
    # the firing alert opens a thread; the resolved one has nothing open to resolve
    card = _only_thread(slack)
    assert "analytics.events" in json.dumps(card["blocks"])
    assert bot.query("SELECT status, alerts FROM inbox") == [{"status": "done", "alerts": 2}]


def test_generic_webhook_open_and_resolve(bot, slack):
    doc = json.loads(sample("generic_job_failure.json"))
    assert bot.post("generic", doc).status_code == 202
    settle(bot)
    card = _only_thread(slack)
    snippet = replies(slack, card["ts"])[0]["text"]
    assert "Pipeline job failure" in snippet
    doc["status"] = "resolved"
    assert bot.post("generic", doc).status_code == 202
    settle(bot)
    assert "resolved" in _only_thread(slack)["text"]


def test_incident_numbers_are_stable_across_restarts(make_bot, slack):
    bot = make_bot()
    bot.post("generic", {"title": "first", "dedup_key": "a"})
    settle(bot)
    bot.stop()
    bot.start()
    bot.post("generic", {"title": "second", "dedup_key": "b", "labels": {"table": "x.y"}})
    settle(bot)
    names = sorted(p["text"].split(" ")[0] for p in parents(slack))
    assert names == ["INC-1", "INC-2"]
