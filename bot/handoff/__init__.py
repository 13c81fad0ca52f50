"""Shift handoffs: found from a PagerDuty schedule or a cron expression, written from the incident database,
posted to the channel and to the incoming on-call, acknowledged, reminded and escalated."""


def register(registry, settings, runbooks) -> None:
    from bot.handoff import actions, commands, delivery, messages
    from bot.slack.commands import verbs_in
    delivery.register(registry, settings, runbooks)
    registry.listener(actions.register)
    registry.numeric_action(messages.ACTION_ACK)
    registry.modal(messages.NOTE_MODAL, ("note",), per_incident=False)
    for verb in verbs_in(commands):
        registry.verb(verb)
