"""conversations.* (https://api.slack.com/methods#conversations): channels, their members, history and threads."""

from __future__ import annotations

import base64
import sqlite3
import time
from typing import Any

from sandbox.slack.core import TEAM_ID, Method, SlackCore, SlackError, as_bool, as_int, ts_to_num

HISTORY_MAX_LIMIT = 999
REPLIES_DEFAULT_LIMIT = 1000


def _encode_cursor(ts_num: int) -> str:
    # Slack's cursors look like base64("next_ts:1512085861000543").
    return base64.b64encode(f"next_ts:{ts_num}".encode()).decode()


def _decode_cursor(cursor: Any) -> int | None:
    if not cursor:
        return None
    try:
        kind, _, value = base64.b64decode(str(cursor)).decode().partition(":")
        if kind != "next_ts":
            raise ValueError(kind)
        return int(value)
    except Exception as exc:  # noqa: BLE001 - any malformed cursor
        raise SlackError("invalid_cursor") from exc


class ConversationsMethods(SlackCore):
    """Channel info, joining, listing, members, history and replies."""

    def _api_methods(self) -> dict[str, Method]:
        return {**super()._api_methods(),
            "conversations.info": self._conversations_info,
            "conversations.join": self._conversations_join,
            "conversations.list": self._conversations_list,
            "conversations.members": self._conversations_members,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
        }

    def _channel_object(self, conn: sqlite3.Connection, cid: str) -> dict[str, Any]:
        row = conn.execute("SELECT * FROM channels WHERE id = ?", (cid,)).fetchone()
        created = row["created"] if row else int(time.time())
        name = (row["name"] if row else None) or cid.lower()
        is_im = cid.startswith("D")
        is_private = cid.startswith("G")
        obj: dict[str, Any] = {
            "id": cid,
            "created": created,
            "is_archived": False,
            "is_im": is_im,
            "is_org_shared": False,
            "context_team_id": TEAM_ID,
            "updated": created * 1000,
        }
        if is_im:
            obj.update({"is_channel": False, "is_group": False, "is_mpim": False, "is_private": True, "user": "U" + cid[1:]})
        else:
            obj.update(
                {
                    "name": name,
                    "name_normalized": name,
                    "is_channel": True,
                    "is_group": is_private,
                    "is_mpim": False,
                    "is_private": is_private,
                    "is_general": name == "general",
                    "is_shared": False,
                    "is_ext_shared": False,
                    "is_pending_ext_shared": False,
                    "is_member": True,
                    "creator": "U0DREADMIN",
                    "unlinked": 0,
                    "topic": {"value": "", "creator": "", "last_set": 0},
                    "purpose": {"value": "", "creator": "", "last_set": 0},
                    "previous_names": [],
                }
            )
        return obj

    def _conversations_info(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        conn = ctx["conn"]
        cid = self._resolve_channel(conn, args.get("channel"))
        return {"ok": True, "channel": self._channel_object(conn, cid)}

    def _conversations_join(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        conn = ctx["conn"]
        cid = self._resolve_channel(conn, args.get("channel"))
        return {"ok": True, "channel": self._channel_object(conn, cid)}

    def _conversations_list(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        """Channels the workspace knows (public and private, no DMs), paged by `limit` and an opaque cursor."""
        conn = ctx["conn"]
        types = {t.strip() for t in str(args.get("types") or "public_channel").split(",")}
        limit = max(1, min(as_int(args.get("limit"), 100), 1000))
        start = 0
        if args.get("cursor"):
            try:
                start = int(base64.b64decode(str(args["cursor"])).decode().removeprefix("offset:"))
            except (ValueError, UnicodeDecodeError):
                raise SlackError("invalid_cursor") from None
        rows = conn.execute("SELECT id FROM channels ORDER BY created, id").fetchall()
        wanted = [r["id"] for r in rows
                  if (r["id"].startswith("C") and "public_channel" in types)
                  or (r["id"].startswith("G") and "private_channel" in types)]
        page = wanted[start:start + limit]
        more = start + limit < len(wanted)
        cursor = base64.b64encode(f"offset:{start + limit}".encode()).decode() if more else ""
        return {"ok": True, "channels": [self._channel_object(conn, cid) for cid in page],
                "response_metadata": {"next_cursor": cursor}}

    def _conversations_members(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        conn = ctx["conn"]
        cid = self._resolve_channel(conn, args.get("channel"))
        users = [r["user"] for r in conn.execute("SELECT user FROM members WHERE channel = ? ORDER BY user", (cid,))]
        return {"ok": True, "members": users, "response_metadata": {"next_cursor": ""}}

    def set_members(self, channel: str, users: list[str]) -> None:
        """Who is in a channel, as conversations.members answers."""
        with self._tx() as conn:
            cid = self._resolve_channel(conn, channel)
            conn.execute("DELETE FROM members WHERE channel = ?", (cid,))
            conn.executemany("INSERT INTO members (channel, user) VALUES (?, ?)", [(cid, u) for u in users])

    def _window(self, args: dict[str, Any]) -> tuple[int | None, int | None, bool]:
        try:
            oldest = ts_to_num(args["oldest"]) if args.get("oldest") not in (None, "") else None
            latest = ts_to_num(args["latest"]) if args.get("latest") not in (None, "") else None
        except ValueError as exc:
            raise SlackError("invalid_ts_oldest" if "oldest" in str(exc) else "invalid_ts_latest") from exc
        return oldest, latest, as_bool(args.get("inclusive"))

    @staticmethod
    def _in_window(num: int, oldest: int | None, latest: int | None, inclusive: bool) -> bool:
        if oldest is not None and (num < oldest or (num == oldest and not inclusive)):
            return False
        if latest is not None and (num > latest or (num == latest and not inclusive)):
            return False
        return True

    def _conversations_history(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        conn = ctx["conn"]
        cid = self._resolve_channel(conn, args.get("channel"))
        oldest, latest, inclusive = self._window(args)
        limit = max(1, min(as_int(args.get("limit"), 100), HISTORY_MAX_LIMIT))
        include_md = as_bool(args.get("include_all_metadata"))
        cursor = _decode_cursor(args.get("cursor"))
        rows = conn.execute(
            "SELECT * FROM messages WHERE channel = ? AND (thread_ts IS NULL OR reply_broadcast = 1) ORDER BY ts_num DESC", (cid,)
        ).fetchall()
        rows = [r for r in rows if self._in_window(r["ts_num"], oldest, latest, inclusive)]
        if cursor is not None:
            rows = [r for r in rows if r["ts_num"] <= cursor]
        page, rest = rows[:limit], rows[limit:]
        return {
            "ok": True,
            "messages": [self._api_message(conn, r, include_md) for r in page],
            "has_more": bool(rest),
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
            "response_metadata": {"next_cursor": _encode_cursor(rest[0]["ts_num"]) if rest else ""},
        }

    def _conversations_replies(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        conn = ctx["conn"]
        cid = self._resolve_channel(conn, args.get("channel"))
        row = self._find_message(conn, cid, args.get("ts"))
        if row is None:
            raise SlackError("thread_not_found")
        parent_ts = row["thread_ts"] or row["ts"]
        oldest, latest, inclusive = self._window(args)
        limit = max(1, min(as_int(args.get("limit"), REPLIES_DEFAULT_LIMIT), REPLIES_DEFAULT_LIMIT))
        include_md = as_bool(args.get("include_all_metadata"))
        cursor = _decode_cursor(args.get("cursor"))
        rows = conn.execute(
            "SELECT * FROM messages WHERE channel = ? AND (ts = ? OR thread_ts = ?) ORDER BY ts_num", (cid, parent_ts, parent_ts)
        ).fetchall()
        # The parent always leads the first page; the window applies to the replies.
        parent = [r for r in rows if r["ts"] == parent_ts]
        replies = [r for r in rows if r["ts"] != parent_ts and self._in_window(r["ts_num"], oldest, latest, inclusive)]
        if cursor is not None:
            selected = [r for r in replies if r["ts_num"] >= cursor]
        else:
            selected = parent + replies
        page, rest = selected[:limit], selected[limit:]
        return {
            "ok": True,
            "messages": [self._api_message(conn, r, include_md) for r in page],
            "has_more": bool(rest),
            "response_metadata": {"next_cursor": _encode_cursor(rest[0]["ts_num"]) if rest else ""},
        }
