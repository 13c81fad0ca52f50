"""Settings from the environment (secrets) and dre-bot.toml (routing, grouping, delivery), validated once at start."""
from __future__ import annotations

import json
import os
import re
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic.dataclasses import dataclass as checked_dataclass

from bot.alert import SEVERITIES
from bot.durations import parse_duration
from bot.permission_actions import ACTIONS

DEFAULT_CHANNEL = "#data-incidents"
SANDBOX_TOKEN = "xoxb-sandbox-token"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SIZE = {"b": 1, "kb": 1000, "mb": 1000 ** 2, "gb": 1000 ** 3, "tb": 1000 ** 4}


class ConfigError(Exception):
    """A setting is wrong; the message says which and how to fix it."""


def parse_size(value: Any, where: str = "it") -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?b)\s*", str(value).lower())
    if not m:
        raise ValueError(f"{where} must be a size like 500MB or 10GB, not {value!r}.")
    return int(float(m.group(1)) * _SIZE[m.group(2)])


def _zone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone; use one like Europe/Paris or UTC.") from None
    return value


def _cron(value: str) -> str:
    from croniter import croniter
    if not croniter.is_valid(value):
        raise ValueError(f'{value!r} is not a cron expression; use one like "0 9,21 * * *".')
    return value


def _clock_time(value: str) -> str:
    hh, _, mm = value.partition(":")
    if not (hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
        raise ValueError(f'{value!r} is not a time of day; use HH:MM, like "09:00".')
    return value


def _templates_dir(value: str) -> str:
    if not Path(value).is_dir():
        raise ValueError(f"it must name a directory of templates; {value!r} is not one.")
    from bot.templating import check
    problems = check(value)
    if problems:
        raise ValueError("it has templates that cannot be used:\n" + "\n".join(problems))
    return value


def _permissions(value: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, dict):
        raise ValueError("it must be a table of action = [rules].")
    out = {}
    for action, rules in value.items():
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r} in [permissions]; known: {', '.join(ACTIONS)}.")
        rules = [rules] if isinstance(rules, str) else rules
        if not isinstance(rules, list) or not all(isinstance(r, str) and r for r in rules):
            raise ValueError(f'[permissions] {action} must be a list like ["channel", "@dre-oncall", "U0123ABCD"].')
        out[action] = tuple(rules)
    return out


# The kinds of value dre-bot.toml holds; each description is the fix a ConfigError offers for a wrong value.
Duration = Annotated[float, BeforeValidator(parse_duration),
                     Field(description="use a duration like 30s, 90m, 2h or 1d")]
Size = Annotated[int, BeforeValidator(parse_size), Field(description="use a size like 500MB or 10GB")]
Number = Annotated[float, Field(gt=0, description="use a positive number, like 2 or 0.5")]
Count = Annotated[int, Field(ge=1, description="use a whole number of at least 1, like 10")]
Text = Annotated[str, Field(min_length=1, description='use a non-empty string in quotes, like "x"')]
Texts = Annotated[tuple[Text, ...], Field(description='use a list of strings, like ["a", "b"]')]
Channel = Annotated[str, Field(min_length=1, description='use a channel name or id in quotes, like "#data-incidents"')]
Labels = Annotated[dict[str, str], Field(description='use a table of label = "glob", like {table = "finance.*"}')]
Zone = Annotated[str, AfterValidator(_zone)]
Severity = Literal[SEVERITIES]   # one scale: bot.alert's
Severities = Annotated[tuple[Severity, ...], Field(description=f"use a list of severities from {', '.join(SEVERITIES)}")]

_SECTION = ConfigDict(extra="forbid")


@checked_dataclass(frozen=True, kw_only=True, config=_SECTION)
class Route:
    """Alerts whose labels match every glob in `match` go to `channel`."""
    match: Labels = field(default_factory=dict)
    channel: Channel


