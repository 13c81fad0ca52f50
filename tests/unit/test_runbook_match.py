"""Runbook matching: kind first, a kind guessed from a generic title word matches no kind runbook, the reason."""
from pathlib import Path

from bot.alert import Alert
from bot.runbook import closest, find, kind_is_stated, load_all

RUNBOOKS = load_all(Path(__file__).resolve().parents[2] / "runbooks")


def _alert(title, alert_kind, source="alertmanager", **labels):
    return Alert(source=source, fingerprint="f", status="firing", title=title, kind=alert_kind, labels=labels)


def test_a_blackbox_probe_failed_gets_no_job_failure_runbook():
    # alertmanager's source guesses job_failure from "Failed"; the labels are the mixin's (tests/fixtures/SOURCES.md)
    alert = _alert("BlackboxProbeFailed", "job_failure", alertname="BlackboxProbeFailed", job="blackbox-exporter",
                   instance="https://shop.acme.example", severity="critical")
    assert not kind_is_stated(alert)
    assert find(RUNBOOKS, alert) is None
    assert [rb.title for rb in closest(RUNBOOKS, alert)] == ["Pipeline job failure"]


def test_a_real_job_failure_still_matches():
    assert find(RUNBOOKS, _alert("AirflowDagRunFailed", "job_failure")).runbook.title == "Pipeline job failure"
    assert find(RUNBOOKS, _alert("Probe failed", "job_failure", kind="job_failure")).runbook.path == \
        "pipeline-job-failure.md"


def test_kind_beats_a_title_word(tmp_path):
    (tmp_path / "a.md").write_text("---\ntitle: Anything failed\nmatch: {labels: {alertname: '*Stale*'}}\n"
                                   "snippet: [S]\n---\n## S\nx\n")
    (tmp_path / "b.md").write_text("---\ntitle: Freshness\nmatch: {kinds: [freshness]}\nsnippet: [S]\n---\n## S\nx\n")
    found = find(load_all(tmp_path), _alert("OrdersStale", "freshness", alertname="OrdersStale"))
    assert found.runbook.title == "Freshness"
    assert found.reason == "Matched: kind freshness"


def test_the_reason_names_kind_and_table(tmp_path):
    (tmp_path / "a.md").write_text("---\ntitle: Analytics freshness\nmatch: {kinds: [freshness], tables: "
                                   "['analytics.*']}\nsnippet: [S]\n---\n## S\nx\n")
    found = find(load_all(tmp_path), _alert("t", "freshness", source="generic", table="analytics.orders"))
    assert found.reason == "Matched: kind freshness, table analytics.*"


def test_closest_runbooks_by_kind_then_source(tmp_path):
    (tmp_path / "a.md").write_text("---\ntitle: MC only\nmatch: {sources: [montecarlo]}\nsnippet: [S]\n---\n## S\nx\n")
    (tmp_path / "b.md").write_text("---\ntitle: Finance volume\nmatch: {kinds: [volume], tables: ['finance.*']}\n"
                                   "snippet: [S]\n---\n## S\nx\n")
    runbooks = load_all(tmp_path)
    alert = _alert("t", "volume", source="montecarlo", table="analytics.orders")
    assert find(runbooks, alert).runbook.title == "MC only"
    assert [rb.title for rb in closest(runbooks, alert)] == ["Finance volume", "MC only"]
