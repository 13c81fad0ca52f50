"""The senders dre-bot accepts webhooks from, one module each: check(doc), verify(req) and parse(doc)."""
from __future__ import annotations

from types import ModuleType

from bot.pagerduty import webhook as pagerduty
from bot.sources import alertmanager, gcp_monitoring, generic, montecarlo

SOURCES: dict[str, ModuleType] = {
    "gcp-monitoring": gcp_monitoring,
    "alertmanager": alertmanager,
    "montecarlo": montecarlo,
    "generic": generic,
}
# Not alert sources: webhooks the worker hands to their own module (bot/pagerduty/inbound.py).
WEBHOOKS: dict[str, ModuleType] = {**SOURCES, "pagerduty": pagerduty}
