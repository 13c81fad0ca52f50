"""PagerDuty in step with Slack, both ways: paging, acknowledge/resolve/notes out; webhooks v3 in; reconciliation;
on-call lookup. How loops are avoided is written in bot/pagerduty/inbound.py."""
