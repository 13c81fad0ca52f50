"""The catalog of named diagnostic queries: runbooks/queries/*.sql, each with a YAML header in a block comment."""
from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

log = logging.getLogger("dre-bot.diagnostics")
_HEADER = re.compile(r"\A\s*/\*---\s*\n(.*?)\n---\*/\s*\n(.*)\Z", re.DOTALL)
PARAM_TYPES = {"TABLE", "STRING", "INT64", "FLOAT64", "BOOL", "DATE", "TIMESTAMP"}
# What a STRING parameter's text is: a column of the table (`column`), a comma-separated list of columns
# (`columns`), or plain text (`value`). Column is the default so that a new query fails closed: its text is
# canonicalised and checked for personal data unless its author says it names nothing.
NAMES = ("column", "columns", "value")


class CatalogError(Exception):
    """A query file is wrong; the message names it."""


@dataclass(frozen=True)
class Query:
    name: str
    description: str
    sql: str
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    max_rows: int = 50
    path: str = ""

    def names(self, param: str) -> str | None:
        """`column`, `columns` or None: whether a parameter's text names columns of the table."""
        spec = self.params.get(param) or {}
        if str(spec.get("type", "")).upper() != "STRING":
            return None
        names = spec.get("names", "column")
        return None if names == "value" else names


def parse(path: Path, check_sql: bool = True) -> Query:
    """check_sql=False: the header only; the SQL is then checked by `check_sql_later`."""
    m = _HEADER.match(path.read_text(encoding="utf-8"))
    if not m:
        raise CatalogError(f"{path}: must start with a /*--- YAML header ---*/ block.")
    try:
        meta = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path}: header is not valid YAML: {exc}") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
        raise CatalogError(f"{path}: header needs `name`.")
    if meta["name"] != path.stem:
        raise CatalogError(f"{path}: name `{meta['name']}` must match the file name `{path.stem}`.")
    params = meta.get("params") or {}
    if not isinstance(params, dict):
        raise CatalogError(f"{path}: `params` must map parameter names to {{type, default, description}}.")
    for pname, spec in params.items():
        if not isinstance(spec, dict) or str(spec.get("type", "")).upper() not in PARAM_TYPES:
            raise CatalogError(f"{path}: parameter `{pname}` needs a type, one of {', '.join(sorted(PARAM_TYPES))}.")
        if "names" in spec and (str(spec["type"]).upper() != "STRING" or spec["names"] not in NAMES):
            raise CatalogError(f"{path}: parameter `{pname}`: `names` is for STRING parameters, one of "
                               f"{', '.join(NAMES)}.")
    max_rows = meta.get("max_rows", 50)
    if not isinstance(max_rows, int) or max_rows < 1:
        raise CatalogError(f"{path}: `max_rows` must be a positive whole number.")
    if check_sql:
        _check(m.group(2), str(path))   # refused at load time: only reads are ever in the catalog
    return Query(name=meta["name"], description=str(meta.get("description") or ""), sql=m.group(2).strip(),
                 params=params, max_rows=max_rows, path=str(path))


def _check(sql: str, where: str) -> None:
    from bot.diagnostics.guard import UnsafeQuery, parse_read   # sqlglot: about 0.1 s to import
    try:
        parse_read(sql, where)
    except UnsafeQuery as exc:
        raise CatalogError(str(exc)) from None


def load(folder: str | Path, check_sql: bool = True) -> dict[str, Query]:
    """Every query in the folder, by name. check_sql=False reads the headers only (`dre-bot serve`, which checks
    the SQL with `check_sql_later` once it is up); `runbooks check`, `doctor` and the tests check it here."""
    root = Path(folder)
    return {q.name: q for q in (parse(p, check_sql) for p in sorted(root.glob("*.sql")))} if root.is_dir() else {}


def check_sql_later(queries: dict[str, Query]) -> threading.Thread:
    """Check each query's SQL on a thread of its own, so that the bot answers /healthz without first loading the
    SQL parser and parsing every query (about a quarter of a second). A query that is not a single read is taken
    out of `queries`, which the bot shares, so `/dre diag` never offers it, and the reason is logged as an error;
    `runner.run` parses and checks the SQL again before every job in any case."""
    def check() -> None:
        for query in list(queries.values()):
            try:
                _check(query.sql, query.path or query.name)
            except CatalogError as exc:
                queries.pop(query.name, None)
                log.error("Diagnostic `%s` is not offered: %s (`dre-bot runbooks check` lists every problem)",
                          query.name, exc)
    thread = threading.Thread(target=check, name="catalog-check", daemon=True)
    thread.start()
    return thread
