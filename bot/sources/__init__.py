"""The senders dre-bot accepts webhooks from, one module each: check(doc), verify(req) and parse(doc)."""
from __future__ import annotations

from types import ModuleType

from bot.sources import alertmanager, gcp_monitoring, generic, montecarlo, pagerduty

SOURCES: dict[str, ModuleType] = {
    "gcp-monitoring": gcp_monitoring,
    "alertmanager": alertmanager,
    "montecarlo": montecarlo,
    "generic": generic,
}
# PagerDuty's webhooks are not alerts: the worker hands them to the pagerduty feature (bot/pagerduty/inbound.py).
WEBHOOKS: dict[str, ModuleType] = {**SOURCES, "pagerduty": pagerduty}