Owner = Annotated[str, Field(pattern=r"^(@[a-z0-9][a-z0-9._-]*|[^@\s]+@[^@\s]+\.[^@\s]+|[UW][A-Z0-9]{2,})$",
                             description='use a Slack user group handle like "@data-platform-oncall", a person\'s '
                                         'email like "alice@acme.example", or a Slack user id like "U0123ABCD"')]


@checked_dataclass(frozen=True, kw_only=True, config=_SECTION)
class OwnersRule:
    """Incidents on a table, dataset or labels matching these globs notify these Slack user groups or people."""
    tables: Annotated[tuple[Text, ...], Field(description='use a list of table globs, like ["analytics.*"]')] = ()
    datasets: Annotated[tuple[Text, ...], Field(description='use a list of dataset globs, like ["finance*"]')] = ()
    labels: Labels = field(default_factory=dict)
    notify: tuple[Owner, ...]

    @model_validator(mode="after")
    def _says_which(self) -> OwnersRule:
        if not (self.tables or self.datasets or self.labels):
            raise ValueError('say which incidents it covers: add tables = ["analytics.*"], datasets = [...] or '
                             'labels = {team = "growth"}.')
        if not self.notify:
            raise ValueError('notify is empty: list who to page, like notify = ["@data-platform-oncall", '
                             '"alice@acme.example"].')
        return self


@checked_dataclass(frozen=True, kw_only=True, config=_SECTION)
class PagingRoute:
    """Incidents whose labels match and whose severity is listed page through the routing key in `routing_key_env`
    (the name of an environment variable: keys are secrets). page = false: these never page."""
    match: Labels = field(default_factory=dict)
    severities: Severities = SEVERITIES
    routing_key_env: Text = "PAGERDUTY_ROUTING_KEY"
    page: bool = True


@checked_dataclass(frozen=True, config=_SECTION)
class PagerDutyConfig:
    page_severities: Severities = ("sev1", "sev2")
    routes: tuple[PagingRoute, ...] = ()
    dedup_prefix: Text = "dre-bot"
    mirror_services: Texts = ()
    reconcile_interval: Duration = 300.0
    schedules: Texts = ()
    escalation_policies: Texts = ()
    default_service: Text | None = None
    rate: Number = 2.0           # calls a second to PagerDuty, with bursts
    burst: Count = 10


@checked_dataclass(frozen=True, config=_SECTION)
class DiagnosticsConfig:
    allowed: Texts = ()                 # "project.dataset" globs the bot may read
    max_bytes: Size = 10 * 1000 ** 3    # dry-run estimate above this: refused; also maximum_bytes_billed
    timeout: Duration = 60.0
    max_rows: Count = 500
    region: Text = "region-us"


@checked_dataclass(frozen=True, config=_SECTION)
class HandoffConfig:
    """Shift handoffs: at each shift change of a PagerDuty schedule (or of a cron expression), in `channel`."""
    schedule: Text | None = None        # PagerDuty schedule id whose shift changes are the handoffs
    cron: Annotated[str, AfterValidator(_cron)] | None = None   # or a cron expression, when PagerDuty is not used
    timezone: Zone = "UTC"              # the cron expression's time zone
    channel: Channel | None = None      # default: DRE_CHANNEL
    shift: Duration = 12 * 3600.0       # what "this shift" covers for `/dre handoff` when no handoff came before
    note_prompt: Duration = 30 * 60.0   # the "Write handoff note" button this long before the shift ends
    remind_after: Duration = 30 * 60.0  # an unacknowledged handoff is reminded once after this
    escalate_after: Duration = 60 * 60.0  # and escalated to the channel after this
    late: Duration = 6 * 3600.0         # a shift change missed (the bot was down) is still posted this long after
    tick: Duration = 30.0               # how often the scheduler looks (seconds of real time)

    @model_validator(mode="after")
    def _consistent(self) -> HandoffConfig:
        if self.schedule and self.cron:
            raise ValueError("set schedule (a PagerDuty schedule id) or cron, not both.")
        if self.escalate_after <= self.remind_after:
            raise ValueError(f"escalate_after ({self.escalate_after:g}s) must be longer than remind_after "
                             f"({self.remind_after:g}s): the reminder comes first.")
        if self.tick < 0.05:
            raise ValueError("tick must be at least 0.05s.")
        return self

    @property
    def scheduled(self) -> bool:
        return bool(self.schedule or self.cron)


