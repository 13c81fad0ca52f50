"""PII redaction, before anything reaches Slack: whole output columns derived from a personal-data column (by
lineage through the query, whatever they are called), and values that look like personal data (emails, phone
numbers, IP addresses, card and social security numbers) anywhere."""
from __future__ import annotations

import re
from typing import Any, Callable, Iterable, Mapping

from sqlglot import exp

from bot.diagnostics.params import BadParameter, canonical_column

# Column names that hold personal data (matched on words of the name, e.g. customer_email, PhoneNumber).
PII_COLUMN = re.compile(
    r"(^|_)(e_?mail|phone|mobile|msisdn|ssn|social_security|full_?name|first_?name|last_?name|surname|"
    r"given_?name|address|street|postcode|zip(_?code)?|ip(_?addr(ess)?)?|date_of_birth|dob|birth_?date|"
    r"passport|national_id|tax_id|iban|card_?number|credit_?card|cc_num|password|secret|token)(_|$)")
_PATTERNS = [
    ("email", re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")),
    ("card number", re.compile(r"\b(?:\d[ \-]?){13,19}\b")),
    ("ssn", re.compile(r"\b\d{3}-\d{2}-\d{4}\b")),
    ("phone", re.compile(r"(?<![\w.])\+?\d[\d \-().]{7,}\d(?![\w.])")),
    ("ip address", re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b|\b(?:[0-9a-fA-F]{1,4}:){3,7}[0-9a-fA-F]{1,4}\b")),
]


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def is_pii_column(name: str, policy_tags: Iterable[str] = ()) -> bool:
    return bool(list(policy_tags)) or bool(PII_COLUMN.search(_snake(name)))


def redact_value(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    out = value
    for label, pattern in _PATTERNS:
        out = pattern.sub(f"[{label} redacted]", out)
    return out


def redact_rows(columns: list[str], rows: list[list[Any]], pii_columns: set[str],
                all_values: bool = False) -> tuple[list[list[Any]], list[str]]:
    """Rows with PII columns blanked and PII-looking values replaced; and the columns that were withheld.

    all_values: the result's values come from a PII column (e.g. the top values of `email`): withhold every
    string value, not only the ones that look like personal data."""
    withheld = [c for c in columns if c in pii_columns or is_pii_column(c)]
    out = []
    for row in rows:
        new = []
        for column, value in zip(columns, row):
            if column in withheld or (all_values and isinstance(value, str)):
                new.append("[redacted]" if value is not None else None)
            else:
                new.append(redact_value(value))
        out.append(new)
    return out, withheld


# -- Which output columns carry values of a personal-data column: lineage through the parsed query ---------------
#
# Each expression gets the set of sources its value is made of:
#   ("col", name)      a column of the table asked about        ("param", p)   the text of parameter @p
#   ("colparam", p)    the column parameter @p names (JSON path) ("row",)       the whole row (TO_JSON_STRING(t))
#   ("any",)           some column we cannot name                ("meta",)      INFORMATION_SCHEMA metadata
#   ("lit", text)      a string literal (only matters inside a JSON path)
# Counting and comparing consume values without passing them on (COUNTIF(email IS NULL) is a number), so they
# stop the walk. Hashes do not: a fingerprint of a name still singles a person out (pseudonymous data is
# personal data), so it is withheld with the name. Anything we cannot resolve counts as some column: fail closed.

_CONSUMES = (exp.Count, exp.CountIf, exp.Predicate, exp.Connector, exp.Not, exp.Exists, exp.Between, exp.Is,
             exp.In, exp.Boolean)
_JSON = (exp.JSONExtract, exp.JSONExtractScalar)
_MAX_DEPTH = 200


def _branches(query: exp.Expression) -> list[exp.Select]:
    if isinstance(query, exp.SetOperation):
        return _branches(query.this) + _branches(query.expression)
    if isinstance(query, exp.Subquery):
        return _branches(query.this)
    return [query] if isinstance(query, exp.Select) else []


class _Lineage:
    def __init__(self, tree: exp.Expression):
        self.ctes = {cte.alias_or_name.lower(): cte.this for cte in tree.find_all(exp.CTE)}

    def _sources(self, select: exp.Select) -> list[tuple[str, str, Any]]:
        """(alias, kind, node) for each FROM and JOIN source of a SELECT."""
        items = [select.args.get("from_") or select.args.get("from")] + list(select.args.get("joins") or [])
        out = []
        for item in items:
            node = item.this if item is not None else None
            if isinstance(node, exp.Table):
                db = node.args.get("db")
                metadata = "INFORMATION_SCHEMA" in node.name.upper() or (
                    isinstance(db, exp.Identifier) and db.name.upper() == "INFORMATION_SCHEMA")
                if not db and node.name.lower() in self.ctes:
                    out.append((node.alias_or_name.lower(), "derived", self.ctes[node.name.lower()]))
                else:
                    out.append((node.alias_or_name.lower(), "meta" if metadata else "base", node))
            elif isinstance(node, exp.Subquery):
                out.append((node.alias_or_name.lower(), "derived", node.this))
            elif isinstance(node, exp.Unnest):
                alias = node.args.get("alias")
                names = [c.name.lower() for c in (alias.columns if alias else [])] or [node.alias_or_name.lower()]
                for n in names:
                    out.append((n, "unnest", node))
            elif node is not None:
                out.append(("", "unknown", node))
        return out

    def column(self, name: str, qualifier: str, scope: list[exp.Select], depth: int) -> set:
        name, qualifier = name.lower(), qualifier.lower()
        for level in range(len(scope) - 1, -1, -1):
            sources = self._sources(scope[level])
            inner = scope[: level + 1]
            if qualifier and any(s[0] == qualifier for s in sources):
                picked = [s for s in sources if s[0] == qualifier]
            elif qualifier:
                continue
            else:
                if any(alias == name and kind in ("base", "meta") for alias, kind, _ in sources):
                    return {("row",)}   # BigQuery: a table alias used as a value is the whole row
                picked = [s for s in sources if (s[1] == "unnest" and s[0] == name)
                          or (s[1] == "derived" and self._provides(s[2], name))]
                picked = picked or [s for s in sources if s[1] in ("base", "meta", "unknown")]
            if picked:
                out: set = set()
                for alias, kind, node in picked:
                    if kind == "base":
                        out.add(("col", name))
                    elif kind == "meta":
                        out.add(("meta",))
                    elif kind == "unnest":
                        out |= self.of(node.expressions, inner, depth + 1)
                    elif kind == "derived":
                        out |= self.output(node, name, depth + 1)
                    else:
                        out.add(("any",))
                return out
        if qualifier:   # not a table in any scope: BigQuery reads `a.b` as field b of the struct column a
            return self.column(qualifier, "", scope, depth + 1)
        return {("any",)}

    def _provides(self, query: exp.Expression, name: str) -> bool:
        return any(p.alias_or_name.lower() == name or isinstance(p, exp.Star)
                   for b in _branches(query) for p in b.expressions)

    def output(self, query: exp.Expression, name: str, depth: int, index: int | None = None) -> set:
        """Sources of one output column of a query, by name (or by position, as a UNION pairs them)."""
        branches = _branches(query)
        if not branches:
            return {("any",)}
        if index is None:
            names = [p.alias_or_name.lower() for p in branches[0].expressions]
            index = names.index(name.lower()) if name.lower() in names else None
        out: set = set()
        for branch in branches:
            projections = branch.expressions
            if index is not None and index < len(projections) and not isinstance(projections[index], exp.Star):
                out |= self.of(projections[index], [branch], depth + 1)
            elif any(isinstance(p, exp.Star) for p in projections):
                out |= self.column(name, "", [branch], depth + 1)
            else:
                out.add(("any",))
        return out

    def of(self, node: Any, scope: list[exp.Select], depth: int = 0) -> set:
        if depth > _MAX_DEPTH:
            return {("any",)}
        if isinstance(node, list):
            return set().union(*(self.of(n, scope, depth + 1) for n in node)) if node else set()
        if not isinstance(node, exp.Expression) or isinstance(node, _CONSUMES):
            return set()
        if isinstance(node, exp.Column):
            if isinstance(node.this, exp.Star):
                return {("any",)}
            return self.column(node.name, node.table, scope, depth + 1)
        if isinstance(node, (exp.Parameter, exp.Placeholder)):
            return {("param", node.name)}
        if isinstance(node, exp.Literal):
            return {("lit", node.this)} if node.is_string else set()
        if isinstance(node, exp.Star):
            return {("any",)}
        if isinstance(node, exp.If):
            return self.of([node.args.get("true"), node.args.get("false")], scope, depth + 1)
        if isinstance(node, exp.Case):
            return self.of([i.args.get("true") for i in node.args.get("ifs") or []] + [node.args.get("default")],
                           scope, depth + 1)
        if isinstance(node, exp.Window):
            return self.of(node.this, scope, depth + 1)
        if isinstance(node, (exp.Select, exp.SetOperation)) or (
                isinstance(node, exp.Subquery) and _branches(node)):
            out: set = set()
            for branch in _branches(node):
                out |= self.of(branch.expressions, scope + [branch], depth + 1)
            return out
        if isinstance(node, _JSON):
            doc = self.of(node.this, scope, depth + 1)
            fields = self._path(node.expression, scope, depth + 1)
            return (doc - {("row",)}) | fields
        return self.of(list(node.iter_expressions()), scope, depth + 1)

    def _path(self, path: exp.Expression, scope: list[exp.Select], depth: int) -> set:
        """The columns a JSON path reads, from the row's point of view."""
        parts = self.of(path, scope, depth)
        params = {("colparam", s[1]) for s in parts if s[0] == "param"}
        # Path punctuation ('$.', the ',' a list is split on) names nothing; a literal with a name in it does.
        rest = {s for s in parts if s[0] != "param" and not (s[0] == "lit" and not re.search(r"\w", s[1]))}
        if not rest:
            return params
        if not params and len(rest) == 1 and next(iter(rest))[0] == "lit":
            try:
                return {("col", canonical_column(next(iter(rest))[1]))}
            except BadParameter:
                pass
        return params | {("any",)}


def personal_outputs(tree: exp.Expression, columns: list[str], is_pii: Callable[[str], bool],
                     named: Mapping[str, list[str]], table_has_pii: bool) -> list[str]:
    """The output columns whose values derive from a personal-data column, whatever they are called.

    tree: the parsed catalog query (placeholders unbound); columns: the result's column names in order;
    is_pii: the decision for one (canonical) column path of the table; named: for each column-naming parameter,
    the canonical columns it was bound to; table_has_pii: whether some column of the table is personal data
    (for values read from the whole row or from a column we cannot name)."""
    lineage = _Lineage(tree)

    def personal(source: tuple) -> bool:
        if source[0] == "col":
            return is_pii(source[1])
        if source[0] == "colparam":
            return any(is_pii(c) for c in named[source[1]]) if source[1] in named else table_has_pii
        return source[0] in ("row", "any") and table_has_pii

    out = []
    for index, name in enumerate(columns):
        sources = lineage.output(tree, name, 0, index=index)
        if any(personal(s) for s in sources):
            out.append(name)
    return out
