"""Runbooks: the shipped ones are valid, matching picks the most specific, and the check finds broken ones."""
from pathlib import Path

from bot.alert import Alert
from bot.runbook import best_match, load_all
from bot.slack.snippets import check, generic_snippet, render_snippet

ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = ROOT / "runbooks"


def _alert(**kw):
    base = dict(source="alertmanager", fingerprint="f", status="firing", title="t", kind="freshness",
                labels={"table": "proj.analytics.orders"})
    base.update(kw)
    return Alert(**base)


def test_each_required_failure_has_a_runbook():
    kinds = {k for rb in load_all(RUNBOOKS) for k in (rb.match or {}).get("kinds", [])}
    assert {"freshness", "volume", "schema", "distribution", "job_failure", "quota", "replication_lag",
            "pii"} <= kinds
    assert any(rb.path == "backfill.md" and rb.match is None for rb in load_all(RUNBOOKS))


def test_each_runbook_has_triage_causes_verification_and_escalation():
    for rb in load_all(RUNBOOKS):
        if rb.match is None:
            continue
        for section in ("Triage", "Likely causes", "Verify the fix", "Escalation"):
            assert section in rb.sections, (rb.path, section)


def test_the_most_specific_runbook_wins(tmp_path):
    (tmp_path / "a.md").write_text("---\ntitle: Any freshness\nmatch: {kinds: [freshness]}\nsnippet: [S]\n---\n"
                                   "## S\nGeneral for {{ table }}\n")
    (tmp_path / "b.md").write_text("---\ntitle: Finance freshness\nmatch: {kinds: [freshness], tables: "
                                   "['*.finance.*']}\nsnippet: [S]\n---\n## S\nFinance for {{ table }}\n")
    runbooks = load_all(tmp_path)
    assert best_match(runbooks, _alert(labels={"table": "p.finance.invoices"})).title == "Finance freshness"
    assert best_match(runbooks, _alert()).title == "Any freshness"
    assert best_match(runbooks, _alert(kind="volume")) is None


def test_snippet_escapes_alert_values_and_links_the_runbook(tmp_path):
    (tmp_path / "a.md").write_text("---\ntitle: T\nmatch: {kinds: [freshness]}\nsnippet: [S]\n---\n"
                                   "## S\nCheck **{{ table }}** in [the console](https://console.example/x)\n")
    rb = load_all(tmp_path)[0]
    text = render_snippet(rb, _alert(labels={"table": "<!channel>"}), "https://runbooks.example/")
    assert "&lt;!channel&gt;" in text and "<!channel>" not in text
    assert "<https://console.example/x|the console>" in text and "*&lt;!channel&gt;*" in text
    assert "<https://runbooks.example/a.md|T>" in text
    assert "`runbooks/" in generic_snippet(_alert()) or "runbooks/<name>.md" in generic_snippet(_alert())


def test_the_check_reports_each_kind_of_problem(tmp_path):
    (tmp_path / "no-front.md").write_text("# just markdown\n")
    (tmp_path / "bad-key.md").write_text("---\ntitle: X\ncolour: red\n---\n")
    (tmp_path / "missing-section.md").write_text("---\ntitle: X\nsnippet: [Triage]\n---\n## Other\n")
    (tmp_path / "strict.md").write_text("---\ntitle: X\nmatch: {kinds: [volume]}\nsnippet: [S]\n---\n"
                                        "## S\n{{ alert.labels.pipeline }}\n")
    (tmp_path / "diag.md").write_text("---\ntitle: X\ndiagnostics: [nope]\n---\n")
    problems = "\n".join(check(tmp_path, {"freshness"}))
    assert "no-front.md: must start with YAML front matter" in problems
    assert "bad-key.md: unknown front matter key(s) colour" in problems
    assert "missing-section.md: snippet names section(s) not in the body: Triage" in problems
    assert "strict.md: template does not render" in problems        # a label that may be missing
    assert "diag.md: diagnostic `nope` is not in runbooks/queries/" in problems
