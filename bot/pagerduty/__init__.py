"""PagerDuty in step with Slack, both ways: paging, acknowledge/resolve/notes out; webhooks v3 in; reconciliation;
on-call lookup. How loops are avoided is written in bot/pagerduty/inbound.py."""


def register(registry, settings, runbooks) -> None:
    from bot.pagerduty import commands, delivery, inbound, oncall
    from bot.pagerduty.notifier import PagerDutyNotifier
    from bot.slack.commands import verbs_in
    registry.lane(delivery.LANE, rate=settings.pagerduty.rate, burst=settings.pagerduty.burst)
    registry.handler(delivery.TRIGGER, delivery.TriggerHandler())
    registry.handler(delivery.ACK, delivery.StatusHandler("acknowledged"))
    registry.handler(delivery.RESOLVE, delivery.StatusHandler("resolved"))
    registry.handler(delivery.NOTE, delivery.NoteHandler())
    registry.handler(delivery.PAGE, delivery.PageHandler())
    registry.notifier("pagerduty", PagerDutyNotifier(settings))
    registry.inbound_handler("pagerduty", lambda conn, doc, meta: inbound.apply(
        conn, settings, runbooks, doc, meta.get("webhook_id")))
    registry.home_section(oncall.home_section)
    registry.owner_source("pagerduty", oncall.oncall_emails)   # "pagerduty:on-call" in an incident's owners
    for verb in verbs_in(commands):
        registry.verb(verb)
