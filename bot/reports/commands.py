"""`/dre stats`: the numbers the team runs on."""
from __future__ import annotations

from bot import clock, store, templating
from bot.durations import parse_duration
from bot.reports import delivery, stats as figures
from bot.slack.commands import Call, Deps, Reply, UsageError, verb
from bot.slack.mrkdwn import escape

MAX_WINDOW = 366 * 86400.0


@verb("stats", "/dre stats [7d|30d] [source=...] [table=...]")
def stats(deps: Deps, call: Call) -> Reply:
    """Incident count, MTTA and MTTR (median and p90), top tables and sources, false positives, silenced alerts.

    Over the last 7 days unless you give a window (30d, 2w, 24h). Filter with source=<source> and/or
    table=<project.dataset.table>. A chart of incidents per day and the MTTR trend follows in the channel.
    docs/METRICS.md defines every figure."""
    window, source, table = 7 * 86400.0, None, None
    for word in call.args:
        key, eq, value = word.partition("=")
        if eq and key in ("source", "table") and value:
            source, table = (value, table) if key == "source" else (source, value)
        elif not eq:
            try:
                window = parse_duration(word)
            except ValueError as exc:
                raise UsageError(str(exc)) from None
            if not 3600 <= window <= MAX_WINDOW:
                raise UsageError("The window must be between 1h and 366d.")
        else:
            raise UsageError(f"`{escape(word)}` is not a filter: use source=... or table=....")
    end = clock.now()
    start = end - window
    label = next((w for w in call.args if "=" not in w), "7d")
    title = f"Incidents, last {label}"
    conn = deps.conn()
    s = figures.compute(conn, start, end, source, table)
    context = figures.context(s)
    text = templating.render_or_built_in("stats.md.j2", {**context, "title": title, "previous": None},
                                         deps.settings.templates_dir, escape=escape)
    if call.channel and s.incidents:
        with store.transaction(conn):
            delivery.enqueue_chart(conn, call.channel, " · ".join(filter(None, (title, context["filters"]))),
                                   start, end, source, table)
    return Reply(text, public=True)