@checked_dataclass(frozen=True, config=_SECTION)
class ReportsConfig:
    """The weekly reliability report: posted on `weekly_day` at `weekly_time` (in `timezone`) to `channel`."""
    # monday ... sunday; unset: no weekly report
    weekly_day: Annotated[Literal[WEEKDAYS], BeforeValidator(lambda v: v.lower() if isinstance(v, str) else v)] \
        | None = None
    weekly_time: Annotated[str, AfterValidator(_clock_time)] = "09:00"
    timezone: Zone = "UTC"
    channel: Channel | None = None      # default: DRE_CHANNEL


@checked_dataclass(frozen=True, config=_SECTION)
class Delivery:
    max_attempts: Count = 10
    backoff_base: Duration = 1.0
    backoff_max: Duration = 300.0
    channel_rate: Number = 1.0     # Slack allows about one message per second per channel...
    channel_burst: Count = 4       # ...with short bursts above that.
    threads: Count = 4
    # More new cards than this waiting for one channel's pace: one storm summary lists them (docs/STORMS.md); 0: off.
    storm_threshold: Annotated[int, Field(ge=0, description="use a whole number, like 5 (0 turns storm summaries "
                                                            "off)")] = 5


class _Grouping(BaseModel, extra="forbid"):
    keys: tuple[Text, ...] | None = Field(None, description='use a list of label names, like keys = ["table"]')
    lineage: bool | None = None   # an alert joins an open incident whose tables share a failing upstream with its own


@checked_dataclass(frozen=True, kw_only=True, config=_SECTION)
class LineageEdge:
    """A lineage edge dbt and BigQuery do not know: `downstream` reads `upstream`."""
    upstream: Text
    downstream: Text


@checked_dataclass(frozen=True, config=_SECTION)
class LineageConfig:
    """Where lineage comes from (docs/LINEAGE.md): dbt's manifest.json, BigQuery's job history, these edges."""
    dbt_manifest: Text | None = None    # path to target/manifest.json; read again when the file changes
    bigquery: bool = False              # edges from region-*.INFORMATION_SCHEMA.JOBS, under [diagnostics] max_bytes
    bigquery_days: Count = 7
    bigquery_refresh: Duration = 6 * 3600.0
    edges: tuple[LineageEdge, ...] = ()
    # An upstream read by more than this share of all tables (a date dimension) is no evidence of a common cause.
    max_share: Annotated[float, Field(gt=0, le=1, description="use a share between 0 and 1, like 0.5")] = 0.5


class _Incidents(BaseModel, extra="forbid"):
    resolve_when: Literal["all_alerts_resolved", "any_alert_resolved", "manual"] | None = None
    reopen_window: Duration | None = None
    default_owner: Owner | None = None   # who is paged when neither a runbook nor [[owners]] names anyone


class _Dir(BaseModel, extra="forbid"):
    dir: Text | None = None


class _Templates(BaseModel, extra="forbid"):
    dir: Annotated[str, AfterValidator(_templates_dir)] | None = None   # a team's templates over bot/templates/


class _Sandbox(BaseModel, extra="forbid"):
    db: Text | None = None


