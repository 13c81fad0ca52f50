"""`/dre diag`: named diagnostic queries on BigQuery, run through the outbox, results in the incident's thread."""
from __future__ import annotations


from bot import store
from bot.service import unknown_incident
from bot.diagnostics import delivery as diag_delivery
from bot.diagnostics.identifiers import BadTable, parse_table
from bot.diagnostics.params import BadParameter, bind
from bot.incident import name, parse_name
from bot.runbook import Runbook
from bot.slack.commands import Call, Deps, Reply, UsageError, require, verb
from bot.slack.mrkdwn import escape


def _runbook(deps: Deps, path: str | None) -> Runbook | None:
    return next((rb for rb in deps.runbooks if rb.path == path), None)


def _table(deps: Deps, text: str):
    s = deps.settings
    try:
        return parse_table(text, s.google_cloud_project, s.diagnostics.allowed, s.diagnostics.region)
    except BadTable as exc:
        raise UsageError(str(exc)) from None


def _incident_for(deps: Deps, call: Call, table: str | None):
    """The incident whose thread gets the result: named, the thread's, else an open one on the same table."""
    conn = deps.conn()
    named = next((parse_name(a) for a in call.args if parse_name(a) is not None), None)
    if named is not None:
        call.args = [a for a in call.args if parse_name(a) is None]
        inc = store.incident(conn, named)
        if inc is None:
            raise UsageError(unknown_incident(named))
        return inc
    if call.thread_incident is not None:
        return store.incident(conn, call.thread_incident)
    if table:
        short = table.split(".", 1)[1] if table.count(".") == 2 else table
        return store.open_incident_for_table(conn, table, short)
    return None


@verb("diag", "/dre diag [<name> <table> [param=value ...]] [INC-n]", permission="diagnostics")
def diag(deps: Deps, call: Call) -> Reply:
    """Run a named diagnostic query (freshness, volume, schema, nulls, ...) on a table, read-only and cost-capped.

    With no name, in an incident's thread or with INC-n, runs its runbook's diagnostics on its table. The result
    goes to the incident's thread, PII redacted, with the full result as a CSV file when it is long."""
    if not deps.catalog:
        return Reply("No diagnostic queries are installed: `runbooks/queries/` is empty.", ok=False)
    if not (deps.settings.google_cloud_project or deps.settings.bigquery_api_url):
        return Reply("Diagnostics are not configured here: set GOOGLE_CLOUD_PROJECT (with credentials for "
                     "BigQuery) and list the datasets dre-bot may read under `[diagnostics] allowed` in "
                     "dre-bot.toml.", ok=False)
    if not call.args and call.thread_incident is None:
        lines = [f"• `{q.name}`: {escape(q.description)}" for q in list(deps.catalog.values())]
        return Reply("*Diagnostics*: `/dre diag <name> <table> [param=value ...]`\n" + "\n".join(lines))
    first_is_query = bool(call.args) and call.args[0] in deps.catalog
    if call.args and not first_is_query and parse_name(call.args[0]) is None:
        raise UsageError(f"There is no diagnostic `{escape(call.args[0])}`. "
                         f"There are: {', '.join(list(deps.catalog))}.")
    inc = _incident_for(deps, call, call.args[1] if first_is_query and len(call.args) > 1 else None)
    require(deps, call, "diagnostics", deps.incident_channel(inc) if inc else None)
    if not first_is_query:   # the incident's runbook list
        if inc is None:
            raise UsageError("Which diagnostic? `/dre diag freshness analytics.orders`, or in an incident's thread.")
        runbook = _runbook(deps, inc["runbook"])
        wanted = [q for q in (runbook.diagnostics if runbook else ()) if q in deps.catalog]
        table = inc["table_name"]
        if not wanted or not table:
            return Reply(f"{name(inc['id'])} has no runbook diagnostics to run" +
                         ("" if table else " (its alerts name no table)") +
                         ". Name one: `/dre diag freshness <table>`.", ok=False)
        ref = str(_table(deps, table))
        runs = [(q, ref, {}) for q in wanted]
    else:
        query = deps.catalog[call.args[0]]
        rest = call.args[1:]
        table_text = rest.pop(0) if rest and "=" not in rest[0] else (inc["table_name"] if inc else None)
        if not table_text:
            raise UsageError(f"Which table? `/dre diag {query.name} project.dataset.table`.")
        ref = _table(deps, table_text)
        given = {}
        for word in rest:
            key, sep, value = word.partition("=")
            if not sep:
                raise UsageError(f"`{escape(word)}` is not a parameter; write name=value, like `days=7`.")
            given[key] = value
        try:
            bind(query, ref, given)          # say what is wrong now, not in the thread later
        except BadParameter as exc:
            raise UsageError(str(exc)) from None
        runs = [(query.name, str(ref), given)]
    conn = deps.conn()
    with store.transaction(conn):
        for query_name, table, given in runs:
            diag_delivery.enqueue_run(conn, inc["id"] if inc else None, query_name, table, given, call.user,
                                      channel=call.channel, why=f"asked by {call.user}")
    where = f"{name(inc['id'])}'s thread" if inc else "this channel"
    names = ", ".join(f"`{q}`" for q, _, _ in runs)
    return Reply(f":hourglass_flowing_sand: Running {names} on `{escape(runs[0][1])}`; results in {where}.")

