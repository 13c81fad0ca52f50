"""`/dre <verb> ...`: how verbs are declared, run, audited and answered, with help made from the handlers'
docstrings so it never drifts from the code. Each feature declares its verbs in its own `commands` module and
registers them on the registry (bot/features.py).

A handler takes the Deps and the Call and returns a Reply. Its docstring's first line is its summary in
`/dre help`; the rest is shown by `/dre help <verb>`.
"""
from __future__ import annotations

import inspect
import re
import shlex
import sqlite3
import threading
import uuid
from dataclasses import dataclass, field
from typing import Callable

from slack_sdk import WebClient

from bot.config import Settings
from bot.incident import parse_name
from bot.registry import Registry
from bot.runbook import Runbook
from bot.slack.permissions import Permissions


@dataclass
class Deps:
    """What handlers need: settings, a database connection for this thread, Slack, permissions."""
    settings: Settings
    db_path: str
    client: WebClient
    permissions: Permissions
    runbooks: list[Runbook]
    wake_deliverer: Callable[[], None] = lambda: None
    pd_rest: object | None = None          # pagerduty.RestApiV2Client when PAGERDUTY_API_TOKEN is set
    pd_users: object | None = None         # bot.pagerduty.client.UserDirectory
    catalog: dict = field(default_factory=dict)   # name -> bot.diagnostics.catalog.Query
    registry: Registry = field(default_factory=Registry)   # the verbs, listeners and App Home sections
    _local: threading.local = field(default_factory=threading.local)
    _workspace_url: str | None = None
    _channel_ids: dict = field(default_factory=dict)

    def incident_channel(self, inc) -> str:
        """The channel whose members may act on an incident: where its card is, else the channel it was routed to
        when it opened (so nobody can act from a DM before the card is posted). A channel Slack does not know
        stays a name, which no member check passes: refused, not allowed."""
        if inc["slack_channel"]:
            return inc["slack_channel"]
        routed = inc["channel"]
        if routed not in self._channel_ids:
            from bot.slack.delivery import channel_id_by_name, looks_like_id
            try:
                self._channel_ids[routed] = routed if looks_like_id(routed) else \
                    (channel_id_by_name(self.client, routed) or routed)
            except Exception:   # Slack did not answer: try again next time, and refuse this time
                return routed
        return self._channel_ids[routed]

    def conn(self) -> sqlite3.Connection:
        from bot import store
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = store.connect(self.db_path)
        return conn

    def thread_link(self, channel_id: str | None, ts: str | None, text: str) -> str:
        """A link to an incident's thread: the permalink form, with the workspace URL from auth.test."""
        if not channel_id or not ts:
            return text
        if self._workspace_url is None:
            try:
                self._workspace_url = self.client.auth_test().get("url") or "https://slack.com/"
            except Exception:  # a link is a nicety: never fail a command for it
                return text
        return f"<{self._workspace_url}archives/{channel_id}/p{ts.replace('.', '')}|{text}>"


@dataclass
class Call:
    """One use of a verb, from /dre, an @mention in a thread, or a button."""
    user: str
    channel: str | None
    verb: str
    args: list[str]
    via: str = "command"                 # command, mention, button, modal, shortcut
    thread_incident: int | None = None   # the incident of the thread an @mention came from
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex[:10])

    def __post_init__(self) -> None:
        self.args = list(self.args)
        self.typed = " ".join(self.args)   # as given, for the audit log, before handlers take words off

    @property
    def text(self) -> str:
        return " ".join(self.args)


@dataclass
class Reply:
    text: str
    public: bool = False       # in_channel for /dre; ephemeral otherwise
    blocks: list | None = None
    ok: bool = True            # False: a refusal, a usage problem, or a change that did not happen


class UsageError(Exception):
    """The user typed something we cannot use; the message says what to type instead."""


@dataclass(frozen=True)
class Verb:
    name: str
    usage: str
    func: Callable[[Deps, Call], Reply]
    permission: str | None = None

    @property
    def summary(self) -> str:
        return (inspect.getdoc(self.func) or "").splitlines()[0]

    @property
    def details(self) -> str:
        return "\n".join((inspect.getdoc(self.func) or "").splitlines()[1:]).strip()


def verb(name: str, usage: str, permission: str | None = None):
    """Declare a function as the verb `name`; its module's feature registers it (`verbs_in`)."""
    def declare(func: Callable[[Deps, Call], Reply]) -> Callable[[Deps, Call], Reply]:
        func.verb = Verb(name, usage, func, permission)  # type: ignore[attr-defined]
        return func
    return declare


