"""`dre-bot doctor` against the emulators, through the real clients: a healthy setup, then each failure on its line."""
import os
import subprocess
import sys

import pytest

from bot.doctor import manifest_scopes
from tests.conftest import PD_ROUTING_KEY, ROOT

TOKEN = "xoxb-doctor-good"


@pytest.fixture
def doctor(tmp_path, slack, pd):
    """Run `dre-bot doctor` as a person would, with a healthy environment unless told otherwise."""
    slack.tokens = {TOKEN}
    slack.scopes = tuple(sorted(manifest_scopes()))
    pd.tokens = {"pd-token"}

    def run(*args: str, **env: str | None) -> subprocess.CompletedProcess:
        base = {"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": "s3cret", "SLACK_API_URL": slack.url,
                "PAGERDUTY_API_TOKEN": "pd-token", "PAGERDUTY_ROUTING_KEY": PD_ROUTING_KEY,
                "PAGERDUTY_API_URL": pd.url, "PAGERDUTY_EVENTS_URL": pd.url,
                "PAGERDUTY_FROM_EMAIL": "dre-bot@acme.example", "PAGERDUTY_WEBHOOK_SECRET": "whsec",
                "DRE_WEBHOOK_TOKEN": "hook-token", "DRE_DB": str(tmp_path / "dre-bot.db")}
        full = {k: v for k, v in {**os.environ, **base, **env}.items() if v is not None}
        for google in ("GOOGLE_CLOUD_PROJECT", "BIGQUERY_API_URL", "MONITORING_API_URL", "DRE_CONFIG"):
            if google not in env:
                full.pop(google, None)
        return subprocess.run([sys.executable, "-m", "bot.cli", "doctor", *args], capture_output=True, text=True,
                              env=full, cwd=ROOT, timeout=60)
    return run


def lines(out: subprocess.CompletedProcess, name: str) -> list[str]:
    return [line for line in out.stdout.splitlines() if line[2:].startswith(name + ":")]


def test_a_healthy_setup_passes_every_check(doctor, slack, pd):
    out = doctor()
    assert out.returncode == 0, out.stdout + out.stderr
    assert lines(out, "Slack auth.test")[0].startswith("✓") and "dre-bot" in lines(out, "Slack auth.test")[0]
    assert lines(out, "Slack scopes")[0].startswith("✓")
    assert lines(out, "PagerDuty token")[0].startswith("✓")
    assert lines(out, "PagerDuty routing key")[0].startswith("✓")
    assert lines(out, "Database")[0].startswith("✓") and lines(out, "Runbooks")[0].startswith("✓")
    assert not [line for line in out.stdout.splitlines() if line.startswith("✗")]
    assert [c["method"] for c in slack.calls("auth.test")] == ["auth.test"]
    assert pd.requests("GET", "/users")[0]["status"] == 200


def test_a_bad_slack_token_is_invalid_auth_and_says_where_to_copy_it(doctor):
    out = doctor(SLACK_BOT_TOKEN="xoxb-revoked-long-ago")
    assert out.returncode == 1
    (line,) = lines(out, "Slack auth.test")
    assert line.startswith("✗ Slack auth.test: invalid_auth:") and "OAuth & Permissions" in line


def test_a_missing_scope_is_named(doctor, slack):
    slack.scopes = tuple(sorted(manifest_scopes() - {"files:write"}))
    out = doctor()
    assert out.returncode == 1
    (line,) = lines(out, "Slack scopes")
    assert line.startswith("✗") and "lacks files:write" in line and "reinstall" in line


def test_pagerduty_refusing_the_token_is_a_401_line(doctor):
    out = doctor(PAGERDUTY_API_TOKEN="not-a-key")
    assert out.returncode == 1
    (line,) = lines(out, "PagerDuty token")
    assert line.startswith("✗") and "401" in line and "API Access Keys" in line


def test_a_routing_key_of_the_wrong_shape_fails(doctor):
    out = doctor(PAGERDUTY_ROUTING_KEY="short-key")
    assert out.returncode == 1
    (line,) = lines(out, "PagerDuty routing key")
    assert line.startswith("✗") and "32" in line


def test_risky_settings_warn_without_failing(doctor):
    out = doctor("--host", "0.0.0.0", DRE_WEBHOOK_TOKEN=None, PAGERDUTY_WEBHOOK_SECRET=None)
    assert out.returncode == 0, out.stdout
    assert lines(out, "Webhook token")[0].startswith("! ")
    assert "TLS" in lines(out, "Listen address")[0]
    assert lines(out, "PagerDuty webhook secret")[0].startswith("! ")


def test_cloud_monitoring_refusing_names_the_role(doctor):
    from sandbox.monitoring_api import MonitoringEmulator
    with MonitoringEmulator() as gcm:
        healthy = doctor(GOOGLE_CLOUD_PROJECT="dre-test", MONITORING_API_URL=gcm.url, BIGQUERY_API_URL=None)
        gcm.inject_fault("ListTimeSeries", "PERMISSION_DENIED")
        refused = doctor(GOOGLE_CLOUD_PROJECT="dre-test", MONITORING_API_URL=gcm.url)
    assert lines(healthy, "Cloud Monitoring")[0].startswith("✓"), healthy.stdout
    assert refused.returncode == 1
    (line,) = lines(refused, "Cloud Monitoring")
    assert line.startswith("✗") and "roles/monitoring.viewer" in line


def test_an_unwritable_database_folder_fails(doctor, tmp_path):
    out = doctor(DRE_DB=str(tmp_path / "missing" / "dre-bot.db"))
    assert out.returncode == 1
    assert lines(out, "Database")[0].startswith("✗ Database: cannot write in")
