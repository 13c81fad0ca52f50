"""/metrics as prometheus_client renders it: counters per app, depths and team numbers read from SQLite at scrape
time, and every metric documented."""
from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from bot import store
from bot.metrics import Depths, Metrics
from bot.reports.prometheus import TeamNumbers
from tests.conftest import ROOT


def families(metrics: Metrics) -> dict:
    return {f.name: f for f in text_string_to_metric_families(metrics.render().decode())}


def app_metrics(tmp_path) -> Metrics:
    db, inbox = str(tmp_path / "dre-bot.db"), str(tmp_path / "dre-bot.inbox.db")
    store.migrate(db, inbox)
    metrics = Metrics()
    conn = store.connect(db)
    metrics.watch(Depths(conn, store.connect(inbox)))
    metrics.watch(TeamNumbers(conn, lambda: 1_700_000_000.0))
    return metrics


def test_two_apps_in_one_process_count_apart(tmp_path):
    one, two = Metrics(), Metrics()
    one.webhooks_accepted.labels(source="generic").inc()
    one.outbox_delivered.inc()
    assert families(one)["dre_webhooks_accepted"].samples[0].value == 1
    assert families(two)["dre_webhooks_accepted"].samples == []
    assert families(two)["dre_outbox_delivered"].samples[0].value == 0


def test_depths_are_read_at_each_scrape(tmp_path):
    metrics = app_metrics(tmp_path)
    assert families(metrics)["dre_outbox_depth"].samples[0].value == 0
    conn = store.connect(str(tmp_path / "dre-bot.db"))
    with store.transaction(conn):
        conn.execute("INSERT INTO outbox (kind, lane, channel, payload, status, attempts, next_at, created_at) "
                     "VALUES ('x', 'slack', 'C1', '{}', 'pending', 0, 0, 0)")
    assert families(metrics)["dre_outbox_depth"].samples[0].value == 1
    assert b"_created" not in metrics.render()


def test_every_metric_is_documented(tmp_path):
    metrics = app_metrics(tmp_path)
    for counter in (metrics.webhooks_accepted.labels(source="generic"), metrics.webhooks_rejected.labels(
            source="generic", status="401"), metrics.outbox_retried.labels(lane="slack"),
            metrics.outbox_ratelimited.labels(lane="slack")):
        counter.inc()
    docs = (ROOT / "docs" / "METRICS.md").read_text()
    readme = (ROOT / "README.md").read_text()
    names = set()
    for family in families(metrics).values():
        names.add(family.name + ("_total" if family.type == "counter" else ""))
        for sample in family.samples:
            for label in sample.labels:
                assert f"`{label}`" in docs or f"{{{label}}}" in docs, f"label {label} of {sample.name}"
    assert {"dre_incidents_opened_total", "dre_mtta_seconds", "dre_inbox_depth", "dre_outbox_dead_total"} <= names
    missing = [n for n in sorted(names) if f"`{n}" not in docs or f"`{n}" not in readme]
    assert not missing, f"document these in docs/METRICS.md and README.md: {missing}"
