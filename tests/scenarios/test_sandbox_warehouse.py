"""The sandbox warehouse: bqemulator on loopback, seeded, queried with the real google-cloud-bigquery client.

One Warehouse per module (slow part: starting the emulator and seeding it, about 3-4 s here); every test then
runs a few queries of well under a second. Each seeded problem must be visible by a query.
"""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from sandbox.warehouse import Warehouse, missing_requirements

_missing = missing_requirements()
if _missing:  # say what is missing instead of failing on an ImportError
    pytest.skip(f"sandbox warehouse packages not installed: {', '.join(_missing)}", allow_module_level=True)

from google.api_core.exceptions import BadRequest, GoogleAPICallError  # noqa: E402
from google.cloud import bigquery  # noqa: E402

from sandbox import warehouse_seed  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
P = bigquery.ScalarQueryParameter
# The client retries 5xx answers for 10 minutes by default: fail fast instead.
RETRY = bigquery.DEFAULT_RETRY.with_deadline(15)


@pytest.fixture(scope="module")
def wh():
    # SLOW (once per module): start the emulator and seed it.
    with Warehouse() as warehouse:
        yield warehouse


@pytest.fixture(scope="module")
def client(wh):
    c = wh.client()
    yield c
    c.close()


def q(client, sql, params=(), **config):
    job = client.query(sql, job_config=bigquery.QueryJobConfig(query_parameters=list(params), **config),
                       retry=RETRY, job_retry=None)
    return [dict(r) for r in job.result(retry=RETRY, timeout=30)]


def test_starts_on_loopback_fast_and_seeded(wh, client):
    assert wh.api_endpoint.startswith("http://127.0.0.1:")
    assert wh.project == "dre-sandbox" == client.project
    assert wh.start_seconds is not None and wh.seed_seconds is not None
    assert wh.start_seconds + wh.seed_seconds < 20, (wh.start_seconds, wh.seed_seconds)
    assert {d.dataset_id for d in client.list_datasets()} == {"analytics", "raw", "crm"}
    counts = {t: q(client, f"SELECT COUNT(*) AS n FROM `dre-sandbox.{t}`")[0]["n"] for t in wh.seeded.rows}
    assert counts == wh.seeded.rows
    assert 2000 < sum(counts.values()) < 6000


def test_stale_orders_table_and_fresh_peers(wh, client):
    # Metadata, the way runbooks/queries/freshness.sql reads it (PARTITIONS.last_modified_time).
    rows = q(client, """
        SELECT table_name,
               TIMESTAMP_DIFF(CURRENT_TIMESTAMP(), MAX(last_modified_time), MINUTE) AS minutes_since_write
        FROM `dre-sandbox.analytics`.INFORMATION_SCHEMA.PARTITIONS
        GROUP BY table_name""")
    age = {r["table_name"]: r["minutes_since_write"] for r in rows}
    assert 29 * 60 <= age["orders"] <= 31 * 60, age
    for peer in ("events", "payments", "customers"):
        assert age[peer] < 60, age
    # The same through the table resource.
    orders = client.get_table("dre-sandbox.analytics.orders")
    assert timedelta(hours=29) < datetime.now(UTC) - orders.modified < timedelta(hours=31)
    # And in the data: the newest load, against raw, which still receives orders.
    loaded = q(client, """
        SELECT (SELECT MAX(_loaded_at) FROM `dre-sandbox.analytics.orders`) AS orders_loaded,
               (SELECT MAX(received_at) FROM `dre-sandbox.raw.orders_raw`) AS raw_received""")[0]
    assert datetime.now(UTC) - loaded["orders_loaded"] > timedelta(hours=29)
    assert datetime.now(UTC) - loaded["raw_received"] < timedelta(hours=1)


def test_runbook_freshness_query_runs_unchanged(client):
    sql = _runbook("freshness", "analytics")
    [row] = q(client, sql, [P("table_name", "STRING", "orders"), P("max_age_minutes", "INT64", 1440)])
    assert row["is_stale"] is True and row["minutes_since_last_write"] >= 29 * 60
    [row] = q(client, sql, [P("table_name", "STRING", "payments"), P("max_age_minutes", "INT64", 1440)])
    assert row["is_stale"] is False


def test_events_volume_drop_day(wh, client):
    drop_day = wh.seeded.drop_day
    assert drop_day == datetime.now(UTC).date() - timedelta(days=1) or drop_day == wh.seeded.now.date() - timedelta(days=1)
    # From partition metadata (volume.sql's source) ...
    parts = q(client, """
        SELECT partition_id, total_rows FROM `dre-sandbox.analytics`.INFORMATION_SCHEMA.PARTITIONS
        WHERE table_name = @table_name ORDER BY partition_id""", [P("table_name", "STRING", "events")])
    by_day = {r["partition_id"]: r["total_rows"] for r in parts}
    baseline = [by_day[(drop_day - timedelta(days=d)).strftime("%Y%m%d")] for d in range(1, 15)]
    dropped = by_day[drop_day.strftime("%Y%m%d")]
    assert 0.55 <= dropped / (sum(baseline) / len(baseline)) <= 0.65
    # ... and from the rows themselves, with DATE parameters.
    rows = q(client, """
        SELECT DATE(event_ts) AS day, COUNT(*) AS n FROM `dre-sandbox.analytics.events`
        WHERE DATE(event_ts) BETWEEN @since AND @until GROUP BY day ORDER BY day""",
             [P("since", "DATE", drop_day - timedelta(days=14)), P("until", "DATE", drop_day)])
    assert len(rows) == 15 and rows[-1] == {"day": drop_day, "n": dropped}


