"""The ASGI app: /webhooks/{source}, /slack/events, /healthz and /metrics. Answers fast; slow work is deferred."""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any
from urllib.parse import urlsplit

import anyio
from slack_bolt import BoltRequest
from slack_bolt.request.internals import parse_body
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from bot import clock, store
from bot.metrics import CONTENT_TYPE, Depths
from bot.durations import parse_duration
from bot.reports import prometheus
from bot.slack.app import answer_unreadable
from bot.slack.payloads import ACKED_AT_ONCE, payload_problem
from bot.sources import WEBHOOKS
from bot.sources.base import AuthError, BadJSON, Secrets, ShapeError, WebhookRequest, parse_json
from bot.worker import Runtime

log = logging.getLogger("dre-bot.web")
MAX_BODY = 1024 * 1024
# Slack's own requests are a few KiB (a modal's view state is the largest); anything near this is not Slack.
MAX_SLACK_BODY = 256 * 1024
# How long a sender is asked to wait when the disk cannot take its body: monitors retry on 503 + Retry-After.
RETRY_AFTER = 30


class _TooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _answer(status: int, message: str, headers: dict | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"ok": 200 <= status < 300, "message": message, **extra}, status_code=status,
                        headers=headers)


def _disk_trouble(name: str, exc: BaseException, metrics) -> JSONResponse:
    """The inbox could not commit (a full disk, most often): 503 with Retry-After, so the sender tries again."""
    log.warning("could not commit a %s webhook, asked the sender to retry in %d s: %s", name, RETRY_AFTER, exc)
    metrics.webhooks_rejected.labels(source=name, status="503").inc()
    return _answer(503, f"dre-bot cannot store this webhook right now ({exc}); retry in {RETRY_AFTER} s.",
                   headers={"Retry-After": str(RETRY_AFTER)})


