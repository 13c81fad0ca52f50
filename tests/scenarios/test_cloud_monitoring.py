"""Cloud Monitoring: the chart of the metric behind an alert lands in its thread, and silences snooze the alert
policy. A real `dre-bot serve` and the real google-cloud-monitoring client (gRPC, the only wire it speaks) talk to
the Cloud Monitoring emulator over loopback; alerts are the vendor's own 1.2 sample, posted as Cloud Monitoring
posts them."""
import json
import struct
import time
from datetime import datetime, timezone

import pytest

from tests.conftest import (
    FAST_DELIVERY,
    TOKEN,
    parents,
    replies,
    sample,
    settle,
    wait_for,
)
from tests.slack_requests import SlackSender

POLICY = "projects/xxxxxxxxxxxxxxxxxxxxxxxx/alertPolicies/10988491472291860640"


@pytest.fixture
def gcm():
    from sandbox.monitoring_api import MonitoringEmulator
    emulator = MonitoringEmulator()
    emulator.seed_examples()
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def gcm_bot(make_bot, gcm, workspace):
    return make_bot(FAST_DELIVERY, MONITORING_API_URL=gcm.url)


@pytest.fixture
def sender(gcm_bot, workspace):
    return SlackSender(gcm_bot.url, workspace)


def _vendor_sample() -> dict:
    return json.loads(sample("gcp_monitoring_open_v1.2.json"))


def _post(bot, doc: dict | None = None) -> None:
    """As Cloud Monitoring's webhook_tokenauth channel posts: the token in the URL."""
    body = json.dumps(doc if doc is not None else _vendor_sample())
    assert bot.post("gcp-monitoring", body, auth=None, path_suffix=f"?token={TOKEN}").status_code == 202


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _thread(slack) -> list[str]:
    card = parents(slack)[0]
    return [r["text"] for r in replies(slack, card["ts"])]


def _said(bot, slack, words: str, timeout: float = 20) -> str:
    def found():
        settle(bot)
        return next((t for t in _thread(slack) if words in t), None) if parents(slack) else None
    return wait_for(found, timeout, f"{words!r} in the thread")


def _answer(slack, token) -> str:
    return wait_for(lambda: slack.responses(token), 10, "the answer")[-1]["body"]["text"]


