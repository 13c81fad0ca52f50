"""The background threads: inbox processing (parse, pipeline, incident state + outbox in one transaction),
and the runtime that starts and stops them with the outbox deliverer."""
from __future__ import annotations

import json
import logging
from pathlib import Path
import threading
import time
from typing import Callable

from slack_sdk import WebClient

from bot import clock, features, schedule, store
from bot.config import Settings
from bot.inbox import InboxWriter
from bot.lineage.sources import Lineage
from bot.metrics import Metrics
from bot.outbox import Deliverer
from bot.registry import Registry
from bot.runbook import Runbook, load_all
from bot.service import handle_alert
from bot.diagnostics import catalog, runner
from bot.monitoring import client as monitoring_client
from bot.pagerduty import client as pd_client, reconcile
from bot.sources import SOURCES
from bot.handoff import service as handoff_service
from bot.sources.base import parse_json
from bot.handoff.scheduler import HandoffJobs
from bot.reports import weekly

log = logging.getLogger("dre-bot.worker")
BATCH = 200
NOTICE_EVERY = 900   # seconds between two "a webhook could not be read" notices in the channel
# Behind in a storm while webhooks keep coming, the processor rests as long as its last batch took: half the
# interpreter for taking alerts in (measured with wrk: 2,200-2,400 accepted/s without, 2,800-3,100 with).
YIELD = 1.0
REST_MAX = 0.05      # seconds, the longest such rest
BEHIND_MAX = 5.0     # seconds: alerts waiting longer than this to be processed get the interpreter back
GATHER = 0.005       # seconds a busy processor lets webhooks gather before its next batch
JOBS_EVERY = 1.0     # seconds: the registry's jobs (silences that ended, the dead letters notice) are time-based
SUMMARY_EVERY = 60.0  # seconds between two INFO lines summing up the alerts processed; each alert is at DEBUG


