"""Diagnostics: named, read-only BigQuery queries from runbooks/queries, run on command."""


def register(registry, settings, runbooks) -> None:
    from bot.diagnostics import commands, delivery
    from bot.diagnostics.notifier import DiagnosticsNotifier
    from bot.slack.commands import verbs_in
    # BigQuery jobs a second: a storm must not start hundreds, and they never hold up cards: threads of their own.
    registry.lane(delivery.LANE, rate=4.0, burst=8, threads=2)
    registry.handler(delivery.RUN, delivery.RunHandler())
    registry.notifier("diagnostics", DiagnosticsNotifier(settings, runbooks))
    for verb in verbs_in(commands):
        registry.verb(verb)
