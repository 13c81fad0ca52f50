"""The real `pagerduty` clients, carried to the emulator by an httpx2 transport.

The clients accept only https:// base URLs, so they keep PagerDuty's own and the transport rewrites where each
request goes; the bot has the same need for its own reasons (bot.pagerduty.client), but the emulators stand alone."""

from __future__ import annotations

from typing import Any

import httpx2  # the pagerduty package's HTTP client
import pagerduty


def client_transport(base_url: str) -> httpx2.HTTPTransport:
    """An httpx2 transport that carries every request of a `pagerduty` client to the emulator at `base_url`
    (scheme, host, port and any path prefix, e.g. http://127.0.0.1:3000/sandbox/pagerduty)."""
    target = httpx2.URL(base_url.rstrip("/"))
    prefix = target.raw_path.decode().split("?")[0].rstrip("/")

    class _Redirected(httpx2.HTTPTransport):
        def handle_request(self, request):  # type: ignore[override]
            request.url = request.url.copy_with(scheme=target.scheme, host=target.host, port=target.port,
                                                raw_path=(prefix + request.url.raw_path.decode()).encode())
            return super().handle_request(request)

    return _Redirected()


def rest_client(base_url: str, api_key: str, default_from: str | None = None, **kw: Any) -> pagerduty.RestApiV2Client:
    """A real `pagerduty.RestApiV2Client` talking to the emulator at `base_url`."""
    kw.setdefault("trust_env", False)
    return pagerduty.RestApiV2Client(api_key, default_from=default_from, transport=client_transport(base_url), **kw)


def events_client(base_url: str, routing_key: str, **kw: Any) -> pagerduty.EventsApiV2Client:
    """A real `pagerduty.EventsApiV2Client` talking to the emulator at `base_url`."""
    kw.setdefault("trust_env", False)
    return pagerduty.EventsApiV2Client(routing_key, transport=client_transport(base_url), **kw)