class TomlFile(BaseModel, extra="forbid"):
    """dre-bot.toml as written: every section, and in it every key, is declared here or in the classes above."""
    grouping: _Grouping = _Grouping()
    incidents: _Incidents = _Incidents()
    routes: Annotated[tuple[Route, ...], Field(description='use [[routes]] tables with match = {label = "glob"} '
                                                           'and channel = "#channel"')] = ()
    owners: Annotated[tuple[OwnersRule, ...], Field(description='use [[owners]] tables with tables = ["analytics.*"] '
                                                                 'and notify = ["@data-platform-oncall"]')] = ()
    delivery: Delivery = Delivery()
    runbooks: _Dir = _Dir()
    templates: _Templates = _Templates()
    sandbox: _Sandbox = _Sandbox()
    permissions: Annotated[dict[str, tuple[str, ...]], BeforeValidator(_permissions)] = {}
    pagerduty: PagerDutyConfig = PagerDutyConfig()
    diagnostics: DiagnosticsConfig = DiagnosticsConfig()
    handoff: HandoffConfig = HandoffConfig()
    reports: ReportsConfig = ReportsConfig()
    lineage: LineageConfig = LineageConfig()


@dataclass(frozen=True)
class Settings:
    # From the environment
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_api_url: str | None = None
    slack_app_token: str | None = None
    channel: str = DEFAULT_CHANNEL
    db_path: str = "./dre-bot.db"
    config_path: str | None = None
    webhook_token: str | None = None
    montecarlo_secret: str | None = None
    pagerduty_api_token: str | None = None
    pagerduty_from_email: str | None = None
    pagerduty_routing_key: str | None = None
    pagerduty_webhook_secret: str | None = None
    pagerduty_api_url: str = "https://api.pagerduty.com"
    pagerduty_events_url: str = "https://events.pagerduty.com"
    google_cloud_project: str | None = None
    bigquery_api_url: str | None = None
    monitoring_api_url: str | None = None
    runbook_base_url: str = ""
    port: int = 3000
    scripted_clock: bool = False   # DRE_SCRIPTED_CLOCK=1: tests move the clock with POST /sandbox/clock
    # From dre-bot.toml
    group_keys: tuple[str, ...] = ("table",)
    resolve_when: str = "all_alerts_resolved"
    reopen_window: float = 3600.0
    routes: tuple[Route, ...] = ()
    owners: tuple[OwnersRule, ...] = ()
    default_owner: str = "@dre-oncall"
    delivery: Delivery = field(default_factory=Delivery)
    runbooks_dir: str = "runbooks"
    templates_dir: str = ""        # a team's own templates, overriding bot/templates/ file by file
    sandbox_db_path: str = ""
    inbox_db_path: str = ""
    permissions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    pagerduty: PagerDutyConfig = field(default_factory=PagerDutyConfig)
    diagnostics: DiagnosticsConfig = field(default_factory=DiagnosticsConfig)
    handoff: HandoffConfig = field(default_factory=HandoffConfig)
    reports: ReportsConfig = field(default_factory=ReportsConfig)
    lineage: LineageConfig = field(default_factory=LineageConfig)
    group_by_lineage: bool = False
    env: Mapping[str, str] = field(default_factory=dict, repr=False)   # for routing keys named in dre-bot.toml

    @property
    def pagerduty_enabled(self) -> bool:
        return bool(self.pagerduty_api_token or self.pagerduty_routing_key or
                    any(self.env.get(r.routing_key_env) for r in self.pagerduty.routes))

    @property
    def sandbox(self) -> bool:
        """No Slack token: the bot's own emulators stand in for Slack, PagerDuty and BigQuery."""
        return not self.slack_bot_token

    @property
    def bot_token(self) -> str:
        return self.slack_bot_token or SANDBOX_TOKEN


