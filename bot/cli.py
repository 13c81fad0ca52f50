"""The dre-bot command line: a thin layer over the library. Every command is documented in README.md."""
from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import click

from bot import clock, config, store
from bot.durations import parse_duration

log = logging.getLogger("dre-bot")


def _settings() -> config.Settings:
    try:
        return config.load()
    except config.ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _conn(settings: config.Settings):
    store.migrate(settings.db_path, settings.inbox_db_path)
    return store.connect(settings.db_path)


def _reading_conn(settings: config.Settings):
    store.migrate(settings.db_path, settings.inbox_db_path)
    return store.connect_for_reading(settings.db_path, settings.inbox_db_path)


def _when(epoch: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch)) + "Z" if epoch else "-"


@click.group()
def main() -> None:
    """dre-bot: monitoring alerts in, one Slack thread per incident out."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=None, help="Port (default: $PORT or 3000).")
@click.option("--log-level", default="info", show_default=True)
def serve(host: str, port: int | None, log_level: str) -> None:
    """Run the web server, the inbox worker and the outbox deliverer in one process."""
    import uvicorn

    from bot.server import build

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for chatty in ("httpx", "httpx2", "pagerduty"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    settings = _settings()
    port = port or settings.port
    app = build(settings, port)   # its lifespan starts and stops the worker threads
    # httptools parses HTTP about twice as fast as h11 (docs/PERFORMANCE.md); asyncio's own loop, as uvloop measured
    # no better here.
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, http="httptools", loop="asyncio")


@main.command()
@click.option("--failed", is_flag=True, help="Only bodies that failed to parse or process.")
@click.option("--rejected", is_flag=True, help="Bodies refused at the door (400, 413, 415, 422).")
@click.option("--retry", "retry_id", type=int, help="Process a failed inbox row again.")
@click.option("--show", "show_id", type=int, help="Print one inbox row's raw body.")
@click.option("--limit", default=50, show_default=True)
def inbox(failed: bool, rejected: bool, retry_id: int | None, show_id: int | None, limit: int) -> None:
    """What came in: accepted webhooks, failed ones (kept, never dropped) and rejected ones."""
    settings = _settings()
    conn = _reading_conn(settings)
    if retry_id is not None:
        row = store.inbox_entry(conn, retry_id)
        if row is None or row.status != "failed":
            raise click.ClickException(f"Inbox {retry_id} is not a failed row. `dre-bot inbox --failed` lists them.")
        # The inbox is append-only: the body goes in again as a new row, and the old one says so.
        inbox_conn = store.connect(settings.inbox_db_path)
        with store.transaction(inbox_conn):
            (new_id,) = store.insert_inbox(inbox_conn, [(row.source, store.inbox_body(conn, retry_id),
                                                         row.content_type)])
        state = store.connect(settings.db_path)
        with store.transaction(state):
            store.mark_retried(state, retry_id, f"queued again as inbox {new_id}; was: {row.error}")
        click.echo(f"Inbox {retry_id} queued again as inbox {new_id}; a running bot processes it now.")
        return
    if show_id is not None:
        body = store.inbox_body(conn, show_id)
        if body is None:
            raise click.ClickException(f"No inbox row {show_id}. `dre-bot inbox` lists the newest.")
        click.echo(body.decode("utf-8", "replace"))
        return
    if rejected:
        refused = store.rejected_bodies(conn, limit)
        for r in refused:
            click.echo(f"{r.id:>6}  {_when(r.received_at)}  {r.source:<15} {r.http_status}  {r.reason}")
        click.echo(f"{len(refused)} rejected." if refused else "No rejected bodies.")
        return
    rows = store.inbox_entries(conn, failed, limit)
    for r in rows:
        extra = f"  {r.error}" if r.error else f"  {r.alerts} alert(s)"
        click.echo(f"{r.id:>6}  {_when(r.received_at)}  {r.source:<15} {r.status:<8}{extra}")
    if failed and rows:
        click.echo("Fix the cause, then `dre-bot inbox --retry ID`; `--show ID` prints the raw body.")
    elif not rows:
        click.echo("No failed bodies." if failed else "The inbox is empty.")


@main.command()
@click.option("--dead", is_flag=True, help="Only dead letters.")
@click.option("--retry", "retry_id", type=int, help="Put one dead letter back in line.")
@click.option("--retry-all", is_flag=True, help="Put every dead letter back in line.")
@click.option("--limit", default=50, show_default=True)
def outbox(dead: bool, retry_id: int | None, retry_all: bool, limit: int) -> None:
    """Slack calls waiting, done and dead; retry dead letters."""
    from bot.outbox import retry_dead
    conn = _conn(_settings())
    if retry_id is not None or retry_all:
        n = retry_dead(conn, None if retry_all else retry_id)
        click.echo(f"{n} dead letter(s) back in line; a running bot delivers them now.")
        return
    rows = store.outbox_items(conn, dead, limit)
    for r in rows:
        click.echo(f"{r.id:>6}  INC-{r.incident_id:<5} {r.kind:<12} {r.status:<8} "
                   f"tries={r.attempts}  {r.last_error or ''}")
    if not rows:
        click.echo("No dead letters." if dead else "Nothing waiting: every Slack call is delivered.")
    elif dead:
        click.echo("`dre-bot outbox --retry ID` or `--retry-all` puts them back in line.")


@main.command()
@click.option("--channel", default=None, help="Channel name or id (default: every channel).")
def transcript(channel: str | None) -> None:
    """Print the sandbox Slack as a person would read it: each incident card and its thread."""
    from sandbox.slack import SlackEmulator
    from sandbox.transcript import transcript as render
    settings = _settings()
    if not Path(settings.sandbox_db_path).exists():
        raise click.ClickException(f"No sandbox Slack at {settings.sandbox_db_path}: run `make run` and send an "
                                   "alert first (`dre-bot send-example alertmanager`).")
    emulator = SlackEmulator(settings.sandbox_db_path)
    click.echo(render(emulator.messages(), channel))


@main.group()
def runbooks() -> None:
    """Runbooks in runbooks/: check them, list them."""


@runbooks.command("check")
def runbooks_check() -> None:
    """Every front matter valid, every template renders, every referenced diagnostic exists."""
    from bot.doctor import runbook_problems
    settings = _settings()
    problems, count, queries = runbook_problems(settings)
    if problems:
        for p in problems:
            click.echo(f"✗ {p}", err=True)
        raise click.ClickException(f"{len(problems)} problem(s) in {settings.runbooks_dir}.")
    click.echo(f"✓ {count} runbooks and {queries} diagnostic queries are valid.")


@runbooks.command("list")
def runbooks_list() -> None:
    """Each runbook with what it matches."""
    from bot.runbook import load_all
    for rb in load_all(_settings().runbooks_dir):
        match = json.dumps(rb.match) if rb.match else "(never matched automatically)"
        click.echo(f"{rb.path:<32} {rb.title:<45} {match}")


@runbooks.command("preview")
@click.argument("runbook")
@click.argument("alert")
@click.option("--source", type=click.Choice(["gcp-monitoring", "alertmanager", "montecarlo", "generic"]),
              default=None, help="Who sent ALERT (default: from the example's name, else the first that reads it).")
def runbooks_preview(runbook: str, alert: str, source: str | None) -> None:
    """Print RUNBOOK's snippet (e.g. table-freshness.md) as Slack would show it in the thread, for ALERT: an
    example's name (examples/alerts/NAME.json) or a file holding a webhook body."""
    from bot.runbook import RunbookError, find, parse
    from bot.slack.snippets import render_snippet
    from bot.sources import SOURCES
    settings = _settings()
    folder = Path(settings.runbooks_dir)
    path = folder / (runbook if runbook.endswith(".md") else f"{runbook}.md")
    if not path.is_file():
        known = ", ".join(sorted(p.name for p in folder.glob("*.md") if p.name.lower() != "readme.md"))
        raise click.ClickException(f"No runbook {runbook!r} in {folder}. Known: {known}.")
    try:
        book = parse(path, folder)
    except RunbookError as exc:
        raise click.ClickException(f"{exc} (`dre-bot runbooks check` lists every problem).") from None
    examples = Path(__file__).resolve().parent.parent / "examples" / "alerts"
    body_path = Path(alert) if Path(alert).is_file() else examples / f"{alert}.json"
    if not body_path.is_file():
        known = ", ".join(sorted(p.stem for p in examples.glob("*.json")))
        raise click.ClickException(f"{alert!r} is neither a file nor an example. Examples: {known}.")
    try:
        doc = json.loads(body_path.read_text())
    except ValueError as exc:
        raise click.ClickException(f"{body_path} is not JSON ({exc}): give a webhook body as its sender posts it.")
    named = source or next((s for s in SOURCES if body_path.stem.startswith((s, s.replace("-", "_")))), None)
    alerts, problems = [], []
    for name in [named] if named else list(SOURCES):
        try:
            SOURCES[name].check(doc)
            alerts = SOURCES[name].parse(doc)
            break
        except Exception as exc:  # noqa: BLE001 - each source says in its own words why the body is not its
            problems.append(f"{name}: {exc}")
    if not alerts:
        raise click.ClickException(f"No source reads {body_path} as an alert ({'; '.join(problems) or 'no alerts'}); "
                                   "name its sender with --source.")
    first = alerts[0]
    matched = find([book], first)
    click.echo(render_snippet(book, first, settings.runbook_base_url, matched.reason if matched else ""))
    if matched is None:
        click.echo(f"\n(Shown on request: this runbook does not match this alert on its own, so the bot would pick "
                   f"another or the general triage list; see its `match:` in {path}.)", err=True)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address you give `dre-bot serve`, to check the bind.")
