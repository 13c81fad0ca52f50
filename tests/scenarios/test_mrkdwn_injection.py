"""Alert text is untrusted: a payload holding <!channel>, <@U123> or a forged link shows as text, pings no one."""
import json

from tests.conftest import sample, settle

EVIL = "<!channel> <@U123> <https://evil.example|click here> & <!here>"


def _mrkdwn_texts(node):
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn":
            yield node["text"]
        for value in node.values():
            yield from _mrkdwn_texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _mrkdwn_texts(item)


def test_alert_text_cannot_ping_or_forge_links(bot, slack):
    doc = json.loads(sample("alertmanager_webhook_firing.json"))
    doc["alerts"][0]["labels"].update(alertname=EVIL, table=f"analytics.{EVIL}")
    doc["alerts"][0]["annotations"] = {"summary": EVIL, "description": EVIL}
    doc["alerts"][0]["generatorURL"] = "https://ok.example/x|<!channel>"
    assert bot.post("alertmanager", doc).status_code == 202
    gdoc = json.loads(sample("generic_job_failure.json"))
    gdoc.update(title=EVIL, summary=EVIL, links=[{"text": EVIL, "url": "https://x.example/<!channel>"}])
    assert bot.post("generic", gdoc).status_code == 202
    settle(bot)
    messages = slack.messages()
    assert len(messages) == 4
    for message in messages:
        # Slack parses mentions and links in mrkdwn (and a message's top-level text); plain_text it never parses.
        parsed = [message["text"], *_mrkdwn_texts(message["blocks"])]
        for text in parsed:
            for live in ("<!channel>", "<!here>", "<@U123>", "<https://evil.example", "|<!channel>"):
                assert live not in text, (live, text)
    assert any("&lt;!channel&gt;" in json.dumps(m["blocks"]) for m in messages)   # shown, as text
