"""The whole bot as one ASGI app: the web routes, the Bolt app, and the runtime its lifespan starts and stops.

`dre-bot serve` runs it under uvicorn; the scenario tests run it in-process the same way."""
from __future__ import annotations

import logging

from starlette.applications import Starlette

from bot.config import Settings

log = logging.getLogger("dre-bot")


def build(settings: Settings, port: int) -> Starlette:
    from bot.slack.app import create_bolt_app
    from bot.slack.commands import Deps
    from bot.slack.permissions import Directory, Permissions
    from bot.web import create_app
    from bot.worker import Runtime, slack_client

    mounts, on_stop = [], []
    if settings.sandbox:
        from sandbox.wiring import wire   # the one place the bot reaches for the emulators
        wiring = wire(settings, port)
        settings, api_url, mounts, on_stop = wiring.settings, wiring.slack_api_url, wiring.mounts, wiring.on_stop
    else:
        api_url = settings.slack_api_url or "https://slack.com/api/"
        log.info("dre-bot starting: Slack at %s, database %s", api_url, settings.db_path)
        if not settings.webhook_token:
            log.warning("DRE_WEBHOOK_TOKEN is not set: webhooks that need it are refused with 401.")
    if not settings.montecarlo_secret:
        log.warning("MONTECARLO_WEBHOOK_SECRET is not set: Monte Carlo webhooks are refused%s.",
                    " except from loopback in sandbox mode" if settings.sandbox else "")
    runtime = Runtime(settings, api_url)
    runtime.on_stop.extend(on_stop)
    client = slack_client(settings, api_url)
    deps = Deps(settings=settings, db_path=settings.db_path, client=client,
                permissions=Permissions(settings.permissions, Directory(client)), runbooks=runtime.runbooks,
                wake_deliverer=runtime.deliver_wake.set, pd_rest=runtime.pd_rest,
                pd_users=runtime.deliverer.clients["pd_users"], catalog=runtime.catalog, registry=runtime.registry)
    bolt = create_bolt_app(settings, client, deps)
    app = create_app(runtime, bolt, mounts)
    if settings.slack_app_token:
        _with_socket_mode(app, bolt, settings.slack_app_token)
    return app


def _with_socket_mode(app: Starlette, bolt, app_token: str) -> None:
    """Open the Socket Mode connection once the app has started, and close it before the app stops."""
    import contextlib

    import anyio

    from bot.slack.socket_mode import SocketMode
    socket_mode = SocketMode(bolt, app_token)
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app_: Starlette):
        async with inner(app_) as state:
            await anyio.to_thread.run_sync(socket_mode.connect)
            try:
                yield state
            finally:
                await anyio.to_thread.run_sync(socket_mode.close)
    app.router.lifespan_context = lifespan
