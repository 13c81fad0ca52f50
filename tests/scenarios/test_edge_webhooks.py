"""Bad webhook input never gets a 5xx and never sinks good alerts: one bad alert in a batch, impossible times,
lone surrogates, huge numbers, deep nesting, malformed PagerDuty v3 fields, replayed PagerDuty events, and links
with schemes other than http(s)."""
import hashlib
import hmac
import json

import httpx

from tests.conftest import MC_SECRET, PD_CONFIG, PD_SECRET, mc_signature, parents, replies, sample, settle, wait_for


def _titles(bot) -> set[str]:
    return {r["title"] for r in bot.query("SELECT title FROM incidents")}


def test_one_bad_alert_does_not_sink_its_batch(bot):
    doc = json.loads(sample("alertmanager_webhook_firing.json"))
    good = doc["alerts"][0]
    pending = {**good, "status": "pending", "labels": {**good["labels"], "alertname": "Pending one"}}
    odd = {**good, "startsAt": "+1e30", "endsAt": 1e30, "fingerprint": "odd",
           "labels": {**good["labels"], "alertname": "Odd \ud800 one", "table": "analytics.odd", "big": 10 ** 40},
           "annotations": {"summary": "lone \udfff surrogate"}}
    doc["alerts"] = [good, pending, "not an alert", odd]
    body = json.dumps(doc).encode()          # ensure_ascii: the surrogates travel as \ud800 escapes
    assert bot.post("alertmanager", body).status_code == 202
    settle(bot)
    status = bot.query("SELECT status, alerts FROM inbox_status")
    assert status == [{"status": "done", "alerts": 2}], status
    assert len(bot.query("SELECT id FROM incidents")) == 2
    assert any("\ufffd" in t for t in _titles(bot))
    assert "skipped alerts[1]" in bot.log() and "Traceback" not in bot.log()


def test_impossible_times_and_numbers_are_dropped_not_the_alert(bot):
    doc = json.loads(sample("gcp_monitoring_open_v1.2.json"))
    doc["incident"].update(started_at=1e30, ended_at=-5, incident_id=10 ** 30)
    assert bot.post("gcp-monitoring", doc).status_code == 202
    generic = {"title": "times \ud800", "started_at": "not a time", "ended_at": "9999-99-99", "labels": {"n": 2 ** 80}}
    assert bot.post("generic", json.dumps(generic).encode()).status_code == 202
    settle(bot)
    assert [r["status"] for r in bot.query("SELECT status FROM inbox_status")] == ["done", "done"]
    assert len(_titles(bot)) == 2
    assert "Traceback" not in bot.log()


def test_deep_nesting_is_400_after_authentication_and_401_before(bot):
    deep = b'{"title": "deep", "labels": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    resp = bot.post("generic", deep)
    assert resp.status_code == 400 and "nested" in resp.json()["message"]
    assert bot.post("generic", deep, auth=None).status_code == 401
    # Monte Carlo signs a form of the parsed body: the unauthenticated deep body must not reach a parser's stack.
    mc_deep = b'{"type": "x", "payload": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    resp = bot.post("montecarlo", mc_deep, auth=None, headers={"x-mcd-signature": "00" * 64})
    assert resp.status_code == 401
    medium = {"type": "x", "payload": {"incident_id": "1", "nest": json.loads("[" * 80 + "]" * 80)}}
    body = json.dumps(medium).encode()
    resp = bot.post("montecarlo", body, auth=None, headers={"x-mcd-signature": mc_signature(MC_SECRET, body)})
    assert resp.status_code == 400, resp.text
    assert "Traceback" not in bot.log()


def _pd_post(bot, doc: dict | bytes, webhook_id: str) -> httpx.Response:
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    sig = "v1=" + hmac.new(PD_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return bot.post("pagerduty", body, auth=None, headers={"X-PagerDuty-Signature": sig, "X-Webhook-Id": webhook_id})


def test_malformed_pagerduty_fields_are_422_naming_the_field(make_bot):
    bot = make_bot(PAGERDUTY_WEBHOOK_SECRET=PD_SECRET)
    base = json.loads(sample("pagerduty_v3_incident_priority_updated.json"))
    cases = [
        (lambda d: d["event"].__setitem__("data", "PGR0VU2"), "event.data"),
        (lambda d: d["event"]["data"].__setitem__("id", 10 ** 30), "event.data.id"),
        (lambda d: d["event"]["data"].__setitem__("service", "PF9KMXH"), "event.data.service"),
        (lambda d: d["event"]["data"].__setitem__("assignees", "nobody"), "event.data.assignees"),
        (lambda d: d["event"]["data"].__setitem__("priority", ["P1"]), "event.data.priority"),
        (lambda d: d["event"].__setitem__("agent", 7), "event.agent"),
        (lambda d: d["event"].__setitem__("id", {"x": 1}), "event.id"),
    ]
    for i, (mutate, field) in enumerate(cases):
        doc = json.loads(json.dumps(base))
        mutate(doc)
        resp = _pd_post(bot, doc, f"bad-{i}")
        assert resp.status_code == 422, (field, resp.text)
        assert field in resp.json()["message"], (field, resp.text)
    assert "Traceback" not in bot.log()


def test_a_replayed_pagerduty_event_with_a_new_webhook_id_is_applied_once(make_bot, slack):
    bot = make_bot(PD_CONFIG, PAGERDUTY_WEBHOOK_SECRET=PD_SECRET)
    trigger = json.loads(sample("pagerduty_v3_incident_priority_updated.json"))
    trigger["event"].update(id="trigger-1", event_type="incident.triggered")
    trigger["event"]["data"]["service"]["id"] = "PSVC0002"           # a mirrored service: a thread is opened
    assert _pd_post(bot, trigger, "w-1").status_code == 202
    settle(bot)
    card = wait_for(lambda: parents(slack), 10, "the mirrored incident's card")[0]
    priority = sample("pagerduty_v3_incident_priority_updated.json")
    assert _pd_post(bot, priority, "w-2").status_code == 202
    assert _pd_post(bot, priority, "w-3-replayed").status_code == 202     # same signed body, new header
    assert _pd_post(bot, priority, "w-2").status_code == 202              # an ordinary retry
    settle(bot)
    news = [m for m in replies(slack, card["ts"]) if "Priority" in m["text"]]
    assert len(news) == 1, news


def test_only_http_links_become_slack_links(bot, slack):
    doc = {"title": "links", "links": ["javascript:alert(1)", {"text": "data", "url": "data:text/html,<b>x</b>"},
                                       {"text": "Dashboard", "url": "https://grafana.example/d/1"},
                                       "JAVASCRIPT://x.example/%0aalert(1)", "vbscript:msgbox"]}
    assert bot.post("generic", doc).status_code == 202
    am = json.loads(sample("alertmanager_webhook_firing.json"))
    am["alerts"] = am["alerts"][:1]
    am["alerts"][0]["generatorURL"] = "javascript:alert(document.cookie)"
    am["externalURL"] = "data:text/html;base64,PHNjcmlwdD4="
    assert bot.post("alertmanager", am).status_code == 202
    settle(bot)
    stored = [json.loads(r["links"]) for r in bot.query("SELECT links FROM incidents ORDER BY id")]
    assert stored[0] == [{"text": "Dashboard", "url": "https://grafana.example/d/1"}]
    assert all(link["url"].startswith(("http://", "https://")) for links in stored for link in links)
    sent = json.dumps(slack.messages()).lower()
    assert "javascript:" not in sent and "data:text" not in sent and "vbscript:" not in sent
