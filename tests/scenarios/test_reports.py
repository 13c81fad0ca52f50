"""Stats, the weekly report and /metrics on a known data set, played out with the scripted clock: every incident
opens, is acknowledged and resolved at a set time, so MTTA, MTTR and the rest have exact expected values."""
import json
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

from tests.conftest import ALICE, FAST_DELIVERY, move_clock, settle, wait_for
from tests.slack_requests import SlackSender

HOUR, DAY, MINUTE = 3600.0, 86400.0, 60.0
SAMPLES = Path(__file__).resolve().parents[1] / "fixtures"


def answer(slack, token) -> str:
    return wait_for(lambda: slack.responses(token), 10, "the command's answer")[-1]["body"]["text"]


class Script:
    """Drive one bot through time: `at(t)` moves its clock, then the helpers act at that moment."""

    def __init__(self, bot, slack):
        self.bot, self.slack, self.sender = bot, slack, SlackSender(bot.url, slack)

    def at(self, when: float) -> "Script":
        move_clock(self.bot, when)
        return self

    def alert(self, title: str, table: str, status: str = "firing") -> None:
        r = self.bot.post("generic", {"title": title, "dedup_key": f"{table}:{title}", "status": status,
                                      "severity": "sev3", "labels": {"table": table}})
        assert r.status_code == 202
        settle(self.bot)

    def command(self, text: str) -> str:
        _, token = self.sender.command(text, user=ALICE, channel="C0DATAINC1")
        return answer(self.slack, token)

    def incident(self, opened: float, title: str, table: str, ack_after: float | None = None,
                 resolve_after: float | None = None, cause: str = "upstream_delay") -> int:
        """One incident from a webhook at `opened`, acknowledged and resolved after the given seconds."""
        self.at(opened).alert(title, table)
        number = self.bot.query("SELECT max(id) AS n FROM incidents")[0]["n"]
        if ack_after is not None:
            assert "acknowledged" in self.at(opened + ack_after).command(f"ack INC-{number}")
        if resolve_after is not None:
            assert "resolved" in self.at(opened + resolve_after).command(f"resolve INC-{number} cause={cause}")
        return number


