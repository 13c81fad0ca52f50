"""Settings from the environment (secrets) and dre-bot.toml (routing, grouping, delivery), validated once at start."""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from bot.durations import parse_duration

DEFAULT_CHANNEL = "#data-incidents"
SANDBOX_TOKEN = "xoxb-sandbox-token"


class ConfigError(Exception):
    """A setting is wrong; the message says which and how to fix it."""


@dataclass(frozen=True)
class Route:
    """Alerts whose labels match every glob in `match` go to `channel`."""
    match: Mapping[str, str]
    channel: str


@dataclass(frozen=True)
class PagingRoute:
    """Incidents whose labels match and whose severity is listed page through the routing key in `routing_key_env`
    (the name of an environment variable: keys are secrets). page = false: these never page."""
    match: Mapping[str, str]
    severities: tuple[str, ...]
    routing_key_env: str = "PAGERDUTY_ROUTING_KEY"
    page: bool = True


@dataclass(frozen=True)
class PagerDutyConfig:
    page_severities: tuple[str, ...] = ("sev1", "sev2")
    routes: tuple[PagingRoute, ...] = ()
    dedup_prefix: str = "dre-bot"
    mirror_services: tuple[str, ...] = ()
    reconcile_interval: float = 300.0
    schedules: tuple[str, ...] = ()
    escalation_policies: tuple[str, ...] = ()
    default_service: str | None = None
    rate: float = 2.0           # calls a second to PagerDuty, with bursts
    burst: int = 10


@dataclass(frozen=True)
class DiagnosticsConfig:
    allowed: tuple[str, ...] = ()       # "project.dataset" globs the bot may read
    max_bytes: int = 10 * 1000 ** 3     # dry-run estimate above this: refused; also maximum_bytes_billed
    timeout: float = 60.0
    max_rows: int = 500
    region: str = "region-us"


@dataclass(frozen=True)
class HandoffConfig:
    """Shift handoffs: at each shift change of a PagerDuty schedule (or of a cron expression), in `channel`."""
    schedule: str | None = None         # PagerDuty schedule id whose shift changes are the handoffs
    cron: str | None = None             # or a cron expression, when PagerDuty is not used
    timezone: str = "UTC"               # the cron expression's time zone
    channel: str | None = None          # default: DRE_CHANNEL
    shift: float = 12 * 3600.0          # what "this shift" covers for `/dre handoff` when no handoff came before
    note_prompt: float = 30 * 60.0      # the "Write handoff note" button this long before the shift ends
    remind_after: float = 30 * 60.0     # an unacknowledged handoff is reminded once after this
    escalate_after: float = 60 * 60.0   # and escalated to the channel after this
    late: float = 6 * 3600.0            # a shift change missed (the bot was down) is still posted this long after
    tick: float = 30.0                  # how often the scheduler looks (seconds of real time)

    @property
    def scheduled(self) -> bool:
        return bool(self.schedule or self.cron)


@dataclass(frozen=True)
class ReportsConfig:
    """The weekly reliability report: posted on `weekly_day` at `weekly_time` (in `timezone`) to `channel`."""
    weekly_day: str | None = None       # monday ... sunday; unset: no weekly report
    weekly_time: str = "09:00"
    timezone: str = "UTC"
    channel: str | None = None          # default: DRE_CHANNEL


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SIZE = {"b": 1, "kb": 1000, "mb": 1000 ** 2, "gb": 1000 ** 3, "tb": 1000 ** 4}


def parse_size(value: Any, where: str) -> int:
    import re
    if isinstance(value, int) and value > 0:
        return value
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?b)\s*", str(value).lower())
    if not m:
        raise ConfigError(f"{where} must be a size like 500MB or 10GB, not {value!r}.")
    return int(float(m.group(1)) * _SIZE[m.group(2)])


@dataclass(frozen=True)
class Delivery:
    max_attempts: int = 10
    backoff_base: float = 1.0
    backoff_max: float = 300.0
    channel_rate: float = 1.0      # Slack allows about one message per second per channel...
    channel_burst: int = 4         # ...with short bursts above that.
    threads: int = 4


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

