"""`dre-bot runbooks preview`: a runbook's snippet as Slack shows it, for a bundled example or a webhook body on disk."""
import json
import os
import subprocess
import sys

from tests.conftest import ROOT


def preview(*args: str, tmp_path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DRE_"))}
    env["DRE_DB"] = str(tmp_path / "dre-bot.db")
    return subprocess.run([sys.executable, "-m", "bot.cli", "runbooks", "preview", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=60)


def test_an_example_alert_renders_the_runbook_with_its_values(tmp_path):
    out = preview("table-freshness", "gcp_monitoring_freshness", tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(":book: *Runbook: Table freshness breach*\n_Matched: kind freshness_")
    assert "`dre-sandbox.analytics.orders`" in out.stdout   # the alert's table, filled in by the template
    assert "Full runbook: `runbooks/table-freshness.md`" in out.stdout


def test_a_body_on_disk_is_read_by_its_source(tmp_path):
    body = json.loads((ROOT / "examples" / "alerts" / "montecarlo_schema.json").read_text())
    path = tmp_path / "incoming.json"
    path.write_text(json.dumps(body))
    out = preview("schema-change.md", str(path), tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(":book: *Runbook: ")
    assert "_Matched:" in out.stdout


def test_a_runbook_that_would_not_match_says_so(tmp_path):
    out = preview("volume-anomaly", "gcp_monitoring_freshness", tmp_path=tmp_path)
    assert out.returncode == 0
    assert "_Matched:" not in out.stdout and "does not match this alert" in out.stderr


def test_unknown_names_list_what_exists(tmp_path):
    out = preview("no-such-runbook", "gcp_monitoring_freshness", tmp_path=tmp_path)
    assert out.returncode == 1 and "Known: " in out.stderr and "table-freshness.md" in out.stderr
    out = preview("table-freshness", "no_such_example", tmp_path=tmp_path)
    assert out.returncode == 1 and "Examples: " in out.stderr and "montecarlo_schema" in out.stderr
