"""The SQL guard: a catalog query must parse (sqlglot, BigQuery dialect) as one read and nothing else; and
identifiers reach the SQL only through the parsed tree, never by pasting text.

Placeholders a query may use for the table it is asked about, replaced here with validated identifiers:
  `@table`                              the table itself                 -> `project`.`dataset`.`table`
  `@dataset`.INFORMATION_SCHEMA.<VIEW>  its dataset's metadata views     -> `project`.`dataset`.INFORMATION_SCHEMA...
  `@region`.INFORMATION_SCHEMA.<VIEW>   region views such as JOBS        -> `project`.`region-us`.INFORMATION_SCHEMA...
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlglot import exp   # imported where SQL is parsed: TableRef's many importers need no parser


@functools.cache
def _kinds() -> tuple[tuple[type, ...], tuple[type, ...]]:
    """The statement kinds that read, and the ones that must appear nowhere in a diagnostic."""
    from sqlglot import exp
    reads = (exp.Select, exp.Union, exp.Intersect, exp.Except)
    writes = (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Alter, exp.Command,
              exp.TruncateTable, exp.Set, exp.Transaction, exp.Commit, exp.Rollback, exp.Use, exp.Copy)
    return reads, writes


class UnsafeQuery(Exception):
    """The SQL is not a single read; the message says what it is instead."""


@dataclass(frozen=True)
class TableRef:
    project: str
    dataset: str
    table: str
    region: str = "region-us"

    def __str__(self) -> str:
        return f"{self.project}.{self.dataset}.{self.table}"


def parse_read(sql: str, where: str = "query") -> exp.Expression:
    """The one read statement in `sql`; UnsafeQuery for DML, DDL, scripting, EXPORT, or several statements."""
    import sqlglot
    reads, writes = _kinds()
    try:
        statements = [s for s in sqlglot.parse(sql, read="bigquery") if s is not None]
    except sqlglot.errors.SqlglotError as exc:   # ParseError, and TokenError for an unclosed quote
        raise UnsafeQuery(f"{where} does not parse as BigQuery SQL: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1:
        raise UnsafeQuery(f"{where} holds {len(statements)} statements; a diagnostic is exactly one SELECT.")
    tree = statements[0]
    if not isinstance(tree, reads):
        raise UnsafeQuery(f"{where} is a {type(tree).__name__.upper()}, not a read; only SELECT queries may run.")
    bad = next((node for node in tree.walk() if isinstance(node, writes)), None)
    if bad is not None:
        raise UnsafeQuery(f"{where} contains a {type(bad).__name__.upper()}; only reads may run.")
    return tree


def bind_identifiers(tree: exp.Expression, table: TableRef, constants: dict[str, int | float] | None = None) -> str:
    """The query's SQL with the placeholders replaced, node by node, by the validated table's identifiers.

    `constants`: numeric parameters used where BigQuery takes only constants (TABLESAMPLE ... PERCENT); they are
    already validated numbers and go in as numeric literals. Comments are dropped from the output."""
    from sqlglot import exp
    tree = tree.copy()
    for sample in list(tree.find_all(exp.TableSample)):
        for param in list(sample.find_all(exp.Parameter, exp.Placeholder)):
            key = param.name
            if constants is None or key not in constants:
                raise UnsafeQuery(f"@{key} is used in TABLESAMPLE but is not a numeric parameter.")
            param.replace(exp.Literal.number(constants[key]))

    def ident(value: str) -> exp.Identifier:
        return exp.to_identifier(value, quoted=True)

    for node in list(tree.find_all(exp.Table)):
        name, db = node.name, node.args.get("db")
        db_name = db.name if isinstance(db, exp.Identifier) else None
        if name == "@table" and not db_name:
            node.set("this", ident(table.table))
            node.set("db", ident(table.dataset))
            node.set("catalog", ident(table.project))
        elif db_name in ("@dataset", "@region"):
            node.set("db", ident(table.dataset if db_name == "@dataset" else table.region))
            node.set("catalog", ident(table.project))
            if re.fullmatch(r"INFORMATION_SCHEMA\.[A-Z_]+", name):
                # `INFORMATION_SCHEMA.X` as one quoted name is legal BigQuery but not understood everywhere
                # (the sandbox warehouse): written plainly, as BigQuery's own docs do. It is catalog text.
                node.set("this", exp.to_identifier(name, quoted=False))
        elif name.startswith("@") or (db_name or "").startswith("@"):
            raise UnsafeQuery(f"unknown table placeholder `{node.sql('bigquery')}`; use `@table`, `@dataset` "
                              "or `@region`.")
    return tree.sql(dialect="bigquery", comments=False)
