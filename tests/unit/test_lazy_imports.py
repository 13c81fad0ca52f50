"""`dre-bot serve` answers /healthz within 1.5 s of start and stays small: libraries it does not need to take
webhooks and post to Slack are imported where they are used, not when the bot starts. Google's BigQuery client
alone took about a quarter of a second and 90 MB. These tests build the app `dre-bot serve` builds, in a fresh
interpreter, and look at what it imported; nothing here is timed."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from bot.diagnostics.catalog import check_sql_later, load

ROOT = Path(__file__).resolve().parents[2]

# Imported on first use only: charts, BigQuery (diagnostics, lineage), Cloud Monitoring, the SQL parser (checked
# after start), PagerDuty's client (made only with a token), cron expressions (cron handoffs only).
LAZY = ("matplotlib", "google.cloud.bigquery", "google.cloud.monitoring_v3", "google.api_core",
        "grpc", "pyarrow", "sqlglot", "pagerduty", "croniter")

BUILD = """
import json, sys
from bot import cli, server, config
settings = config.load()
server.build(settings, 3999)
print(json.dumps(sorted(sys.modules)))
"""


def modules_after_build(tmp_path: Path, **extra: str) -> set[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DRE_", "GOOGLE_", "PAGERDUTY_",
                                                                     "BIGQUERY_", "MONITORING_"))}
    (tmp_path / "dre-bot.toml").write_text("")
    env.update(SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET="s", SLACK_API_URL="http://127.0.0.1:9/api/",
               DRE_DB=str(tmp_path / "dre-bot.db"), DRE_WEBHOOK_TOKEN="t", DRE_CHANNEL="#alerts",
               DRE_CONFIG=str(tmp_path / "dre-bot.toml"), **extra)
    out = subprocess.run([sys.executable, "-c", BUILD], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def loaded(modules: set[str], name: str) -> bool:
    return name in modules or any(m.startswith(name + ".") for m in modules)


def test_serve_builds_without_the_heavy_libraries(tmp_path):
    modules = modules_after_build(tmp_path)
    assert "bot.worker" in modules and "slack_bolt" in modules   # the app was built, not an empty interpreter
    assert [name for name in LAZY if loaded(modules, name)] == []


def test_a_database_already_migrated_starts_without_sqlite_utils(tmp_path):
    from bot import store
    store.migrate(str(tmp_path / "dre-bot.db"), str(tmp_path / "dre-bot.inbox.db"))   # as a first start left it
    modules = modules_after_build(tmp_path)
    assert "bot.worker" in modules
    assert not loaded(modules, "sqlite_utils") and not loaded(modules, "numpy")


def test_a_pagerduty_token_loads_the_pagerduty_client_and_nothing_else(tmp_path):
    modules = modules_after_build(tmp_path, PAGERDUTY_API_TOKEN="pd-token", PAGERDUTY_FROM_EMAIL="dre@example.com")
    assert loaded(modules, "pagerduty")
    assert [name for name in LAZY if name != "pagerduty" and loaded(modules, name)] == []


def test_serve_checks_the_catalog_sql_after_start_and_drops_a_query_that_is_not_a_read(tmp_path, caplog):
    header = "/*---\nname: {name}\ndescription: d\n---*/\n"
    (tmp_path / "rows.sql").write_text(header.format(name="rows") + "SELECT count(*) AS n FROM `@table`\n")
    (tmp_path / "wipe.sql").write_text(header.format(name="wipe") + "DELETE FROM `@table` WHERE true\n")
    queries = load(tmp_path, check_sql=False)
    assert set(queries) == {"rows", "wipe"}       # headers only: what `dre-bot serve` has when it starts
    with caplog.at_level(logging.ERROR, logger="dre-bot.diagnostics"):
        check_sql_later(queries).join(timeout=30)
    assert set(queries) == {"rows"}
    assert "Diagnostic `wipe` is not offered" in caplog.text and "DELETE" in caplog.text
