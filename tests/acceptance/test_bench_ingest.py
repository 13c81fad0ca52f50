"""bench/ingest.py cannot rot: a short run of the whole benchmark (wrk against the bare endpoint, a real
`dre-bot serve` and a real prometheus-alertmanager; the latency phase; the one-channel storm; start-ups), and its
reading of storm summaries in Slack. Skipped when wrk or prometheus-alertmanager is not installed
(apt-get install wrk prometheus-alertmanager), except on CI (CI=true), where that fails it."""
import json
import os
import shutil
import subprocess
import sys
import time

import pytest
from slack_sdk import WebClient

from tests.alertmanager_fixture import find_binary
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import ingest  # noqa: E402 - bench/ is a directory of scripts, not a package


def _need_wrk() -> None:
    if shutil.which("wrk"):
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("CI=true but wrk is not installed (apt-get install wrk)")
    pytest.skip("wrk is not installed (apt-get install wrk)")


def test_a_quick_run_measures_every_phase_and_finds_nothing_wrong(tmp_path):
    _need_wrk()
    find_binary()
    out = tmp_path / "ingest.json"
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "ingest.py"), "--quick", "--out", str(out)],
                         capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    result = json.loads(out.read_text())
    assert result["went_wrong"] == []
    for per in ("1", "10"):
        shape = result["throughput"][f"{per}_per_request"]
        for target in ("bare", "bot", "am"):
            assert shape[target]["alerts_per_s"] > 0, (per, target, shape)
            assert shape[target]["non_2xx"] == 0, (per, target, shape)
        assert shape["all_durable"] is True
        held = result["throughput"]["per_round"][per]["bot"][0]["inbox"]
        assert held["alerts"] == held["distinct_keys"] == held["rows"] * int(per)   # every alert its own key
    lat = result["latency"]
    assert lat["cards_posted"] == lat["am_notified"] == lat["sent"] == result["args"]["latency_count"] > 0
    assert 0 < lat["alert_to_card_ms"]["p50"] < 30_000 and 0 < lat["am_alert_to_notification_ms"]["p50"] < 30_000
    storm = result["storm"]
    assert storm["noticed"] == storm["cards_posted"] == storm["incidents"] == storm["sent"] == \
        result["args"]["storm_count"] > 0
    assert storm["slack_calls_by_method"]["chat.postMessage"] >= 8
    assert result["startup"]["starts"] == result["args"]["starts"] and 0 < result["startup"]["median_s"] < 30
    assert result["bot_peak_rss_mb"] > 20
    assert "p95 ratio dre-bot / alertmanager" in run.stdout


def test_a_storm_summary_counts_as_the_first_notice_of_each_incident_it_names(slack):
    """The storm summary's contract: a message with metadata.event_type dre_storm_summary naming incidents
    (INC-<n>), posted and then edited in place; a card (dre_incident) is each incident's own message."""
    client = WebClient(token="xoxb-bench", base_url=slack.url)
    card = client.chat_postMessage(channel="#storm", text="INC-10 row count anomaly", metadata={
        "event_type": "dre_incident", "event_payload": {"incident": "INC-10"}})
    client.chat_postMessage(channel="#storm", thread_ts=card["ts"], text="INC-1 is mentioned in a reply only")
    summary = client.chat_postMessage(channel="#storm", text="Storm: 1 new incident: INC-10", metadata={
        "event_type": "dre_storm_summary", "event_payload": {"incidents": 1}})
    time.sleep(0.05)
    client.chat_update(channel=summary["channel"], ts=summary["ts"], text="Storm: 2 new incidents",
                       blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "INC-10, INC-2"}}])
    seen = ingest.slack_notices(slack)
    calls = {c["method"]: c["at"] for c in slack.calls()}
    assert set(seen["cards"]) == {"INC-10"}
    assert set(seen["summaries"]) == {"INC-10", "INC-2"}          # INC-1 is neither carded nor summarised
    assert seen["summaries"]["INC-2"] == calls["chat.update"]     # named first by the edit
    assert seen["summaries"]["INC-10"] < seen["summaries"]["INC-2"]
    assert seen["summary_calls"] == 2


def test_the_storm_notice_bench_runs_with_and_without_summaries(tmp_path):
    """bench/storm_notice.py (docs/STORMS.md's figures) reads notices with ingest.slack_notices; a short run."""
    out = tmp_path / "notice.json"
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "storm_notice.py"), "--incidents", "20", "--rate", "40",
                          "--wait", "5", "--out", str(out)], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    rows = json.loads(out.read_text())["runs"]
    with_summary, without = rows
    assert with_summary["storm_threshold"] == 5 and without["storm_threshold"] == 0
    assert without["noticed"] == without["cards_posted"] < 20          # cards alone, at Slack's pace
    assert with_summary["noticed"] > without["noticed"]                # the summary names the ones still waiting
