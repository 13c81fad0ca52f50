"""The lineage graph: tables and the edges upstream -> downstream between them, with closures cached. Pure."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterable


def norm(table: str) -> str:
    """One spelling per table: lower case, no backticks, `project:dataset.table` as `project.dataset.table`."""
    return table.strip().strip("`").replace(":", ".", 1).lower()


@dataclass(frozen=True)
class Graph:
    """Edges as (upstream, downstream). Names are normalized; `dataset.table` also finds `project.dataset.table`."""
    edges: frozenset[tuple[str, str]] = frozenset()
    origin: str = ""                       # where it came from, for `dre-bot lineage` and the logs
    _up: dict = field(default_factory=dict, compare=False, repr=False)
    _down: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, edges: Iterable[tuple[str, str]], origin: str = "") -> "Graph":
        return cls(frozenset((norm(a), norm(b)) for a, b in edges if a and b and norm(a) != norm(b)), origin)

    def merged(self, other: "Graph") -> "Graph":
        return Graph(self.edges | other.edges, " + ".join(o for o in (self.origin, other.origin) if o))

    @cached_property
    def _parents(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for up, down in self.edges:
            out.setdefault(down, set()).add(up)
        return out

    @cached_property
    def _children(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for up, down in self.edges:
            out.setdefault(up, set()).add(down)
        return out

    @cached_property
    def tables(self) -> frozenset[str]:
        return frozenset(t for e in self.edges for t in e)

    @cached_property
    def _short(self) -> dict[str, str]:
        """`dataset.table` -> the one full name it stands for (ambiguous short names are left out)."""
        seen: dict[str, set[str]] = {}
        for t in self.tables:
            parts = t.split(".")
            if len(parts) == 3:
                seen.setdefault(".".join(parts[1:]), set()).add(t)
        return {short: next(iter(full)) for short, full in seen.items() if len(full) == 1}

    def resolve(self, table: str) -> str:
        """The graph's name for a table an alert names, or the normalized name when the graph does not know it."""
        t = norm(table)
        if t in self.tables:
            return t
        parts = t.split(".")
        if len(parts) == 3 and ".".join(parts[1:]) in self.tables:
            return ".".join(parts[1:])
        return self._short.get(t, t)

    def parents(self, table: str) -> set[str]:
        return set(self._parents.get(self.resolve(table), ()))

    def upstream(self, table: str) -> frozenset[str]:
        """Every table `table` reads, directly or through others."""
        t = self.resolve(table)
        if t not in self._up:
            self._up[t] = self._walk(t, self._parents)
        return self._up[t]

    def downstream(self, table: str) -> frozenset[str]:
        """Every table that reads `table`, directly or through others."""
        t = self.resolve(table)
        if t not in self._down:
            self._down[t] = self._walk(t, self._children)
        return self._down[t]

    def fan_out(self, table: str) -> float:
        """The share of all tables downstream of `table`: near 1 for a date dimension every model reads."""
        return len(self.downstream(table)) / max(1, len(self.tables))

    def path(self, downstream: str, upstream: str) -> list[str]:
        """The shortest chain downstream -> ... -> upstream along reads ([] when `downstream` does not read it)."""
        start, goal = self.resolve(downstream), self.resolve(upstream)
        prev: dict[str, str | None] = {start: None}
        todo = deque([start])
        while todo:
            node = todo.popleft()
            if node == goal:
                chain = [node]
                while prev[chain[-1]] is not None:
                    chain.append(prev[chain[-1]])  # type: ignore[arg-type]
                return chain[::-1]
            for parent in sorted(self._parents.get(node, ())):
                if parent not in prev:
                    prev[parent] = node
                    todo.append(parent)
        return []

    @staticmethod
    def _walk(start: str, step: dict[str, set[str]]) -> frozenset[str]:
        seen: set[str] = set()
        todo = list(step.get(start, ()))
        while todo:
            node = todo.pop()
            if node not in seen and node != start:
                seen.add(node)
                todo.extend(step.get(node, ()))
        return frozenset(seen)


EMPTY = Graph()
