"""The sandbox warehouse's data: project `dre-sandbox`, a few small tables whose problems match the example alerts.

Everything is loaded through the real google-cloud-bigquery client (create_dataset, create_table, update_table,
insert_rows_json), so the same seed would load a real BigQuery project. Rows are deterministic (fixed random seed)
and placed relative to `now`, so "yesterday" and "the last 24 hours" stay true whenever it runs.

The problems:

* stale table: `analytics.orders` was last loaded 30 hours ago (its newest `_loaded_at`, and, on the emulator,
  the table's modification time, which INFORMATION_SCHEMA.PARTITIONS reports as `last_modified_time`), while
  its peers (`analytics.events`, `analytics.payments`, `analytics.customers`, `raw.orders_raw`) changed minutes ago.
  `raw.orders_raw` still receives orders: the break is between raw and analytics.
* volume drop: `analytics.events` (day-partitioned on `event_ts`) has about 100 rows a day for 14 days and
  40% fewer yesterday (UTC).
* schema change: `analytics.customers` got a column `loyalty_tier` last night; PREVIOUS_SCHEMAS has the schema
  before it, in the shape of runbooks/queries/schema.sql's rows, so a schema diff can be shown.
* distribution shift: `analytics.payments.payment_method` is 'card' for 80% of the rows of the 7 days before the
  last 24 hours, 35% in the last 24 hours (a new value 'credit_card' took most of the rest).
* PII: `crm.users` has email, phone, full_name and ip_address, declared with policy tags and descriptions in the
  schema. The emulator drops policy tags (real BigQuery needs the taxonomy to exist), so PII_COLUMNS lists them too.

All values are fictional: example.com addresses, 555-01xx phone numbers, documentation IP ranges.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Callable

PROJECT = "dre-sandbox"
DATASETS = {
    "analytics": "Modelled tables the dashboards read.",
    "raw": "Landing tables, loaded by the ingestion pipeline.",
    "crm": "Customer records (personal data).",
}
RANDOM_SEED = 20261126
STALE_HOURS = 30
EVENTS_BASELINE_DAYS = 14
EVENTS_DROP = 0.40
TAXONOMY = f"projects/{PROJECT}/locations/us/taxonomies/1001"
PII_COLUMNS = {
    f"{PROJECT}.crm.users": {
        "email": f"{TAXONOMY}/policyTags/email",
        "phone": f"{TAXONOMY}/policyTags/phone",
        "full_name": f"{TAXONOMY}/policyTags/name",
        "ip_address": f"{TAXONOMY}/policyTags/ip_address",
    }
}
BASELINE_METHODS = {"card": 0.80, "paypal": 0.10, "bank_transfer": 0.07, "gift_card": 0.03}
RECENT_METHODS = {"card": 0.35, "credit_card": 0.45, "paypal": 0.10, "bank_transfer": 0.07, "gift_card": 0.03}

# The schema of analytics.customers before last night's change, as schema.sql returns it.
CUSTOMERS_V1 = [
    ("customer_id", "INT64", "REQUIRED"),
    ("created_at", "TIMESTAMP", "NULLABLE"),
    ("country", "STRING", "NULLABLE"),
    ("segment", "STRING", "NULLABLE"),
    ("updated_at", "TIMESTAMP", "NULLABLE"),
]
CUSTOMERS_ADDED = [("loyalty_tier", "STRING", "NULLABLE")]
PREVIOUS_SCHEMAS = {
    f"{PROJECT}.analytics.customers": [
        {"column_name": n, "data_type": t, "is_nullable": "NO" if m == "REQUIRED" else "YES", "ordinal_position": i}
        for i, (n, t, m) in enumerate(CUSTOMERS_V1, start=1)
    ]
}


@dataclass
class SeedInfo:
    """What the seed put where, for tests and for the sandbox's example alerts."""

    project: str
    now: datetime
    rows: dict[str, int] = field(default_factory=dict)
    stale_table: str = ""
    stale_loaded_at: datetime | None = None
    drop_table: str = ""
    drop_day: date | None = None
    drop_rows: int = 0
    baseline_avg: float = 0.0
    schema_table: str = ""
    schema_changed_at: datetime | None = None
    added_columns: list[str] = field(default_factory=list)
    previous_schema: list[dict[str, Any]] = field(default_factory=list)
    shift_table: str = ""
    shift_column: str = ""
    baseline_shares: dict[str, float] = field(default_factory=dict)
    recent_shares: dict[str, float] = field(default_factory=dict)
    pii_table: str = ""
    pii_columns: dict[str, str] = field(default_factory=dict)
    emulator_kept_policy_tags: bool = False