class Tally:
    """What the processor did since the last summary line: one INFO line a minute, not one per alert. A batch's
    counts are added once its transaction has committed (`merge`), so a batch rolled back and processed again
    counts once, and a row that failed counts as failed."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.counts: dict[str, int] = {}
        self.webhooks = self.failed = 0
        self.since = clock()

    def merge(self, actions: list[str], webhooks: int, failed: int) -> None:
        if not (actions or webhooks or failed):
            return
        if not (self.counts or self.webhooks or self.failed):
            self.since = self.clock()   # a quiet hour is not "in the last 3600 s"
        for action in actions:
            self.counts[action] = self.counts.get(action, 0) + 1
        self.webhooks += webhooks
        self.failed += failed

    def line(self, force: bool = False) -> str | None:
        """The summary to log when one is due (and start counting again), else None."""
        now = self.clock()
        if not (self.counts or self.webhooks or self.failed) or (now - self.since < SUMMARY_EVERY and not force):
            return None
        alerts = sum(self.counts.values())
        what = ", ".join(f"{n} {action}" for action, n in sorted(self.counts.items(), key=lambda kv: -kv[1]))
        text = f"processed {self.webhooks} webhooks, {alerts} alerts in the last {now - self.since:.0f} s" + \
            (f": {what}" if what else "") + (f"; {self.failed} webhooks could not be read" if self.failed else "")
        self.counts, self.webhooks, self.failed, self.since = {}, 0, 0, now
        return text


class InboxProcessor:
    """Takes committed webhooks in order and turns them into incidents; a body that fails to parse is kept."""

    def __init__(self, settings: Settings, runbooks: list[Runbook], registry: Registry, wake: threading.Event,
                 deliver: threading.Event, ingest_busy=lambda: False):
        self.settings, self.runbooks, self.registry = settings, runbooks, registry
        self.wake, self.deliver = wake, deliver
        self.ingest_busy = ingest_busy
        # Its commits need no fsync of their own: store.connect says why (one fsync fewer between alert and card).
        self.conn = store.connect(settings.db_path, fsync=False)
        # The lineage graph the group stage reads ([grouping] lineage); a registry built by hand has none.
        self.lineage = registry.lineage or Lineage(settings.lineage)
        self.inbox_conn = store.connect(settings.inbox_db_path)   # read only: the web's writer owns it
        self._stop = threading.Event()
        self.tally = Tally()
        self._actions: list[str] = []
        self.behind = 0.0   # seconds the oldest row of the last batch had waited
        self._jobs_at = (float("-inf"), float("-inf"))   # (monotonic, clock) of the last jobs round
        self.thread = threading.Thread(target=self.run, name="inbox-processor", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.wake.set()
        self.thread.join(timeout=10)
        line = self.tally.line(force=True)
        if line:
            log.info("%s", line)
        self.conn.close()
        self.inbox_conn.close()

    def run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                worked = self.step()
            except Exception:
                log.exception("inbox step failed")
                worked = 0
            if worked >= BATCH and self.behind < BEHIND_MAX and self.ingest_busy():
                # Behind in a storm, while webhooks keep coming: take turns with the web server, so that taking
                # alerts in (the 202, a commit) never waits on processing them, which can catch up afterwards;
                # but never more than REST_MAX at a time, and not at all once alerts wait longer than BEHIND_MAX.
                self._stop.wait(min(REST_MAX, (time.monotonic() - started) * YIELD))
                continue
            if not worked:
                self.wake.wait(timeout=0.5)
                self.wake.clear()
            elif worked < BATCH:
                # Busy: let a few milliseconds' webhooks gather into the next batch (one commit, one fsync for
                # them all) rather than committing each as it lands. An alert after a quiet spell never waits.
                self._stop.wait(GATHER)

    def step(self) -> int:
        rows = store.pending_inbox(self.inbox_conn, store.inbox_position(self.conn), limit=BATCH)
        self.behind = time.time() - rows[0]["received_at"] if rows else 0.0
        if rows:
            self.process_batch(rows)
            self.deliver.set()   # before the jobs: the new incidents' cards need not wait for them
        done = self.run_jobs()
        if done:
            self.deliver.set()
        line = self.tally.line()
        if line:
            log.info("%s", line)
        return len(rows)

    def run_jobs(self) -> int:
        """The registry's jobs, at most once every JOBS_EVERY seconds (of the wall clock, or of the bot's clock
        when a sandbox moved it), not at every batch: in a storm they would take the write lock hundreds of times
        a second for nothing."""
        mono, now = time.monotonic(), clock.now()
        if mono - self._jobs_at[0] < JOBS_EVERY and now - self._jobs_at[1] < JOBS_EVERY:
            return 0
        self._jobs_at = (mono, now)
        done = 0
        for name, job in self.registry.jobs:
            try:
                with store.transaction(self.conn):
                    done += job(self.conn, now)
            except Exception:
                log.exception("%s: failed; trying again next round", name)
        return done

    def process_batch(self, rows: list) -> None:
        """One commit (one fsync) for the whole batch; each row in a savepoint, so a row that fails rolls back
        alone and is marked failed, and every other row's incident changes and outbox rows still commit."""
        self._actions = []
        done = failed = 0
        with store.transaction(self.conn):
            for row in rows:
                try:
                    with store.savepoint(self.conn, "inbox_row"):
                        mark = len(self._actions)
                        count = self.process(row)
                except Exception as exc:  # a body that does not parse, or a bug of ours: keep it, mark it
                    level = logging.WARNING if isinstance(exc, ParseError) else logging.ERROR
                    log.log(level, "inbox %s from %s failed: %s", row["id"], row["source"], exc,
                            exc_info=not isinstance(exc, ParseError))
                    store.finish_inbox(self.conn, row["id"], "failed", error=str(exc))
                    del self._actions[mark:]
                    failed += 1
                    if isinstance(exc, ParseError):
                        self._tell_failed(row, exc)
                else:
                    store.finish_inbox(self.conn, row["id"], "done", alerts=count)
                    done += 1
        self.tally.merge(self._actions, done, failed)

    def _tell_failed(self, row, exc: Exception) -> None:
        """Said in the channel, not only in the log; at most once per NOTICE_EVERY, so a broken sender cannot flood it."""
        from bot.slack.delivery import enqueue_message
        from bot.slack.mrkdwn import escape
        now = clock.now()
        if handoff_service.once(self.conn, f"inbox-failed-notice:{int(now // NOTICE_EVERY)}", now):
            enqueue_message(self.conn, self.settings.channel,
                            f":warning: A {escape(row['source'])} webhook could not be read (inbox {row['id']}: "
                            f"{escape(str(exc)[:200])}). It is kept: `dre-bot inbox --failed` lists such webhooks, "
                            f"and `dre-bot inbox --retry {row['id']}` sends one again once the sender is fixed.")

    def process(self, row) -> int:
        apply = self.registry.inbound.get(row["source"])
        if apply is not None:   # not alerts: another system's news about our incidents
            what = apply(self.conn, parse_json(row["body"]), _meta(row["meta"]))
            log.info("inbox %s: %s webhook: %s", row["id"], row["source"], what)
            return 0
        source = SOURCES.get(row["source"])
        try:
            if source is None:
                raise ValueError(f"no parser for source {row['source']!r}")
            alerts = source.parse(parse_json(row["body"]))
        except Exception as exc:
            raise ParseError(f"{type(exc).__name__}: {exc}") from exc
        for alert in alerts:
            try:
                outcome = handle_alert(self.conn, self.settings, self.runbooks, alert, inbox_id=row["id"],
                                       lineage=self.lineage.graph())
            except Exception as exc:
                raise RuntimeError(f"processing: {type(exc).__name__}: {exc}") from exc
            self._actions.append(outcome.action)
            log.debug("inbox %s: %s %s -> %s %s", row["id"], alert.source, alert.fingerprint, outcome.action,
                      outcome.incident_id or "")
        return len(alerts)


