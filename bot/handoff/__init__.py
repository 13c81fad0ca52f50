"""Shift handoffs: found from a PagerDuty schedule or a cron expression, written from the incident database,
posted to the channel and to the incoming on-call, acknowledged, reminded and escalated."""