ENV_VARS = {
    "SLACK_BOT_TOKEN": "slack_bot_token", "SLACK_SIGNING_SECRET": "slack_signing_secret",
    "SLACK_API_URL": "slack_api_url", "SLACK_APP_TOKEN": "slack_app_token", "DRE_CHANNEL": "channel",
    "DRE_DB": "db_path", "DRE_CONFIG": "config_path", "DRE_WEBHOOK_TOKEN": "webhook_token",
    "MONTECARLO_WEBHOOK_SECRET": "montecarlo_secret", "PAGERDUTY_API_TOKEN": "pagerduty_api_token",
    "PAGERDUTY_FROM_EMAIL": "pagerduty_from_email", "PAGERDUTY_ROUTING_KEY": "pagerduty_routing_key",
    "PAGERDUTY_WEBHOOK_SECRET": "pagerduty_webhook_secret", "PAGERDUTY_API_URL": "pagerduty_api_url",
    "PAGERDUTY_EVENTS_URL": "pagerduty_events_url", "GOOGLE_CLOUD_PROJECT": "google_cloud_project",
    "BIGQUERY_API_URL": "bigquery_api_url", "MONITORING_API_URL": "monitoring_api_url",
    "RUNBOOK_BASE_URL": "runbook_base_url", "PORT": "port", "DRE_SCRIPTED_CLOCK": "scripted_clock",
}

MISSING_SIGNING_SECRET = (
    "SLACK_SIGNING_SECRET is not set. With a SLACK_BOT_TOKEN the bot verifies every request from Slack with it, "
    "and will not start without it: copy it from your Slack app's page (api.slack.com/apps, your app, Basic "
    "Information, App Credentials, Signing Secret) into SLACK_SIGNING_SECRET, or use Socket Mode with an "
    "app-level token in SLACK_APP_TOKEN. Without SLACK_BOT_TOKEN the bot "
    "runs in sandbox mode, with its own emulators and built-in secrets.")


def _fields(kind: Any) -> dict[str, Any]:
    return getattr(kind, "model_fields", None) or getattr(kind, "__pydantic_fields__", None) or {}


def _inner(kind: Any) -> Any:
    """The type inside Annotated, Optional, tuple[...] and list[...], where an error's location goes next."""
    while True:
        args = [a for a in typing.get_args(kind) if a is not type(None) and a is not Ellipsis]
        if not args or _fields(kind):
            return kind
        kind = args[0]


def _field_at(loc: tuple) -> tuple[Any, Any]:
    """The declaration an error's location points at (or the nearest above it), and the class holding it."""
    kind, info, holder = TomlFile, None, TomlFile
    for part in loc:
        kind = _inner(kind)
        if isinstance(part, int):
            continue
        fields = _fields(kind)
        if part not in fields:
            break
        holder, info = kind, fields[part]
        kind = info.annotation
    return info, holder


def _description(info: Any) -> str | None:
    """The field's description, or that of the type it declares (`Text | None` keeps it inside the union)."""
    if info is None:
        return None
    if info.description:
        return info.description
    todo = [info.annotation]
    while todo:
        kind = todo.pop()
        for meta in getattr(kind, "__metadata__", ()):
            if getattr(meta, "description", None):
                return meta.description
        todo.extend(typing.get_args(kind))
    return None


def _where(loc: tuple) -> str:
    if not loc:
        return "the file"
    head, rest = loc[0], loc[1:]
    text = f"[{head}]" if head not in ("routes", "owners") else head
    tail = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in rest)
    if head in ("routes", "owners"):
        return text + tail
    return f"{text} {tail.lstrip('.')}".rstrip()


def _problem(error: dict) -> str:
    loc, kind, msg = tuple(error["loc"]), error["type"], error["msg"]
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        parent, unknown = loc[:-1], loc[-1]
        info, holder = _field_at(parent)
        known = ", ".join(sorted(_fields(_inner(info.annotation) if info else TomlFile)))
        if not parent:
            return f"unknown section [{unknown}]; known: {known}."
        return f"unknown key {unknown} in {_where(parent)}; check its spelling. Known: {known}."
    info, _ = _field_at(loc)
    if kind == "value_error":
        fix = msg.removeprefix("Value error, ")
    else:
        fix = (_description(info) or msg[:1].lower() + msg[1:]) + "."
    if kind == "missing":
        return f"{_where(loc)} is missing: {fix}"
    if isinstance(error["input"], dict):   # a whole section is wrong (keys that do not fit together)
        return f"{_where(loc)}: {fix}"
    try:
        given = json.dumps(error["input"])
    except (TypeError, ValueError):
        given = repr(error["input"])
    return f"{_where(loc)} = {given} is not allowed: {fix}"