def create_app(runtime: Runtime, bolt_app: Any = None, mounts: list[Mount] | None = None) -> Starlette:
    settings = runtime.settings
    secrets = Secrets(webhook_token=settings.webhook_token, montecarlo_secret=settings.montecarlo_secret,
                      sandbox=settings.sandbox, pagerduty_secret=settings.pagerduty_webhook_secret)
    read_conn = store.connect(settings.db_path)
    # Bolt's own secret, so the check here and Bolt's agree (Bolt checks again; an HMAC is cheap).
    slack_verifier = SignatureVerifier(getattr(bolt_app, "_signing_secret", None) or "-")
    inbox_read_conn = store.connect(settings.inbox_db_path)
    metrics = runtime.metrics
    metrics.watch(Depths(read_conn, inbox_read_conn))
    metrics.watch(prometheus.TeamNumbers(read_conn, clock.now))

    async def webhook(request: Request) -> Response:
        name = request.path_params["source"]
        source = WEBHOOKS.get(name)
        if source is None:
            return _answer(404, f"Unknown source {name!r}. Known: {', '.join(sorted(WEBHOOKS))}.")
        try:
            body = await _read_body(request)
        except _TooLarge:
            metrics.webhooks_rejected.labels(source=name, status="413").inc()
            return _answer(413, f"Body over {MAX_BODY} bytes.")
        # Straight from the ASGI scope (names are lower-case there): Request.url builds a whole URL object.
        req = WebhookRequest(headers={k.decode("latin-1"): v.decode("latin-1") for k, v in request.scope["headers"]},
                             query=dict(request.query_params), body=body,
                             client_host=request.client.host if request.client else "", path=request.scope["path"])
        try:
            source.verify(req, secrets)
        except AuthError as exc:
            metrics.webhooks_rejected.labels(source=name, status="401").inc()
            return _answer(401, str(exc))
        except Exception as exc:  # a verifier choking on hostile input must still fail closed
            log.warning("verifying a %s webhook failed, refused it: %s: %s", name, type(exc).__name__, exc)
            metrics.webhooks_rejected.labels(source=name, status="401").inc()
            return _answer(401, "The request could not be authenticated.")
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        status, message = 0, ""
        if content_type != "application/json" and not content_type.endswith("+json"):
            status, message = 415, f"Content-Type must be application/json, not {content_type or 'missing'}."
        else:
            try:
                doc = parse_json(body)
                source.check(doc)
            except BadJSON as exc:
                status, message = 400, f"Body is not valid JSON: {exc}. Send one JSON object."
            except ShapeError as exc:
                status, message = 422, f"Wrong shape for a {name} webhook: {exc}."
            except Exception as exc:  # a check that missed a case: still the sender's input, never a 500
                log.warning("checking a %s webhook failed: %s: %s", name, type(exc).__name__, exc)
                status, message = 422, f"Wrong shape for a {name} webhook: {type(exc).__name__}."
        if status:
            try:
                await runtime.writer.reject(name, body, status, message)
            except Exception as exc:  # keeping the rejected body is a courtesy; the answer still goes out
                log.warning("could not keep a rejected %s webhook: %s", name, exc)
            metrics.webhooks_rejected.labels(source=name, status=str(status)).inc()
            return _answer(status, message)
        meta = source.meta(req) if hasattr(source, "meta") else None
        try:
            inbox_id = await runtime.writer.accept(name, body, content_type, meta)
        except Exception as exc:
            return _disk_trouble(name, exc, metrics)
        metrics.webhooks_accepted.labels(source=name).inc()
        return _answer(202, "Accepted.", id=inbox_id)

    async def slack_events(request: Request) -> Response:
        if bolt_app is None:
            return _answer(503, "Slack is not configured.")
        # Size first, then the signature, and only then is the body read as anything: an unsigned sender
        # costs us at most MAX_SLACK_BODY bytes and an HMAC.
        try:
            raw = await _read_body(request, MAX_SLACK_BODY)
        except _TooLarge:
            return _answer(413, f"Body over {MAX_SLACK_BODY} bytes.")
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            return _answer(400, "The body is not UTF-8, so it is not from Slack.")
        timestamp = request.headers.get("x-slack-request-timestamp", "")
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) < 12) or \
                not slack_verifier.is_valid(body, timestamp, request.headers.get("x-slack-signature", "")):
            return _answer(401, "Missing or wrong X-Slack-Signature, or a timestamp more than 5 minutes off.")
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        try:
            if content_type == "application/json" or body.startswith("{"):
                parse_json(raw)      # the depth limit, before Bolt's own parser meets the body
            # Bolt reads the payload's shape while it builds and routes a request (actions[0], view.type...),
            # before any middleware of ours runs: the shape is checked here, by the same rule the middleware uses.
            problem = payload_problem(parse_body(body, content_type), runtime.registry)
            bolt_req = None if problem else BoltRequest(body=body, query=request.url.query,
                                                        headers={k: [v] for k, v in request.headers.items()})
        except Exception as exc:
            problem = f"it does not parse ({type(exc).__name__})"
        if problem:
            log.warning("a signed Slack request could not be read: %s", problem)
            if answer_unreadable(raw, problem):
                # Slack disables apps whose deliveries fail: a signed request is acknowledged, and the person
                # hears through the payload's response_url that nothing was done.
                return Response(status_code=200)
            return _answer(400, f"The request body is not a Slack payload this app can read: {problem}.")
        # Bolt is synchronous: run it off the event loop so webhooks keep flowing.
        resp = await anyio.to_thread.run_sync(bolt_app.dispatch, bolt_req)
        if resp.status == 404:
            # Validly signed but nothing here handles it: answer 200, as Slack disables apps whose deliveries fail.
            return Response(status_code=200)
        if resp.status >= 500 and (bolt_req.body.get("command") or bolt_req.body.get("type") in ACKED_AT_ONCE):
            # These were acked before their listener ran; a listener failing right after (a Slack call refused)
            # can still flip Bolt's shared response to 500. The failure is logged and told to the person by the
            # error handler; Slack gains nothing from a 500 but an error shown for a request that was taken.
            log.warning("a Slack %s listener failed after its ack; answered 200", bolt_req.body.get("type") or
                        "command")
            return Response(status_code=200)
        return Response(status_code=resp.status, content=resp.body,
                        headers={k: v[0] for k, v in resp.headers.items() if v and k.lower() != "content-length"})

    def _depths() -> dict[str, int]:
        return store.depths(read_conn, inbox_read_conn)

    async def healthz(request: Request) -> Response:
        try:
            depths = await anyio.to_thread.run_sync(_depths)
        except Exception as exc:
            return _answer(503, f"Cannot read the database: {exc}.")
        failing = runtime.writer.failing
        body = {"ok": failing is None, "sandbox": settings.sandbox, **depths,
                "scheduler_rounds": runtime.scheduler.rounds}
        if failing is not None:
            # Not ok while webhooks cannot be stored (a full disk): a load balancer or a human looks here first.
            body["message"] = (f"Webhooks cannot be stored since {time.strftime('%H:%M:%S', time.gmtime(failing[0]))}"
                               f" UTC: {failing[1]}. Free disk space; the bot recovers by itself.")
        return JSONResponse(body, status_code=200 if failing is None else 503)

    async def metrics_page(request: Request) -> Response:
        return Response(await anyio.to_thread.run_sync(metrics.render), media_type=CONTENT_TYPE)

    async def scripted_clock(request: Request) -> Response:
        """Move the bot's clock forward (tests only): {"advance": "2h"} or {"to": <unix seconds>}."""
        if not request.client or request.client.host not in ("127.0.0.1", "::1"):
            return _answer(403, "The scripted clock answers loopback only.")
        if request.method == "POST":
            try:
                doc = json.loads(await request.body() or b"{}")
                if "to" in doc:
                    clock.move_to(float(doc["to"]))
                else:
                    clock.advance(parse_duration(doc.get("advance", 0)))
            except (ValueError, TypeError) as exc:
                return _answer(400, f"{exc} Send {{\"advance\": \"2h\"}} or {{\"to\": <unix seconds>}}.")
            runtime.poke()
        return _answer(200, "Clock.", now=clock.now())

    routes = [
        Route("/webhooks/{source}", webhook, methods=["POST"]),
        Route("/slack/events", slack_events, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_page, methods=["GET"]),
        *(mounts or []),
    ]
    if settings.scripted_clock:
        routes.insert(0, Route("/sandbox/clock", scripted_clock, methods=["GET", "POST"]))
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        # Started and stopped with the server: uvicorn re-raises SIGTERM after its own shutdown, so code after
        # uvicorn.run() would never run; this does, before the process exits.
        runtime.start()
        waiting = None
        if settings.sandbox:
            waiting = asyncio.create_task(_poke_when_listening(runtime))
        else:
            runtime.scheduler.listening.set()   # the jobs call only services outside this process
        try:
            yield
        finally:
            if waiting is not None:
                waiting.cancel()
            await anyio.to_thread.run_sync(runtime.stop)
            if bolt_app is not None:   # its listener threads would outlive the app (tests run many in one process)
                bolt_app.listener_runner.listener_executor.shutdown(wait=True)
            read_conn.close()
            inbox_read_conn.close()

    return Starlette(routes=routes, lifespan=lifespan)


async def _poke_when_listening(runtime: Runtime) -> None:
    """Start the scheduler's first round once this server accepts connections: in sandbox mode the emulators its
    jobs call are mounted here, and uvicorn binds the socket only after the lifespan has started."""
    url = urlsplit(runtime.scheduler.slack_url)
    while True:
        try:
            _, writer = await asyncio.open_connection(url.hostname,
                                                      url.port or (443 if url.scheme == "https" else 80))
        except OSError:
            await asyncio.sleep(0.01)
        else:
            writer.close()
            break
    runtime.scheduler.listening.set()
