"""Lineage from BigQuery's own job history: each job's referenced tables -> its destination table, over the last
N days of `region-*.INFORMATION_SCHEMA.JOBS`, read with the diagnostics' cost cap (a dry run first, then
maximum_bytes_billed).

Columns as Google documents them (https://cloud.google.com/bigquery/docs/information-schema-jobs):
`referenced_tables` ARRAY<STRUCT<project_id, dataset_id, table_id>>, `destination_table` STRUCT of the same,
`creation_time` (the partitioning column, so the day filter bounds the bytes read), `state`, `job_type`.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable, Mapping

from google.cloud import bigquery

from bot import bigquery_client

from bot.lineage.graph import Graph


client_for = bigquery_client.client_for


class CostRefused(RuntimeError):
    """The dry run estimated more than the cap; nothing was run."""


def query(region: str, days: int) -> str:
    """The read of INFORMATION_SCHEMA.JOBS (jobs_edges.sql), for one region over the last `days` days."""
    if not re.fullmatch(r"region-[a-z0-9-]+", region):
        raise ValueError(f"{region!r} is not a BigQuery region qualifier; use one like region-us or region-eu.")
    return (Path(__file__).with_name("jobs_edges.sql").read_text().format(region=region, days=int(days)))


def _is_scratch(dataset: str | None) -> bool:
    # Every plain SELECT writes to an anonymous dataset (`_` and a hash): a result, not a table anyone reads.
    return not dataset or dataset.startswith("_")


def edges_from_rows(rows: Iterable[Mapping[str, Any]], origin: str = "BigQuery jobs") -> Graph:
    """The graph of INFORMATION_SCHEMA.JOBS rows as `query` returns them."""
    edges = []
    for r in rows:
        if _is_scratch(r.get("dst_dataset")) or _is_scratch(r.get("src_dataset")):
            continue
        src = f"{r['src_project']}.{r['src_dataset']}.{r['src_table']}"
        dst = f"{r['dst_project']}.{r['dst_dataset']}.{r['dst_table']}"
        edges.append((src, dst))
    return Graph.of(edges, origin)


def fetch(client: bigquery.Client, region: str, days: int, max_bytes: int, timeout: float = 60.0) -> Graph:
    """Read the edges; CostRefused when the dry run says the read would cost more than `max_bytes`."""
    sql = query(region, days)
    dry = client.query(sql, job_config=bigquery.QueryJobConfig(dry_run=True, use_query_cache=False))
    estimate = dry.total_bytes_processed or 0
    if estimate > max_bytes:
        raise CostRefused(f"reading {region}.INFORMATION_SCHEMA.JOBS would process {estimate} bytes, over the cap "
                          f"of {max_bytes} ([diagnostics] max_bytes); lower [lineage] bigquery_days or raise the cap.")
    job = client.query(sql, job_config=bigquery.QueryJobConfig(
        maximum_bytes_billed=max_bytes, use_query_cache=False, labels={"dre-bot": "lineage"}))
    return edges_from_rows((dict(row.items()) for row in job.result(timeout=timeout)),
                           f"BigQuery jobs ({region}, {days} days)")
