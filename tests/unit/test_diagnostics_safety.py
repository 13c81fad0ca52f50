"""Safe by construction: only reads parse into the catalog, identifiers are validated and placed in the parsed
tree, Slack text is bound as query parameters, and PII is redacted before anything is rendered."""
from pathlib import Path

import pytest

from bot.diagnostics import params
from bot.diagnostics.catalog import load
from bot.diagnostics.guard import TableRef, UnsafeQuery, bind_identifiers, parse_read
from bot.diagnostics.identifiers import BadTable, parse_table
from bot.diagnostics.redact import is_pii_column, redact_rows
from bot.diagnostics.render import table, to_csv

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = ("dre-sandbox.analytics", "dre-sandbox.crm")


@pytest.mark.parametrize("sql,what", [
    ("DELETE FROM `@table` WHERE true", "DELETE"),
    ("INSERT INTO `@table` (a) VALUES (1)", "INSERT"),
    ("UPDATE `@table` SET a = 1 WHERE true", "UPDATE"),
    ("MERGE `@table` t USING s ON false WHEN NOT MATCHED THEN INSERT ROW", "MERGE"),
    ("CREATE TABLE x AS SELECT 1", "CREATE"),
    ("DROP TABLE `@table`", "DROP"),
    ("ALTER TABLE `@table` ADD COLUMN b INT64", "ALTER"),
    ("TRUNCATE TABLE `@table`", "TRUNCATE"),
    ("EXPORT DATA OPTIONS(uri='gs://x/*', format='CSV') AS SELECT 1", "not a read"),
    ("DECLARE x INT64 DEFAULT 1; SELECT x", "statements"),
    ("SELECT 1; DROP TABLE t", "statements"),
    ("BEGIN TRANSACTION", "not a read"),
])
def test_only_reads_pass_the_guard(sql, what):
    with pytest.raises(UnsafeQuery) as err:
        parse_read(sql)
    assert what.lower() in str(err.value).lower()


def test_every_shipped_query_is_a_read_with_placeholders_bound_in_the_tree():
    ref = TableRef("dre-sandbox", "analytics", "orders")
    for name, query in load(ROOT / "runbooks" / "queries").items():
        sql = bind_identifiers(parse_read(query.sql, name), ref, {"sample_percent": 10})
        assert "@table`" not in sql and "`@dataset`" not in sql and "`@region`" not in sql, name
        parse_read(sql, name)   # still one read after binding


@pytest.mark.parametrize("name", [
    "analytics.orders`; DROP TABLE x; --", "analytics.orders'", "analytics.orders; SELECT 1", "analytics.or ders",
    "analytics.orders/*", "analytics.orders -- x", "dre-sandbox.analytics.orders.extra", "analytics．orders",
    "аnalytics.orders",          # a Cyrillic а
    "dre-sandbox.analytics.ordеrs",   # a Cyrillic е
    "`dre-sandbox`.analytics.orders`", "evil-project.analytics.orders", "dre-sandbox.finance.invoices",
])
def test_table_names_are_validated_and_allowlisted(name):
    with pytest.raises(BadTable):
        parse_table(name, "dre-sandbox", ALLOWED)


def test_good_table_names():
    assert str(parse_table("analytics.orders", "dre-sandbox", ALLOWED)) == "dre-sandbox.analytics.orders"
    assert str(parse_table("dre-sandbox:crm.users", None, ALLOWED)) == "dre-sandbox.crm.users"
    with pytest.raises(BadTable, match="GOOGLE_CLOUD_PROJECT"):
        parse_table("analytics.orders", None, ALLOWED)


def test_slack_text_is_bound_as_parameters_never_sql():
    query = load(ROOT / "runbooks" / "queries")["distribution"]
    ref = TableRef("dre-sandbox", "analytics", "payments")
    hostile = "status' OR 1=1; DROP TABLE x; -- `/*"
    with pytest.raises(params.BadParameter, match="must name a column"):   # a column name or nothing
        params.bind(query, ref, {"column": hostile})
    bound = {p.name: p for p in params.bind(query, ref, {"column": " `status` "})}
    assert bound["column"].value == "status" and bound["column"].type_ == "STRING"
    sql = bind_identifiers(parse_read(query.sql), ref, {"sample_percent": 10})
    assert hostile not in sql and "TABLESAMPLE SYSTEM (10 PERCENT)" in sql
    with pytest.raises(params.BadParameter, match="has no parameter nope"):
        params.bind(query, ref, {"nope": "1"})
    days = next(k for k, v in query.params.items() if v["type"] == "INT64")
    with pytest.raises(params.BadParameter, match="must be INT64"):
        params.bind(query, ref, {"column": "status", days: "7; DROP"})


def test_pii_is_redacted_by_column_name_policy_tag_and_value_pattern():
    assert is_pii_column("customer_email") and is_pii_column("PhoneNumber") and is_pii_column("ip_address")
    assert is_pii_column("notes", ["projects/p/locations/us/taxonomies/1/policyTags/2"])
    assert not is_pii_column("order_id") and not is_pii_column("shipped")
    columns = ["order_id", "email", "comment", "tagged"]
    rows = [[1, "ann@example.com", "call +1 415 555 0100 or mail bob@example.org from 10.1.2.3", "secret"]]
    out, withheld = redact_rows(columns, rows, pii_columns={"tagged"})
    assert withheld == ["email", "tagged"]
    assert out[0][0] == 1 and out[0][1] == "[redacted]" and out[0][3] == "[redacted]"
    assert "@" not in out[0][2] and "415" not in out[0][2] and "10.1.2.3" not in out[0][2]
    out, _ = redact_rows(["value", "share"], [["ann@x.io", 0.5], ["ben", 0.5]], set(), all_values=True)
    assert out == [["[redacted]", 0.5], ["[redacted]", 0.5]]


def test_a_parameter_in_tablesample_must_be_a_bound_number():
    tree = parse_read("SELECT * FROM `@table` AS t TABLESAMPLE SYSTEM (@pct PERCENT)")
    with pytest.raises(UnsafeQuery, match="not a numeric parameter"):
        bind_identifiers(tree, TableRef("dre-sandbox", "analytics", "orders"), {})


def test_rendering_truncates_with_a_count_and_csv_holds_everything():
    rows = [[i, f"value-{i}" * 10] for i in range(40)]
    text, left_out = table(["n", "v"], rows)
    assert left_out == 25 and "`" not in text and "…" in text
    assert to_csv(["n", "v"], rows).count("\n") == 41