def doctor(host: str) -> None:
    """Check the configuration and every connection the bot can reach: one line per check (✓ fine, ✗ needed and
    broken, ! worth a look); exits 1 when something needed is missing."""
    from bot import doctor as checks
    try:
        settings = config.load()
    except config.ConfigError as exc:
        click.echo(f"✗ Configuration: {exc}")
        sys.exit(1)
    found = checks.run(settings, host)
    for check in found:
        click.echo(check.line())
    failed = sum(1 for c in found if c.mark == checks.FAIL)
    warned = sum(1 for c in found if c.mark == checks.WARN)
    click.echo(f"{failed} problem(s), {warned} warning(s)." if failed or warned else "All good.")
    if failed:
        sys.exit(1)


@main.command()
@click.argument("path", type=click.Path(dir_okay=False))
def backup(path: str) -> None:
    """Copy the database to PATH while the bot runs, with SQLite's online backup (a consistent copy), and its inbox
    (webhooks accepted and not yet processed) beside it as PATH's stem + `.inbox.db`."""
    import sqlite3
    settings = _settings()
    if not Path(settings.db_path).exists():
        raise click.ClickException(f"No database at {settings.db_path}: set DRE_DB to the bot's database.")
    stem = path[:-3] if path.endswith(".db") else path
    pairs = [(settings.db_path, path), (settings.inbox_db_path, f"{stem}.inbox.db")]
    for source_path, target_path in pairs:
        if Path(target_path).resolve() == Path(source_path).resolve():
            raise click.ClickException(f"{target_path} is the database itself: name another file.")
    for source_path, target_path in pairs:
        if not Path(source_path).exists():
            continue
        source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
        target = sqlite3.connect(target_path)
        try:
            with target:
                source.backup(target)   # page by page, consistent even while the bot writes
        finally:
            target.close()
            source.close()
        click.echo(f"Backed up {source_path} to {target_path} ({Path(target_path).stat().st_size} bytes).")