_TOML_SECTIONS = {"grouping": {"keys"}, "incidents": {"resolve_when", "reopen_window"},
                  "routes": None, "delivery": set(Delivery.__dataclass_fields__), "runbooks": {"dir"}, "templates": {"dir"},
                  "sandbox": {"db"}, "permissions": None,
                  "pagerduty": {"page_severities", "routes", "dedup_prefix", "mirror_services", "reconcile_interval",
                                "schedules", "escalation_policies", "default_service", "rate", "burst"},
                  "diagnostics": {"allowed", "max_bytes", "timeout", "max_rows", "region"},
                  "handoff": set(HandoffConfig.__dataclass_fields__),
                  "reports": set(ReportsConfig.__dataclass_fields__)}


def _duration(value: Any, where: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _from_toml(doc: Mapping[str, Any], path: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for section, value in doc.items():
        if section not in _TOML_SECTIONS:
            raise ConfigError(f"{path}: unknown section [{section}]; known: {', '.join(sorted(_TOML_SECTIONS))}.")
        allowed = _TOML_SECTIONS[section]
        if allowed is not None:
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: [{section}] must be a table.")
            unknown = set(value) - allowed
            if unknown:
                raise ConfigError(f"{path}: unknown key(s) {', '.join(sorted(unknown))} in [{section}]; "
                                  f"known: {', '.join(sorted(allowed))}.")
    grouping = doc.get("grouping", {})
    if "keys" in grouping:
        keys = grouping["keys"]
        if not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys):
            raise ConfigError(f'{path}: [grouping] keys must be a list of label names, like keys = ["table"].')
        out["group_keys"] = tuple(keys)
    incidents = doc.get("incidents", {})
    if "resolve_when" in incidents:
        if incidents["resolve_when"] not in ("all_alerts_resolved", "any_alert_resolved", "manual"):
            raise ConfigError(f"{path}: [incidents] resolve_when must be all_alerts_resolved, "
                              "any_alert_resolved or manual.")
        out["resolve_when"] = incidents["resolve_when"]
    if "reopen_window" in incidents:
        out["reopen_window"] = _duration(incidents["reopen_window"], f"{path}: [incidents] reopen_window")
    templates = doc.get("templates", {})
    if "dir" in templates:
        if not isinstance(templates["dir"], str) or not Path(templates["dir"]).is_dir():
            raise ConfigError(f"{path}: [templates] dir must name a directory of templates; "
                              f"{templates['dir']!r} is not one.")
        from bot.templating import check
        problems = check(templates["dir"])
        if problems:
            raise ConfigError(f"{path}: [templates] dir has templates that cannot be used:\n" + "\n".join(problems))
        out["templates_dir"] = templates["dir"]
    routes = []
    raw_routes = doc.get("routes", [])
    if not isinstance(raw_routes, list):
        raise ConfigError(f"{path}: routes must be an array of tables: [[routes]] match = {{...}} channel = \"#x\".")
    for i, route in enumerate(raw_routes):
        if not isinstance(route, dict) or not isinstance(route.get("channel"), str) \
                or not isinstance(route.get("match", {}), dict) or set(route) - {"match", "channel"}:
            raise ConfigError(f'{path}: routes[{i}] needs match = {{label = "glob"}} and channel = "#channel".')
        routes.append(Route({str(k): str(v) for k, v in route.get("match", {}).items()}, route["channel"]))
    out["routes"] = tuple(routes)
    delivery = doc.get("delivery", {})
    if delivery:
        fields: dict[str, Any] = {}
        for key, value in delivery.items():
            if key in ("backoff_base", "backoff_max"):
                fields[key] = _duration(value, f"{path}: [delivery] {key}")
            elif key in ("max_attempts", "channel_burst", "threads"):
                if not isinstance(value, int) or value < 1:
                    raise ConfigError(f"{path}: [delivery] {key} must be a whole number of at least 1.")
                fields[key] = value
            else:
                if not isinstance(value, (int, float)) or value <= 0:
                    raise ConfigError(f"{path}: [delivery] {key} must be a positive number.")
                fields[key] = float(value)
        out["delivery"] = Delivery(**fields)
    permissions = doc.get("permissions", {})
    if not isinstance(permissions, dict):
        raise ConfigError(f"{path}: [permissions] must be a table of action = [rules].")
    from bot.slack.permissions import ACTIONS
    perms: dict[str, tuple[str, ...]] = {}
    for action, rules in permissions.items():
        if action not in ACTIONS:
            raise ConfigError(f"{path}: unknown action {action!r} in [permissions]; known: {', '.join(ACTIONS)}.")
        if isinstance(rules, str):
            rules = [rules]
        if not isinstance(rules, list) or not all(isinstance(r, str) and r for r in rules):
            raise ConfigError(f'{path}: [permissions] {action} must be a list like ["channel", "@dre-oncall", '
                              '"U0123ABCD"].')
        perms[action] = tuple(rules)
    out["permissions"] = perms
    if "pagerduty" in doc:
        out["pagerduty"] = _pagerduty(doc["pagerduty"], path)
    if "diagnostics" in doc:
        d, where, fields_ = doc["diagnostics"], f"{path}: [diagnostics]", {}
        if "allowed" in d:
            fields_["allowed"] = _strings(d["allowed"], f"{where} allowed")
        if "max_bytes" in d:
            fields_["max_bytes"] = parse_size(d["max_bytes"], f"{where} max_bytes")
        if "timeout" in d:
            fields_["timeout"] = _duration(d["timeout"], f"{where} timeout")
        if "max_rows" in d:
            fields_["max_rows"] = int(d["max_rows"])
        if "region" in d:
            fields_["region"] = str(d["region"])
        out["diagnostics"] = DiagnosticsConfig(**fields_)
    if "handoff" in doc:
        out["handoff"] = _handoff(doc["handoff"], f"{path}: [handoff]")
    if "reports" in doc:
        out["reports"] = _reports(doc["reports"], f"{path}: [reports]")
    if "dir" in doc.get("runbooks", {}):
        out["runbooks_dir"] = str(doc["runbooks"]["dir"])
    if "db" in doc.get("sandbox", {}):
        out["sandbox_db_path"] = str(doc["sandbox"]["db"])
    return out


def _zone(value: Any, where: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where} timezone {value!r} is not an IANA time zone, like Europe/Paris or UTC.") from None
    return str(value)


def _handoff(h: Mapping[str, Any], where: str) -> HandoffConfig:
    fields_: dict[str, Any] = {}
    for key in ("schedule", "cron", "channel"):
        if key in h:
            fields_[key] = str(h[key])
    if "timezone" in h:
        fields_["timezone"] = _zone(h["timezone"], where)
    for key in ("shift", "note_prompt", "remind_after", "escalate_after", "late", "tick"):
        if key in h:
            fields_[key] = _duration(h[key], f"{where} {key}")
    if fields_.get("schedule") and fields_.get("cron"):
        raise ConfigError(f"{where}: set schedule (a PagerDuty schedule id) or cron, not both.")
    if "cron" in fields_:
        from croniter import croniter
        if not croniter.is_valid(fields_["cron"]):
            raise ConfigError(f'{where} cron {fields_["cron"]!r} is not a cron expression, like "0 9,21 * * *".')
    cfg = HandoffConfig(**fields_)
    if cfg.escalate_after <= cfg.remind_after:
        raise ConfigError(f"{where}: escalate_after ({cfg.escalate_after:g}s) must be longer than remind_after "
                          f"({cfg.remind_after:g}s): the reminder comes first.")
    if cfg.tick < 0.05:
        raise ConfigError(f"{where} tick must be at least 0.05s.")
    return cfg


def _reports(r: Mapping[str, Any], where: str) -> ReportsConfig:
    fields_: dict[str, Any] = {}
    if "weekly_day" in r:
        day = str(r["weekly_day"]).lower()
        if day not in WEEKDAYS:
            raise ConfigError(f"{where} weekly_day must be one of {', '.join(WEEKDAYS)}.")
        fields_["weekly_day"] = day
    if "weekly_time" in r:
        text = str(r["weekly_time"])
        hh, _, mm = text.partition(":")
        if not (hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
            raise ConfigError(f'{where} weekly_time must be HH:MM, like "09:00".')
        fields_["weekly_time"] = text
    if "timezone" in r:
        fields_["timezone"] = _zone(r["timezone"], where)
    if "channel" in r:
        fields_["channel"] = str(r["channel"])
    return ReportsConfig(**fields_)


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where} must be a list of strings.")
    return tuple(value)


def _pagerduty(doc: Mapping[str, Any], path: str) -> PagerDutyConfig:
    from bot.alert import SEVERITIES
    fields: dict[str, Any] = {}
    where = f"{path}: [pagerduty]"
    for key in ("page_severities", "mirror_services", "schedules", "escalation_policies"):
        if key in doc:
            fields[key] = _strings(doc[key], f"{where} {key}")
    bad = set(fields.get("page_severities", ())) - set(SEVERITIES)
    if bad:
        raise ConfigError(f"{where} page_severities: {', '.join(sorted(bad))} not one of {', '.join(SEVERITIES)}.")
    if "reconcile_interval" in doc:
        fields["reconcile_interval"] = _duration(doc["reconcile_interval"], f"{where} reconcile_interval")
    for key in ("dedup_prefix", "default_service"):
        if key in doc:
            if not isinstance(doc[key], str) or not doc[key]:
                raise ConfigError(f"{where} {key} must be a non-empty string.")
            fields[key] = doc[key]
    if "rate" in doc:
        fields["rate"] = float(doc["rate"])
    if "burst" in doc:
        fields["burst"] = int(doc["burst"])
    routes = []
    for i, route in enumerate(doc.get("routes", [])):
        if not isinstance(route, dict) or set(route) - {"match", "severities", "routing_key_env", "page"}:
            raise ConfigError(f'{where} routes[{i}] takes match = {{label = "glob"}}, severities = ["sev1"], '
                              'routing_key_env = "PD_KEY_VAR" and page = true|false.')
        routes.append(PagingRoute(
            match={str(k): str(v) for k, v in (route.get("match") or {}).items()},
            severities=_strings(route.get("severities", list(SEVERITIES)), f"{where} routes[{i}].severities"),
            routing_key_env=str(route.get("routing_key_env", "PAGERDUTY_ROUTING_KEY")),
            page=bool(route.get("page", True))))
    fields["routes"] = tuple(routes)
    return PagerDutyConfig(**fields)


def load(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the environment and dre-bot.toml; raise ConfigError naming the bad setting."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {"env": dict(environ)}
    for var, attr in ENV_VARS.items():
        if environ.get(var):
            values[attr] = environ[var]
    if "port" in values:
        try:
            values["port"] = int(values["port"])
        except ValueError:
            raise ConfigError(f"PORT must be a number, not {values['port']!r}.") from None
    if "scripted_clock" in values:
        values["scripted_clock"] = values["scripted_clock"].strip().lower() in ("1", "true", "yes")
    path = values.get("config_path")
    if path is None and Path("dre-bot.toml").exists():
        path = values["config_path"] = "dre-bot.toml"
    if path:
        try:
            with open(path, "rb") as fh:
                doc = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"DRE_CONFIG names {path}, which does not exist.") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}.") from None
        values.update(_from_toml(doc, path))
    settings = Settings(**values)
    if "runbooks_dir" not in values and not Path("runbooks").is_dir():
        # Run from elsewhere than the checkout (a Procfile platform, a service): the runbooks shipped beside bot/.
        values["runbooks_dir"] = str(Path(__file__).resolve().parent.parent / "runbooks")
    stem = settings.db_path[:-3] if settings.db_path.endswith(".db") else settings.db_path
    values.setdefault("sandbox_db_path", settings.sandbox_db_path or stem + ".sandbox.db")
    values["inbox_db_path"] = stem + ".inbox.db"   # next to DRE_DB, always
    return Settings(**values)
