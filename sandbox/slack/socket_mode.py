"""Socket Mode (https://docs.slack.dev/apis/events-api/using-socket-mode): apps.connections.open hands out a
ws:// URL on this emulator; the socket says `hello`, then carries envelopes ({envelope_id, type, payload,
accepts_response_payload}) to the app and takes back its acks ({envelope_id, payload?})."""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from sandbox.slack.core import APP_ID, Method, SlackCore, SlackError

ACK_TIMEOUT = 10.0   # Slack retries an unacknowledged envelope after 3 s; the stand-in just waits and says so


class SocketModeMethods(SlackCore):
    """apps.connections.open, the socket itself, and /_sandbox/socket-mode to push an envelope and read its ack."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._sockets: list[WebSocket] = []
        self._acks: dict[str, asyncio.Future] = {}
        self.socket_connections = 0   # sockets opened so far, for tests

    def _api_methods(self) -> dict[str, Method]:
        return {**super()._api_methods(), "apps.connections.open": self._apps_connections_open}

    def _routes(self) -> list[Route]:
        return [*super()._routes(), WebSocketRoute("/socket-mode", self._socket),
                Route("/_sandbox/socket-mode", self._sb_socket_mode, methods=["GET", "POST"])]

    def _apps_connections_open(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        # Only an app-level token opens a connection: Slack answers a bot token with not_allowed_token_type.
        if not str(ctx.get("token") or "").startswith("xapp-"):
            raise SlackError("not_allowed_token_type")
        ws_base = ctx["base_url"].replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        return {"ok": True, "url": f"{ws_base}/socket-mode?ticket={secrets.token_hex(8)}&app_id={APP_ID}"}

    async def _socket(self, websocket: WebSocket) -> None:
        await websocket.accept()
        self.socket_connections += 1
        self._sockets.append(websocket)
        await websocket.send_json({"type": "hello", "num_connections": len(self._sockets),
                                   "debug_info": {"host": "sandbox", "approximate_connection_time": 18060},
                                   "connection_info": {"app_id": APP_ID}})
        try:
            while True:
                message = await websocket.receive_text()
                try:
                    ack = json.loads(message)
                except ValueError:
                    continue
                future = self._acks.get(ack.get("envelope_id")) if isinstance(ack, dict) else None
                if future is not None and not future.done():
                    future.set_result(ack)
        except WebSocketDisconnect:
            pass
        finally:
            self._sockets.remove(websocket)

    async def send_envelope(self, kind: str, payload: dict[str, Any], timeout: float = ACK_TIMEOUT) -> dict[str, Any]:
        """Push one envelope to the newest connected app and wait for its ack."""
        if not self._sockets:
            raise LookupError("no app is connected over Socket Mode")
        envelope_id = secrets.token_hex(16)
        envelope: dict[str, Any] = {"envelope_id": envelope_id, "type": kind, "payload": payload,
                                    # As Slack's own mock server in bolt-python's tests: a command's ack may carry
                                    # a response, as may a modal's submission (response_action); buttons' may not.
                                    "accepts_response_payload": kind == "slash_commands" or (
                                        kind == "interactive" and payload.get("type") == "view_submission")}
        if kind == "events_api":
            envelope.update(retry_attempt=0, retry_reason="")
        future = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = future
        try:
            await self._sockets[-1].send_json(envelope)
            return await asyncio.wait_for(future, timeout)
        finally:
            self._acks.pop(envelope_id, None)

    async def _sb_socket_mode(self, request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse({"connected": len(self._sockets), "opened": self.socket_connections})
        spec = json.loads(await request.body() or b"{}")
        try:
            ack = await self.send_envelope(str(spec["type"]), spec["payload"], float(spec.get("timeout", ACK_TIMEOUT)))
        except LookupError as exc:
            return JSONResponse({"ok": False, "error": str(exc)}, status_code=409)
        except asyncio.TimeoutError:
            return JSONResponse({"ok": False, "error": "the app did not ack the envelope"}, status_code=504)
        return JSONResponse({"ok": True, "ack": ack})