@main.group()
def silence() -> None:
    """Silences: matching firing alerts are recorded but open no thread."""


@silence.command("add")
@click.argument("matchers", nargs=-1, required=True)  # [INC-n] LABEL=GLOB...
@click.option("--for", "duration", default="1h", show_default=True, help="How long, like 90m, 2h, 1d.")
@click.option("--reason", default="", help="Why, for the record.")
@click.option("--by", "created_by", default="cli", show_default=True)
def silence_add(matchers: tuple[str, ...], duration: str, reason: str, created_by: str) -> None:
    """Silence alerts whose labels match every LABEL=GLOB given (e.g. table=analytics.orders* source=montecarlo).
    The same as `/dre silence`: `--incident INC-n` sets it on that incident, which on a Cloud Monitoring incident
    also snoozes its alert policy (the running bot makes the snooze)."""
    from bot import silences
    from bot.incident import parse_name
    from bot.service import Actor
    incident_id = None
    tokens = list(matchers)
    if tokens and tokens[0].upper().startswith("INC-"):
        incident_id = parse_name(tokens.pop(0))
    try:
        parsed, seconds, _ = silences.parse([*tokens, duration])
    except silences.BadSilence as exc:
        raise click.ClickException(str(exc).replace("`", "")) from None
    conn = _conn(_settings())
    with store.transaction(conn):
        if incident_id is not None and store.incident(conn, incident_id) is None:
            raise click.ClickException(f"Unknown incident INC-{incident_id}. `dre-bot incidents` lists them.")
        made = silences.add(conn, parsed, seconds, reason, Actor(created_by, origin="cli"), incident_id)
    snooze = f" Snoozing Cloud Monitoring policy {made.gcp_policy} too." if made.gcp_policy else ""
    click.echo(f"Silence {made.id} until {_when(made.ends_at)}: {parsed}.{snooze}")


