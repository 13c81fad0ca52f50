"""The store: every SQL statement of the state and inbox databases, one module per aggregate, typed records.

Callers use `from bot import store` and `store.<function>`; the names are re-exported here so a caller need not
know which module holds a query."""
from __future__ import annotations

from bot.store.audit import AuditEntry, add_audit, audit_since
from bot.store.db import checkpoint, connect, connect_for_reading, dumps, rollback, savepoint, transaction
from bot.store.dedupe import first_seen_event
from bot.store.events import add_event, mark_dispatched, undispatched_events
from bot.store.handoffs import (
    Handoff, HandoffNote, acknowledge_handoff, add_handoff, add_handoff_note, handoff, handoff_exists, last_handoff,
    manual_handoff_near, mark_escalated, mark_posted, mark_reminded, newest_handoff, recent_handoffs,
    unattached_notes)
from bot.store.inbox import (
    InboxEntry, Rejected, depths, finish_inbox, inbox_body, inbox_entries, inbox_entry, inbox_position,
    insert_inbox, mark_retried, pending_inbox, reject, rejected_bodies)
from bot.store.incidents import (
    Incident, IncidentAlert, add_incident, incident, incident_alerts, incident_by_thread, incident_for_fingerprint, incidents_open_at,
    incidents_opened_between, incidents_resolved_between, open_incident_count, open_incident_for_key,
    open_incident_for_table, open_incident_tables, open_incidents, open_incidents_owned_by, move_alerts, recent_incidents, resolved_incident_for_key,
    slack_channel_id, update_incident, upsert_incident_alert)
from bot.store.migrations import INBOX_MIGRATIONS, MIGRATIONS, migrate
from bot.store.outbox import (
    OutboxItem, OutboxRow, add_outbox, bring_forward, dead_letters_after, defer_outbox, due_outbox,
    earlier_waiting_in_channel, handoff_waiting, hurry_incident, incident_item_waiting, mark_dead, mark_delivered,
    mark_inflight, next_due_after, outbox_items, on_its_way, outbox_row, rate_limited, requeue_inflight, retry_later,
    revive_dead, untried_last_in_lane, waiting_item, waiting_digest, set_payload)
from bot.store.pagerduty import (
    add_sent_note, first_sight_of_webhook, incident_by_pd_dedup_key, incident_by_pd_incident, incidents_in_pagerduty,
    keep_pd_dedup_key, note_sent, reconcile_pagerduty, record_page, set_pagerduty, set_pd_incident_id,
    update_pagerduty)
from bot.store.records import Record
from bot.store.reports import (
    alerting_places, handoff_count, incidents_by_source, incidents_opened_since, newest_handoff_unacknowledged,
    open_by_status, resolutions, resolved_by_cause, suppressed_count)
from bot.store.schedule import latest_run, ran, ran_at, run_once
from bot.store.schemas import save_schema, schema_seen
from bot.store.silences import (
    HeldSilence, PolicySilence, Silence, active_silences, add_silence, end_silence, ended_untold, mark_ended_told, record_suppressed,
    set_silence_incident, set_snooze, silence, silence_with_policy, silences_active_at, suppressed_alerts)
from bot.store.storms import (
    Storm, StormLine, add_storm, add_storm_incidents, end_storm, open_storm, open_storms_of_incident, storm,
    storm_lines, storm_posted, storm_quiet, storm_sent, waiting_first_posts)
# Last: the module bot.store.timeline shares its name with this function, which callers mean by store.timeline.
from bot.store.timeline import TimelineEntry, add_timeline, timeline_until
from bot.store.timeline import timeline
