"""views.* (https://api.slack.com/methods#views): modals and App Home tabs."""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from typing import Any

from starlette.routing import Route

from sandbox.slack.core import (
    APP_ID, BOT_ID, MISSING_USER_IDS, TEAM_ID, USER_ID_RE, Method, SlackCore, SlackError, random_id,
)

MAX_VIEW_BLOCKS = 100


class ViewsMethods(SlackCore):
    """Opening, pushing, publishing and updating views."""

    def _api_methods(self) -> dict[str, Method]:
        return {**super()._api_methods(),
            "views.open": self._views_open,
            "views.push": self._views_open,
            "views.publish": self._views_publish,
            "views.update": self._views_update,
        }

    def _routes(self) -> list[Route]:
        return [
            *super()._routes(),
            Route("/_sandbox/views", self._sb_list(self.views), methods=["GET"]),
        ]

    @staticmethod
    def _view_arg(args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        if not isinstance(view, dict):
            raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] failed to match all allowed schemas [json-pointer:/view]"]})
        vtype = view.get("type")
        if vtype not in ("modal", "home", "workflow_step"):
            raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] must be a valid enum value [json-pointer:/view/type]"]})
        blocks = view.get("blocks", [])
        if not isinstance(blocks, list) or len(blocks) > MAX_VIEW_BLOCKS:
            raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] invalid blocks [json-pointer:/view/blocks]"]})
        if vtype == "modal" and not isinstance(view.get("title"), dict):
            raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] missing required field: title [json-pointer:/view]"]})
        if len(json.dumps(view)) > 250_000:
            raise SlackError("view_too_large")
        return view

    def _view_object(self, view_id: str, view: dict[str, Any], view_hash: str, root_view_id: str, previous_view_id: str | None = None) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "id": view_id,
            "team_id": TEAM_ID,
            "type": view.get("type"),
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": view_hash,
            "title": view.get("title"),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": previous_view_id,
            "root_view_id": root_view_id,
            "app_id": APP_ID,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
        }
        return obj

    @staticmethod
    def _new_hash() -> str:
        return f"{int(time.time())}.{secrets.token_hex(4)}"

    def _store_view(self, conn: sqlite3.Connection, method: str, view: dict[str, Any], *, user_id: str | None, trigger_id: str | None, existing: sqlite3.Row | None = None) -> dict[str, Any]:
        external_id = view.get("external_id") or None
        if external_id:
            clash = conn.execute("SELECT id FROM views WHERE external_id = ?", (external_id,)).fetchone()
            if clash and (existing is None or clash["id"] != existing["id"]):
                raise SlackError("duplicate_external_id")
        view_hash = self._new_hash()
        if existing is None:
            view_id = random_id("V")
            obj = self._view_object(view_id, view, view_hash, root_view_id=view_id)
            conn.execute(
                "INSERT INTO views (id, external_id, type, user_id, trigger_id, view, hash, method, updates, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
                (view_id, external_id, view.get("type"), user_id, trigger_id, json.dumps(obj), view_hash, method, time.time()),
            )
        else:
            view_id = existing["id"]
            old = json.loads(existing["view"])
            obj = self._view_object(view_id, view, view_hash, root_view_id=old.get("root_view_id") or view_id, previous_view_id=old.get("previous_view_id"))
            conn.execute(
                "UPDATE views SET external_id = COALESCE(?, external_id), type = ?, view = ?, hash = ?, method = ?, updates = updates + 1, at = ? WHERE id = ?",
                (external_id, view.get("type"), json.dumps(obj), view_hash, method, time.time(), view_id),
            )
        return obj

    def _views_open(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        trigger_id = args.get("trigger_id")
        if not isinstance(trigger_id, str) or not trigger_id.strip():
            raise SlackError("invalid_arguments", response_metadata={"messages": ["invalid `trigger_id`"]})
        view = self._view_arg(args)
        if view.get("type") != "modal":
            raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] must be a modal [json-pointer:/view/type]"]})
        obj = self._store_view(ctx["conn"], ctx["method"], view, user_id=None, trigger_id=trigger_id)
        return {"ok": True, "view": obj}

    def _views_publish(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        conn = ctx["conn"]
        user_id = args.get("user_id")
        if not isinstance(user_id, str) or not USER_ID_RE.match(user_id) or user_id in MISSING_USER_IDS:
            raise SlackError("invalid_arguments", response_metadata={"messages": ["invalid `user_id`"]})
        view = self._view_arg(args)
        if view.get("type") != "home":
            raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] must be a home view [json-pointer:/view/type]"]})
        existing = conn.execute("SELECT * FROM views WHERE type = 'home' AND user_id = ?", (user_id,)).fetchone()
        if existing is not None and args.get("hash") and args["hash"] != existing["hash"]:
            raise SlackError("hash_conflict")
        obj = self._store_view(conn, "views.publish", view, user_id=user_id, trigger_id=None, existing=existing)
        return {"ok": True, "view": obj}

    def _views_update(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        conn = ctx["conn"]
        view_id, external_id = args.get("view_id"), args.get("external_id")
        if not view_id and not external_id:
            raise SlackError("invalid_arguments", response_metadata={"messages": ["either `view_id` or `external_id` is required"]})
        if view_id:
            existing = conn.execute("SELECT * FROM views WHERE id = ?", (view_id,)).fetchone()
        else:
            existing = conn.execute("SELECT * FROM views WHERE external_id = ?", (external_id,)).fetchone()
        if existing is None:
            raise SlackError("not_found")
        view = self._view_arg(args)
        if args.get("hash") and args["hash"] != existing["hash"]:
            raise SlackError("hash_conflict")
        obj = self._store_view(conn, "views.update", view, user_id=existing["user_id"], trigger_id=existing["trigger_id"], existing=existing)
        return {"ok": True, "view": obj}

    def views(self) -> list[dict[str, Any]]:
        rows = self._query("SELECT * FROM views ORDER BY seq")
        return [
            {
                "id": r["id"],
                "external_id": r["external_id"],
                "type": r["type"],
                "user_id": r["user_id"],
                "trigger_id": r["trigger_id"],
                "method": r["method"],
                "updates": r["updates"],
                "hash": r["hash"],
                "view": json.loads(r["view"]),
            }
            for r in rows
        ]
