"""Running a catalog query on BigQuery, safely: a dry run first (refused with the estimate when over the bytes
cap), then the real job with maximum_bytes_billed, a timeout, a row cap and labels naming the bot, the incident
and the user; every output derived from a personal-data column withheld before the result goes anywhere.

https://cloud.google.com/bigquery/docs/running-queries#dry-run
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from bot import bigquery_client

from bot.diagnostics import params as qparams
from bot.diagnostics.catalog import Query
from bot.diagnostics.guard import TableRef, bind_identifiers, parse_read
from bot.diagnostics.render import human_bytes

if TYPE_CHECKING:
    from google.cloud import bigquery

# google-cloud-bigquery and the redaction (sqlglot) are imported where a query runs, not with this module: the
# deliverer imports it at start, and a bot that never runs a diagnostic should not pay for them.


class Refused(Exception):
    """The query will not run (over the cost cap, or the table cannot be read); the message says why."""


@dataclass(frozen=True)
class Caps:
    max_bytes: int = 10 * 1000 ** 3
    timeout: float = 60.0
    max_rows: int = 500


@dataclass
class Result:
    query: str
    table: str
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool
    bytes_processed: int | None
    bytes_estimate: int | None
    job_id: str | None
    withheld: list[str] = field(default_factory=list)


def label(value: str) -> str:
    """A BigQuery label value: lower-case letters, digits, _ and -, at most 63 characters."""
    return re.sub(r"[^a-z0-9_\-]", "_", value.lower())[:63] or "none"


client_for = bigquery_client.client_for


@dataclass(frozen=True)
class Schema:
    """What the personal-data check knows of a table: its column paths and which of them hold personal data."""
    columns: dict[str, str]        # lower-cased path -> the schema's spelling, nested fields as parent.child
    pii: frozenset[str]            # lower-cased paths of personal-data columns (policy tag, description, name)
    num_rows: int | None = None

    def is_pii(self, path: str) -> bool:
        """A column is personal data if it is tagged so, or holds (a struct with) a tagged field, or sits in one."""
        from bot.diagnostics.redact import is_pii_column
        p = path.lower()
        return is_pii_column(p.rsplit(".", 1)[-1]) or any(
            p == q or q.startswith(p + ".") or p.startswith(q + ".") for q in self.pii)


def schema_of(client: bigquery.Client, table: TableRef) -> Schema | None:
    """The table's columns and personal-data columns (by policy tag, a description starting `PII`, or name)."""
    from bot.diagnostics.redact import is_pii_column
    try:
        got = client.get_table(str(table))
    except Exception:   # metadata unavailable: the caller fails closed
        return None
    columns: dict[str, str] = {}
    pii: set[str] = set()

    def walk(fields, prefix=""):
        for f in fields:
            path = prefix + f.name
            columns[path.lower()] = path
            tags = list(getattr(getattr(f, "policy_tags", None), "names", None) or [])
            described = (f.description or "").strip().upper().startswith("PII")
            if is_pii_column(f.name, tags) or described:
                pii.add(path.lower())
            walk(getattr(f, "fields", ()) or (), path + ".")
    walk(got.schema or [])
    return Schema(columns, frozenset(pii), got.num_rows)


def run(client: bigquery.Client, query: Query, table: TableRef, given: Mapping[str, str], caps: Caps,
        labels: Mapping[str, str]) -> Result:
    from google.cloud import bigquery
    from google.cloud.bigquery.retry import DEFAULT_RETRY

    from bot.diagnostics import redact
    schema = schema_of(client, table)
    # Column-naming parameters are bound in the canonical spelling resolved against this schema: the query
    # reads exactly the column the personal-data check below looks at.
    parameters = qparams.bind(query, table, given, schema.columns if schema else None)
    named = qparams.named_columns(query, parameters)
    if schema is None and any(named.values()):
        raise Refused(f"dre-bot could not read the schema of `{table}`, so it cannot check whether "
                      f"{', '.join(c for cs in named.values() for c in cs)} hold personal data. Try again, or "
                      "grant the bot bigquery.tables.get on the table.")
    constants = {p.name: p.value for p in parameters if p.type_ in ("INT64", "FLOAT64")}
    if ("sample_percent" in constants and "sample_percent" not in given and schema is not None
            and (schema.num_rows or 0) < 1_000_000):
        constants["sample_percent"] = 100   # sampling a small table saves nothing and may miss everything
    tree = parse_read(query.sql, query.name)
    sql = bind_identifiers(tree, table, constants)
    # The client's default retries go on for ten minutes; a diagnostic gets its own deadline.
    retry = DEFAULT_RETRY.with_deadline(caps.timeout)
    job_labels = {label(k): label(v) for k, v in {"app": "dre-bot", **labels}.items()}
    dry = client.query(sql, job_config=bigquery.QueryJobConfig(
        dry_run=True, use_query_cache=False, query_parameters=parameters, labels=job_labels),
        retry=retry, job_retry=None, timeout=caps.timeout)
    estimate = dry.total_bytes_processed
    if estimate is not None and estimate > caps.max_bytes:
        raise Refused(f"`{query.name}` on `{table}` would scan {human_bytes(estimate)}, over the cap of "
                      f"{human_bytes(caps.max_bytes)} (`[diagnostics] max_bytes`). Narrow it with parameters, "
                      "e.g. fewer `days`.")
    job = client.query(sql, job_config=bigquery.QueryJobConfig(
        query_parameters=parameters, labels=job_labels, maximum_bytes_billed=caps.max_bytes,
        job_timeout_ms=int(caps.timeout * 1000)), timeout=caps.timeout, retry=retry, job_retry=None)
    limit = min(query.max_rows, caps.max_rows)
    rows_iter = job.result(max_results=limit + 1, timeout=caps.timeout, retry=retry)
    columns = [f.name for f in rows_iter.schema]
    rows = [list(r.values()) for r in rows_iter]
    truncated = len(rows) > limit
    rows = rows[:limit]
    # Withheld by where the values come from, not by what the output column is called: lineage through the
    # query. Without the schema every column might be personal data.
    personal = redact.personal_outputs(tree, columns, schema.is_pii if schema else redact.is_pii_column, named,
                                       table_has_pii=bool(schema.pii) if schema else True)
    rows, withheld = redact.redact_rows(columns, rows, set(personal))
    return Result(query=query.name, table=str(table), columns=columns, rows=rows, truncated=truncated,
                  bytes_processed=job.total_bytes_processed, bytes_estimate=estimate, job_id=job.job_id,
                  withheld=withheld)