@pytest.fixture
def base():
    """Midnight UTC three days from now: the known data set runs over the two weeks after it."""
    return (int(time.time() // DAY) + 3) * DAY


@pytest.fixture
def script(make_bot, workspace, base):
    report_day = datetime.fromtimestamp(base + 14 * DAY, tz=timezone.utc).strftime("%A").lower()
    bot = make_bot(FAST_DELIVERY + f'\n[reports]\nweekly_day = "{report_day}"\nweekly_time = "09:00"\n'
                   '\n[handoff]\ntick = "0.2s"\n', DRE_SCRIPTED_CLOCK="1")
    s = Script(bot, workspace)
    # The week before: two incidents, MTTA 10m and 30m, MTTR 1h and 3h.
    s.incident(base + 10 * HOUR, "orders late", "analytics.orders", 10 * MINUTE, HOUR)
    s.incident(base + DAY + 10 * HOUR, "orders late again", "analytics.orders", 30 * MINUTE, 3 * HOUR,
               cause="false_positive")
    # The week reported on.
    week = base + 7 * DAY + 10 * HOUR
    s.incident(week, "orders stale", "analytics.orders", 2 * MINUTE, 20 * MINUTE, cause="false_positive")
    s.incident(week + DAY, "orders short", "analytics.orders", 6 * MINUTE, HOUR)
    s.incident(week + 2 * DAY, "users schema changed", "analytics.users", 4 * MINUTE, 40 * MINUTE,
               cause="code_change")
    s.at(week + 3 * DAY)
    fire = json.loads((SAMPLES / "alertmanager_webhook_firing.json").read_text())
    assert bot.post("alertmanager", fire).status_code == 202              # open at the end, from another source
    settle(bot)
    s.at(week + 4 * DAY).alert("orders distribution odd", "analytics.orders")
    s.at(week + 4 * DAY + 15 * MINUTE).alert("orders distribution odd", "analytics.orders", status="resolved")
    s.at(week + 5 * DAY)
    assert "Silence" in s.command("silence table=analytics.events 2h migration")
    for i in range(3):
        s.alert(f"events odd {i}", "analytics.events")
    return s


def test_stats_weekly_report_and_metrics_compute_the_known_figures(script, base):
    s, slack = script, script.slack
    report_at = base + 14 * DAY + 9 * HOUR
    s.at(report_at - HOUR)
    # The data set spans two earlier report days, whose reports came while it was played: the second one was on
    # the week before.
    weekly = [m for m in slack.messages() if "Weekly reliability report" in m["text"]]
    assert len(weekly) == 2 and "*Incidents*: 2 (week before: 0)" in weekly[1]["text"]

    # /dre stats over the same seven days as the report: the last 7 days before 09:00 on report day.
    s.at(report_at)
    text = s.command("stats 7d")
    assert "*Incidents*: 5 · 4 resolved · 1 still open · 1 cleared on their own" in text, text
    assert "*MTTA*: median 4m · p90 6m" in text            # 2m, 4m, 6m (the unattended one has none)
    assert "*MTTR*: median 30m · p90 1h" in text           # 15m, 20m, 40m, 1h
    assert "*False positives*: 33% (1 of 3 resolved with a cause)" in text
    assert "*Silenced*: 3 alerts held by silences" in text
    assert "*Top tables*: `analytics.orders` 3, `analytics.users` 1" in text
    assert "*Top sources*: generic 4, alertmanager 1" in text
    chart = wait_for(lambda: [f for f in slack.files() if f["title"] == "Incidents, last 7d" and f["completed"]],
                     10, "the stats chart")
    assert chart[0]["channel"] == "C0DATAINC1"
    content = chart[0]["content"]
    assert (content if isinstance(content, bytes) else content.encode("latin-1"))[:8] == b"\x89PNG\r\n\x1a\n"

    assert "*Incidents*: 4 · 4 resolved" in s.command("stats 7d source=generic")
    text = s.command("stats 7d table=analytics.orders")
    assert "*Incidents*: 3 · 3 resolved · 0 still open · 1 cleared on their own" in text
    assert "*MTTA*: median 4m · p90 6m" in text and "*MTTR*: median 20m · p90 1h" in text
    assert "is not a duration" in s.command("stats lately")
    assert "between 1h and 366d" in s.command("stats 400d")
    text = s.command("stats 30d")
    assert "*Incidents*: 7" in text                        # both weeks

    # The weekly report, at its time, once: this week against the week before.
    s.at(report_at + 1)
    report = wait_for(lambda: [m for m in slack.messages() if "Weekly reliability report" in m["text"]][2:], 10,
                      "the weekly report")
    text = report[0]["text"]
    assert "*Incidents*: 5 (week before: 2)" in text
    assert "*MTTA*: median 4m (↓ better from 20m)" in text and "*MTTR*: median 30m (↓ better from 2h)" in text
    wait_for(lambda: len([f for f in slack.files() if f["title"] == "Incidents and MTTR, last 7 days"]) == 3, 10,
             "the weekly chart")
    s.at(report_at + 2 * HOUR)
    assert len([m for m in slack.messages() if "Weekly reliability report" in m["text"]]) == 3

    # /metrics: the same figures for Prometheus.
    metrics = httpx.get(f"{s.bot.url}/metrics", timeout=5).text
    assert 'dre_incidents_opened_total{source="generic"} 6' in metrics
    assert 'dre_incidents_opened_total{source="alertmanager"} 1' in metrics
    assert "dre_incident_resolutions_total 6" in metrics
    assert 'dre_incidents_resolved{cause="false_positive"} 2' in metrics
    assert 'dre_incidents_resolved{cause="none"} 1' in metrics
    assert 'dre_incidents_open{status="triggered"} 1' in metrics
    assert "dre_alerts_silenced_total 3" in metrics
    # MTTA and MTTR over incidents opened in the 7 days before now (report_at + 2h): the week's first is out.
    assert 'dre_mtta_seconds{quantile="0.5"} 300' in metrics       # 4m, 6m
    assert 'dre_mttr_seconds{quantile="0.5"} 2400' in metrics      # 15m, 40m, 1h
    assert 'dre_mttr_seconds{quantile="0.9"} 3600' in metrics
    assert "e+0" not in metrics


def test_metrics_parse_as_prometheus_text(script):
    from prometheus_client.parser import text_string_to_metric_families
    families = {f.name: f for f in text_string_to_metric_families(
        httpx.get(f"{script.bot.url}/metrics", timeout=5).text)}
    assert families["dre_mtta_seconds"].type == "gauge"
    assert families["dre_incidents_opened"].type == "counter"
    assert families["dre_incident_resolutions"].type == "counter"


def test_a_reopened_incident_keeps_its_first_response_and_loses_its_old_cause(make_bot, workspace, base):
    bot = make_bot(FAST_DELIVERY + '\n[handoff]\ntick = "0.2s"\n', DRE_SCRIPTED_CLOCK="1")
    s = Script(bot, workspace)
    s.at(base).alert("orders stale", "analytics.orders")
    assert "resolved" in s.at(base + 10 * MINUTE).command("resolve INC-1 cause=false_positive")
    s.at(base + HOUR).alert("orders stale", "analytics.orders")            # fires again: reopened
    assert bot.query("SELECT status, resolution_cause FROM incidents")[0] == {"status": "reopened",
                                                                              "resolution_cause": None}
    s.at(base + 2 * HOUR).alert("orders stale", "analytics.orders", status="resolved")
    text = s.at(base + 3 * HOUR).command("stats 7d")
    assert "*MTTA*: median 10m" in text and "*MTTR*: median 2h" in text, text
    assert "no incidents resolved with a cause" in text and "0 cleared on their own" in text
