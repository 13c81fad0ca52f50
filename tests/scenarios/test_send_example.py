"""`dre-bot send-example`: posts a bundled example as its sender would, to the bot at $PORT; a bot that is down is
one line saying what to do, not a traceback."""
from tests.conftest import parents, settle


def test_send_example_reaches_the_bot_at_its_port(bot, slack):
    out = bot.cli("send-example", "generic_distribution", "--url", bot.url)
    assert out.returncode == 0 and out.stdout.startswith("202"), out.stdout + out.stderr
    settle(bot)
    assert len(parents(slack)) == 1


def test_send_example_to_a_bot_that_is_down_says_so_in_one_line(bot):
    bot.env["PORT"] = "9"            # nothing listens on the discard port here
    out = bot.cli("send-example", "generic_distribution")
    assert out.returncode == 1
    assert "No bot answered at http://127.0.0.1:9" in out.stderr and "make run" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