def _from_toml(doc: Mapping[str, Any], path: str) -> dict[str, Any]:
    try:
        toml = TomlFile.model_validate(doc)
    except ValidationError as exc:
        problems = [_problem(e) for e in exc.errors(include_url=False)]
        raise ConfigError(f"{path}: " + f"\n{path}: ".join(problems)) from None
    out: dict[str, Any] = {
        "routes": toml.routes, "owners": toml.owners, "permissions": toml.permissions, "delivery": toml.delivery,
        "pagerduty": toml.pagerduty, "diagnostics": toml.diagnostics, "handoff": toml.handoff,
        "reports": toml.reports, "lineage": toml.lineage}
    for attr, value in (("group_keys", toml.grouping.keys), ("resolve_when", toml.incidents.resolve_when),
                        ("reopen_window", toml.incidents.reopen_window),
                        ("default_owner", toml.incidents.default_owner), ("runbooks_dir", toml.runbooks.dir),
                        ("templates_dir", toml.templates.dir), ("sandbox_db_path", toml.sandbox.db),
                        ("group_by_lineage", toml.grouping.lineage)):
        if value is not None:   # unset: the default declared on Settings
            out[attr] = value
    return out


def load(environ: Mapping[str, str] | None = None, path: str | os.PathLike | None = None) -> Settings:
    """Read the environment (os.environ unless given) and dre-bot.toml (`path`, else DRE_CONFIG, else
    ./dre-bot.toml when there is one); raise ConfigError naming the bad setting and what to write instead."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {"env": dict(environ)}
    for var, attr in ENV_VARS.items():
        if environ.get(var):
            values[attr] = environ[var]
    if "port" in values:
        try:
            values["port"] = int(values["port"])
        except ValueError:
            raise ConfigError(f"PORT must be a number, like 3000, not {values['port']!r}.") from None
    if "scripted_clock" in values:
        values["scripted_clock"] = values["scripted_clock"].strip().lower() in ("1", "true", "yes")
    if path is not None:
        values["config_path"] = str(path)
    config_path = values.get("config_path")
    if config_path is None and Path("dre-bot.toml").exists():
        config_path = values["config_path"] = "dre-bot.toml"
    if config_path:
        try:
            with open(config_path, "rb") as fh:
                doc = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"DRE_CONFIG names {config_path}, which does not exist.") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_path} is not valid TOML: {exc}.") from None
        values.update(_from_toml(doc, config_path))
    settings = Settings(**values)
    if settings.slack_app_token and not settings.slack_app_token.startswith("xapp-"):
        raise ConfigError("SLACK_APP_TOKEN must be an app-level token, starting xapp-: create one with the "
                          "connections:write scope at api.slack.com/apps, your app, Basic Information, App-Level "
                          "Tokens (the xoxb- token goes in SLACK_BOT_TOKEN).")
    # Socket Mode requests are not signed: the app-level token that opens the socket authenticates them.
    if not settings.sandbox and not settings.slack_signing_secret and not settings.slack_app_token:
        raise ConfigError(MISSING_SIGNING_SECRET)
    if "runbooks_dir" not in values and not Path("runbooks").is_dir():
        # Run from elsewhere than the checkout (a Procfile platform, a service): the runbooks shipped beside bot/.
        values["runbooks_dir"] = str(Path(__file__).resolve().parent.parent / "runbooks")
    stem = settings.db_path[:-3] if settings.db_path.endswith(".db") else settings.db_path
    values.setdefault("sandbox_db_path", settings.sandbox_db_path or stem + ".sandbox.db")
    values["inbox_db_path"] = stem + ".inbox.db"   # next to DRE_DB, always
    return Settings(**values)
