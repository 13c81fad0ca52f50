"""users.* and usergroups.* (https://api.slack.com/methods#users): the people of the workspace."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sandbox.slack.core import (
    APP_ID, BOT_ID, BOT_NAME, BOT_USER_ID, MISSING_USER_IDS, TEAM_ID, USER_ID_RE, Method, SlackCore, SlackError,
    as_bool, hash10,
)


def _tz_offset(name: str) -> int:
    """The current UTC offset, in seconds, of an IANA time zone."""
    from datetime import datetime
    from zoneinfo import ZoneInfo
    offset = datetime.now(ZoneInfo(name)).utcoffset()
    return int(offset.total_seconds()) if offset else 0


def _eastern_offset() -> tuple[int, str]:
    try:
        from zoneinfo import ZoneInfo

        now = datetime.now(ZoneInfo("America/New_York"))
        offset = int(now.utcoffset().total_seconds())  # type: ignore[union-attr]
        label = "Eastern Daylight Time" if now.dst() else "Eastern Standard Time"
        return offset, label
    except Exception:  # noqa: BLE001 - no tz database: standard time
        return -18000, "Eastern Standard Time"


class UsersMethods(SlackCore):
    """users.info, users.lookupByEmail, usergroups.list and usergroups.users.list, and the people tests add."""

    def _api_methods(self) -> dict[str, Method]:
        return {**super()._api_methods(),
            "users.info": self._users_info,
            "users.lookupByEmail": self._users_lookup_by_email,
            "usergroups.list": self._usergroups_list,
            "usergroups.users.list": self._usergroups_users_list,
        }

    def add_user(self, uid: str, name: str | None = None, email: str | None = None, tz: str | None = None,
                 real_name: str | None = None) -> None:
        """A person in the workspace, with the name, email and time zone users.info will answer."""
        with self._tx() as conn:
            conn.execute("INSERT OR REPLACE INTO directory_users (id, name, real_name, email, tz) VALUES (?,?,?,?,?)",
                         (uid, name, real_name, email, tz))

    def add_usergroup(self, handle: str, users: list[str], name: str | None = None) -> str:
        """A user group (@handle) and its members; returns its id (S...)."""
        gid = "S" + hash10(handle)
        with self._tx() as conn:
            conn.execute("INSERT OR REPLACE INTO usergroups (id, handle, name, users) VALUES (?, ?, ?, ?)",
                         (gid, handle.lstrip("@"), name or handle.lstrip("@"), json.dumps(list(users))))
        return gid

    def _user_object(self, uid: str) -> dict[str, Any]:
        offset, label = _eastern_offset()
        is_bot = uid == BOT_USER_ID
        known = self._query("SELECT * FROM directory_users WHERE id = ?", (uid,))
        known = known[0] if known else None
        name = BOT_NAME if is_bot else (known["name"] if known and known["name"] else uid.lower())
        real_name = BOT_NAME if is_bot else (known["real_name"] if known and known["real_name"]
                                             else f"Sandbox User {uid}")
        profile: dict[str, Any] = {
            "real_name": real_name,
            "real_name_normalized": real_name,
            "display_name": name,
            "display_name_normalized": name,
            "email": (known["email"] if known and known["email"] else f"{uid.lower()}@example.com"),
            "first_name": real_name.split(" ")[0],
            "last_name": real_name.split(" ")[-1] if " " in real_name else "",
            "title": "",
            "status_text": "",
            "status_emoji": "",
            "team": TEAM_ID,
            "image_48": f"https://avatars.example.com/{uid}_48.png",
        }
        if is_bot:
            profile.update({"bot_id": BOT_ID, "api_app_id": APP_ID, "always_active": True})
        return {
            "id": uid,
            "team_id": TEAM_ID,
            "name": name,
            "deleted": False,
            "color": "9f69e7",
            "real_name": real_name,
            "tz": (known["tz"] if known and known["tz"] else "America/New_York"),
            "tz_label": label if not (known and known["tz"]) else (known["tz"] or ""),
            "tz_offset": offset if not (known and known["tz"]) else _tz_offset(known["tz"]),
            "profile": profile,
            "is_admin": False,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": 1_700_000_000,
        }

    def _users_info(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        uid = args.get("user")
        if not isinstance(uid, str) or not USER_ID_RE.match(uid) or uid in MISSING_USER_IDS:
            raise SlackError("user_not_found")
        return {"ok": True, "user": self._user_object(uid)}

    def _users_lookup_by_email(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        email = str(args.get("email") or "").lower()
        row = ctx["conn"].execute("SELECT id FROM directory_users WHERE lower(email) = ?", (email,)).fetchone()
        if row is None:
            raise SlackError("users_not_found")
        return {"ok": True, "user": self._user_object(row["id"])}

    def _usergroups_list(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        groups = []
        for r in ctx["conn"].execute("SELECT * FROM usergroups ORDER BY handle"):
            users = json.loads(r["users"])
            group = {"id": r["id"], "team_id": TEAM_ID, "is_usergroup": True, "name": r["name"],
                     "handle": r["handle"], "user_count": len(users), "date_delete": 0}
            if as_bool(args.get("include_users")):
                group["users"] = users
            groups.append(group)
        return {"ok": True, "usergroups": groups}

    def _usergroups_users_list(self, args: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        row = ctx["conn"].execute("SELECT users FROM usergroups WHERE id = ?", (args.get("usergroup"),)).fetchone()
        if row is None:
            raise SlackError("no_such_subteam")
        return {"ok": True, "users": json.loads(row["users"])}
