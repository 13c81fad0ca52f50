"""Incidents, their notes, log entries and priorities: their life through the REST API or `act()`."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from sandbox.pagerduty.core import (
    ERR_ALREADY_RESOLVED, ERR_ASSIGNEE, ERR_EP_NOT_FOUND, ERR_ESCALATE, ERR_NOT_FOUND, ERR_PRIORITY, ERR_TIME,
    PagerDutyError, RestRoute, iso, new_id,
)
from sandbox.pagerduty.schedules import SchedulesApi
from sandbox.pagerduty.webhooks import Webhooks

ACT_ACTIONS = ("acknowledge", "unacknowledge", "resolve", "reopen", "reassign", "escalate", "delegate",
               "priority", "annotate", "add_responder")


class IncidentsApi(SchedulesApi, Webhooks):
    """Incidents change here; each change is logged and sent as a webhook."""

    def _rest_routes(self) -> list[RestRoute]:
        return [
            *super()._rest_routes(),
            ("GET", r"^/incidents$", "_list_incidents"),
            ("POST", r"^/incidents$", "_create_incident_rest"),
            ("PUT", r"^/incidents$", "_bulk_update_incidents"),
            ("GET", r"^/incidents/(?P<id>[^/]+)$", "_get_incident"),
            ("PUT", r"^/incidents/(?P<id>[^/]+)$", "_update_incident"),
            ("GET", r"^/incidents/(?P<id>[^/]+)/notes$", "_list_notes"),
            ("POST", r"^/incidents/(?P<id>[^/]+)/notes$", "_create_note"),
            ("GET", r"^/incidents/(?P<id>[^/]+)/log_entries$", "_list_log_entries"),
            ("GET", r"^/priorities$", "_list_priorities"),
        ]

    # Writes that PagerDuty documents with the required `From` header (from_header).
    _NEEDS_FROM = frozenset({"_create_incident_rest", "_bulk_update_incidents", "_update_incident", "_create_note"})

    def add_priority(self, name: str, id: str | None = None) -> str:
        with self._lock:
            pid = id or new_id()
            self._priorities[pid] = {"id": pid, "name": name, "order": len(self._priorities) + 1}
            return pid

    def priority_id(self, name: str) -> str:
        with self._lock:
            for p in self._priorities.values():
                if p["name"] == name:
                    return p["id"]
        raise KeyError(name)

    def _priority_object(self, pid: str) -> dict[str, Any]:
        p = self._priorities[pid]
        return {"id": pid, "type": "priority", "summary": p["name"], "name": p["name"], "description": "",
                "order": p["order"], "color": "a8171c", "self": f"{self.api_base}/priorities/{pid}"}

    def _incident_object(self, inc: dict[str, Any]) -> dict[str, Any]:
        """The REST API's incident (GET /incidents, /incidents/{id})."""
        alerts = inc["alerts"]
        resolved_alerts = sum(1 for a in alerts if a["status"] == "resolved")
        return {
            **self._incident_ref(inc), "type": "incident", "summary": f"[#{inc['number']}] {inc['title']}",
            "incident_number": inc["number"], "title": inc["title"], "description": inc["title"],
            "created_at": iso(inc["created_at"]), "updated_at": iso(inc["updated_at"]), "status": inc["status"],
            "incident_key": inc["incident_key"], "service": self._service_ref(inc["service_id"]),
            "assignments": [{"at": iso(at), "assignee": self._user_ref(u)} for u, at in inc["assignments"]],
            "assigned_via": inc["assigned_via"],
            "acknowledgements": [{"at": iso(at), "acknowledger": self._user_ref(u)} for u, at in inc["acks"]],
            "last_status_change_at": iso(inc["last_status_change_at"]),
            "last_status_change_by": inc["last_status_change_by"],
            "first_trigger_log_entry": {"id": inc["log"][0]["id"], "type": "trigger_log_entry_reference",
                                        "summary": inc["log"][0]["summary"],
                                        "self": f"{self.api_base}/log_entries/{inc['log'][0]['id']}"},
            "alert_counts": {"all": len(alerts), "triggered": len(alerts) - resolved_alerts,
                             "resolved": resolved_alerts},
            "pending_actions": [], "is_mergeable": True, "incident_type": {"name": "incident_default"},
            "escalation_policy": self._policy_ref(inc["policy_id"]), "escalation_level": inc["level"],
            "teams": [], "priority": self._priority_ref(inc["priority_id"]), "urgency": inc["urgency"],
            "resolve_reason": None, "conference_bridge": None,
            "body": {"type": "incident_body", "details": inc["details"]},
        }

    def _log(self, inc: dict[str, Any], kind: str, summary: str, agent: dict[str, Any] | None,
             channel: str = "api", **extra: Any) -> None:
        entry_id = new_id("R", 26)
        inc["log"].append({"id": entry_id, "type": f"{kind}_log_entry", "summary": summary,
                           "created_at": self.now, "agent": agent, "channel": {"type": channel}, **extra})

    def _create_incident(self, service_id: str, title: str, incident_key: str | None, details: Any,
                         agent: dict[str, Any] | None, client: dict[str, Any] | None, *,
                         urgency: str = "high", priority_id: str | None = None, policy_id: str | None = None,
                         assignees: list[str] | None = None, channel: str = "api") -> dict[str, Any]:
        now = self.now
        self._number += 1
        policy_id = policy_id or self._services[service_id]["escalation_policy_id"]
        users = assignees if assignees is not None else self._level_users(policy_id, 1, now)
        inc = {
            "id": new_id("Q", 14), "number": self._number, "title": title, "status": "triggered",
            "incident_key": incident_key or uuid.uuid4().hex, "service_id": service_id, "policy_id": policy_id,
            "level": 1, "assignments": [(u, now) for u in users],
            "assigned_via": "direct_assignment" if assignees is not None else "escalation_policy",
            "acks": [], "priority_id": priority_id, "urgency": urgency, "details": details, "created_at": now,
            "updated_at": now, "last_status_change_at": now, "last_status_change_by": agent, "alerts": [],
            "log": [], "notes": [], "responders": [],
        }
        self._incidents[inc["id"]] = inc
        self._order.append(inc["id"])
        self._log(inc, "trigger", "Triggered through the API" if channel == "api" else "Triggered", agent, channel)
        self._emit(inc, "incident.triggered", agent, client)
        return inc

    def _set_status(self, inc: dict[str, Any], status: str, agent: dict[str, Any] | None,
                    client: dict[str, Any] | None, user_id: str | None = None, channel: str = "api",
                    resolution: str | None = None) -> None:
        now = self.now
        if status == "acknowledged":
            if inc["status"] == "resolved":
                raise PagerDutyError.of(400, ERR_ALREADY_RESOLVED)
            if user_id is not None and all(u != user_id for u, _ in inc["acks"]):
                inc["acks"].append((user_id, now))
                if all(u != user_id for u, _ in inc["assignments"]):
                    inc["assignments"] = [(user_id, now)]  # acknowledging takes the incident
            elif inc["status"] == "acknowledged":
                return
            inc["status"] = "acknowledged"
            self._log(inc, "acknowledge", "Acknowledged", agent, channel)
            event = "incident.acknowledged"
        elif status == "resolved":
            if inc["status"] == "resolved":
                raise PagerDutyError.of(400, ERR_ALREADY_RESOLVED)
            inc["status"] = "resolved"
            inc["assignments"] = []
            for alert in inc["alerts"]:
                alert["status"] = "resolved"
            self._log(inc, "resolve", "Resolved", agent, channel, resolution=resolution)
            event = "incident.resolved"
        elif status == "triggered":  # unacknowledge (ack timeout or UI) and reopen
            reopen = inc["status"] == "resolved"
            inc["status"] = "triggered"
            inc["acks"] = []
            if reopen:
                inc["level"] = 1
                inc["assignments"] = [(u, now) for u in self._level_users(inc["policy_id"], 1, now)]
                inc["assigned_via"] = "escalation_policy"
            self._log(inc, "reopen" if reopen else "unacknowledge", "Reopened" if reopen else "Unacknowledged",
                      agent, channel)
            event = "incident.reopened" if reopen else "incident.unacknowledged"
        else:
            raise ValueError(status)
        inc["last_status_change_at"] = inc["updated_at"] = now
        inc["last_status_change_by"] = agent
        self._emit(inc, event, agent, client)

    def _reassign(self, inc: dict[str, Any], user_ids: list[str], agent, client, channel: str = "api") -> None:
        if inc["status"] == "resolved":
            raise PagerDutyError.of(400, ERR_ALREADY_RESOLVED)
        missing = [u for u in user_ids if u not in self._users]
        if missing:
            raise PagerDutyError.of(400, ERR_ASSIGNEE, *[f"User {u} not found" for u in missing])
        now = self.now
        inc["assignments"] = [(u, now) for u in dict.fromkeys(user_ids)]
        inc["assigned_via"] = "direct_assignment"
        inc["updated_at"] = now
        self._log(inc, "assign", "Reassigned", agent, channel)
        self._emit(inc, "incident.reassigned", agent, client)

    def _escalate(self, inc: dict[str, Any], level: int | None, agent, client, channel: str = "api") -> None:
        if inc["status"] == "resolved":
            raise PagerDutyError.of(400, ERR_ALREADY_RESOLVED)
        levels = self._policies[inc["policy_id"]]["levels"]
        level = inc["level"] + 1 if level is None else level
        if not isinstance(level, int) or not 1 <= level <= len(levels):
            raise PagerDutyError.of(400, ERR_ESCALATE, f"Escalation level {level} does not exist on the policy")
        now = self.now
        inc["level"] = level
        inc["assignments"] = [(u, now) for u in self._level_users(inc["policy_id"], level, now)]
        inc["assigned_via"] = "escalation_policy"
        inc["updated_at"] = now
        self._log(inc, "escalate", f"Escalated to level {level}", agent, channel)
        self._emit(inc, "incident.escalated", agent, client)

    def _delegate(self, inc: dict[str, Any], policy_id: str, agent, client, channel: str = "api") -> None:
        if inc["status"] == "resolved":
            raise PagerDutyError.of(400, ERR_ALREADY_RESOLVED)
        if policy_id not in self._policies:
            raise PagerDutyError.of(400, ERR_EP_NOT_FOUND)
        now = self.now
        inc["policy_id"], inc["level"] = policy_id, 1
        inc["assignments"] = [(u, now) for u in self._level_users(policy_id, 1, now)]
        inc["assigned_via"] = "escalation_policy"
        inc["updated_at"] = now
        self._log(inc, "assign", f"Reassigned to {self._policies[policy_id]['name']}", agent, channel)
        self._emit(inc, "incident.delegated", agent, client)

    def _set_priority(self, inc: dict[str, Any], priority_id: str | None, agent, client,
                      channel: str = "api") -> None:
        if priority_id is not None and priority_id not in self._priorities:
            raise PagerDutyError.of(400, ERR_PRIORITY)
        if inc["priority_id"] == priority_id:
            return
        inc["priority_id"] = priority_id
        inc["updated_at"] = self.now
        self._log(inc, "priority_change", "Priority changed", agent, channel)
        self._emit(inc, "incident.priority_updated", agent, client)

    def _annotate(self, inc: dict[str, Any], content: str, user_id: str, agent, client,
                  channel: str = "api") -> dict[str, Any]:
        note = {"id": new_id(), "user": self._user_ref(user_id), "content": content, "created_at": iso(self.now),
                "channel": {"summary": "The PagerDuty website or APIs" if channel == "api" else "Website"}}
        inc["notes"].append(note)
        inc["updated_at"] = self.now
        self._log(inc, "annotate", content, agent, channel)
        data = {"incident": self._incident_ref(inc), "id": note["id"], "content": content, "trimmed": False,
                "type": "incident_note"}
        self._emit(inc, "incident.annotated", agent, client, data=data)
        return note

    def _add_responder(self, inc: dict[str, Any], user_id: str, message: str, agent, client) -> None:
        if user_id not in self._users:
            raise PagerDutyError.of(400, ERR_ASSIGNEE)
        inc["responders"].append({"user_id": user_id, "message": message, "state": "pending"})
        data = {"incident": self._incident_ref(inc), "user": self._user_ref(user_id), "escalation_policy": None,
                "message": message, "state": "pending", "type": "incident_responder"}
        self._emit(inc, "incident.responder.added", agent, client, data=data)

    def act(self, incident_id: str, action: str, user_id: str | None, **kw: Any) -> dict[str, Any]:
        """A person working the incident in PagerDuty's web UI (agent: that user, client: PagerDuty).

        acknowledge, unacknowledge (back to triggered), resolve, reopen (resolved -> triggered; PagerDuty's REST
        API cannot do this: its status enum is acknowledged/resolved), reassign(user_ids=[...]),
        escalate(level=None: next), delegate(escalation_policy_id=...), priority(name="P1" or None),
        annotate(content=...), add_responder(responder_id=..., message=...).
        Returns the REST representation of the incident afterwards; raises ValueError on a move PagerDuty refuses."""
        if action not in ACT_ACTIONS:
            raise ValueError(f"unknown action {action!r}; one of {ACT_ACTIONS}")
        with self._lock:
            inc = self._find_incident(incident_id)
            if inc is None:
                raise KeyError(incident_id)
            if user_id is not None and user_id not in self._users:
                raise KeyError(f"unknown user {user_id}")
            agent = self._user_ref(user_id) if user_id else None
            client = {"name": "PagerDuty"}
            try:
                if action == "acknowledge":
                    self._set_status(inc, "acknowledged", agent, client, user_id, "website")
                elif action == "unacknowledge":
                    if inc["status"] != "acknowledged":
                        raise ValueError(f"incident is {inc['status']}, not acknowledged")
                    self._set_status(inc, "triggered", agent, client, channel="website")
                elif action == "resolve":
                    self._set_status(inc, "resolved", agent, client, channel="website")
                elif action == "reopen":
                    if inc["status"] != "resolved":
                        raise ValueError(f"incident is {inc['status']}, not resolved")
                    self._set_status(inc, "triggered", agent, client, channel="website")
                elif action == "reassign":
                    ids = kw.get("user_ids") or ([kw["to"]] if "to" in kw else None)
                    if not ids:
                        raise ValueError("reassign needs user_ids=[...]")
                    self._reassign(inc, list(ids), agent, client, "website")
                elif action == "escalate":
                    self._escalate(inc, kw.get("level"), agent, client, "website")
                elif action == "delegate":
                    self._delegate(inc, kw["escalation_policy_id"], agent, client, "website")
                elif action == "priority":
                    name = kw.get("name", kw.get("priority"))
                    self._set_priority(inc, None if name is None else self.priority_id(name), agent, client,
                                       "website")
                elif action == "annotate":
                    if not user_id:
                        raise ValueError("annotate needs a user")
                    self._annotate(inc, str(kw["content"]), user_id, agent, client, "website")
                elif action == "add_responder":
                    self._add_responder(inc, kw.get("responder_id") or kw["user_id"], kw.get("message", ""),
                                        agent, client)
            except PagerDutyError as exc:
                raise ValueError(str(exc)) from exc
            self._save()
            return self._incident_object(inc)

    def _find_incident(self, ident: str) -> dict[str, Any] | None:
        inc = self._incidents.get(ident)
        if inc is None and str(ident).isdigit():
            inc = next((i for i in self._incidents.values() if i["number"] == int(ident)), None)
        return inc

    def _open_incident(self, service_id: str, key: str) -> dict[str, Any] | None:
        for iid in reversed(self._order):
            inc = self._incidents[iid]
            if inc["service_id"] == service_id and inc["incident_key"] == key and inc["status"] != "resolved":
                return inc
        return None

    def incidents(self) -> list[dict[str, Any]]:
        """Every incident (REST representation) in creation order, with `alerts` (the Events API events folded
        into it) and `log_entries` types added for tests."""
        with self._lock:
            out = []
            for iid in self._order:
                inc = self._incidents[iid]
                obj = self._incident_object(inc)
                obj["alerts"] = copy.deepcopy(inc["alerts"])
                obj["log_entry_types"] = [e["type"] for e in inc["log"]]
                out.append(obj)
            return out

    def incident(self, ident: str) -> dict[str, Any]:
        with self._lock:
            inc = self._find_incident(ident)
            if inc is None:
                raise KeyError(ident)
            return self._incident_object(inc)

    def incident_by_key(self, incident_key: str) -> dict[str, Any] | None:
        with self._lock:
            for iid in reversed(self._order):
                if self._incidents[iid]["incident_key"] == incident_key:
                    return self._incident_object(self._incidents[iid])
            return None

    def notes(self, incident_id: str) -> list[dict[str, Any]]:
        with self._lock:
            inc = self._find_incident(incident_id)
            return copy.deepcopy(inc["notes"]) if inc else []

    def _incident_or_404(self, ident: str) -> dict[str, Any]:
        inc = self._find_incident(ident)
        if inc is None:
            raise PagerDutyError.of(404, ERR_NOT_FOUND)
        return inc

    def _list_incidents(self, params, query, body, requester):
        statuses = query.get("statuses[]")
        if statuses and any(s not in ("triggered", "acknowledged", "resolved") for s in statuses):
            raise self._invalid("Status must be a list of triggered, acknowledged, or resolved.")
        since, until = self._time_param(query, "since"), self._time_param(query, "until")
        if since and until and until < since:
            raise PagerDutyError.of(400, ERR_TIME)
        services, users = query.get("service_ids[]"), query.get("user_ids[]")
        urgencies, key = query.get("urgencies[]"), query.get("incident_key")
        out = []
        for iid in self._order:
            inc = self._incidents[iid]
            if statuses and inc["status"] not in statuses:
                continue
            if services and inc["service_id"] not in services:
                continue
            if users and not any(u in users for u, _ in inc["assignments"]):
                continue
            if urgencies and inc["urgency"] not in urgencies:
                continue
            if key and inc["incident_key"] != key:
                continue
            if query.get("date_range") != "all":
                if since and inc["created_at"] < since:
                    continue
                if until and inc["created_at"] >= until:
                    continue
            out.append(self._incident_object(inc))
        if str(query.get("sort_by", "")).endswith(":desc"):
            out.reverse()
        return self._page(out, query, "incidents")

    def _get_incident(self, params, query, body, requester):
        return 200, {"incident": self._incident_object(self._incident_or_404(params["id"]))}

    def _check_wrapper(self, body: Any, wrapper: str) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get(wrapper), dict):
            raise self._invalid(f"'{wrapper}' is required and must be an object")
        return body[wrapper]

    def _check_update(self, entity: dict[str, Any]) -> None:
        """check_request for one incident update (PUT /incidents/{id}, or an item of PUT /incidents)."""
        errors = []
        if entity.get("type") not in ("incident", "incident_reference"):
            errors.append("Incident type must be one of: incident, incident_reference")
        if "status" in entity and entity["status"] not in ("acknowledged", "resolved"):
            errors.append("Status must be one of: acknowledged, resolved")
        if "escalation_level" in entity and (not isinstance(entity["escalation_level"], int)
                                             or isinstance(entity["escalation_level"], bool)):
            errors.append("Escalation level must be an integer")
        if "assignments" in entity:
            items = entity["assignments"]
            if not isinstance(items, list) or not all(
                    isinstance(a, dict) and isinstance(a.get("assignee"), dict) and a["assignee"].get("id")
                    and a["assignee"].get("type") == "user_reference" for a in items):
                errors.append("Assignments must be an array of {\"assignee\": {\"id\", \"type\": \"user_reference\"}}")
        for name, kind in (("priority", "priority_reference"), ("escalation_policy", "escalation_policy_reference")):
            if name in entity and entity[name] is not None and not (
                    isinstance(entity[name], dict) and entity[name].get("id") and entity[name].get("type") == kind):
                errors.append(f"'{name}' must be a {kind} with an id")
        if "urgency" in entity and entity["urgency"] not in ("high", "low"):
            errors.append("Urgency must be one of: high, low")
        if "assignments" in entity and "escalation_policy" in entity:
            errors.append("Cannot specify both assignments and an escalation policy")
        if errors:
            raise self._invalid(*errors)

    def _check_body(self, handler: str, body: Any) -> None:
        """check_request: the request body against the fields PagerDuty's API reference marks required."""
        if handler == "_update_incident":
            self._check_update(self._check_wrapper(body, "incident"))
        elif handler == "_bulk_update_incidents":
            if not isinstance(body, dict) or not isinstance(body.get("incidents"), list) or not body["incidents"]:
                raise self._invalid("'incidents' is required and must be a non-empty array")
            if len(body["incidents"]) > 250:
                raise self._invalid("Cannot update more than 250 incidents at once")
            for entity in body["incidents"]:
                if not isinstance(entity, dict) or not entity.get("id"):
                    raise self._invalid("Each incident needs an id")
                self._check_update(entity)
        elif handler == "_create_incident_rest":
            entity = self._check_wrapper(body, "incident")
            errors = []
            if entity.get("type") != "incident":
                errors.append("Incident type must be 'incident'")
            if not isinstance(entity.get("title"), str) or not entity["title"].strip():
                errors.append("Title is required")
            service = entity.get("service")
            if not (isinstance(service, dict) and service.get("id") and service.get("type") == "service_reference"):
                errors.append("Service is required and must be a service_reference")
            bodyobj = entity.get("body")
            if bodyobj is not None and not (isinstance(bodyobj, dict) and bodyobj.get("type") == "incident_body"):
                errors.append("Body must be an incident_body")
            if errors:
                raise self._invalid(*errors)
            self._check_update({**entity, "type": "incident"})
        elif handler == "_create_note":
            content = self._check_wrapper(body, "note").get("content")
            if not isinstance(content, str) or not content.strip():
                raise self._invalid("Note content is required")

    def _apply_update(self, inc: dict[str, Any], entity: dict[str, Any], requester: str) -> None:
        agent = self._user_ref(requester)
        if "title" in entity and isinstance(entity["title"], str) and entity["title"].strip():
            inc["title"] = entity["title"]
        if "urgency" in entity:
            inc["urgency"] = entity["urgency"]
        if "priority" in entity:
            self._set_priority(inc, entity["priority"]["id"] if entity["priority"] else None, agent, None)
        if "escalation_policy" in entity:
            self._delegate(inc, entity["escalation_policy"]["id"], agent, None)
        if "assignments" in entity:
            self._reassign(inc, [a["assignee"]["id"] for a in entity["assignments"]], agent, None)
        if "escalation_level" in entity:
            self._escalate(inc, entity["escalation_level"], agent, None)
        if entity.get("status") == "acknowledged":
            self._set_status(inc, "acknowledged", agent, None, requester)
        elif entity.get("status") == "resolved":
            self._set_status(inc, "resolved", agent, None, resolution=entity.get("resolution"))

    def _update_incident(self, params, query, body, requester):
        entity = body["incident"]
        inc = self._incident_or_404(params["id"])
        self._apply_update(inc, entity, requester)
        return 200, {"incident": self._incident_object(inc)}

    def _bulk_update_incidents(self, params, query, body, requester):
        for entity in body["incidents"]:
            self._incident_or_404(entity["id"])
        out = []
        for entity in body["incidents"]:
            inc = self._incident_or_404(entity["id"])
            self._apply_update(inc, entity, requester)
            out.append(self._incident_object(inc))
        return 200, {"incidents": out}

    def _create_incident_rest(self, params, query, body, requester):
        entity = body["incident"]
        service, bodyobj = entity["service"], entity.get("body")
        if service["id"] not in self._services:
            raise PagerDutyError.of(404, ("Service Not Found", 5002))
        key = entity.get("incident_key")
        if key and self._open_incident(service["id"], key) is not None:
            raise self._invalid(f"Open incident with key '{key}' already exists")
        assignees = None
        if "assignments" in entity:
            assignees = [a["assignee"]["id"] for a in entity["assignments"]]
            if any(u not in self._users for u in assignees):
                raise PagerDutyError.of(400, ERR_ASSIGNEE)
        policy_id = entity["escalation_policy"]["id"] if entity.get("escalation_policy") else None
        if policy_id is not None and policy_id not in self._policies:
            raise PagerDutyError.of(400, ERR_EP_NOT_FOUND)
        priority_id = entity["priority"]["id"] if entity.get("priority") else None
        if priority_id is not None and priority_id not in self._priorities:
            raise PagerDutyError.of(400, ERR_PRIORITY)
        details = bodyobj.get("details") if bodyobj else None
        inc = self._create_incident(service["id"], entity["title"], key, details, self._user_ref(requester), None,
                                    urgency=entity.get("urgency", "high"), priority_id=priority_id,
                                    policy_id=policy_id, assignees=assignees)
        return 201, {"incident": self._incident_object(inc)}

    def _list_notes(self, params, query, body, requester):
        return 200, {"notes": copy.deepcopy(self._incident_or_404(params["id"])["notes"])}

    def _create_note(self, params, query, body, requester):
        inc = self._incident_or_404(params["id"])
        created = self._annotate(inc, body["note"]["content"], requester, self._user_ref(requester), None)
        return 200, {"note": copy.deepcopy(created)}

    def _list_log_entries(self, params, query, body, requester):
        inc = self._incident_or_404(params["id"])
        entries = [{"id": e["id"], "type": e["type"], "summary": e["summary"],
                    "self": f"{self.api_base}/log_entries/{e['id']}?incident_id={inc['id']}",
                    "html_url": f"{self.web_base}/incidents/{inc['id']}/log_entries/{e['id']}",
                    "created_at": iso(e["created_at"]), "agent": e["agent"], "channel": e["channel"],
                    "incident": self._incident_ref(inc), "teams": [], "contexts": []} for e in inc["log"]]
        if str(query.get("is_overview", "false")).lower() == "true":
            entries = [e for e in entries if e["type"] not in ("annotate_log_entry",)]
        entries.reverse()  # newest first, as PagerDuty lists them
        return self._page(entries, query, "log_entries")

    def _list_priorities(self, params, query, body, requester):
        items = [self._priority_object(p) for p in sorted(self._priorities, key=lambda p: self._priorities[p]["order"])]
        return self._page(items, query, "priorities")
