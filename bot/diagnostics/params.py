"""Parameters typed in Slack (`days=7 column=status`), checked against the query's header and bound as BigQuery
query parameters: values never become SQL text."""
from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any, Mapping

from bot.diagnostics.catalog import Query
from bot.diagnostics.guard import TableRef
from bot.durations import parse_duration

if TYPE_CHECKING:
    from google.cloud import bigquery   # imported in `bind`: Slack commands import this module, most never bind

MAX_STRING = 1024
_SEGMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
# One part of a column path: `quoted`, "quoted", 'quoted', ['bracketed'] or bare, with blanks around it.
_PART = re.compile(r"""\s*(?:`([^`]*)`|"([^"]*)"|'([^']*)'|\[\s*(?:"([^"]*)"|'([^']*)')\s*\]|([^.\[\]`"'\s]+))\s*""")


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


def canonical_column(text: str, param: str = "column") -> str:
    """The one spelling of a column path that both the query and the personal-data check use.

    Every way of writing a name that BigQuery or a JSON path would read as the same field comes out the same:
    unicode compatibility forms folded (NFKC: full-width letters), blanks trimmed, quotes and backticks and
    ['brackets'] removed, a leading `$.` dropped. What is left must be plain ASCII names joined by dots, so
    a look-alike letter or a JSON path trick is refused rather than guessed at. Case is settled against the
    table's schema by `resolve_column`. Empty text stays empty (the parameter's "none")."""
    raw = unicodedata.normalize("NFKC", str(text)).strip()
    if raw.startswith("$"):
        raw = raw[1:].lstrip()
        raw = raw[1:] if raw.startswith(".") else raw
    parts: list[str] = []
    pos = 0
    while pos < len(raw):
        m = _PART.match(raw, pos)
        if not m:
            break
        quoted = next(g for g in m.groups() if g is not None)
        # A backticked `a.b` is a path in BigQuery's identifier syntax: its dots still separate fields.
        parts.extend(p.strip() for p in (quoted.split(".") if m.group(1) is not None else [quoted]))
        pos = m.end()
        if pos < len(raw) and raw[pos] == ".":
            pos += 1
            if pos == len(raw):
                parts.append("")
        elif pos < len(raw) and raw[pos] != "[":
            break
    if pos < len(raw) or not all(_SEGMENT.fullmatch(p) for p in parts):
        if not raw:
            return ""
        raise BadParameter(f"`{param}` must name a column: letters, digits and underscores, nested fields "
                           "joined by dots, like `{param}=customer.country`.".replace("{param}", param))
    return ".".join(parts)


def resolve_column(path: str, columns: Mapping[str, str], table: TableRef, param: str = "column") -> str:
    """The schema's own spelling of a canonical path (`columns`: lower-cased path -> schema path); a prefix naming
    the table itself (`users.email`, `crm.users.email`) is dropped. BadParameter for a column the table lacks."""
    if not path:
        return ""
    parts = path.split(".")
    qualifiers = [table.project.lower(), table.dataset.lower(), table.table.lower()]
    for cut in range(len(parts)):
        prefix = [p.lower() for p in parts[:cut]]
        if cut and prefix != qualifiers[-cut:] and prefix != ["t"]:
            continue
        found = columns.get(".".join(parts[cut:]).lower())
        if found:
            return found
    some = ", ".join(sorted(columns.values())[:12])
    raise BadParameter(f"`{table}` has no column `{path}` (`{param}`). Its columns include: {some}.")


def _column_value(query: Query, table: TableRef, pname: str, value: str,
                  columns: Mapping[str, str] | None) -> str:
    names = query.names(pname)
    spellings = [value] if names == "column" else ([] if not value.strip() else value.split(","))
    out = []
    for spelling in spellings:
        path = canonical_column(spelling, pname)
        if names == "columns" and not path:
            raise BadParameter(f"`{pname}` lists an empty column; write them like `{pname}=order_id,line_no`.")
        out.append(resolve_column(path, columns, table, pname) if columns is not None else path)
    return ",".join(out)


def named_columns(query: Query, parameters: list[bigquery.ScalarQueryParameter]) -> dict[str, list[str]]:
    """For each column-naming parameter as bound: the canonical columns the query reads through it."""
    return {p.name: [c for c in str(p.value).split(",") if c] for p in parameters if query.names(p.name)}


def bind(query: Query, table: TableRef, given: Mapping[str, str],
         columns: Mapping[str, str] | None = None) -> list[bigquery.ScalarQueryParameter]:
    """Every parameter the SQL uses: the table's parts, then each declared one from `given` or its default.

    A parameter naming columns is bound in its canonical spelling (`canonical_column`), resolved against the
    table's columns when they are known (`columns`: lower-cased path -> schema path), so the query reads
    exactly the column the personal-data check looked at."""
    from google.cloud import bigquery
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
        if query.names(pname):
            value = _column_value(query, table, pname, str(value), columns)
        out.append(bigquery.ScalarQueryParameter(pname, kind, value))
    return out