def test_the_chart_of_the_alert_s_metric_is_posted_in_its_thread(gcm_bot, gcm, workspace):
    doc = _vendor_sample()
    _post(gcm_bot, doc)
    wait_for(lambda: [f for f in workspace.files() if f["completed"]], 30, "the chart")
    settle(gcm_bot)
    files = workspace.files()
    assert len(files) == 1                                        # one chart, not one per try
    png = bytes(files[0]["content"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (900, 400) and len(png) > 10_000   # a drawn chart, not an empty canvas
    card = parents(workspace)[0]
    assert files[0]["thread_ts"] == card["ts"] and files[0]["filename"] == "INC-1-metric.png"
    thread = _thread(workspace)
    assert thread[0].startswith(":book:")                         # the runbook snippet first, then the chart
    assert thread[1].startswith(":chart_with_upwards_trend: *CPU utilization*") and "threshold &gt; 0.5" in thread[1]
    # The emulator was asked for the condition's own series: its filter, its aggregations, around the start.
    (call,) = gcm.requests("ListTimeSeries")
    req, started = call["request"], doc["incident"]["started_at"]
    assert call["status"] == "OK" and req["name"] == "projects/xxxxxxxxxxxxxxxxxxxxxxxx"
    assert req["filter"] == doc["incident"]["condition"]["conditionThreshold"]["filter"]
    assert req["interval"] == {"startTime": _iso(started - 6 * 3600), "endTime": _iso(started + 12 * 3600)}
    assert req["aggregation"]["perSeriesAligner"] == "ALIGN_MEAN" and req["aggregation"]["alignmentPeriod"] == "300s"
    assert req["secondaryAggregation"]["crossSeriesReducer"] == "REDUCE_MEAN" and req["view"] == "FULL"
    assert [e["kind"] for e in gcm_bot.query("SELECT kind FROM timeline")] == ["opened"]   # evidence, not story


def test_alerts_from_other_sources_get_no_chart(gcm_bot, gcm, workspace):
    assert gcm_bot.post("generic", {"title": "orders is stale", "dedup_key": "o", "labels": {"table": "a.orders"}}) \
        .status_code == 202
    settle(gcm_bot)
    assert parents(workspace) and gcm.requests() == [] and workspace.files() == []
    assert not any("chart" in t for t in _thread(workspace))


def test_permission_denied_says_which_role_is_missing_and_is_not_retried(gcm_bot, gcm, workspace):
    gcm.inject_fault("ListTimeSeries", "PERMISSION_DENIED", message="Permission monitoring.timeSeries.list denied.")
    _post(gcm_bot)
    text = _said(gcm_bot, workspace, ":warning: No chart")
    assert text.startswith(":warning: No chart of *CPU utilization*: Cloud Monitoring refused: Permission "
                           "monitoring.timeSeries.list denied.")
    assert "needs roles/monitoring.viewer on project `xxxxxxxxxxxxxxxxxxxxxxxx`" in text
    assert [r["status"] for r in gcm.requests()] == ["PERMISSION_DENIED"] and workspace.files() == []


def test_an_unavailable_api_is_retried_by_the_outbox_until_the_chart_is_posted(gcm_bot, gcm, workspace):
    gcm.inject_fault("ListTimeSeries", "UNAVAILABLE", count=2)      # what an HTTP 503 is on gRPC
    _post(gcm_bot)
    wait_for(lambda: workspace.files(), 30, "the chart, after the outage")
    settle(gcm_bot)
    assert [r["status"] for r in gcm.requests()] == ["UNAVAILABLE", "UNAVAILABLE", "OK"]
    row = gcm_bot.query("SELECT status, attempts FROM outbox WHERE kind = 'monitoring.chart'")
    assert row == [{"status": "done", "attempts": 3}]
    assert len(workspace.files()) == 1 and not any(":warning:" in t for t in _thread(workspace))


def test_a_metric_without_data_says_so(gcm_bot, gcm, workspace):
    doc = _vendor_sample()
    condition = doc["incident"]["condition"]["conditionThreshold"]
    condition["filter"] = condition["filter"].replace("choonho-test", "gone-vm")
    _post(gcm_bot, doc)
    text = _said(gcm_bot, workspace, ":warning: No chart")
    assert "Cloud Monitoring has no data for `" in text and "gone-vm" in text and "in project `xxxx" in text
    assert workspace.files() == []


def test_without_a_project_or_endpoint_the_thread_says_what_to_set(make_bot, workspace):
    bot = make_bot(FAST_DELIVERY)
    _post(bot)
    text = _said(bot, workspace, ":warning: No chart")
    assert "Cloud Monitoring is not configured: set GOOGLE_CLOUD_PROJECT and Google credentials" in text


def _snooze_of(gcm, policy=POLICY) -> dict:
    found = wait_for(lambda: [s for s in gcm.snoozes() if s["criteria"]["policies"] == [policy]], 20, "the snooze")
    assert len(found) == 1
    return found[0]


def test_silence_snoozes_the_policy_until_it_ends_and_unsilence_ends_the_snooze(gcm_bot, gcm, workspace, sender):
    _post(gcm_bot)
    settle(gcm_bot)
    _, token = sender.command("silence INC-1 2h vendor maintenance")
    answer = _answer(workspace, token)
    assert answer.startswith(":shushing_face: Silence 1 on `source=gcp-monitoring "
                             "policy=choonho-server-cpu-alert-policy-test` for 2h")
    assert f"Snoozing Cloud Monitoring policy `{POLICY}` for as long." in answer
    snooze = _snooze_of(gcm)
    silence = gcm_bot.query("SELECT * FROM silences")[0]
    assert abs(_epoch(snooze["interval"]["endTime"]) - silence["ends_at"]) < 1
    assert abs(_epoch(snooze["interval"]["startTime"]) - silence["starts_at"]) < 10
    assert snooze["name"].startswith("projects/xxxxxxxxxxxxxxxxxxxxxxxx/snoozes/")
    assert snooze["displayName"].startswith("[dre-bot silence 1] INC-1 silenced by U0ALICE01: vendor maintenance")
    assert _said(gcm_bot, workspace, ":zzz: Snoozed in Cloud Monitoring until <!date^")
    assert gcm_bot.query("SELECT snooze, incident_id FROM silences") == [{"snooze": snooze["name"], "incident_id": 1}]

    _, token = sender.command("unsilence 1")
    assert _answer(workspace, token) == "Silence 1 ended. Ending its Cloud Monitoring snooze."
    assert _said(gcm_bot, workspace, ":alarm_clock: Cloud Monitoring snooze ended")
    (update,) = gcm.requests("UpdateSnooze")
    assert update["request"]["updateMask"] == "interval.endTime"     # interval.end_time, in JSON form
    ended = _snooze_of(gcm)
    assert abs(_epoch(ended["interval"]["endTime"]) - time.time()) < 10            # snoozes end, never vanish
    assert len(gcm.requests("CreateSnooze")) == 1


def test_the_card_s_silence_modal_snoozes_for_the_duration_given(gcm_bot, gcm, workspace, sender):
    _post(gcm_bot)
    settle(gcm_bot)
    card = parents(workspace)[0]
    sender.button("incident_silence_1h", "1", channel=card["channel"], message_ts=card["ts"])
    view = wait_for(lambda: workspace.views(), what="the silence modal")[0]["view"]
    matchers = next(b["element"]["initial_value"] for b in view["blocks"] if b["block_id"] == "matchers")
    before = time.time()
    assert sender.submit_view(view, {"matchers": matchers, "duration": "90m", "reason": ""}).status_code == 200
    snooze = _snooze_of(gcm)
    assert abs(_epoch(snooze["interval"]["endTime"]) - (before + 90 * 60)) < 10
    assert _said(gcm_bot, workspace, ":zzz: Snoozed in Cloud Monitoring")


def test_a_refused_snooze_is_told_in_the_thread_and_the_silence_still_holds(gcm_bot, gcm, workspace, sender):
    _post(gcm_bot)
    settle(gcm_bot)
    gcm.inject_fault("CreateSnooze", "PERMISSION_DENIED", message="Permission monitoring.snoozes.create denied.")
    _, token = sender.command("silence INC-1 1h")
    _answer(workspace, token)
    text = _said(gcm_bot, workspace, "Could not snooze")
    assert "needs roles/monitoring.snoozeEditor on project `xxxxxxxxxxxxxxxxxxxxxxxx`" in text
    assert "Silence 1 still holds here" in text and gcm.snoozes() == []
    _, token = sender.command("unsilence 1")
    _answer(workspace, token)
    settle(gcm_bot)
    assert gcm.requests("UpdateSnooze") == [] and gcm.requests("GetSnooze") == []   # nothing was made, nothing to end


def test_silences_on_other_incidents_create_no_snooze(gcm_bot, gcm, workspace, sender):
    assert gcm_bot.post("generic", {"title": "orders is stale", "dedup_key": "o", "labels": {"table": "a.orders"}}) \
        .status_code == 202
    settle(gcm_bot)
    _, token = sender.command("silence INC-1 2h")
    answer = _answer(workspace, token)
    assert answer.startswith(":shushing_face: Silence 1 on `table=a.orders` for 2h") and "Cloud Monitoring" not in answer
    _post(gcm_bot)                                   # INC-2, from Cloud Monitoring
    settle(gcm_bot)
    _, token = sender.command("silence INC-2 table=a.orders 1h")   # set on it, but covering other alerts
    assert "Cloud Monitoring" not in _answer(workspace, token)
    settle(gcm_bot)
    assert gcm.requests("CreateSnooze") == [] and gcm.snoozes() == []
