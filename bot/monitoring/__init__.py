"""Cloud Monitoring: the time series behind an alert as a chart in its thread; silences that snooze its policy.

What happens when a Cloud Monitoring incident opens or is silenced is decided by the notifier
(bot/monitoring/notifier.py) from the core's events; the calls to Google are outbox items
(bot/monitoring/delivery.py, bot/monitoring/snoozes.py).
"""
from __future__ import annotations

from bot.registry import Registry


def register(registry: Registry, settings, runbooks) -> None:
    from bot.monitoring import delivery, notifier, snoozes
    # Cloud Monitoring's read quota is generous, but an alert storm must not fire hundreds of queries at once;
    # a slow query or render never holds up cards and replies.
    for lane in (delivery.LANE, snoozes.LANE):
        registry.lane(lane, rate=5.0, burst=10, threads=1)
    registry.handler(delivery.CHART, delivery.ChartHandler())
    registry.handler(delivery.CHART_FILE, delivery.ChartFileHandler())
    registry.handler(snoozes.SNOOZE, snoozes.SnoozeHandler())
    registry.handler(snoozes.UNSNOOZE, snoozes.UnsnoozeHandler())
    registry.notifier("monitoring", notifier.notify)