@silence.command("list")
def silence_list() -> None:
    """Active silences."""
    conn = _conn(_settings())
    rows = store.active_silences(conn, clock.now())
    for r in rows:
        click.echo(f"{r['id']:>4}  until {_when(r['ends_at'])}  {r['matchers']}  {r['reason'] or ''}")
    if not rows:
        click.echo("No active silences.")


@main.command()
@click.option("--all", "show_all", is_flag=True, help="Resolved ones too.")
def incidents(show_all: bool) -> None:
    """Open incidents, newest first."""
    conn = _conn(_settings())
    rows = store.recent_incidents(conn, show_all, limit=100)
    for r in rows:
        click.echo(f"INC-{r['id']:<5} {r['status']:<12} {r['severity']}  alerts={r['alert_count']:<4} "
                   f"{r['channel']:<20} {r['title']}")
    if not rows:
        click.echo("No open incidents.")


@main.command()
@click.option("--show", "show_id", type=int, help="Print this handoff's text.")
def handoffs(show_id: int | None) -> None:
    """Recent handoffs: the shift, who handed over to whom, and whether it was acknowledged."""
    conn = _conn(_settings())
    if show_id is not None:
        found = store.handoff(conn, show_id)
        if found is None:
            raise click.ClickException(f"No handoff {show_id}; `dre-bot handoffs` lists them.")
        click.echo(found.text)
        return
    rows = store.recent_handoffs(conn, limit=50)
    for r in rows:
        state = f"acknowledged by {r.acked_by} {_when(r.acked_at)}" if r.acked_at else \
            "escalated, not acknowledged" if r.escalated_at else \
            "reminded, not acknowledged" if r.reminded_at else "not acknowledged"
        who = f"{r.outgoing or r.outgoing_name or '?'} -> {r.incoming or r.incoming_name or '?'}"
        click.echo(f"{r.id:<5} {_when(r.shift_start)} .. {_when(r.shift_end)}  {who:<28} {state}")
    if not rows:
        click.echo("No handoffs yet.")