def _ts(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _shuffled_values(rng: random.Random, shares: dict[str, float], n: int) -> list[str]:
    values: list[str] = []
    for value, share in shares.items():
        values += [value] * round(share * n)
    values = (values + [next(iter(shares))] * n)[:n]
    rng.shuffle(values)
    return values


def seed(
    client: Any,
    *,
    now: datetime | None = None,
    set_clock: Callable[[timedelta], None] | None = None,
) -> SeedInfo:
    """Create and fill the sandbox datasets with `client` (a google.cloud.bigquery.Client on the emulator).

    `set_clock(offset)` moves the emulator's metadata clock (Warehouse.set_clock); without it the tables' modified
    times are all "now" and staleness shows only in the `_loaded_at` columns.
    """
    from google.cloud import bigquery

    F = bigquery.SchemaField
    project = client.project
    now = (now or datetime.now(tz=UTC)).astimezone(UTC).replace(microsecond=0)
    today = now.date()
    rng = random.Random(RANDOM_SEED)
    info = SeedInfo(project=project, now=now)
    # The client retries 5xx answers for 10 minutes by default; a seed that cannot load should fail fast.
    retry = bigquery.DEFAULT_RETRY.with_deadline(30)

    def clock_at(moment: datetime | None) -> None:
        if set_clock is not None:
            set_clock(timedelta() if moment is None else moment - datetime.now(tz=UTC))

    def table(ref: str, schema: list[Any], *, partition_field: str | None = None, description: str = "",
              labels: dict[str, str] | None = None) -> Any:
        t = bigquery.Table(f"{project}.{ref}", schema=schema)
        if partition_field:
            t.time_partitioning = bigquery.TimePartitioning(type_=bigquery.TimePartitioningType.DAY,
                                                            field=partition_field)
        t.description = description
        t.labels = labels or {}
        return client.create_table(t)

    def insert(ref: str, rows: list[dict[str, Any]]) -> None:
        for start in range(0, len(rows), 2000):
            errors = client.insert_rows_json(f"{project}.{ref}", rows[start:start + 2000], retry=retry)
            if errors:
                raise RuntimeError(f"seeding {ref} failed: {errors[:3]}")
        info.rows[ref] = info.rows.get(ref, 0) + len(rows)

    def touch(ref: str, at: datetime) -> None:
        # insertAll and DML leave bqemulator's table modification time alone (BigQuery moves it on every write);
        # a metadata update at the load's time moves it, and is harmless on BigQuery.
        clock_at(at)
        t = client.get_table(f"{project}.{ref}")
        t.labels = {**(t.labels or {}), "last_load": at.strftime("%Y%m%dt%H%M")}
        client.update_table(t, ["labels"], retry=retry)

    created_long_ago = now - timedelta(days=120)
    try:
        clock_at(created_long_ago)
        for name, description in DATASETS.items():
            ds = bigquery.Dataset(f"{project}.{name}")
            ds.location = "US"
            ds.description = description
            client.create_dataset(ds, exists_ok=True)

        # -- analytics.orders: stale, last loaded STALE_HOURS ago -------------------------------------------------
        stale_at = now - timedelta(hours=STALE_HOURS)
        table("analytics.orders", [
            F("order_id", "INT64", mode="REQUIRED"),
            F("customer_id", "INT64"),
            F("order_ts", "TIMESTAMP"),
            F("status", "STRING"),
            F("amount", "FLOAT64"),
            F("currency", "STRING"),
            F("_loaded_at", "TIMESTAMP", description="when the hourly load wrote the row"),
        ], partition_field="order_ts", description="One row per order, loaded hourly from raw.orders_raw.",
            labels={"owner": "commerce", "tier": "gold"})
        orders, raw_orders = [], []
        first_order = stale_at - timedelta(days=14)
        t, order_id = first_order, 100000
        while t < now - timedelta(minutes=5):
            order_id += 1
            row = {
                "order_id": order_id,
                "customer_id": rng.randint(1, 320),
                "order_ts": _ts(t),
                "status": rng.choices(["paid", "shipped", "cancelled", "refunded"], [60, 30, 7, 3])[0],
                "amount": round(rng.uniform(8, 240), 2),
                "currency": rng.choices(["EUR", "USD", "GBP"], [60, 30, 10])[0],
            }
            loaded = (t + timedelta(hours=1)).replace(minute=5, second=0)
            if t <= stale_at:  # the hourly load stopped after this
                orders.append(row | {"_loaded_at": _ts(min(loaded, stale_at))})
            if t >= now - timedelta(hours=48):
                raw_orders.append({"order_id": order_id, "received_at": _ts(t + timedelta(seconds=40)),
                                   "source": "shop-api", "payload": f'{{"order_id": {order_id}}}'})
            t += timedelta(minutes=rng.randint(12, 52))
        insert("analytics.orders", orders)
        touch("analytics.orders", stale_at)
        info.stale_table, info.stale_loaded_at = f"{project}.analytics.orders", stale_at

        # -- raw.orders_raw: still landing ---------------------------------------------------------------------
        clock_at(created_long_ago)
        table("raw.orders_raw", [
            F("order_id", "INT64"), F("received_at", "TIMESTAMP"), F("source", "STRING"), F("payload", "STRING"),
        ], partition_field="received_at", description="Orders as received from the shop API.")

        # -- analytics.events: yesterday 40% below the 14-day baseline ----------------------------------------
        table("analytics.events", [
            F("event_id", "STRING", mode="REQUIRED"),
            F("event_ts", "TIMESTAMP", mode="REQUIRED"),
            F("user_id", "INT64"),
            F("event_name", "STRING"),
            F("context", "RECORD", fields=[F("device", "STRING"), F("country", "STRING"), F("app_version", "STRING")]),
            F("tags", "STRING", mode="REPEATED"),
            F("_loaded_at", "TIMESTAMP"),
        ], partition_field="event_ts", description="Product analytics events.", labels={"owner": "product"})
        events: list[dict[str, Any]] = []
        drop_day = today - timedelta(days=1)
        baseline_counts = []
        for back in range(EVENTS_BASELINE_DAYS + 1, -1, -1):
            day = today - timedelta(days=back)
            day_start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            if back == 0:  # today, still filling
                n = int(100 * (now - day_start).total_seconds() / 86400)
                span = max((now - day_start).total_seconds() - 60, 1)
            else:
                n = rng.randint(94, 106)
                span = 86400 - 1
                if day == drop_day:
                    n = round(sum(baseline_counts) / len(baseline_counts) * (1 - EVENTS_DROP))
                else:
                    baseline_counts.append(n)
            for i in range(n):
                ts = day_start + timedelta(seconds=int(span * (i + rng.random()) / max(n, 1)))
                events.append({
                    "event_id": f"ev-{day:%Y%m%d}-{i:04d}",
                    "event_ts": _ts(ts),
                    "user_id": rng.randint(1, 500),
                    "event_name": rng.choices(["page_view", "add_to_cart", "checkout", "search"], [60, 20, 8, 12])[0],
                    "context": {"device": rng.choice(["ios", "android", "web"]),
                                "country": rng.choice(["FR", "DE", "US", "GB", "ES"]),
                                "app_version": rng.choice(["4.2.0", "4.3.1"])},
                    "tags": rng.sample(["promo", "beta", "returning", "mobile"], rng.randint(0, 2)),
                    "_loaded_at": _ts(min(ts + timedelta(minutes=15), now)),
                })
            if day == drop_day:
                info.drop_rows = n
        info.drop_table, info.drop_day = f"{project}.analytics.events", drop_day
        info.baseline_avg = sum(baseline_counts) / len(baseline_counts)

        # -- analytics.payments: payment_method shifted in the last 24 hours ----------------------------------
        table("analytics.payments", [
            F("payment_id", "STRING", mode="REQUIRED"),
            F("order_id", "INT64"),
            F("paid_at", "TIMESTAMP"),
            F("amount", "FLOAT64"),
            F("currency", "STRING"),
            F("payment_method", "STRING"),
            F("_loaded_at", "TIMESTAMP"),
        ], partition_field="paid_at", description="Payments from the payment service provider.")
        payments: list[dict[str, Any]] = []
        windows = [
            (now - timedelta(days=8) + timedelta(minutes=10), now - timedelta(days=1) - timedelta(minutes=10),
             _shuffled_values(rng, BASELINE_METHODS, 700)),
            (now - timedelta(days=1) + timedelta(minutes=10), now - timedelta(minutes=5),
             _shuffled_values(rng, RECENT_METHODS, 200)),
        ]
        for start, end, methods in windows:
            step = (end - start) / len(methods)
            for i, method in enumerate(methods):
                paid = start + step * i
                payments.append({
                    "payment_id": f"pay-{len(payments) + 1:05d}",
                    "order_id": 100000 + rng.randint(1, 900),
                    "paid_at": _ts(paid.replace(microsecond=0)),
                    "amount": round(rng.uniform(8, 240), 2),
                    "currency": rng.choices(["EUR", "USD", "GBP"], [60, 30, 10])[0],
                    "payment_method": method,
                    "_loaded_at": _ts(min(paid + timedelta(minutes=3), now).replace(microsecond=0)),
                })
        info.shift_table, info.shift_column = f"{project}.analytics.payments", "payment_method"
        info.baseline_shares, info.recent_shares = dict(BASELINE_METHODS), dict(RECENT_METHODS)

        # -- analytics.customers: a column added last night --------------------------------------------------
        table("analytics.customers", [F(n, t, mode=m) for n, t, m in CUSTOMERS_V1],
              description="One row per customer (no personal data: see crm.users).")
        customers = []
        for cid in range(1, 301):
            created = now - timedelta(days=365) + timedelta(minutes=rng.randint(0, 364 * 24 * 60))
            customers.append({"customer_id": cid, "created_at": _ts(created),
                              "country": rng.choice(["FR", "DE", "US", "GB", "ES"]),
                              "segment": rng.choices(["consumer", "smb", "enterprise"], [80, 15, 5])[0],
                              "updated_at": _ts(created)})
        insert("analytics.customers", customers)
        changed_at = now.replace(hour=2, minute=17, second=0)
        if changed_at > now - timedelta(hours=1):
            changed_at -= timedelta(days=1)
        clock_at(changed_at)
        cust = client.get_table(f"{project}.analytics.customers")
        cust.schema = list(cust.schema) + [F(n, t, mode=m) for n, t, m in CUSTOMERS_ADDED]
        client.update_table(cust, ["schema"])
        # bqemulator changes only its catalog on update_table and only the DuckDB table on ALTER TABLE (then
        # insertAll fails); both together give a consistent table. On BigQuery the ALTER is a no-op.
        for n, t, _ in CUSTOMERS_ADDED:
            client.query(f"ALTER TABLE `{project}.analytics.customers` ADD COLUMN IF NOT EXISTS {n} {t}",
                         retry=retry).result(retry=retry)
        new_customers = []
        for cid in range(301, 321):
            created = now - timedelta(hours=20) + timedelta(minutes=cid - 300)
            new_customers.append({"customer_id": cid, "created_at": _ts(created), "country": rng.choice(["FR", "DE"]),
                                  "segment": "consumer", "updated_at": _ts(created),
                                  "loyalty_tier": rng.choice(["bronze", "silver", "gold"])})
        insert("analytics.customers", new_customers)
        touch("analytics.customers", now - timedelta(minutes=20))
        info.schema_table, info.schema_changed_at = f"{project}.analytics.customers", changed_at
        info.added_columns = [n for n, _, _ in CUSTOMERS_ADDED]
        info.previous_schema = PREVIOUS_SCHEMAS[f"{project}.analytics.customers"] if project == PROJECT else []

        # -- crm.users: personal data, with policy tags in the schema ----------------------------------------
        clock_at(created_long_ago)
        tags = PII_COLUMNS[f"{PROJECT}.crm.users"]

        def pii(name: str, what: str) -> Any:
            return F(name, "STRING", description=f"PII: {what}",
                     policy_tags=bigquery.PolicyTagList([tags[name].replace(PROJECT, project, 1)]))

        table("crm.users", [
            F("user_id", "INT64", mode="REQUIRED"),
            pii("email", "email address"),
            pii("phone", "phone number"),
            pii("full_name", "full name"),
            pii("ip_address", "IP address at sign-up"),
            F("country", "STRING"),
            F("signup_ts", "TIMESTAMP"),
            F("marketing_opt_in", "BOOL"),
        ], description="CRM users. Contains personal data.", labels={"contains_pii": "true"})
        first = ["Alice", "Bruno", "Chloe", "Dmitri", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas"]
        last = ["Martin", "Bernard", "Dubois", "Schmidt", "Garcia", "Rossi", "Smith", "Novak", "Silva", "Kowalski"]
        nets = ["192.0.2", "198.51.100", "203.0.113"]
        users = []
        for uid in range(1, 201):
            fn, ln = rng.choice(first), rng.choice(last)
            users.append({"user_id": uid, "email": f"{fn}.{ln}{uid}@example.com".lower(),
                          "phone": f"+1-202-555-01{uid % 100:02d}", "full_name": f"{fn} {ln}",
                          "ip_address": f"{rng.choice(nets)}.{rng.randint(1, 254)}",
                          "country": rng.choice(["FR", "DE", "US", "GB", "ES"]),
                          "signup_ts": _ts(now - timedelta(days=rng.randint(1, 700))),
                          "marketing_opt_in": rng.random() < 0.4})
        insert("crm.users", users)
        touch("crm.users", now - timedelta(hours=3))
        info.pii_table = f"{project}.crm.users"
        info.pii_columns = {k: v.replace(PROJECT, project, 1) for k, v in tags.items()}
        got = client.get_table(info.pii_table)
        info.emulator_kept_policy_tags = any(f.policy_tags and f.policy_tags.names for f in got.schema)

        # -- the fresh peers' last loads, minutes ago ---------------------------------------------------------
        for ref, rows in (("raw.orders_raw", raw_orders), ("analytics.events", events),
                          ("analytics.payments", payments)):
            insert(ref, rows)
            touch(ref, now - timedelta(minutes=4))
    finally:
        clock_at(None)
    return info