def test_customers_column_added_last_night(wh, client):
    sql = _runbook("schema", "analytics")  # runs unchanged on the emulator
    now_rows = q(client, sql, [P("table_name", "STRING", "customers")])
    before = warehouse_seed.PREVIOUS_SCHEMAS["dre-sandbox.analytics.customers"]
    assert now_rows[: len(before)] == before
    added = [r for r in now_rows if r["column_name"] not in {b["column_name"] for b in before}]
    assert added == [{"column_name": "loyalty_tier", "data_type": "STRING", "is_nullable": "YES",
                      "ordinal_position": len(before) + 1}]
    assert timedelta(hours=1) <= wh.seeded.now - wh.seeded.schema_changed_at < timedelta(hours=25)
    # Only the rows loaded since the change carry the new column.
    [r] = q(client, "SELECT COUNTIF(loyalty_tier IS NOT NULL) AS filled, COUNT(*) AS n "
                    "FROM `dre-sandbox.analytics.customers`")
    assert r == {"filled": 20, "n": 320}


def test_payment_method_share_shifted_today(client):
    rows = q(client, """
        SELECT
          COUNTIF(paid_at >= @recent_since AND payment_method = @value) / COUNTIF(paid_at >= @recent_since)
            AS recent_share,
          COUNTIF(paid_at < @recent_since AND payment_method = @value) / COUNTIF(paid_at < @recent_since)
            AS baseline_share,
          APPROX_TOP_COUNT(IF(paid_at >= @recent_since, payment_method, NULL), 2) IS NOT NULL AS has_top
        FROM `dre-sandbox.analytics.payments`
        WHERE paid_at >= TIMESTAMP_SUB(@recent_since, INTERVAL @days DAY)""",
             [P("recent_since", "TIMESTAMP", datetime.now(UTC) - timedelta(days=1)), P("value", "STRING", "card"),
              P("days", "INT64", 7)])
    assert rows[0]["baseline_share"] == pytest.approx(0.80, abs=0.01)
    assert rows[0]["recent_share"] == pytest.approx(0.35, abs=0.01)


def test_crm_users_pii_columns(wh, client):
    users = client.get_table("dre-sandbox.crm.users")
    fields = {f.name: f for f in users.schema}
    pii = warehouse_seed.PII_COLUMNS["dre-sandbox.crm.users"]
    assert set(pii) == {"email", "phone", "full_name", "ip_address"} <= set(fields)
    for name in pii:
        assert fields[name].description.startswith("PII:")
        tags = fields[name].policy_tags.names if fields[name].policy_tags else ()
        # bqemulator drops policy tags (BigQuery keeps them); when they are kept they must be the seeded ones.
        assert tuple(tags) in ((), (pii[name],))
    assert wh.seeded.emulator_kept_policy_tags == any(f.policy_tags for f in users.schema)
    [r] = q(client, "SELECT COUNTIF(ENDS_WITH(email, '@example.com')) AS n FROM `dre-sandbox.crm.users`")
    assert r["n"] == 200


def test_query_parameters_bind(client):
    [r] = q(client, "SELECT @s AS s, @i + 1 AS i, @t AS t, DATE_SUB(@d, INTERVAL 1 DAY) AS d, @b AS b",
            [P("s", "STRING", "x'); DROP TABLE y; --"), P("i", "INT64", 41),
             P("t", "TIMESTAMP", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)), P("d", "DATE", date(2026, 1, 2)),
             P("b", "BOOL", True)])
    assert r == {"s": "x'); DROP TABLE y; --", "i": 42, "t": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
                 "d": date(2026, 1, 1), "b": True}


def test_dry_run_returns_bytes_and_schema(client):
    job = client.query("SELECT order_id, amount FROM `dre-sandbox.analytics.orders` WHERE status = @s",
                       job_config=bigquery.QueryJobConfig(dry_run=True, use_query_cache=False,
                                                          query_parameters=[P("s", "STRING", "paid")]),
                       retry=RETRY, job_retry=None)
    # bqemulator has no cost model: it always reports 0 bytes (BigQuery reports the bytes it would scan).
    assert isinstance(job.total_bytes_processed, int) and job.total_bytes_processed >= 0
    assert [f.name for f in job.schema] == ["order_id", "amount"]
    with pytest.raises(GoogleAPICallError):
        client.query("SELECT nope FROM `dre-sandbox.analytics.orders`",
                     job_config=bigquery.QueryJobConfig(dry_run=True), retry=RETRY, job_retry=None)
    with pytest.raises(BadRequest):
        client.query("SELEC 1", job_config=bigquery.QueryJobConfig(dry_run=True), retry=RETRY, job_retry=None)


def _runbook(name: str, dataset: str) -> str:
    text = (ROOT / "runbooks" / "queries" / f"{name}.sql").read_text()
    body = re.sub(r"/\*---.*?---\*/", "", text, flags=re.S)
    return body.replace("`@dataset`", f"`dre-sandbox.{dataset}`")
