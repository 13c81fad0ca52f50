"""Properties of the pure decisions behind "no PII in Slack": the SQL guard, the identifier checks, the one column
spelling, and which output columns derive from personal data."""
import re
import string

import pytest
import sqlglot
from hypothesis import given, settings, strategies as st

from bot.diagnostics.guard import UnsafeQuery, parse_read
from bot.diagnostics.identifiers import BadTable, parse_table
from bot.diagnostics.params import BadParameter, canonical_column
from bot.diagnostics.redact import personal_outputs

PII = {"email", "full_name", "phone"}
ALLOWED = ("dre-sandbox.crm",)
names = st.from_regex(r"[a-z_][a-z0-9_]{0,12}", fullmatch=True)


def _is_pii(path: str) -> bool:
    return path.lower() in PII


def _withheld(sql: str, columns: list[str], named=None) -> list[str]:
    return personal_outputs(sqlglot.parse_one(sql, read="bigquery"), columns, _is_pii, named or {}, True)


# -- the SQL guard --------------------------------------------------------------------------------------------
WRITES = ["DELETE FROM `@table` WHERE true", "DROP TABLE `@table`", "INSERT INTO `@table` (a) VALUES (1)",
          "UPDATE `@table` SET a = 1 WHERE true", "CREATE TABLE x AS SELECT 1", "TRUNCATE TABLE `@table`"]


@settings(max_examples=60)
@given(st.sampled_from(WRITES), st.sampled_from(["{r}; {w}", "{w}; {r}", "{w}", "{r};\n{w}", "{r} /* x */; {w}"]),
       names)
def test_no_write_passes_the_guard_however_it_is_joined_to_a_read(write, shape, column):
    with pytest.raises(UnsafeQuery):
        parse_read(shape.format(r=f"SELECT {column} FROM `@table`", w=write))


@settings(max_examples=200)
@given(st.text(max_size=80))
def test_the_guard_answers_any_text_with_a_read_or_a_refusal(text):
    try:
        tree = parse_read(text)
    except UnsafeQuery as exc:
        assert str(exc)
    else:
        assert isinstance(tree, (sqlglot.exp.Select, sqlglot.exp.Union, sqlglot.exp.Intersect, sqlglot.exp.Except))


# -- identifiers -------------------------------------------------------------------------------------------------
@settings(max_examples=300)
@given(st.text(alphabet=string.ascii_letters + string.digits + "._-:`;' \u0430\uff0e", max_size=60))
def test_a_table_name_is_refused_or_a_plain_allowed_ascii_name(text):
    try:
        ref = parse_table(text, "dre-sandbox", ALLOWED)
    except BadTable as exc:
        assert str(exc).endswith(".") or "`" in str(exc)
        return
    assert f"{ref.project}.{ref.dataset}" in ALLOWED
    assert re.fullmatch(r"[A-Za-z0-9_\-]+", ref.table, re.ASCII)


# -- the one column spelling -------------------------------------------------------------------------------------
@st.composite
def dressed(draw, column: str) -> str:
    quote = draw(st.sampled_from(["{}", '"{}"', "'{}'", "`{}`", "['{}']", '[" {} "]']))
    text = quote.format("".join(chr(ord(c) + 0xFEE0) if draw(st.booleans()) else c for c in column))
    if draw(st.booleans()):
        text = ("$" if text.startswith("[") else "$.") + text
    blank = st.sampled_from(["", " ", "\t", "\u00a0", "\u3000"])
    return draw(blank) + text + draw(blank)


@settings(max_examples=300)
@given(names.flatmap(lambda n: st.tuples(st.just(n), dressed(n))))
def test_every_dressing_of_a_column_comes_out_as_the_column(case):
    column, spelling = case
    assert canonical_column(spelling) == column


@settings(max_examples=300)
@given(st.text(max_size=40))
def test_a_canonical_column_is_plain_ascii_names_and_is_its_own_canonical_form(text):
    try:
        path = canonical_column(text)
    except BadParameter as exc:
        assert "must name a column" in str(exc)
        return
    assert path == "" or re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", path, re.ASCII)
    assert canonical_column(path) == path


@pytest.mark.parametrize("spelling", ["full_nаme", "email\u200b", "e mail", "email'); --", "$.*", "$..email",
                                      "email[0]"])
def test_look_alikes_and_json_path_tricks_are_refused(spelling):
    with pytest.raises(BadParameter):
        canonical_column(spelling)


# -- which outputs derive from personal data ----------------------------------------------------------------------
WRAP = ["{}", "UPPER({})", "CONCAT({}, '')", "TRIM({})", "SUBSTR({}, 1, 3)", "IFNULL({}, 'x')", "CAST({} AS STRING)",
        "TO_HEX(SHA256({}))", "IF(user_id > 1, {}, NULL)", "CASE WHEN user_id = 1 THEN {} END", "ANY_VALUE({})",
        "STRING_AGG({}, ',')", "MAX({}) OVER (PARTITION BY country)", "REPLACE({}, 'a', 'b')"]
HIDE = ["COUNT({})", "COUNTIF({} IS NULL)", "COUNT(DISTINCT {})", "SUM(IF({} = 'x', 1, 0))", "{} IS NULL"]


@settings(max_examples=200)
@given(st.sampled_from(sorted(PII)), st.lists(st.sampled_from(WRAP), min_size=1, max_size=3), names,
       st.sampled_from(["plain", "cte", "subquery", "union"]), st.booleans())
def test_values_of_a_personal_column_are_withheld_whatever_the_output_is_called(column, wraps, alias, shape, upper):
    expr = column.upper() if upper else column
    for wrap in wraps:
        expr = wrap.format(expr)
    inner = f"SELECT {expr} AS {alias}, user_id FROM `@table` AS t"
    sql = {"plain": inner,
           "cte": f"WITH a AS ({inner}) SELECT {alias} AS out, user_id FROM a",
           "subquery": f"SELECT * FROM ({inner})",
           "union": f"SELECT 'n' AS out, 1 AS user_id UNION ALL {inner}"}[shape]
    first = "out" if shape in ("cte", "union") else alias
    assert _withheld(sql, [first, "user_id"]) == [first]


@settings(max_examples=100)
@given(st.sampled_from(sorted(PII)), st.sampled_from(HIDE), names)
def test_counts_and_tests_on_a_personal_column_are_not_its_values(column, wrap, alias):
    assert _withheld(f"SELECT {wrap.format(column)} AS {alias} FROM `@table`", [alias]) == []


@settings(max_examples=100)
@given(st.sampled_from(sorted(PII | {"country", "user_id"})), names)
def test_a_column_read_through_a_json_path_parameter_is_judged_by_the_column_it_names(column, alias):
    sql = f"SELECT JSON_VALUE(TO_JSON_STRING(t), CONCAT('$.', @column)) AS {alias} FROM `@table` AS t"
    assert bool(_withheld(sql, [alias], {"column": [column]})) == (column in PII)


def test_a_path_the_decision_cannot_name_counts_as_personal_data():
    sql = "SELECT JSON_VALUE(TO_JSON_STRING(t), CONCAT('$.', @column, '.email')) AS v FROM `@table` AS t"
    assert _withheld(sql, ["v"], {"column": ["contact"]}) == ["v"]
    assert _withheld("SELECT TO_JSON_STRING(t) AS row FROM `@table` AS t", ["row"]) == ["row"]
    assert _withheld("SELECT column_name FROM `@dataset`.INFORMATION_SCHEMA.COLUMNS", ["column_name"]) == []