def _meta(raw) -> dict:
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        return {}


class ParseError(Exception):
    """A committed body that its source cannot turn into alerts."""


def slack_client(settings: Settings, api_url: str) -> WebClient:
    # No retry handlers: the outbox owns retries, backoff and Retry-After.
    return WebClient(token=settings.bot_token, base_url=api_url, timeout=10, retry_handlers=[])


class Runtime:
    """Everything `dre-bot serve` runs beside the web server."""

    def __init__(self, settings: Settings, slack_api_url: str):
        store.migrate(settings.db_path, settings.inbox_db_path)
        self.settings = settings
        self.metrics = Metrics()      # this app's counters: /metrics reads them, the deliverer and web count
        self.runbooks = load_all(settings.runbooks_dir)
        self.inbox_wake, self.deliver_wake = threading.Event(), threading.Event()
        self.writer = InboxWriter(settings.inbox_db_path, on_commit=self.inbox_wake,
                                  checkpoint_also=(settings.db_path,))
        self.registry = features.build(settings, self.runbooks)
        self.processor = InboxProcessor(settings, self.runbooks, self.registry, self.inbox_wake, self.deliver_wake,
                                        self.writer.busy)
        slack = slack_client(settings, slack_api_url)
        self.pd_rest = pd_client.rest(settings)
        self.catalog = catalog.load(Path(settings.runbooks_dir) / "queries", check_sql=False)   # SQL: in start()
        bq = None
        if settings.google_cloud_project or settings.bigquery_api_url:
            bq = runner.client_for(settings.google_cloud_project, settings.bigquery_api_url)
        gcm = None
        if settings.google_cloud_project or settings.monitoring_api_url:
            gcm = monitoring_client.Clients(settings.monitoring_api_url)
        clients = {"slack": slack, "pagerduty_rest": self.pd_rest, "catalog": self.catalog, "bigquery": bq,
                   "monitoring": gcm,
                   "pd_users": pd_client.UserDirectory(slack, self.pd_rest, settings.pagerduty_from_email)}
        self.deliverer = Deliverer(settings, self.registry, clients, self.deliver_wake, self.metrics)
        self.scheduler = Scheduler(settings, self.pd_rest, slack, self.deliver_wake)
        self.on_stop: list = []       # more to stop with the bot (the sandbox warehouse)
        self.started_at = time.time()

    def start(self) -> None:
        self.writer.start()
        self.processor.start()
        self.deliverer.start()
        self.scheduler.start()
        catalog.check_sql_later(self.catalog)

    def poke(self) -> None:
        """Look again now at what is due (the scripted clock moved)."""
        self.inbox_wake.set()
        self.deliver_wake.set()
        self.scheduler.wake.set()

    def stop(self) -> None:
        self.writer.stop()
        self.processor.stop()
        self.scheduler.stop()
        self.deliverer.stop()
        if self.pd_rest is not None:
            self.pd_rest.close()   # its pooled connections, which the garbage collector would otherwise close
        for stop in self.on_stop:
            stop()


