"""The scheduled side of handoffs, run by the worker's scheduler thread: at each shift change (PagerDuty schedule
or cron) post the handoff, shortly before it prompt the outgoing on-call for a note, and chase handoffs nobody
acknowledged. Network calls (PagerDuty, Slack's user lookup) happen here, before the transaction."""
from __future__ import annotations

import logging
import sqlite3
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import store
from bot.config import Settings
from bot.handoff import service, shifts
from bot.handoff.service import Side

log = logging.getLogger("dre-bot.handoff")
LOOK_BACK, LOOK_AHEAD = 3 * 86400.0, 86400.0   # PagerDuty: the outgoing shift's start must be inside the range
REFRESH = 600.0                                  # seconds of real time between schedule fetches


class HandoffJobs:
    def __init__(self, settings: Settings, pd_rest, slack: WebClient):
        self.settings, self.pd_rest, self.slack = settings, pd_rest, slack
        self.emails: dict[str, str | None] = {}
        self.slack_ids: dict[str, str | None] = {}
        self._cache: tuple[float, float, float, list[shifts.Change]] | None = None   # fetched, since, until
        self._workspace: str | None = None
        self._warned = 0.0

    @property
    def enabled(self) -> bool:
        return self.settings.handoff.scheduled and (bool(self.settings.handoff.cron) or self.pd_rest is not None)

    def changes(self, now: float) -> list[shifts.Change]:
        cfg = self.settings.handoff
        need_since, need_until = now - cfg.late - 60, now + cfg.note_prompt + 60
        if self._cache:
            fetched, since, until, changes = self._cache
            if since <= need_since - cfg.shift and need_until <= until and time.time() - fetched < REFRESH:
                return changes
        since, until = now - LOOK_BACK, now + LOOK_AHEAD
        if cfg.cron:
            changes = shifts.from_cron(cfg.cron, cfg.timezone, since, until)
        else:
            try:
                changes = shifts.from_schedule(self.pd_rest, cfg.schedule, since, until, self.emails)
            except Exception as exc:   # PagerDuty down: keep what we knew, say so once a minute at most
                if time.time() - self._warned > 60:
                    log.warning("could not read PagerDuty schedule %s for handoffs: %s", cfg.schedule, exc)
                    self._warned = time.time()
                return self._cache[3] if self._cache else []
        self._cache = (time.time(), since, until, changes)
        return changes

    def slack_id(self, person: shifts.Person | None) -> str | None:
        """The Slack user with the PagerDuty user's email (users.lookupByEmail), cached; None when none."""
        if person is None or not person.email:
            return None
        if person.email not in self.slack_ids:
            try:
                self.slack_ids[person.email] = self.slack.users_lookupByEmail(email=person.email)["user"]["id"]
            except SlackApiError as exc:
                log.warning("no Slack user for %s (%s): %s; the handoff names them instead", person.name,
                            person.email, exc.response.get("error"))
                if exc.response.get("error") != "users_not_found":
                    return None          # not cached: a transient failure is tried again next time
                self.slack_ids[person.email] = None
        return self.slack_ids[person.email]

    def side(self, person: shifts.Person | None, nobody: str) -> Side:
        return Side(self.slack_id(person), person.name if person else nobody)

    def workspace(self) -> str:
        if self._workspace is None:
            try:
                self._workspace = self.slack.auth_test().get("url") or ""
            except SlackApiError:
                return ""
        return self._workspace

    def tick(self, conn: sqlite3.Connection, now: float) -> int:
        """Do what is due at `now`; the number of things enqueued."""
        cfg, done = self.settings.handoff, 0
        if self.enabled:
            with store.transaction(conn):
                service.once(conn, "handoff:first-look", now)
                first = conn.execute("SELECT at FROM scheduled_runs WHERE key = 'handoff:first-look'").fetchone()[0]
            for change in self.changes(now):
                due_prompt = change.at - cfg.note_prompt <= now < change.at and change.at - cfg.note_prompt >= first
                due_post = max(first, now - cfg.late) < change.at <= now
                if not (due_prompt or due_post):
                    continue
                outgoing = self.side(change.outgoing, "nobody on call")
                with store.transaction(conn):
                    if due_prompt:
                        done += service.prompt(conn, self.settings, change.key, change.at, outgoing, now)
                    elif due_post:
                        if cfg.cron:   # no schedule: whoever took the last handoff hands this one over
                            prev = service.last(conn)
                            who = (prev["acked_by"] or prev["incoming"]) if prev else None
                            outgoing = Side(who, None if who else "the last shift")
                        made = service.create(conn, self.settings, change.key, change.shift_start, change.at,
                                              outgoing, self.side(change.incoming, "nobody on call"),
                                              workspace=self.workspace())
                        if made:
                            log.info("handoff %s posted for the shift change at %s", made, change.key)
                            done += 1
        with store.transaction(conn):
            done += service.chase(conn, self.settings, now)
        return done
