"""Which open incident an alert on a table joins by lineage, and why. Pure: the graph and the open incidents in.

A "failing upstream" of an alerting table T, for an open incident holding tables S:
1. a table of S that T reads (an alerting upstream: the strongest evidence), or a table of S that reads T (T is
   the upstream, and it alerted later);
2. otherwise a table both T and a table of S read, that is not a hub: one whose downstream holds at most
   `max_share` of all the graph's tables. A date dimension every model reads is upstream of everything, so it
   says nothing about why two tables fail together; a raw source feeding a fifth of the warehouse does.
docs/LINEAGE.md says the same for the people who read the card.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from bot.lineage.graph import Graph

ALERTING, COMMON, SAME = "alerting upstream", "common upstream", "same table"


@dataclass(frozen=True)
class Join:
    incident_id: int
    table: str          # the alert's table, as the graph names it
    upstream: str       # the failing upstream it shares with the incident
    via: tuple[str, ...]  # the tables between `table` and `upstream` along the reads
    evidence: str       # ALERTING or COMMON
    root: str           # the incident's suspected root after the join
    reader: str = ""    # when the alert's table is itself the upstream: the incident's table that reads it

    def line(self) -> str:
        """`t57` reads `raw.src1` via `t27` (the words of the thread's join line, without mrkdwn escaping)."""
        if self.reader:
            return f"`{self.reader}` reads `{self.table}`" + (f" via {_ticks(self.via)}" if self.via else "")
        via = f" via {_ticks(self.via)}" if self.via else ""
        return f"`{self.table}` reads `{self.upstream}`{via}"


def _ticks(names: Iterable[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def root_of(graph: Graph, tables: Iterable[str], max_share: float = 0.5) -> str | None:
    """The suspected root of tables failing together: the most upstream of them (the one the most others read),
    else their most specific common non-hub upstream, else None."""
    names = sorted({graph.resolve(t) for t in tables})
    if not names:
        return None
    best = max(names, key=lambda t: (sum(1 for o in names if t in graph.upstream(o)), -len(graph.upstream(t)), t))
    if len(names) == 1 or any(best in graph.upstream(o) for o in names):
        return best
    common = set.intersection(*(set(graph.upstream(t)) for t in names))
    common = {u for u in common if graph.fan_out(u) <= max_share}
    if not common:
        return best
    return min(common, key=lambda u: (len(graph.downstream(u)), u))


def decide(graph: Graph, table: str, incidents: Mapping[int, Iterable[str]], max_share: float = 0.5) -> Join | None:
    """The open incident (id -> its tables) the alert on `table` joins, or None. Strongest evidence wins; then, for
    an alerting upstream, the most upstream one (the likeliest root, so the line names it); for a common upstream,
    the most specific (fewest downstream tables); then the newest incident."""
    t = graph.resolve(table)
    ups = graph.upstream(t)
    if not ups and not graph.downstream(t):
        return None   # a table the lineage does not know: grouping by key alone decides
    best: tuple | None = None
    for incident_id, held in incidents.items():
        held = {graph.resolve(h) for h in held}
        if t in held:
            # The same table under another grouping key (a second monitor on it): it belongs here, no path to tell.
            return Join(incident_id, t, t, (), SAME, root_of(graph, held, max_share) or t)
        for h in held:
            if h in ups:
                cand = (2, len(graph.downstream(h)), incident_id, h, graph.path(t, h)[1:-1], ALERTING, held, "")
            elif t in graph.upstream(h):
                cand = (2, len(graph.downstream(t)), incident_id, t, graph.path(h, t)[1:-1], ALERTING, held, h)
            else:
                shared = [u for u in ups & graph.upstream(h) if graph.fan_out(u) <= max_share]
                if not shared:
                    continue
                u = min(shared, key=lambda x: (len(graph.downstream(x)), x))
                cand = (1, -len(graph.downstream(u)), incident_id, u, graph.path(t, u)[1:-1], COMMON, held, "")
            if best is None or cand[:3] > best[:3]:
                best = cand
    if best is None:
        return None
    _, _, incident_id, upstream, via, evidence, held, reader = best
    root = root_of(graph, held | {t}, max_share) or upstream
    return Join(incident_id, t, upstream, tuple(via), evidence, root, reader)
