"""Slack: the Bolt app (commands, actions, events, App Home), Block Kit and mrkdwn, and the Slack notifier that
draws incident cards and threads from the core's events."""
from __future__ import annotations


def register(registry, settings, runbooks) -> None:
    from bot.slack import blocks, commands, dead_letters, delivery, owners, storm
    from bot.slack.notifier import SlackNotifier
    registry.handler(delivery.CARD, storm.StormCardHandler())
    registry.handler(storm.STORM, storm.SummaryHandler())
    registry.handler(delivery.REPLY, delivery.ReplyHandler())
    registry.handler(delivery.MESSAGE, delivery.MessageHandler())
    registry.handler(delivery.FILE, delivery.FileHandler())
    registry.handler(owners.MENTION, owners.MentionHandler())
    registry.notifier("slack", SlackNotifier(settings, runbooks))
    for action in (blocks.ACTION_ACK, blocks.ACTION_RESOLVE, blocks.ACTION_DIAG, blocks.ACTION_SILENCE,
                   blocks.ACTION_POSTMORTEM, blocks.ACTION_SHOW):
        registry.numeric_action(action)
    registry.modal(blocks.RESOLVE_MODAL, ("cause", "note"))
    registry.modal(blocks.SILENCE_MODAL, ("matchers", "duration", "reason"))
    commands.register(registry, settings, runbooks)
    for v in commands.verbs_in(storm):
        registry.verb(v)
    registry.job("the dead letters notice", lambda conn, now: dead_letters.notice(conn, settings, now))
