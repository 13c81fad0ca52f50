"""chat.* and reactions.* (https://api.slack.com/methods#chat), and response_url posts: the messages."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from sandbox.slack.core import (
    BOT_USER_ID, MISSING_USER_IDS, TEAM_DOMAIN, USER_ID_RE, Method, SlackCore, SlackError, as_bool, dumps, loads,
)

MAX_BLOCKS = 50  # Block Kit: up to 50 blocks per message (100 in modals / Home tabs)
MAX_TEXT = 40_000  # chat.postMessage: "Provide no more than 40,000 characters"
MAX_MARKDOWN_TEXT = 12_000
MAX_ATTACHMENTS = 100


class ChatMethods(SlackCore):
    """Posting, editing, deleting and reacting to messages."""

    def _api_methods(self) -> dict[str, Method]:
        return {**super()._api_methods(),
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "reactions.add": self._reactions_add,
            "reactions.remove": self._reactions_remove,
        }

    def _routes(self) -> list[Route]:
        return [
            *super()._routes(),
            Route("/response/{token}", self._response_url, methods=["POST"]),
            Route("/_sandbox/messages", self._sb_messages, methods=["GET"]),
            Route("/_sandbox/thread", self._sb_thread, methods=["GET"]),
            Route("/_sandbox/ephemerals", self._sb_list(self.ephemerals), methods=["GET"]),
            Route("/_sandbox/reactions", self._sb_list(self.reactions), methods=["GET"]),
        ]

    @staticmethod
    def _content(args: dict[str, Any], *, for_update: bool = False) -> dict[str, Any]:
        """Validate text / blocks / attachments / markdown_text the way chat.* does."""
        text = args.get("text")
        if text is not None and not isinstance(text, str):
            text = str(text) if not isinstance(text, (list, dict)) else json.dumps(text)
        markdown_text = args.get("markdown_text")
        blocks = args.get("blocks")
        attachments = args.get("attachments")
        if blocks is not None and blocks != "":
            if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
                raise SlackError("invalid_blocks_format")
            if len(blocks) > MAX_BLOCKS:
                raise SlackError("invalid_blocks", errors=[f"must provide an array with no more than {MAX_BLOCKS} items [json-pointer:]"])
            for i, block in enumerate(blocks):
                if not isinstance(block.get("type"), str):
                    raise SlackError("invalid_blocks", errors=[f"missing required field: type [json-pointer:/blocks/{i}]"])
        else:
            blocks = None
        if attachments is not None and attachments != "":
            if not isinstance(attachments, list) or not all(isinstance(a, dict) for a in attachments):
                raise SlackError("invalid_attachments")
            if len(attachments) > MAX_ATTACHMENTS:
                raise SlackError("too_many_attachments")
        else:
            attachments = None
        if markdown_text:
            if text or blocks:
                raise SlackError("markdown_text_conflict")
            if len(markdown_text) > MAX_MARKDOWN_TEXT:
                raise SlackError("msg_too_long")
            text = markdown_text
        if text is not None and len(text) > MAX_TEXT:
            raise SlackError("msg_too_long")
        if not for_update and not text and not blocks and not attachments:
            raise SlackError("no_text")
        return {"text": text, "blocks": blocks, "attachments": attachments}

    @staticmethod
    def _metadata(args: dict[str, Any]) -> tuple[bool, dict[str, Any] | None]:
        """(given, metadata). `{}` means "remove" (chat.update)."""
        if "metadata" not in args or args["metadata"] is None or args["metadata"] == "":
            return False, None
        md = args["metadata"]
        if not isinstance(md, dict):
            raise SlackError("invalid_metadata_format")
        if not md:
            return True, None
        if not isinstance(md.get("event_type"), str) or not md["event_type"]:
            raise SlackError("invalid_metadata_schema")
        if "event_payload" in md and not isinstance(md["event_payload"], dict):
            raise SlackError("invalid_metadata_schema")
        if len(json.dumps(md)) > 8_000:
            raise SlackError("metadata_too_large")
        return True, {"event_type": md["event_type"], "event_payload": md.get("event_payload", {})}

    def _chat_post_message(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        conn = ctx["conn"]
        cid = self._resolve_channel(conn, args.get("channel"))
        content = self._content(args)
        _, metadata = self._metadata(args)
        thread_ts = self._thread_parent_ts(conn, cid, args.get("thread_ts"))
        broadcast = bool(thread_ts) and as_bool(args.get("reply_broadcast"))
        row = self._insert_message(conn, cid, metadata=metadata, thread_ts=thread_ts, reply_broadcast=broadcast, **content)
        return {"ok": True, "channel": cid, "ts": row["ts"], "message": self._api_message(conn, row, include_metadata=True)}

    def _chat_update(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        conn = ctx["conn"]
        cid = self._resolve_channel(conn, args.get("channel"))
        row = self._find_message(conn, cid, args.get("ts"))
        if row is None:
            raise SlackError("message_not_found")
        content = self._content(args, for_update=True)
        md_given, metadata = self._metadata(args)
        if content["text"] is None and content["blocks"] is None and content["attachments"] is None and not md_given:
            raise SlackError("no_text")
        # Fields left out keep their previous value (Slack documents this for attachments and metadata);
        # an empty array / object removes them.
        text = content["text"] if content["text"] is not None else row["text"]
        blocks = loads(row["blocks"]) if "blocks" not in args or args["blocks"] is None else (content["blocks"] or None)
        attachments = (
            loads(row["attachments"]) if "attachments" not in args or args["attachments"] is None else (content["attachments"] or None)
        )
        new_md = metadata if md_given else loads(row["metadata"])
        edited_ts = self._next_ts(conn)
        conn.execute(
            "UPDATE messages SET text = ?, blocks = ?, attachments = ?, metadata = ?, edits = edits + 1, edited_ts = ? WHERE seq = ?",
            (text or "", dumps(blocks), dumps(attachments), dumps(new_md), edited_ts, row["seq"]),
        )
        row = conn.execute("SELECT * FROM messages WHERE seq = ?", (row["seq"],)).fetchone()
        message = self._api_message(conn, row, include_metadata=True)
        return {"ok": True, "channel": cid, "ts": row["ts"], "text": row["text"], "message": message}

    def _chat_delete(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        conn = ctx["conn"]
        cid = self._resolve_channel(conn, args.get("channel"))
        row = self._find_message(conn, cid, args.get("ts"))
        if row is None:
            raise SlackError("message_not_found")
        conn.execute("DELETE FROM messages WHERE seq = ?", (row["seq"],))
        conn.execute("DELETE FROM reactions WHERE channel = ? AND timestamp = ?", (cid, row["ts"]))
        return {"ok": True, "channel": cid, "ts": row["ts"]}

    def _chat_post_ephemeral(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        conn = ctx["conn"]
        cid = self._resolve_channel(conn, args.get("channel"))
        user = args.get("user")
        if not isinstance(user, str) or not USER_ID_RE.match(user) or user in MISSING_USER_IDS:
            raise SlackError("user_not_in_channel")
        content = self._content(args)
        message_ts = self._next_ts(conn)
        conn.execute(
            "INSERT INTO ephemerals (channel, user, text, blocks, attachments, thread_ts, message_ts) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (cid, user, content["text"] or "", dumps(content["blocks"]), dumps(content["attachments"]), args.get("thread_ts") or None, message_ts),
        )
        return {"ok": True, "message_ts": message_ts}

    def _chat_get_permalink(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        conn = ctx["conn"]
        cid = self._resolve_channel(conn, args.get("channel"))
        row = self._find_message(conn, cid, args.get("message_ts"))
        if row is None:
            raise SlackError("message_not_found")
        link = f"https://{TEAM_DOMAIN}.slack.com/archives/{cid}/p{row['ts'].replace('.', '')}"
        if row["thread_ts"]:
            link += f"?thread_ts={row['thread_ts']}&cid={cid}"
        return {"ok": True, "channel": cid, "permalink": link}

    def _reaction_target(self, args: dict[str, Any], conn: sqlite3.Connection) -> tuple[str, sqlite3.Row, str]:
        name = args.get("name")
        if not isinstance(name, str) or not name.strip(":"):
            raise SlackError("invalid_name")
        if not args.get("channel") or not args.get("timestamp"):
            raise SlackError("no_item_specified")
        cid = self._resolve_channel(conn, args.get("channel"))
        if not re.fullmatch(r"\d+(\.\d{0,6})?", str(args["timestamp"]).strip()):
            raise SlackError("bad_timestamp")
        row = self._find_message(conn, cid, args.get("timestamp"))
        if row is None:
            raise SlackError("message_not_found")
        return cid, row, name.strip(":")

    def _reactions_add(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        conn = ctx["conn"]
        cid, row, name = self._reaction_target(args, conn)
        cur = conn.execute(
            "INSERT OR IGNORE INTO reactions (channel, timestamp, name, user) VALUES (?, ?, ?, ?)", (cid, row["ts"], name, BOT_USER_ID)
        )
        if cur.rowcount == 0:
            raise SlackError("already_reacted")
        return {"ok": True}

    def _reactions_remove(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        conn = ctx["conn"]
        cid, row, name = self._reaction_target(args, conn)
        cur = conn.execute(
            "DELETE FROM reactions WHERE channel = ? AND timestamp = ? AND name = ? AND user = ?", (cid, row["ts"], name, BOT_USER_ID)
        )
        if cur.rowcount == 0:
            raise SlackError("no_reaction")
        return {"ok": True}

    async def _response_url(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            return PlainTextResponse("invalid_payload", status_code=400)
        with self._tx() as conn:
            conn.execute("INSERT INTO responses (token, body, at) VALUES (?, ?, ?)",
                         (request.path_params["token"], json.dumps(body), time.time()))
        return PlainTextResponse("ok")

    def responses(self, token: str | None = None) -> list[dict]:
        """What was posted to response_urls handed out as {base}/response/{token}, in order."""
        sql = "SELECT * FROM responses" + (" WHERE token = ?" if token else "") + " ORDER BY seq"
        return [{"token": r["token"], "body": json.loads(r["body"]), "at": r["at"]}
                for r in self._query(sql, (token,) if token else ())]

    @staticmethod
    def _plain_message(row: sqlite3.Row) -> dict[str, Any]:
        return {
            "channel": row["channel"],
            "ts": row["ts"],
            "thread_ts": row["thread_ts"],
            "text": row["text"] or "",
            "blocks": loads(row["blocks"]),
            "metadata": loads(row["metadata"]),
            "user": row["user"],
            "edits": row["edits"],
            "attachments": loads(row["attachments"]),
            "files": loads(row["files"]),
            "reply_broadcast": bool(row["reply_broadcast"]),
        }

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Every message in post order (parents and replies); `channel` may be an ID or a name."""
        if channel:
            rows = self._query("SELECT * FROM messages WHERE channel = ? ORDER BY ts_num", (self.channel_id(channel),))
        else:
            rows = self._query("SELECT * FROM messages ORDER BY ts_num")
        return [self._plain_message(r) for r in rows]

    def post_as_user(self, channel: str, text: str, user: str, thread_ts: str | None = None) -> dict[str, Any]:
        """A message a person wrote (the console's `@dre-bot ...`), as it lands before Slack sends its event."""
        with self._tx() as conn:
            cid = self._resolve_channel(conn, channel)
            parent = self._thread_parent_ts(conn, cid, thread_ts)
            return self._plain_message(self._insert_message(conn, cid, text=text, thread_ts=parent, user=user))

    def channels(self) -> list[dict[str, Any]]:
        """Every channel the workspace has seen, oldest first: {id, name} (name None for a DM)."""
        return [{"id": r["id"], "name": r["name"]} for r in self._query("SELECT id, name FROM channels ORDER BY created, id")]

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """The parent then its replies, oldest first ([] if there is no such message)."""
        cid = self.channel_id(channel)
        rows = self._query("SELECT * FROM messages WHERE channel = ? AND (ts = ? OR thread_ts = ?) ORDER BY ts_num", (cid, ts, ts))
        return [self._plain_message(r) for r in rows]

    def ephemerals(self) -> list[dict[str, Any]]:
        rows = self._query("SELECT * FROM ephemerals ORDER BY seq")
        return [
            {
                "channel": r["channel"],
                "user": r["user"],
                "text": r["text"],
                "blocks": loads(r["blocks"]),
                "attachments": loads(r["attachments"]),
                "thread_ts": r["thread_ts"],
                "message_ts": r["message_ts"],
            }
            for r in rows
        ]

    def reactions(self) -> list[dict[str, Any]]:
        rows = self._query("SELECT * FROM reactions ORDER BY seq")
        return [{"channel": r["channel"], "timestamp": r["timestamp"], "name": r["name"], "user": r["user"]} for r in rows]

    async def _sb_messages(self, request: Request) -> Response:
        return JSONResponse(self.messages(request.query_params.get("channel") or None))

    async def _sb_thread(self, request: Request) -> Response:
        return JSONResponse(self.thread(request.query_params.get("channel", ""), request.query_params.get("ts", "")))
