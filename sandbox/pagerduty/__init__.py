"""A local PagerDuty emulator (Starlette, state in memory) that the real `pagerduty` clients can talk to.

One app serves both of PagerDuty's APIs:

* Events API v2: `POST /v2/enqueue` (trigger / acknowledge / resolve, by `routing_key` and `dedup_key`);
* REST API v2 at the root: incidents, notes, log entries, users, services, escalation policies, schedules,
  priorities and on-calls, with PagerDuty's entity wrappers, classic pagination and error objects;

and it sends v3 webhooks (signed `X-PagerDuty-Signature: v1=...`) to subscribers whenever an incident changes,
whether through the REST API, the Events API or `act()` (a person working the incident in PagerDuty's UI).
Each API family is a module (events, incidents, schedules, webhooks) over the shared state in `core`.

The `pagerduty` clients refuse a base URL that is not https:// (their `url` setter raises UrlError), so they keep
their real base URLs and are carried to the emulator by an httpx2 transport: see `rest_client()`,
`events_client()` and `client_transport()`. Links in answers (`self`, `html_url`) use PagerDuty's real hosts, so
the clients' own URL checks (e.g. `rget(incident_dict)`) work unchanged.

>>> pd = PagerDutyEmulator()
>>> pd.add_user("PUSER01", "Ada Lovelace", "ada@example.com")
>>> pd.add_escalation_policy("PEP0001", "Data on-call", levels=[["PUSER01"]])
>>> pd.add_service("PSVC001", "Warehouse", "PEP0001", routing_key="R" * 32)
>>> base = ThreadedServer(pd.app()).start()
>>> rest = rest_client(base, "pd-token", default_from="ada@example.com")
"""

from __future__ import annotations

from sandbox.pagerduty.clients import client_transport, events_client, rest_client
from sandbox.pagerduty.core import PagerDutyError, iso, parse_time
from sandbox.pagerduty.events import EventsApi
from sandbox.pagerduty.incidents import IncidentsApi
from sandbox.pagerduty.schedules import SchedulesApi
from sandbox.pagerduty.webhooks import Webhooks, sign

__all__ = ["PagerDutyEmulator", "PagerDutyError", "client_transport", "events_client", "iso", "parse_time",
           "rest_client", "sign"]


class PagerDutyEmulator(EventsApi, IncidentsApi, SchedulesApi, Webhooks):
    """PagerDuty's Events API v2, REST API v2 and v3 webhooks, in memory and thread-safe.

    `tokens`: the REST API keys accepted (None: any non-empty `Token token=...` or `Bearer ...`).
    `webhook_retry_delays`: the waits between the (up to 5) attempts of one webhook delivery."""
