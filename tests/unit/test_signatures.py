"""Signatures and sender checks against the vendors' documented examples, without a server."""


def test_the_vendor_signature_test_vector():
    from bot.sources.pagerduty import verify_signature
    from tests.conftest import SAMPLES
    body = (SAMPLES / "pagerduty_v3_signature_test_vector_body.json").read_bytes()
    secret = "lDQHScfUeXUKaQRNF+8XIiDKZ7XX3itBAYzwU0TARw8lJqRnkKl2iB1anSb0Z+IK"
    assert verify_signature([secret], "v1=0c0b9495b893a39e70d1fea2fe11fbe0a825f88b9f67846f6cc07dd2bc5476cd", body)
    assert not verify_signature([secret], "v1=7020c8a7ec668a9b7012bc3dd82e483394b038f4230acc6785efbf2a7d8bcaf5", body)


def test_the_signer_matches_slacks_documented_example():
    from tests.slack_requests import SAMPLES, sign
    body = (SAMPLES / "slack_slash_command_signed_body.txt").read_bytes()
    assert sign("8f742231b10e8888abcd99yyyzzz85a5", "1531420618", body) == \
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def test_sandbox_refuses_a_sender_that_is_not_on_loopback():
    from bot.sources import generic
    from bot.sources.base import AuthError, Secrets, WebhookRequest
    req = WebhookRequest(headers={}, query={}, body=b"{}", client_host="10.1.2.3")
    try:
        generic.verify(req, Secrets(webhook_token=None, montecarlo_secret=None, sandbox=True))
    except AuthError as exc:
        assert "DRE_WEBHOOK_TOKEN" in str(exc)
    else:
        raise AssertionError("a non-loopback sender was accepted without a token")
