"""The processor's summary line: one INFO line a minute with what the alerts did, counted once committed."""
from bot.worker import Tally


def test_a_summary_line_counts_each_action_and_the_webhooks_that_could_not_be_read():
    now = [1000.0]
    tally = Tally(clock=lambda: now[0])
    tally.merge(["opened", "joined", "joined"], webhooks=3, failed=1)
    now[0] += 10
    assert tally.line() is None                       # not a minute yet
    now[0] += 60
    assert tally.line() == ("processed 3 webhooks, 3 alerts in the last 70 s: 2 joined, 1 opened; "
                            "1 webhooks could not be read")
    assert tally.line(force=True) is None             # nothing since


def test_after_a_quiet_spell_the_line_counts_from_the_first_webhook():
    now = [1000.0]
    tally = Tally(clock=lambda: now[0])
    now[0] += 3600                                    # an hour with nothing
    tally.merge(["opened"], webhooks=1, failed=0)
    now[0] += 5
    assert tally.line(force=True) == "processed 1 webhooks, 1 alerts in the last 5 s: 1 opened"
