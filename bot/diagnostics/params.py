"""Parameters typed in Slack (`days=7 column=status`), checked against the query's header and bound as BigQuery
query parameters: values never become SQL text."""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any, Mapping

from google.cloud import bigquery

from bot.diagnostics.catalog import Query
from bot.diagnostics.guard import TableRef
from bot.durations import parse_duration

MAX_STRING = 1024


class BadParameter(Exception):
    """A parameter is unknown or of the wrong type; the message says what the query takes."""


def _convert(name: str, kind: str, value: Any) -> Any:
    text = str(value).strip()
    try:
        if kind == "INT64":
            return int(text)
        if kind == "FLOAT64":
            return float(text)
        if kind == "BOOL":
            if text.lower() in ("true", "yes", "1"):
                return True
            if text.lower() in ("false", "no", "0"):
                return False
            raise ValueError(text)
        if kind == "DATE":
            return date.fromisoformat(text)
        if kind == "TIMESTAMP":
            if text.endswith("ago"):   # "24h ago"
                return datetime.fromtimestamp(datetime.now(timezone.utc).timestamp()
                                              - parse_duration(text[:-3]), tz=timezone.utc)
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    except ValueError:
        examples = {"INT64": "14", "FLOAT64": "0.5", "BOOL": "true", "DATE": "2026-11-25",
                    "TIMESTAMP": "2026-11-25T06:00:00Z or 24h ago"}
        raise BadParameter(f"`{name}` must be {kind}, like `{name}={examples[kind]}`.") from None
    if len(text) > MAX_STRING:
        raise BadParameter(f"`{name}` is longer than {MAX_STRING} characters.")
    return text


def bind(query: Query, table: TableRef, given: Mapping[str, str]) -> list[bigquery.ScalarQueryParameter]:
    """Every parameter the SQL uses: the table's parts, then each declared one from `given` or its default."""
    declared = {k: v for k, v in query.params.items() if str(v.get("type", "")).upper() != "TABLE"}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        takes = ", ".join(f"{k} ({v['type']})" for k, v in declared.items()) or "no parameters"
        raise BadParameter(f"`{query.name}` has no parameter {', '.join(unknown)}; it takes {takes}.")
    out = [bigquery.ScalarQueryParameter("table_project", "STRING", table.project),
           bigquery.ScalarQueryParameter("table_dataset", "STRING", table.dataset),
           bigquery.ScalarQueryParameter("table_name", "STRING", table.table)]
    for pname, spec in declared.items():
        kind = str(spec["type"]).upper()
        if pname in given:
            value = _convert(pname, kind, given[pname])
        elif "default" in spec:
            value = spec["default"] if kind != "TIMESTAMP" else _convert(pname, kind, spec["default"])
        else:
            raise BadParameter(f"`{query.name}` needs `{pname}` ({kind}): add `{pname}=...`.")
        out.append(bigquery.ScalarQueryParameter(pname, kind, value))
    return out
