"""Verbs that reach PagerDuty: oncall and page."""
from __future__ import annotations

from bot import store
from bot.incident import name
from bot.pagerduty import delivery as pd_delivery, oncall as pd_oncall
from bot.pagerduty.paging import dedup_key
from bot.slack.commands import Call, Deps, Reply, UsageError, incident_arg, require, user_id, verb
from bot.slack.mrkdwn import escape

_NO_TOKEN = ("PagerDuty is not configured here: set PAGERDUTY_API_TOKEN (a REST API key) so dre-bot can "
             "{what}.")


def _find(deps: Deps, kind: str, words: str) -> dict | None:
    """A PagerDuty service or escalation policy by id or name."""
    path = {"service": "/services", "escalation_policy": "/escalation_policies"}[kind]
    response = deps.pd_rest.get(path, params={"query": words, "limit": 25})
    if not response.is_success:
        return None
    items = response.json().get(path.strip("/"), [])
    exact = [i for i in items if words in (i.get("id"), i.get("name"), i.get("summary"))]
    return (exact or items or [None])[0]


@verb("oncall", "/dre oncall [schedule|policy]")
def oncall(deps: Deps, call: Call) -> Reply:
    """Who is on call now and next, from PagerDuty, with shift ends in your own time zone."""
    if deps.pd_rest is None:
        return Reply(_NO_TOKEN.format(what="look up who is on call"), ok=False)
    schedules, policies = list(deps.settings.pagerduty.schedules), list(deps.settings.pagerduty.escalation_policies)
    if call.args:
        words = " ".join(call.args)
        response = deps.pd_rest.get("/schedules", params={"query": words})
        found = response.json().get("schedules", []) if response.is_success else []
        if found:
            schedules, policies = [found[0]["id"]], []
        else:
            policy = _find(deps, "escalation_policy", words)
            if policy is None:
                raise UsageError(f"No PagerDuty schedule or escalation policy called `{escape(words)}`: use its "
                                 "exact name or id from PagerDuty, or `/dre oncall` alone for the configured ones.")
            schedules, policies = [], [policy["id"]]
    if not schedules and not policies:
        return Reply("Which schedules? Set `[pagerduty] schedules = [\"P123ABC\"]` in dre-bot.toml, or name one: "
                     "`/dre oncall Data Platform`.", ok=False)
    return Reply(pd_oncall.render(pd_oncall.lookup(deps.pd_rest, schedules, policies)))


@verb("page", "/dre page INC-n [service|escalation policy|@user]", permission="page")
def page(deps: Deps, call: Call) -> Reply:
    """Page someone about an incident through PagerDuty; asking twice pages once."""
    incident_id = incident_arg(call)
    inc = store.incident(deps.conn(), incident_id)
    if inc is None:
        raise UsageError(f"Unknown incident {name(incident_id)}. `/dre status` lists open incidents.")
    require(deps, call, "page", deps.incident_channel(inc))
    target: dict = {"actor": call.user}
    described = "its routing key"
    if call.args:
        if deps.pd_rest is None:
            return Reply(_NO_TOKEN.format(what="page a chosen service, policy or person"), ok=False)
        who = user_id(call.args[0])
        if who:
            pd_user, _ = deps.pd_users.pd_user(who)
            if pd_user is None:
                raise UsageError(f"<@{who}> has no PagerDuty user with their Slack email: page their escalation "
                                 "policy or service instead, or ask a PagerDuty admin to give them a user with "
                                 "that email.")
            target["user"], described = pd_user, f"<@{who}>"
        else:
            words = " ".join(call.args)
            policy = _find(deps, "escalation_policy", words)
            service = _find(deps, "service", words)
            if service is None and policy is None:
                raise UsageError(f"No PagerDuty service or escalation policy called `{escape(words)}`: use its "
                                 "exact name or id from PagerDuty.")
            if policy is not None and (service is None or words in (policy.get("id"), policy.get("name"))):
                target["escalation_policy"], described = policy["id"], f"escalation policy {escape(policy['name'])}"
            else:
                target["service"], described = service["id"], f"service {escape(service['name'])}"
    if deps.pd_rest is not None:
        target.setdefault("service", deps.settings.pagerduty.default_service)
        if not target["service"]:
            return Reply("Which service? Set `[pagerduty] default_service` in dre-bot.toml or name one: "
                         "`/dre page INC-4 Data Platform`.", ok=False)
    elif not deps.settings.pagerduty_routing_key:
        return Reply("PagerDuty is not configured here: set PAGERDUTY_API_TOKEN or PAGERDUTY_ROUTING_KEY.", ok=False)
    conn = deps.conn()
    with store.transaction(conn):
        store.keep_pd_dedup_key(conn, incident_id, dedup_key(deps.settings, incident_id))
        pd_delivery.enqueue(conn, incident_id, pd_delivery.PAGE, **target)
        store.add_timeline(conn, incident_id, call.user, "slack", "page", f"Paged {described} by {call.user}")
    return Reply(f":rotating_light: Paging {described} about {name(incident_id)}.", public=True)
