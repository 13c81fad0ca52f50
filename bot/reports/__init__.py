"""What the team runs on: incident timings, stats, the weekly report, postmortem drafts."""


def register(registry, settings, runbooks) -> None:
    from bot.reports import commands, delivery, postmortem_commands, postmortem_delivery
    from bot.slack.commands import verbs_in
    delivery.register(registry, settings, runbooks)
    postmortem_delivery.register(registry, settings, runbooks)
    for module in (commands, postmortem_commands):
        for verb in verbs_in(module):
            registry.verb(verb)
