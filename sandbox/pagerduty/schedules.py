"""Who is on call: users, services, escalation policies, schedules and on-calls, seeded and served."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sandbox.pagerduty.core import ERR_TIME, PagerDutyCore, PagerDutyError, RestRoute, iso, parse_time


class SchedulesApi(PagerDutyCore):
    """The account's people and their rotations: seeding, the REST API's GETs, and on-call resolution."""

    def _rest_routes(self) -> list[RestRoute]:
        return [
            *super()._rest_routes(),
            ("GET", r"^/users$", "_list_users"),
            ("GET", r"^/users/(?P<id>[^/]+)$", "_get_user"),
            ("GET", r"^/services$", "_list_services"),
            ("GET", r"^/services/(?P<id>[^/]+)$", "_get_service"),
            ("GET", r"^/escalation_policies$", "_list_policies"),
            ("GET", r"^/escalation_policies/(?P<id>[^/]+)$", "_get_policy"),
            ("GET", r"^/schedules$", "_list_schedules"),
            ("GET", r"^/schedules/(?P<id>[^/]+)$", "_get_schedule"),
            ("GET", r"^/oncalls$", "_list_oncalls"),
        ]

    def add_user(self, id: str, name: str, email: str, time_zone: str = "UTC") -> dict[str, Any]:
        with self._lock:
            self._users[id] = {"id": id, "name": name, "email": email, "time_zone": time_zone}
            return self._user_object(id)

    def add_escalation_policy(self, id: str, name: str, levels: list[list[str]] | None = None,
                              num_loops: int = 0) -> dict[str, Any]:
        """`levels`: one list per escalation rule, of user IDs and/or schedule IDs (targets)."""
        with self._lock:
            self._policies[id] = {"id": id, "name": name, "levels": [list(level) for level in (levels or [])],
                                  "num_loops": num_loops}
            return self._policy_object(id)

    def add_service(self, id: str, name: str, escalation_policy_id: str, routing_key: str) -> dict[str, Any]:
        with self._lock:
            if escalation_policy_id not in self._policies:
                raise KeyError(f"unknown escalation policy {escalation_policy_id}")
            self._services[id] = {"id": id, "name": name, "escalation_policy_id": escalation_policy_id,
                                  "routing_key": routing_key}
            return self._service_object(id)

    def add_schedule(self, id: str, name: str, shifts: list[tuple[str, Any, Any]] | None = None,
                     escalation_policy_id: str | None = None, escalation_level: int = 1,
                     time_zone: str = "UTC") -> dict[str, Any]:
        """`shifts`: (user_id, start, end) with ISO strings or datetimes. With `escalation_policy_id`, the schedule
        becomes a target of that policy's rule `escalation_level` (1-based; the rule is added if missing)."""
        with self._lock:
            parsed = sorted(((u, parse_time(s), parse_time(e)) for u, s, e in (shifts or [])), key=lambda t: t[1])
            for user_id, start, end in parsed:
                if user_id not in self._users:
                    raise KeyError(f"unknown user {user_id}")
                if end <= start:
                    raise ValueError(f"shift of {user_id} ends before it starts")
            self._schedules[id] = {"id": id, "name": name, "shifts": parsed, "time_zone": time_zone}
            if escalation_policy_id is not None:
                levels = self._policies[escalation_policy_id]["levels"]
                while len(levels) < escalation_level:
                    levels.append([])
                if id not in levels[escalation_level - 1]:
                    levels[escalation_level - 1].append(id)
            return self._schedule_object(id)

    def _user_object(self, uid: str) -> dict[str, Any]:
        u = self._users[uid]
        return {**self._user_ref(uid), "type": "user", "name": u["name"], "email": u["email"],
                "time_zone": u["time_zone"], "color": "green", "role": "user", "avatar_url": None,
                "description": None, "invitation_sent": False, "job_title": None, "teams": [],
                "contact_methods": [], "notification_rules": []}

    def _service_object(self, sid: str) -> dict[str, Any]:
        s = self._services[sid]
        return {**self._service_ref(sid), "type": "service", "name": s["name"], "description": None,
                "status": "active", "escalation_policy": self._policy_ref(s["escalation_policy_id"]),
                "teams": [], "alert_creation": "create_alerts_and_incidents", "acknowledgement_timeout": None,
                "auto_resolve_timeout": None, "incident_urgency_rule": {"type": "constant", "urgency": "high"}}

    def _policy_object(self, pid: str) -> dict[str, Any]:
        p = self._policies[pid]
        rules = []
        for n, level in enumerate(p["levels"], start=1):
            targets = [self._schedule_ref(t) if t in self._schedules else self._user_ref(t) for t in level]
            rules.append({"id": f"{pid}R{n}", "escalation_delay_in_minutes": 30, "targets": targets})
        services = [self._service_ref(s) for s, v in self._services.items() if v["escalation_policy_id"] == pid]
        return {**self._policy_ref(pid), "type": "escalation_policy", "name": p["name"], "description": None,
                "escalation_rules": rules, "services": services, "num_loops": p["num_loops"], "teams": [],
                "on_call_handoff_notifications": "if_has_services"}

    def _schedule_object(self, sid: str) -> dict[str, Any]:
        s = self._schedules[sid]
        users = list(dict.fromkeys(u for u, _, _ in s["shifts"]))
        policies = [p for p, v in self._policies.items() if any(sid in level for level in v["levels"])]
        return {**self._schedule_ref(sid), "type": "schedule", "name": s["name"], "description": None,
                "time_zone": s["time_zone"], "users": [self._user_ref(u) for u in users],
                "escalation_policies": [self._policy_ref(p) for p in policies], "teams": []}

    def _shift_users(self, sid: str, since: datetime, until: datetime) -> list[tuple[str, datetime, datetime]]:
        out = []
        for user_id, start, end in self._schedules[sid]["shifts"]:
            if since == until and start <= since < end:
                out.append((user_id, start, end))
            elif since != until and start < until and end > since:
                out.append((user_id, start, end))
        return out

    def _level_users(self, policy_id: str, level: int, at: datetime | None = None) -> list[str]:
        """Who is on call for rule `level` (1-based) of a policy at `at` (now)."""
        at = at or self.now
        levels = self._policies[policy_id]["levels"]
        if not 1 <= level <= len(levels):
            return []
        users: list[str] = []
        for target in levels[level - 1]:
            if target in self._schedules:
                users += [u for u, _, _ in self._shift_users(target, at, at)]
            else:
                users.append(target)
        return list(dict.fromkeys(users))

    def oncalls(self, since: Any = None, until: Any = None, schedule_ids: list[str] | None = None,
                escalation_policy_ids: list[str] | None = None, user_ids: list[str] | None = None,
                earliest: bool = False) -> list[dict[str, Any]]:
        """GET /oncalls as data: who is on call for which policy rule, through which schedule, from when to when."""
        with self._lock:
            since_t = parse_time(since) if since is not None else self.now
            until_t = parse_time(until) if until is not None else since_t
            entries = []
            for pid in sorted(self._policies):
                if escalation_policy_ids and pid not in escalation_policy_ids:
                    continue
                for n, level in enumerate(self._policies[pid]["levels"], start=1):
                    for target in level:
                        if target in self._schedules:
                            if schedule_ids and target not in schedule_ids:
                                continue
                            for user_id, start, end in self._shift_users(target, since_t, until_t):
                                entries.append((pid, n, user_id, target, start, end))
                        elif target in self._users:
                            if schedule_ids and "null" not in schedule_ids and "" not in schedule_ids:
                                continue
                            entries.append((pid, n, target, None, None, None))
            if user_ids:
                entries = [e for e in entries if e[2] in user_ids]
            entries.sort(key=lambda e: (e[0], e[1], e[4] or datetime.min.replace(tzinfo=timezone.utc), e[2]))
            if earliest:
                seen: set[tuple[str, int, str]] = set()
                kept = []
                for e in entries:
                    if (e[0], e[1], e[2]) not in seen:
                        seen.add((e[0], e[1], e[2]))
                        kept.append(e)
                entries = kept
            return [{"escalation_policy": self._policy_ref(pid), "escalation_level": n, "user": self._user_ref(u),
                     "schedule": self._schedule_ref(s) if s else None, "start": iso(start), "end": iso(end)}
                    for pid, n, u, s, start, end in entries]

    def _list_users(self, params, query, body, requester):
        users = [self._user_object(u) for u in sorted(self._users, key=lambda u: self._users[u]["name"])
                 if self._query_match(query, self._users[u]["name"], self._users[u]["email"])]
        return self._page(users, query, "users")

    def _get_user(self, params, query, body, requester):
        self._get_or_404(self._users, params["id"])
        return 200, {"user": self._user_object(params["id"])}

    def _list_services(self, params, query, body, requester):
        items = [self._service_object(s) for s in sorted(self._services)
                 if self._query_match(query, self._services[s]["name"])]
        return self._page(items, query, "services")

    def _get_service(self, params, query, body, requester):
        self._get_or_404(self._services, params["id"])
        return 200, {"service": self._service_object(params["id"])}

    def _list_policies(self, params, query, body, requester):
        items = [self._policy_object(p) for p in sorted(self._policies)
                 if self._query_match(query, self._policies[p]["name"])]
        return self._page(items, query, "escalation_policies")

    def _get_policy(self, params, query, body, requester):
        self._get_or_404(self._policies, params["id"])
        return 200, {"escalation_policy": self._policy_object(params["id"])}

    def _list_schedules(self, params, query, body, requester):
        items = [self._schedule_object(s) for s in sorted(self._schedules)
                 if self._query_match(query, self._schedules[s]["name"])]
        return self._page(items, query, "schedules")

    def _get_schedule(self, params, query, body, requester):
        """With `since` and `until`, the final schedule is rendered for that range, entries clipped to it, as
        PagerDuty does; without them its entries are empty."""
        self._get_or_404(self._schedules, params["id"])
        since, until = self._time_param(query, "since"), self._time_param(query, "until")
        if since and until and until < since:
            raise PagerDutyError.of(400, ERR_TIME)
        entries = []
        if since and until:
            for user_id, start, end in self._shift_users(params["id"], since, until):
                entries.append({"start": iso(max(start, since)), "end": iso(min(end, until)),
                                "user": self._user_ref(user_id)})
        covered = sum((parse_time(e["end"]) - parse_time(e["start"])).total_seconds() for e in entries)
        total = (until - since).total_seconds() if since and until else 0
        final = {"name": "Final Schedule", "rendered_schedule_entries": entries,
                 "rendered_coverage_percentage": round(100 * covered / total, 2) if total else None}
        return 200, {"schedule": {**self._schedule_object(params["id"]), "final_schedule": final}}

    def _list_oncalls(self, params, query, body, requester):
        since, until = self._time_param(query, "since"), self._time_param(query, "until")
        if since and until and until < since:
            raise PagerDutyError.of(400, ERR_TIME)
        if since and until and until - since > timedelta(days=90):
            raise PagerDutyError.of(400, ("Invalid Query Date Range", 2005), "The range cannot exceed 90 days")
        if since and not until:
            until = since
        if until and not since:
            since = self.now
        entries = self.oncalls(since, until, schedule_ids=query.get("schedule_ids[]"),
                               escalation_policy_ids=query.get("escalation_policy_ids[]"),
                               user_ids=query.get("user_ids[]"),
                               earliest=str(query.get("earliest", "false")).lower() == "true")
        return self._page(entries, query, "oncalls")
