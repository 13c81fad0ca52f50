"""Lineage: dbt manifests v10 to v12, BigQuery job rows, and the rule deciding which alerts share a root cause."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from bot.lineage import bigquery, dbt
from bot.lineage.decide import ALERTING, COMMON, SAME, decide, root_of
from bot.lineage.graph import Graph

MANIFEST = json.loads((Path(__file__).parent.parent / "fixtures" / "dbt_manifest_v12.json").read_text())


def _versioned(n: int) -> dict:
    doc = copy.deepcopy(MANIFEST)
    doc["metadata"]["dbt_schema_version"] = f"https://schemas.getdbt.com/dbt/manifest/v{n}.json"
    return doc


@pytest.mark.parametrize("n", [10, 11, 12])
def test_manifest_versions_give_the_same_edges(n):
    g = dbt.parse(_versioned(n))
    assert g.upstream("staging.stg_orders") == {"acme-prod.raw.orders_v2"}   # a source by its identifier
    assert g.upstream("reports.rpt_revenue") == {"acme-prod.marts.fct_orders", "acme-prod.staging.stg_orders",
                                                 "acme-prod.raw.orders_v2", "acme-prod.marts.dim_date"}
    assert g.downstream("acme-prod.raw.events") == {"acme-prod.staging.stg_events", "acme-prod.marts.fct_sessions",
                                                    "acme-prod.reports.rpt_engagement"}


def test_tests_are_not_tables():
    g = dbt.parse(MANIFEST)
    assert not any("not_null" in t for t in g.tables)
    assert len(g.tables) == 9


def test_alias_names_the_table():
    doc = copy.deepcopy(MANIFEST)
    doc["nodes"]["model.acme.fct_orders"]["alias"] = "orders"
    g = dbt.parse(doc)
    assert "acme-prod.marts.orders" in g.upstream("reports.rpt_revenue")


def test_an_older_manifest_is_refused_with_what_to_do():
    with pytest.raises(dbt.ManifestError, match=r"v9.*v10 to v12.*dbt parse"):
        dbt.parse(_versioned(9))


def test_not_a_manifest():
    with pytest.raises(dbt.ManifestError, match="no `nodes`"):
        dbt.parse({"metadata": {}})


def test_missing_file_says_what_to_do(tmp_path):
    with pytest.raises(dbt.ManifestError, match="does not exist.*dbt parse"):
        dbt.load(tmp_path / "manifest.json")


def test_names_resolve_in_any_spelling():
    g = dbt.parse(MANIFEST)
    for name in ("marts.fct_orders", "acme-prod.marts.fct_orders", "`acme-prod.marts.fct_orders`",
                 "acme-prod:marts.fct_orders", "MARTS.FCT_ORDERS"):
        assert g.resolve(name) == "acme-prod.marts.fct_orders"


# --- BigQuery's job history ------------------------------------------------------------------------------------

def _row(src: str, dst: str) -> dict:
    sp, sd, st = src.split(".")
    dp, dd, dt = dst.split(".")
    return {"src_project": sp, "src_dataset": sd, "src_table": st, "dst_project": dp, "dst_dataset": dd,
            "dst_table": dt}


def test_job_rows_become_edges_and_anonymous_results_are_dropped():
    g = bigquery.edges_from_rows([_row("p.raw.orders", "p.stg.orders"), _row("p.stg.orders", "p.marts.fct"),
                                  _row("p.marts.fct", "p._6a1b2c3d.anon4f2e")])
    assert g.upstream("p.marts.fct") == {"p.raw.orders", "p.stg.orders"}
    assert "p._6a1b2c3d.anon4f2e" not in g.tables


def test_the_query_reads_the_partition_and_only_finished_queries():
    sql = bigquery.query("region-eu", 7)
    assert "`region-eu`.INFORMATION_SCHEMA.JOBS" in sql and "INTERVAL 7 DAY" in sql and "state = 'DONE'" in sql


# --- the failing-upstream rule ---------------------------------------------------------------------------------

def _storm_graph() -> Graph:
    """raw.src1..3 each feed a chain of tables; dim.date feeds every table."""
    edges = [("dim.date", f"m.t{i}") for i in range(30)]
    for i in range(30):
        edges.append((f"m.mid{i % 3}", f"m.t{i}"))
    edges += [(f"raw.src{k + 1}", f"m.mid{k}") for k in range(3)]
    return Graph.of(edges)


def test_a_table_joins_the_incident_of_its_alerting_upstream():
    g = _storm_graph()
    j = decide(g, "m.t3", {1: {"raw.src1"}})
    assert j is not None and j.incident_id == 1 and j.evidence == ALERTING
    assert j.line() == "`m.t3` reads `raw.src1` via `m.mid0`"
    assert j.root == "raw.src1"


def test_siblings_join_through_their_common_upstream():
    g = _storm_graph()
    j = decide(g, "m.t3", {1: {"m.t0"}})
    assert j is not None and j.evidence == COMMON and j.upstream == "m.mid0"
    assert root_of(g, {"m.t0", "m.t3"}) == "m.mid0"


def test_the_date_dimension_does_not_merge_unrelated_failures():
    g = _storm_graph()
    # t1 reads src2, t0 reads src1: the only table both read is dim.date, upstream of every table.
    assert g.fan_out("dim.date") > 0.5
    assert decide(g, "m.t1", {1: {"m.t0"}}) is None


def test_an_alerting_date_dimension_is_still_evidence():
    g = _storm_graph()
    j = decide(g, "m.t1", {1: {"dim.date"}})
    assert j is not None and j.evidence == ALERTING and j.line() == "`m.t1` reads `dim.date`"


def test_an_upstream_alerting_after_its_downstream_joins_and_becomes_the_root():
    g = _storm_graph()
    j = decide(g, "raw.src1", {1: {"m.t0", "m.t3"}})
    assert j is not None and j.evidence == ALERTING and j.root == "raw.src1"
    assert j.line().startswith("`m.t") and "reads `raw.src1`" in j.line()


def test_alerting_evidence_beats_a_common_upstream():
    g = _storm_graph()
    j = decide(g, "m.t3", {1: {"m.t0"}, 2: {"raw.src1"}})
    assert j is not None and j.incident_id == 2


def test_a_table_the_lineage_does_not_know_is_left_to_the_keys():
    assert decide(_storm_graph(), "other.table", {1: {"raw.src1"}}) is None


def test_the_same_table_under_another_key_joins_without_a_path():
    j = decide(_storm_graph(), "m.t3", {4: {"m.t3"}})
    assert j is not None and j.evidence == SAME and j.incident_id == 4


def test_max_share_is_the_knob():
    g = _storm_graph()
    assert decide(g, "m.t1", {1: {"m.t0"}}, max_share=1.0) is not None