@main.command()
@click.option("--since", default="24h", show_default=True, help="How far back, like 90m, 24h, 7d.")
def audit(since: str) -> None:
    """Every Slack command and action, allowed or refused: when, who, what, arguments, result."""
    from bot import audit as audit_log
    try:
        seconds = parse_duration(since)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    rows = audit_log.since(_conn(_settings()), seconds)
    for r in rows:
        verdict = "ok     " if r.allowed else "REFUSED"
        click.echo(f"{_when(r.at)}  {r.user:<11} {verdict} {r.via:<8} /dre {r.action} {r.args}"
                   f"  -> {r.result[:100]!r}  [{r.request_id}]")
    if not rows:
        click.echo(f"Nothing in the audit log for the last {since}.")


@main.command("send-example")
@click.argument("name")
@click.option("--url", default=None, help="The bot's base URL (default: http://127.0.0.1:$PORT, PORT 3000).")
def send_example(name: str, url: str | None) -> None:
    """POST examples/alerts/NAME.json to the bot, signed and authenticated as its sender would."""
    import hashlib
    import hmac
    import urllib.parse

    import httpx
    settings = _settings()
    folder = Path(__file__).resolve().parent.parent / "examples" / "alerts"
    path = folder / f"{name}.json"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in folder.glob("*.json")))
        raise click.ClickException(f"No example {name!r}. Known: {known}.")
    body = path.read_bytes()
    source = next(s for s in ("gcp-monitoring", "alertmanager", "montecarlo", "generic")
                  if name.startswith(s.replace("-", "_")) or name.startswith(s))
    headers = {"Content-Type": "application/json"}
    if settings.webhook_token:
        headers["Authorization"] = f"Bearer {settings.webhook_token}"
    if source == "montecarlo" and settings.montecarlo_secret:
        signed = urllib.parse.urlencode(json.loads(body)).encode()
        headers["x-mcd-signature"] = hmac.new(settings.montecarlo_secret.encode(), signed,
                                              hashlib.sha512).hexdigest()
    url = url or f"http://127.0.0.1:{settings.port}"
    try:
        resp = httpx.post(f"{url.rstrip('/')}/webhooks/{source}", content=body, headers=headers, timeout=10)
    except httpx.HTTPError as exc:
        raise click.ClickException(f"No bot answered at {url} ({type(exc).__name__}): start it with `make run` "
                                   "(or `dre-bot serve`), or name its address with --url.") from None
    click.echo(f"{resp.status_code} {resp.text}")
    if resp.status_code >= 400:
        sys.exit(1)


if __name__ == "__main__":
    main()


@main.command()
@click.argument("table")
def lineage(table: str) -> None:
    """A table's upstream and downstream tables, from the lineage in [lineage] (dbt's manifest, config edges)."""
    from bot.lineage.sources import Lineage
    import dataclasses
    settings = _settings()
    config_ = settings.lineage
    if settings.sandbox and not (config_.dbt_manifest or config_.edges):
        # What `make run` groups by: the sandbox warehouse's dbt project (sandbox/wiring.py sets the same).
        config_ = dataclasses.replace(config_, dbt_manifest=str(Path(__file__).resolve().parent.parent / "sandbox" /
                                                                "dbt_manifest.json"))
    graph = Lineage(config_).graph()
    if not graph.edges:
        raise click.ClickException('No lineage: set [lineage] dbt_manifest = "target/manifest.json" or add '
                                   '[[lineage.edges]] in dre-bot.toml (see docs/LINEAGE.md).')
    name = graph.resolve(table)
    if name not in graph.tables:
        raise click.ClickException(f"{table} is not in the lineage ({len(graph.tables)} tables from {graph.origin}). "
                                   "Name it as dbt does, like dataset.table or project.dataset.table.")
    parents = graph.parents(name)
    click.echo(name)
    for title, tables in (("upstream", graph.upstream(name)), ("downstream", graph.downstream(name))):
        click.echo(f"{title} ({len(tables)}):")
        for t in sorted(tables):
            direct = " (reads directly)" if title == "upstream" and t in parents else ""
            click.echo(f"  {t}{direct}")
