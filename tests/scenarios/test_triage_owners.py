"""Triage in the thread: the owners paged with real mentions (once on open, again on a severity raise, never on a
card edit), the Blackbox probe without a job-failure runbook, and the default evidence filling the card's finding."""
import json
import re

from tests.conftest import ALICE, BOB, FAST_DELIVERY, parents, replies, sample, settle, wait_for

OWNERS = FAST_DELIVERY + """
[[owners]]
tables = ["analytics.*"]
notify = ["@data-platform-oncall", "bob@acme.example"]
"""


def _mentions(slack, ts):
    return [r["text"] for r in replies(slack, ts) if "Paging the owners" in r["text"] or "paging the owners" in r["text"]]


def test_owners_are_mentioned_once_on_open_and_again_on_escalation(make_bot, workspace):
    gid = workspace.add_usergroup("@data-platform-oncall", [ALICE])
    bot = make_bot(OWNERS)
    post = lambda sev: bot.post("generic", {"title": "orders is stale", "dedup_key": "orders", "kind": "freshness",
                                           "severity": sev, "labels": {"table": "analytics.orders"}})
    assert post("sev3").status_code == 202
    settle(bot)
    card = next(m for m in parents(workspace) if "orders is stale" in m["text"])
    [line] = _mentions(workspace, card["ts"])
    assert line.endswith(f"Paging the owners: <!subteam^{gid}>, <@{BOB}>")
    assert "_Matched: kind freshness_" in line          # the snippet above it says why its runbook matched
    assert post("sev3").status_code == 202              # a repeat only edits the card: nobody is pinged
    settle(bot)
    assert len(_mentions(workspace, card["ts"])) == 1
    assert post("sev1").status_code == 202              # escalation pings again
    settle(bot)
    assert _mentions(workspace, card["ts"])[-1] == \
        f":rotating_light: Severity raised: paging the owners again: <!subteam^{gid}>, <@{BOB}>"


def test_the_default_owner_and_an_unknown_group_say_what_to_do(make_bot, workspace):
    bot = make_bot(FAST_DELIVERY + '\n[incidents]\ndefault_owner = "@nobody-here"\n')
    gid = workspace.add_usergroup("@dre-oncall", [ALICE])
    assert bot.post("generic", {"title": "checkout probe", "dedup_key": "p", "kind": "custom"}).status_code == 202
    settle(bot)
    card = next(m for m in parents(workspace) if "checkout probe" in m["text"])
    [line] = _mentions(workspace, card["ts"])
    assert "@nobody-here (no Slack user group has this handle: create it or fix the owners" in line
    assert f"<!subteam^{gid}>" not in line


def test_a_blackbox_probe_failed_gets_closest_runbooks_not_the_job_failure_one(make_bot, workspace):
    # The Alertmanager webhook fixture carrying the BlackboxProbeFailed alert of blackbox-exporter-mixin
    # (tests/fixtures/SOURCES.md): "Failed" in its name is no pipeline job.
    doc = json.loads(sample("alertmanager_webhook_firing.json"))
    labels = {"alertname": "BlackboxProbeFailed", "job": "blackbox-exporter", "instance": "test",
              "severity": "critical"}
    doc["alerts"][0].update(labels=labels, annotations={"summary": "Probe has failed for the past 1m interval.",
                                                        "description": "The probe failed for the instance test."})
    doc.update(commonLabels=labels, groupLabels={"alertname": "BlackboxProbeFailed"})
    bot = make_bot(FAST_DELIVERY)
    assert bot.post("alertmanager", doc).status_code == 202
    settle(bot)
    card = parents(workspace)[-1]
    [line] = _mentions(workspace, card["ts"])
    assert "Runbook: Pipeline job failure" not in line and "No runbook matches this alert yet" in line
    assert "Closest runbooks: Pipeline job failure (`runbooks/pipeline-job-failure.md`)" in line


def test_default_evidence_fills_the_card_s_finding(make_bot, workspace, warehouse):
    bot = make_bot(FAST_DELIVERY + '\n[diagnostics]\nallowed = ["dre-sandbox.analytics"]\ntimeout = "20s"\n',
                   BIGQUERY_API_URL=warehouse.api_endpoint, GOOGLE_CLOUD_PROJECT="dre-sandbox")
    assert bot.post("generic", {"title": "orders late", "dedup_key": "o", "kind": "freshness",
                                "labels": {"table": "dre-sandbox.analytics.orders"}}).status_code == 202
    wait_for(lambda: settle(bot) and bot.query("SELECT finding FROM incidents WHERE id = 1")[0]["finding"], 40,
             "the finding from the first evidence")
    finding = bot.query("SELECT finding FROM incidents WHERE id = 1")[0]["finding"]
    # Freshness and volume run side by side: the first result fills it, a later one replaces it if it is worse.
    assert re.fullmatch(r"`orders` last written \d+ (h|min) ago, allowed 24 h|\d+ rows (today|on [\d-]+) vs\. "
                        r"\d+ expected", finding), finding
    settle(bot)
    card = next(m for m in parents(workspace) if "orders late" in m["text"])
    assert any(f"*Finding:* {finding}" in json.dumps(b) for b in card["blocks"])
    ran = {r["text"].split(" on ")[0] for r in bot.query("SELECT text FROM timeline WHERE kind = 'diagnostic'")}
    assert {"Diagnostic freshness", "Diagnostic volume"} <= ran
