"""The registry the running bot is built from. Each feature (bot/features.py lists them) registers on it what it
brings: outbox handlers and their lanes, notifiers for incident events, scheduled jobs, `/dre` verbs and Slack
listeners. There are no module-global registries: two bots in one process each have their own."""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any, Callable

from bot.events import Event

# A notifier turns one incident event into outbox items, in the dispatching transaction.
Notifier = Callable[[sqlite3.Connection, Event], None]
# A scheduled job does what is due at `now` in its own transactions; it returns how many things it did.
Job = Callable[[sqlite3.Connection, float], int]


@dataclass(frozen=True)
class Lane:
    """How one outbox lane is paced: `rate` calls a second per pacing key with bursts of `burst` (None: the
    [delivery] channel pace), and `threads` of its own when its calls are slow (0: the shared pool)."""
    rate: float | None = None
    burst: int | None = None
    threads: int = 0


@dataclass
class Registry:
    handlers: dict[str, Any] = field(default_factory=dict)        # outbox kind -> bot.outbox.Handler
    lanes: dict[str, Lane] = field(default_factory=dict)
    notifiers: list[tuple[str, Notifier]] = field(default_factory=list)
    jobs: list[tuple[str, Job]] = field(default_factory=list)
    verbs: dict[str, Any] = field(default_factory=dict)           # name -> bot.slack.commands.Verb
    listeners: list[Callable[..., None]] = field(default_factory=list)   # fn(bolt_app, deps): Slack listeners
    home_sections: list[Callable[..., list]] = field(default_factory=list)  # fn(deps, user) -> App Home blocks
    # Signed Slack payloads are checked before any listener reads them (bot/slack/payloads.py): the buttons whose
    # value is a number (an incident or handoff id), and each modal's inputs, registered by whoever draws them.
    numeric_actions: set[str] = field(default_factory=set)
    modals: dict[str, tuple[tuple[str, ...], bool]] = field(default_factory=dict)   # id -> (inputs, per incident)
    # Who else can own an incident, found at delivery time (network): name -> fn(deliverer, incident) -> emails.
    # The owners list names a source as "<name>:" (e.g. "pagerduty:on-call"); an empty answer falls back.
    owner_sources: dict[str, Callable[..., list[str]]] = field(default_factory=dict)
    # Inbox rows from senders that are not alert sources (PagerDuty's webhooks): fn(conn, doc, meta) -> a word.
    inbound: dict[str, Callable[..., str]] = field(default_factory=dict)
    lineage: Any = None   # bot.lineage.sources.Lineage: the graph the group stage reads, refreshed by its jobs

    def handler(self, kind: str, handler: Any) -> None:
        if kind in self.handlers:
            raise ValueError(f"outbox kind {kind} is registered twice")
        self.handlers[kind] = handler

    def lane(self, name: str, rate: float | None = None, burst: int | None = None, threads: int = 0) -> None:
        self.lanes[name] = Lane(rate, burst, threads)

    def notifier(self, name: str, notifier: Notifier) -> None:
        self.notifiers.append((name, notifier))

    def job(self, name: str, job: Job) -> None:
        self.jobs.append((name, job))

    def verb(self, verb: Any) -> None:
        if verb.name in self.verbs:
            raise ValueError(f"/dre {verb.name} is registered twice")
        self.verbs[verb.name] = verb

    def listener(self, register: Callable[..., None]) -> None:
        self.listeners.append(register)

    def owner_source(self, name: str, find: Callable[..., list[str]]) -> None:
        self.owner_sources[name] = find

    def numeric_action(self, action_id: str) -> None:
        self.numeric_actions.add(action_id)

    def modal(self, callback_id: str, inputs: tuple[str, ...], per_incident: bool = True) -> None:
        self.modals[callback_id] = (inputs, per_incident)

    def inbound_handler(self, source: str, apply: Callable[..., str]) -> None:
        self.inbound[source] = apply

    def home_section(self, section: Callable[..., list]) -> None:
        self.home_sections.append(section)

    def own_threads(self) -> dict[str, int]:
        return {name: lane.threads for name, lane in self.lanes.items() if lane.threads}
