"""Table names from Slack, checked against BigQuery's naming rules and the datasets the bot may read.

https://cloud.google.com/bigquery/docs/tables#table_naming and #datasets naming. ASCII only, on purpose:
unicode look-alikes of `.` or letters are refused rather than guessed at.
"""
from __future__ import annotations

import re
from fnmatch import fnmatchcase

from bot.diagnostics.guard import TableRef

_PROJECT = re.compile(r"(?:[a-z][a-z0-9.\-]*[a-z0-9]:)?[a-z][a-z0-9\-]{4,28}[a-z0-9]", re.ASCII)
_DATASET = re.compile(r"[A-Za-z0-9_]{1,1024}", re.ASCII)
_TABLE = re.compile(r"[A-Za-z0-9_\-]{1,1024}", re.ASCII)
_REGION = re.compile(r"region-[a-z]+(?:-[a-z]+[0-9]*)?", re.ASCII)


class BadTable(Exception):
    """The name is not a table the bot may read; the message says why and what to type."""


def parse_table(text: str, default_project: str | None, allowed: tuple[str, ...], region: str = "region-us") -> TableRef:
    raw = text.strip().strip("`")
    parts = raw.replace(":", ".", 1).split(".") if raw.count(":") == 1 and raw.count(".") == 1 else raw.split(".")
    if len(parts) == 2 and default_project:
        parts = [default_project, *parts]
    if len(parts) != 3:
        hint = "" if default_project else " (set GOOGLE_CLOUD_PROJECT to allow dataset.table)"
        raise BadTable(f"`{text}` is not a table name. Write project.dataset.table{hint}, like "
                       "`my-project.analytics.orders`.")
    project, dataset, table = parts
    if not _PROJECT.fullmatch(project):
        raise BadTable(f"`{project}` is not a BigQuery project id (6-30 lower-case letters, digits and dashes).")
    if not _DATASET.fullmatch(dataset):
        raise BadTable(f"`{dataset}` is not a BigQuery dataset name (letters, digits and underscores).")
    if not _TABLE.fullmatch(table):
        raise BadTable(f"`{table}` is not a table name dre-bot accepts (letters, digits, underscores, dashes).")
    if not _REGION.fullmatch(region):
        raise BadTable(f"`{region}` is not a BigQuery region qualifier like region-us or region-europe-west1.")
    if not any(fnmatchcase(f"{project}.{dataset}", pattern) for pattern in allowed):
        listed = ", ".join(f"`{a}`" for a in allowed) or "none yet"
        raise BadTable(f"dre-bot may not read `{project}.{dataset}`. Allowed datasets: {listed} "
                       "(`[diagnostics] allowed` in dre-bot.toml).")
    return TableRef(project, dataset, table, region)
