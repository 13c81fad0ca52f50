"""Diagnostics run through the outbox: the BigQuery job runs on the deliverer's pool, never on a request path,
survives a restart, and its (redacted) result is posted in the incident's thread, with the full result as CSV.

Enqueue with `enqueue_run` in the transaction of whatever asked for it (a command, a button, an incident
opening with auto diagnostics).
"""
from __future__ import annotations

import functools
import json
import logging
import time
import sqlite3
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from bot import outbox, service, store
from bot.diagnostics import findings, render
from bot.diagnostics.catalog import Query
from bot.diagnostics.identifiers import BadTable, parse_table
from bot.diagnostics.params import BadParameter
from bot.diagnostics.runner import Caps, Refused, run
from bot.incident import name
from bot.outbox import Deliverer, DeliveryError
from bot.service import Actor
from bot.slack import delivery as slack
from bot.slack.mrkdwn import escape

log = logging.getLogger("dre-bot.diagnostics")
RUN, LANE = "diag.run", "bigquery"


@functools.cache
def _transient() -> tuple[type[BaseException], ...]:
    """Failures worth another try. google-api-core (with gRPC) is imported only once a job has failed."""
    from google.api_core import exceptions as gexc
    return (gexc.ServiceUnavailable, gexc.InternalServerError, gexc.TooManyRequests, gexc.GatewayTimeout,
            gexc.DeadlineExceeded, ConnectionError, TimeoutError)


def _refused() -> type[BaseException]:
    from google.api_core.exceptions import GoogleAPICallError
    return GoogleAPICallError


def enqueue_run(conn: sqlite3.Connection, incident_id: int | None, query: str, table: str, params: dict,
                user: str, channel: str | None = None, why: str = "", finding: bool = False) -> None:
    """`finding`: the result may set the card's one-line finding (the sender gave none)."""
    outbox.enqueue(conn, incident_id, RUN, LANE, LANE, {"query": query, "table": table, "params": params,
                                                        "user": user, "channel": channel, "why": why,
                                                        "finding": finding})


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray)):
        return "<bytes>"
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str)
    return value


def _local_warehouse(api_url: str | None) -> bool:
    """BIGQUERY_API_URL on loopback is the local warehouse (bqemulator), not BigQuery."""
    from urllib.parse import urlsplit
    return bool(api_url) and (urlsplit(api_url).hostname or "") in ("127.0.0.1", "localhost", "::1")


