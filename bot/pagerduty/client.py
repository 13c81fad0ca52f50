"""PagerDuty clients (the `pagerduty` package) set up for the outbox: one attempt per call, answers read by us.

The package retries 429s forever and network errors a few times by itself; the outbox owns retries, backoff and
PagerDuty's ratelimit headers instead, so a call here makes one attempt and returns the response.
https://developer.pagerduty.com/docs/rest-api-v2/rate-limiting

The package (and its httpx2) is imported when a client is made, not with this module: a bot without PagerDuty
never loads it.
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from bot.config import Settings

if TYPE_CHECKING:
    import pagerduty

_RETRYABLE = (429, 500, 502, 503, 504)


def _one_attempt(client: pagerduty.ApiClient) -> pagerduty.ApiClient:
    # With a retry count per status and a total budget below zero, ApiClient.request returns the first response.
    client.retry = {status: 1 for status in _RETRYABLE}
    client.max_http_attempts = -1
    client.max_network_attempts = 0
    client.timeout = 10
    return client


def transport_to(base_url: str):
    """An httpx2 transport carrying a client's requests to `base_url` (scheme, host and port).

    The clients accept only https:// base URLs, so for an http:// endpoint (the sandbox emulator on loopback) they
    keep PagerDuty's own URLs and this transport rewrites where each request goes."""
    import httpx2  # the pagerduty package's HTTP client

    target = httpx2.URL(base_url.rstrip("/"))
    prefix = target.raw_path.decode().split("?")[0].rstrip("/")

    class _Redirected(httpx2.HTTPTransport):
        def handle_request(self, request):  # type: ignore[override]
            request.url = request.url.copy_with(scheme=target.scheme, host=target.host, port=target.port,
                                                raw_path=(prefix + request.url.raw_path.decode()).encode())
            return super().handle_request(request)

    return _Redirected()


def _where(url: str) -> dict:
    url = url.rstrip("/")
    if url.startswith("https://"):
        return {"base_url": url}
    return {"transport": transport_to(url), "trust_env": False}


def rest(settings: Settings) -> pagerduty.RestApiV2Client | None:
    if not settings.pagerduty_api_token:
        return None
    import pagerduty
    client = pagerduty.RestApiV2Client(settings.pagerduty_api_token, default_from=settings.pagerduty_from_email,
                                       **_where(settings.pagerduty_api_url))
    return _one_attempt(client)


def events(settings: Settings, routing_key: str) -> pagerduty.EventsApiV2Client:
    import pagerduty
    client = pagerduty.EventsApiV2Client(routing_key, **_where(settings.pagerduty_events_url))
    return _one_attempt(client)


class UserDirectory:
    """Slack user -> PagerDuty user, by the Slack profile's email; cached, since people rarely change."""

    def __init__(self, slack, rest_client: pagerduty.RestApiV2Client | None, fallback_email: str | None):
        self.slack, self.rest, self.fallback = slack, rest_client, fallback_email
        self._cache: dict[str, tuple[str | None, str | None]] = {}
        self._lock = threading.Lock()

    def pd_user(self, slack_user: str | None) -> tuple[str | None, str | None]:
        """(PagerDuty user id, email to send as `From`) for a Slack user; the fallback email when none."""
        if not slack_user or self.rest is None:
            return None, self.fallback
        with self._lock:
            if slack_user in self._cache:
                return self._cache[slack_user]
        found: tuple[str | None, str | None] = (None, self.fallback)
        try:
            email = (self.slack.users_info(user=slack_user).get("user") or {}).get("profile", {}).get("email")
        except Exception:
            email = None
        if email:
            response = self.rest.get("/users", params={"query": email})
            if response.is_success:
                for user in response.json().get("users", []):
                    if str(user.get("email", "")).lower() == email.lower():
                        found = (user["id"], user["email"])
                        break
        with self._lock:
            self._cache[slack_user] = found
        return found
