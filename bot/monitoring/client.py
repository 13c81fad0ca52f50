"""The Cloud Monitoring clients (google-cloud-monitoring), made on first use, and its errors read for the outbox.

google-cloud-monitoring speaks gRPC only (it ships no REST transport), so MONITORING_API_URL is a gRPC endpoint:
`http://host:port` is a plaintext channel without credentials (the sandbox emulator, sandbox/monitoring_api.py),
`https://host[:port]` or `host[:port]` a TLS channel with Application Default Credentials, as is the default
monitoring.googleapis.com. https://cloud.google.com/python/docs/reference/monitoring/latest
"""
from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from google.api_core import exceptions as gexc


@functools.cache
def transient() -> tuple[type[BaseException], ...]:
    """Failures worth another try by the outbox: the service or the network, not the request. google-api-core
    (with gRPC) is imported here, once a call has failed, not when the bot starts."""
    from google.api_core import exceptions as gexc
    return (gexc.ServiceUnavailable, gexc.InternalServerError, gexc.TooManyRequests, gexc.GatewayTimeout,
            gexc.DeadlineExceeded, gexc.ResourceExhausted, gexc.Aborted, gexc.Unknown, ConnectionError,
            TimeoutError)


TIMEOUT = 20.0
NOT_CONFIGURED = ("Cloud Monitoring is not configured: set GOOGLE_CLOUD_PROJECT and Google credentials "
                  "(README, Cloud Monitoring).")


class NoCredentials(Exception):
    """No Google credentials could be found; the message says where the bot looked."""


class Clients:
    """A MetricServiceClient and a SnoozeServiceClient for one endpoint, built lazily and shared by threads."""

    def __init__(self, endpoint: str | None):
        self.endpoint = endpoint
        self._lock = threading.Lock()
        self._made: dict[str, Any] = {}

    def metrics(self):
        from google.cloud import monitoring_v3
        from google.cloud.monitoring_v3.services.metric_service.transports import MetricServiceGrpcTransport
        return self._client("metrics", monitoring_v3.MetricServiceClient, MetricServiceGrpcTransport)

    def snoozes(self):
        from google.cloud import monitoring_v3
        from google.cloud.monitoring_v3.services.snooze_service.transports import SnoozeServiceGrpcTransport
        return self._client("snoozes", monitoring_v3.SnoozeServiceClient, SnoozeServiceGrpcTransport)

    def _client(self, key: str, client_cls, transport_cls):
        with self._lock:
            if key not in self._made:
                self._made[key] = self._build(client_cls, transport_cls)
            return self._made[key]

    def _build(self, client_cls, transport_cls):
        endpoint = self.endpoint or ""
        if endpoint.startswith("http://"):
            # An emulator on plaintext gRPC: the transport takes a ready channel and then asks for no credentials.
            import grpc
            channel = grpc.insecure_channel(endpoint.removeprefix("http://").rstrip("/"))
            return client_cls(transport=transport_cls(channel=channel))
        import google.auth
        from google.auth.exceptions import DefaultCredentialsError
        try:
            credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/monitoring"])
        except DefaultCredentialsError as exc:
            raise NoCredentials("no Google credentials were found (set GOOGLE_APPLICATION_CREDENTIALS, or run "
                                f"with a service account): {exc}") from None
        options = {"api_endpoint": endpoint.removeprefix("https://").rstrip("/")} if endpoint else None
        return client_cls(credentials=credentials, client_options=options)


def refusal(exc: gexc.GoogleAPICallError, project: str, role: str) -> str:
    """A sentence for an answer that another try will not change."""
    from google.api_core import exceptions as gexc
    if isinstance(exc, (gexc.PermissionDenied, gexc.Unauthenticated)):
        return (f"Cloud Monitoring refused: {exc.message} The bot's service account needs {role} on project "
                f"`{project}`.")
    return f"Cloud Monitoring refused: {exc.message}"


def _api_error() -> type[BaseException]:
    from google.api_core.exceptions import GoogleAPICallError
    return GoogleAPICallError


def attempt(call, *, last_try: bool, project: str, role: str) -> dict:
    """Run one Cloud Monitoring call for the outbox: its result; {"error": sentence} when another try will not
    help (or this was the last); DeliveryError (another try, with backoff) when the service or network failed."""
    from bot.outbox import DeliveryError
    try:
        return call()
    except NoCredentials as exc:
        return {"error": str(exc)}
    except transient() as exc:
        reason = getattr(exc, "message", None) or str(exc)
        if last_try:
            return {"error": f"Cloud Monitoring did not answer in time, even after retries (last: {reason})."}
        raise DeliveryError(f"Cloud Monitoring: {type(exc).__name__}: {reason}") from None
    except _api_error() as exc:
        return {"error": refusal(exc, project, role)}
