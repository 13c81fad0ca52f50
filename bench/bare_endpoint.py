"""The baseline for the storm benchmark: an ASGI endpoint that reads the body and answers 202, nothing else.

Served exactly as `dre-bot serve` serves the bot (bot/cli.py): one uvicorn process, one event loop,
log_level="warning", access_log=False, httptools and asyncio's loop. Same route shape as the bot
(POST /webhooks/{source}) so the load generator sends byte-identical requests to both.

    python bench/bare_endpoint.py --port 8123
"""
from __future__ import annotations

import argparse

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


async def webhook(request: Request) -> Response:
    await request.body()
    # A body of the same size and kind as the bot's 202 answer, so the wire work is comparable.
    return JSONResponse({"ok": True, "message": "Accepted.", "id": 0}, status_code=202)


async def healthz(request: Request) -> Response:
    return JSONResponse({"ok": True})


app = Starlette(routes=[
    Route("/webhooks/{source}", webhook, methods=["POST"]),
    Route("/healthz", healthz, methods=["GET"]),
])


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False, http="httptools",
                loop="asyncio")


if __name__ == "__main__":
    main()
