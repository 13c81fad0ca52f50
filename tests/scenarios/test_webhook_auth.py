"""Webhook authentication: each sender's way, compared in constant time; unauthenticated bodies are not kept."""
import base64

from tests.conftest import MC_SECRET, TOKEN, mc_signature, sample


def test_missing_and_wrong_credentials_get_401_and_are_not_stored(bot):
    body = sample("alertmanager_webhook_firing.json")
    assert bot.post("alertmanager", body, auth=None).status_code == 401
    assert bot.post("alertmanager", body, auth=None, headers={"Authorization": "Bearer nope"}).status_code == 401
    bad_basic = "Basic " + base64.b64encode(b"dre:nope").decode()
    assert bot.post("alertmanager", body, auth=None, headers={"Authorization": bad_basic}).status_code == 401
    assert bot.post("gcp-monitoring", sample("gcp_monitoring_open_v1.2.json"), auth=None,
                    path_suffix="?token=nope").status_code == 401
    assert bot.post("generic", {"title": "x"}, auth="basic").status_code == 401   # generic takes Bearer only
    assert bot.query("SELECT count(*) AS n FROM inbox") == [{"n": 0}]
    assert bot.query("SELECT count(*) AS n FROM rejected") == [{"n": 0}]


def test_each_sender_authenticates_its_own_way(bot):
    assert bot.post("alertmanager", sample("alertmanager_webhook_firing.json"), auth="basic").status_code == 202
    assert bot.post("gcp-monitoring", sample("gcp_monitoring_open_v1.2.json"), auth=None,
                    path_suffix=f"?token={TOKEN}").status_code == 202
    assert bot.post("montecarlo", sample("montecarlo_custom_rule_incident.json"), auth="mc").status_code == 202
    assert bot.post("generic", {"title": "x"}).status_code == 202


def test_montecarlo_signature_forged_missing_or_over_a_changed_body(bot):
    body = sample("montecarlo_custom_rule_incident.json")
    assert bot.post("montecarlo", body, auth=None).status_code == 401
    assert bot.post("montecarlo", body, auth=None, headers={"x-mcd-signature": "0" * 128}).status_code == 401
    signed_other = mc_signature("another-secret", body)
    assert bot.post("montecarlo", body, auth=None, headers={"x-mcd-signature": signed_other}).status_code == 401
    tampered = body.replace(b"test rule", b"evil rule")
    sig = mc_signature(MC_SECRET, body)
    assert bot.post("montecarlo", tampered, auth=None, headers={"x-mcd-signature": sig}).status_code == 401
    # a bearer token is no substitute for Monte Carlo's signature
    assert bot.post("montecarlo", body, auth="bearer").status_code == 401


def test_without_a_webhook_token_a_real_bot_refuses_and_says_why(make_bot):
    bot = make_bot(DRE_WEBHOOK_TOKEN="")
    resp = bot.post("generic", {"title": "x"}, auth=None)
    assert resp.status_code == 401 and "DRE_WEBHOOK_TOKEN" in resp.json()["message"]
    assert "DRE_WEBHOOK_TOKEN is not set" in bot.log()