class RunHandler:
    lane = LANE

    def pace_key(self, row: sqlite3.Row) -> str:
        return LANE

    def prepare(self, d: Deliverer, row: sqlite3.Row):
        payload = json.loads(row["payload"])
        catalog: dict[str, Query] = d.clients["catalog"]
        client = d.clients.get("bigquery")
        settings = d.settings
        query = catalog.get(payload["query"])

        def go() -> dict:
            if client is None:
                return {"error": "BigQuery is not configured: set GOOGLE_CLOUD_PROJECT (and credentials)."}
            if query is None:
                return {"error": f"There is no diagnostic `{payload['query']}` any more; `/dre diag` lists the "
                                 "ones installed."}
            try:
                table = parse_table(payload["table"], settings.google_cloud_project, settings.diagnostics.allowed,
                                    settings.diagnostics.region)
                caps = Caps(settings.diagnostics.max_bytes, settings.diagnostics.timeout,
                            settings.diagnostics.max_rows)
                labels = {"incident": name(row["incident_id"]) if row["incident_id"] else "none",
                          "user": payload.get("user") or "auto", "query": query.name}
                result = run(client, query, table, payload.get("params") or {}, caps, labels)
            except (BadTable, BadParameter, Refused) as exc:
                return {"error": str(exc)}
            except _transient() as exc:
                raise DeliveryError(f"BigQuery: {exc}") from None
            except _refused() as exc:
                if _local_warehouse(settings.bigquery_api_url):
                    # bqemulator lacks views such as INFORMATION_SCHEMA.JOBS: say so instead of its raw error.
                    return {"error": f"`{query.name}` is not available in the local warehouse (the sandbox's "
                                     "BigQuery emulator cannot run it); it runs against real BigQuery."}
                return {"error": f"BigQuery refused `{query.name}` on `{payload['table']}`: {exc.message}"}
            return {"query": result.query, "table": result.table, "columns": result.columns,
                    "rows": [[_plain(v) for v in r] for r in result.rows], "truncated": result.truncated,
                    "bytes": result.bytes_processed, "estimate": result.bytes_estimate, "job": result.job_id,
                    "withheld": result.withheld}
        return go

    def succeeded(self, d: Deliverer, row: sqlite3.Row, result: dict) -> None:
        payload = json.loads(row["payload"])
        incident_id = row["incident_id"]
        inc = store.incident(d.conn, incident_id) if incident_id else None
        label = f"`{escape(payload['query'])}` on `{escape(payload['table'])}`"
        if result.get("error"):
            text = f":warning: Diagnostic {label} did not run: {escape(result['error'])}"
            record = f"Diagnostic {payload['query']} on {payload['table']} did not run: {result['error']}"
        else:
            grid, left_out = render.table(result["columns"], result["rows"])
            more = f"\n…{left_out} more row{'s' if left_out != 1 else ''} in the attached CSV" if left_out else ""
            capped = " (capped: more rows exist)" if result["truncated"] else ""
            withheld = f" · PII withheld: {', '.join(result['withheld'])}" if result["withheld"] else ""
            why = f" ({escape(payload['why'])})" if payload.get("why") else ""
            text = (f":mag: *Diagnostic* {label}{why}: {len(result['rows'])} row"
                    f"{'s' if len(result['rows']) != 1 else ''}{capped} · scanned "
                    f"{render.human_bytes(result['bytes'])}{withheld}\n```\n{grid}\n```{more}")
            record = (f"Diagnostic {payload['query']} on {payload['table']}: {len(result['rows'])} rows, scanned "
                      f"{render.human_bytes(result['bytes'])}")
            if payload["query"] == "schema" and "column_name" in result["columns"]:
                change = schema_change(d.conn, payload["table"], result)
                text += f"\n{change}"
                record += f". {change}"
        if inc is not None:
            store.add_timeline(d.conn, inc["id"], payload.get("user") or "dre-bot", "bigquery", "diagnostic", record)
            found = None if result.get("error") or not payload.get("finding") else \
                findings.finding(payload["query"], result["columns"], result["rows"])
            # The first evidence fills the finding; later results replace it only when they show a problem.
            if found and (not inc["finding"] or found[1]) and found[0] != inc["finding"]:
                store.update_incident(d.conn, inc["id"], {"finding": found[0]})
                service.record_news(d.conn, inc["id"], Actor("dre-bot", origin="diagnostics"), "")
            slack.enqueue_reply(d.conn, inc["id"], inc["channel"], text)
            if not result.get("error") and (len(result["rows"]) > render.MAX_SHOWN_ROWS or result["truncated"]):
                slack.enqueue_file(d.conn, inc["id"], inc["channel"],
                                   f"{payload['query']}-{payload['table']}.csv",
                                   render.to_csv(result["columns"], result["rows"]))
        elif payload.get("channel"):
            slack.enqueue_message(d.conn, payload["channel"], text)


def schema_change(conn: sqlite3.Connection, table: str, result: dict) -> str:
    """Columns now against the schema this bot saw last: added, removed and retyped; then remember now."""
    names, types = result["columns"].index("column_name"), result["columns"].index("data_type")
    now = {str(r[names]): str(r[types]) for r in result["rows"]}
    seen = store.schema_seen(conn, table)
    store.save_schema(conn, table, now)
    if seen is None:
        return "_First time dre-bot sees this schema: saved as the baseline for the next run._"
    before, when = seen
    added = [f"`{escape(c)}` {escape(t)}" for c, t in now.items() if c not in before]
    removed = [f"`{escape(c)}` {escape(t)}" for c, t in before.items() if c not in now]
    retyped = [f"`{escape(c)}` {escape(before[c])} → {escape(t)}" for c, t in now.items() if c in before and before[c] != t]
    if not (added or removed or retyped):
        return "No column changes since dre-bot last looked."
    parts = [f"*added* {', '.join(added)}" if added else "", f"*removed* {', '.join(removed)}" if removed else "",
             f"*retyped* {', '.join(retyped)}" if retyped else ""]
    since = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(when))
    return f":triangular_ruler: Since {since}: " + "; ".join(p for p in parts if p) + "."