def verbs_in(module) -> list[Verb]:
    """The verbs a module declares, in the order they are written."""
    return [f.verb for f in vars(module).values() if callable(f) and isinstance(getattr(f, "verb", None), Verb)]


def register(registry: Registry, settings, runbooks) -> None:
    """`/dre help`, made from every registered verb."""
    from bot.slack.commands import help as help_verb
    for v in verbs_in(help_verb):
        registry.verb(v)


_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_CHANNEL = re.compile(r"<#([CG][A-Z0-9]+)(?:\|[^>]*)?>")


def split_args(text: str) -> list[str]:
    """Words as a person typed them; "quoted titles" stay whole, unbalanced quotes are forgiven.

    Slack sends command text with &, < and > as entities (mentions stay <@U..|name>): turn them back into
    the characters the person typed; they are escaped again wherever they are shown."""
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    text = text.replace("“", '"').replace("”", '"')
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def user_id(token: str) -> str | None:
    """U0123 from Slack's escaped mention <@U0123|alice>, or a bare id."""
    m = _MENTION.fullmatch(token.strip())
    if m:
        return m.group(1)
    return token if re.fullmatch(r"[UW][A-Z0-9]{6,}", token) else None


def channel_ref(token: str) -> str | None:
    m = _CHANNEL.fullmatch(token.strip())
    if m:
        return m.group(1)
    return token if token.startswith("#") and len(token) > 1 else None


def incident_arg(call: Call, position: int = 0) -> int:
    """The incident a verb acts on: INC-n in the arguments, else the thread it was said in."""
    if len(call.args) > position and parse_name(call.args[position]) is not None:
        return parse_name(call.args.pop(position))  # type: ignore[return-value]
    if call.thread_incident is not None:
        return call.thread_incident
    raise UsageError(f"Which incident? Name it, like `/dre {call.verb} INC-42`, or say it in the incident's "
                     "thread: `@dre-bot " + call.verb + "`.")


class Refused(Exception):
    """The user may not do this; the message says who may and how to get access."""


def require(deps: Deps, call: Call, action: str, incident_channel: str | None = None) -> None:
    decision = deps.permissions.check(action, call.user, call.channel, incident_channel)
    if not decision.allowed:
        raise Refused(decision.reason)


def run(deps: Deps, call: Call, func: Callable[[Deps, Call], Reply] | None = None,
        answer: Callable[[Reply], None] | None = None) -> Reply:
    """Run a verb (or `func` for actions that are not verbs): unknown verbs get the help; every outcome is
    audited; no stack trace reaches Slack. `answer` gets the reply before the audit row is written, so the
    person is not kept waiting for the bookkeeping."""
    import logging

    from bot import audit, store
    log = logging.getLogger("dre-bot.commands")
    verbs = deps.registry.verbs
    allowed, reply = True, None
    command = verbs.get(call.verb)
    try:
        if func is not None:
            reply = func(deps, call)
        elif command is None:
            reply = verbs["help"].func(deps, Call(call.user, call.channel, "help", [], call.via))
            reply = Reply(("" if not call.verb else f"I don't know `{call.verb}`. ") + reply.text)
        else:
            reply = command.func(deps, call)
    except UsageError as exc:
        reply = Reply(f"{exc}\nUsage: `{command.usage}`" if command and func is None else str(exc), ok=False)
    except Refused as exc:
        allowed, reply = False, Reply(f":no_entry: {exc}", ok=False)
    except Exception:
        log.exception("request %s: /dre %s failed", call.request_id, call.verb)
        reply = Reply(f"Something went wrong on my side (request id `{call.request_id}`); it is logged. "
                      "Try again, and if it keeps failing tell the dre-bot admins with that id.", ok=False)
    if answer is not None:
        try:
            answer(reply)
        except Exception:
            log.exception("request %s: could not answer", call.request_id)
    try:
        conn = deps.conn()
        with store.transaction(conn):
            audit.record(conn, user=call.user, action=call.verb or "help", args=call.typed, result=reply.text,
                         allowed=allowed, request_id=call.request_id, via=call.via, channel=call.channel)
    except Exception:
        log.exception("request %s: could not write the audit row", call.request_id)
    deps.wake_deliverer()
    return reply
