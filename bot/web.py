"""The ASGI app: /webhooks/{source}, /slack/events, /healthz and /metrics. Answers fast; slow work is deferred."""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any
from urllib.parse import urlsplit

import anyio
from slack_bolt import BoltRequest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from bot import clock, store
from bot.metrics import CONTENT_TYPE, Depths
from bot.durations import parse_duration
from bot.reports import prometheus
from bot.sources import WEBHOOKS
from bot.sources.base import AuthError, Secrets, ShapeError, WebhookRequest
from bot.worker import Runtime

log = logging.getLogger("dre-bot.web")
MAX_BODY = 1024 * 1024


class _TooLarge(Exception):
    pass


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        raise _TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _answer(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"ok": 200 <= status < 300, "message": message, **extra}, status_code=status)


def create_app(runtime: Runtime, bolt_app: Any = None, mounts: list[Mount] | None = None) -> Starlette:
    settings = runtime.settings
    secrets = Secrets(webhook_token=settings.webhook_token, montecarlo_secret=settings.montecarlo_secret,
                      sandbox=settings.sandbox, pagerduty_secret=settings.pagerduty_webhook_secret)
    read_conn = store.connect(settings.db_path)
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
        req = WebhookRequest(headers={k.lower(): v for k, v in request.headers.items()},
                             query=dict(request.query_params), body=body,
                             client_host=request.client.host if request.client else "", path=request.url.path)
        try:
            source.verify(req, secrets)
        except AuthError as exc:
            metrics.webhooks_rejected.labels(source=name, status="401").inc()
            return _answer(401, str(exc))
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        status, message = 0, ""
        if content_type != "application/json" and not content_type.endswith("+json"):
            status, message = 415, f"Content-Type must be application/json, not {content_type or 'missing'}."
        else:
            try:
                doc = json.loads(body)
                source.check(doc)
            except (ValueError, UnicodeDecodeError) as exc:
                status, message = 400, f"Body is not valid JSON: {exc}."
            except ShapeError as exc:
                status, message = 422, f"Wrong shape for a {name} webhook: {exc}."
        if status:
            await runtime.writer.reject(name, body, status, message)
            metrics.webhooks_rejected.labels(source=name, status=str(status)).inc()
            return _answer(status, message)
        meta = source.meta(req) if hasattr(source, "meta") else None
        inbox_id = await runtime.writer.accept(name, body, content_type, meta)
        metrics.webhooks_accepted.labels(source=name).inc()
        return _answer(202, "Accepted.", id=inbox_id)

    async def slack_events(request: Request) -> Response:
        if bolt_app is None:
            return _answer(503, "Slack is not configured.")
        body = (await request.body()).decode("utf-8")
        bolt_req = BoltRequest(body=body, query=request.url.query,
                               headers={k: [v] for k, v in request.headers.items()})
        # Bolt is synchronous: run it off the event loop so webhooks keep flowing.
        resp = await anyio.to_thread.run_sync(bolt_app.dispatch, bolt_req)
        if resp.status == 404:
            # Validly signed but nothing here handles it: answer 200, as Slack disables apps whose deliveries fail.
            return Response(status_code=200)
        return Response(status_code=resp.status, content=resp.body,
                        headers={k: v[0] for k, v in resp.headers.items() if v and k.lower() != "content-length"})

    def _depths() -> dict[str, int]:
        return store.depths(read_conn, inbox_read_conn)

    async def healthz(request: Request) -> Response:
        depths = await anyio.to_thread.run_sync(_depths)
        return JSONResponse({"ok": True, "sandbox": settings.sandbox, **depths,
                             "scheduler_rounds": runtime.scheduler.rounds})

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