class Scheduler:
    """Periodic jobs that call out, off the inbox worker's thread: reconciliation with PagerDuty, handoffs
    (shift changes, note prompts, reminders, escalations) and the weekly report."""

    def __init__(self, settings: Settings, pd_rest, slack: WebClient, deliver: threading.Event):
        self.settings, self.pd_rest, self.deliver = settings, pd_rest, deliver
        self.handoffs = HandoffJobs(settings, pd_rest, slack)
        self.slack_url = slack.base_url
        self._stop = threading.Event()
        self.wake = threading.Event()
        # Set once the web server listens: in sandbox mode the emulators the jobs call are served by it.
        self.listening = threading.Event()
        self.rounds = 0    # rounds done, on /healthz: a test that moved the clock waits for the next one
        self.thread = threading.Thread(target=self.run, name="scheduler", daemon=True)

    def start(self) -> None:
        # Scheduled things start from the bot's first start: no handoff or report for what came before it.
        conn = store.connect(self.settings.db_path)
        try:
            with store.transaction(conn):
                for key in ("handoff:first-look", "reports:first-look"):
                    schedule.once(conn, key, clock.now())
        finally:
            conn.close()
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.wake.set()
        self.listening.set()
        if self.thread.is_alive():
            self.thread.join(timeout=10)

    def run(self) -> None:
        conn = store.connect(self.settings.db_path)
        next_reconcile = time.monotonic() + self.settings.pagerduty.reconcile_interval
        self.listening.wait()   # set by the web server's lifespan, or by stop()
        try:
            while not self._stop.is_set():
                if self.pd_rest is not None and time.monotonic() >= next_reconcile:
                    next_reconcile = time.monotonic() + self.settings.pagerduty.reconcile_interval
                    self._job("reconciliation with PagerDuty", lambda: self._reconcile(conn))
                self._job("handoffs", lambda: self.handoffs.tick(conn, clock.now()))
                self._job("the weekly report", lambda: self._weekly(conn))
                self._job("chasing unacknowledged handoffs", lambda: self._chase(conn))
                self.rounds += 1
                wait = min(self.settings.handoff.tick, max(0.0, next_reconcile - time.monotonic())) \
                    if self.pd_rest is not None else self.settings.handoff.tick
                self.wake.wait(wait)
                self.wake.clear()
        finally:
            conn.close()

    def _job(self, what: str, job) -> None:
        try:
            if job():
                self.deliver.set()
        except Exception:
            log.exception("%s failed; trying again next time", what)

    def _reconcile(self, conn) -> int:
        repairs = reconcile.run(conn, self.pd_rest)
        for repair in repairs:
            log.warning("reconciliation repaired %s", repair)
        return len(repairs)

    def _chase(self, conn) -> int:
        with store.transaction(conn):
            return handoff_service.chase(conn, self.settings, clock.now())

    def _weekly(self, conn) -> bool:
        now = clock.now()
        with store.transaction(conn):
            first = schedule.first_look(conn, "reports:first-look", now)
            return weekly.tick(conn, self.settings, now, first)
