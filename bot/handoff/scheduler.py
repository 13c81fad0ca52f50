"""The scheduled side of handoffs, run by the worker's scheduler thread: at each shift change (PagerDuty schedule
or cron) post the handoff, and shortly before it prompt the outgoing on-call for a note. (Chasing handoffs nobody
acknowledged is bot.handoff.service.chase, a job of its own.) Network calls (PagerDuty, Slack's user lookup)
happen here, before the transaction."""
from __future__ import annotations

import logging
import sqlite3
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import schedule, store
from bot.config import Settings
from bot.handoff import service, shifts
from bot.handoff.service import Side

log = logging.getLogger("dre-bot.handoff")
# PagerDuty clips entries to the range asked for, and the outgoing shift's start must be inside it: two weeks back
# covers weekly rotations (PagerDuty's default) and fortnightly ones.
LOOK_BACK, LOOK_AHEAD = 15 * 86400.0, 86400.0
PATIENCE = 600.0    # how long a handoff waits for a person's Slack id when Slack fails, before naming them instead
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
        """The Slack user with the PagerDuty user's email (users.lookupByEmail), cached; None when there is none.
        Raises LookupFailed when Slack could not say (the caller waits and asks again)."""
        if person is None or not person.email:
            return None
        if person.email not in self.slack_ids:
            try:
                self.slack_ids[person.email] = self.slack.users_lookupByEmail(email=person.email)["user"]["id"]
            except SlackApiError as exc:
                if exc.response.get("error") != "users_not_found":
                    raise LookupFailed(f"Slack answered {exc.response.get('error')} for {person.name}") from None
                log.warning("no Slack user has %s's email (%s): the handoff names them instead", person.name,
                            person.email)
                self.slack_ids[person.email] = None
            except Exception as exc:   # Slack unreachable
                raise LookupFailed(f"{type(exc).__name__}: {exc}") from None
        return self.slack_ids[person.email]

    def side(self, person: shifts.Person | None, nobody: str, patient: bool) -> Side:
        """One person of a handoff. When Slack cannot say who they are and `patient`, LookupFailed goes up so the
        handoff waits; otherwise it names them by their PagerDuty name."""
        try:
            slack_id = self.slack_id(person)
        except LookupFailed:
            if patient:
                raise
            slack_id = None
        return Side(slack_id, person.name if person else nobody)

    def workspace(self) -> str:
        if self._workspace is None:
            try:
                self._workspace = self.slack.auth_test().get("url") or ""
            except Exception:
                return ""
        return self._workspace

    def tick(self, conn: sqlite3.Connection, now: float) -> int:
        """Post the handoffs and note prompts due at `now`; the number enqueued."""
        if not self.enabled:
            return 0
        cfg, done = self.settings.handoff, 0
        with store.transaction(conn):
            first = schedule.first_look(conn, "handoff:first-look", now)
        for change in self.changes(now):
            prompt_at = change.at - cfg.note_prompt
            due_prompt = prompt_at <= now < change.at and prompt_at >= first and \
                not store.ran(conn, f"prompt:{change.key}")
            due_post = max(first, now - cfg.late) < change.at <= now and not store.handoff_exists(conn, change.key) \
                and not store.ran(conn, f"handoff-covered:{change.key}")
            try:
                if due_prompt:
                    outgoing = self.side(change.outgoing, "nobody on call", patient=now - prompt_at < PATIENCE)
                    with store.transaction(conn):
                        done += service.prompt(conn, self.settings, change.key, change.at, outgoing, now)
                elif due_post:
                    done += self._post(conn, change, now)
            except LookupFailed as exc:
                log.warning("handoff %s waits: %s", change.key, exc)
        return done

    def _post(self, conn: sqlite3.Connection, change: shifts.Change, now: float) -> int:
        cfg, patient = self.settings.handoff, now - change.at < PATIENCE
        if cfg.cron:   # no schedule: whoever took the last handoff hands this one over
            prev = service.last(conn)
            who = (prev.acked_by or prev.incoming) if prev else None
            outgoing = Side(who, None if who else "the last shift")
        else:
            outgoing = self.side(change.outgoing, "nobody on call", patient)
        incoming = self.side(change.incoming, "nobody on call", patient) if not cfg.cron else Side()
        workspace = self.workspace()
        with store.transaction(conn):
            manual = service.manual_near(conn, change.at - cfg.note_prompt, now)
            if manual is not None:   # someone handed over by hand just before (or after) the change: that one counts
                schedule.once(conn, f"handoff-covered:{change.key}", now)
                log.info("handoff for %s not posted: handoff %s was posted by hand", change.key, manual.id)
                return 0
            made = service.create(conn, self.settings, change.key, change.shift_start, change.at, outgoing,
                                  incoming, workspace=workspace)
        if made:
            log.info("handoff %s posted for the shift change %s", made, change.key)
        return 1 if made else 0


class LookupFailed(Exception):
    """Slack could not say who someone is, this time."""
