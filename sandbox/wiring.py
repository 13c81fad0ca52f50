"""Sandbox mode, wired in one place: the emulators stand in for Slack, PagerDuty, Cloud Monitoring and BigQuery
on loopback, and the settings point the bot at them. The bot calls `wire` only when it has no SLACK_BOT_TOKEN."""
from __future__ import annotations

import dataclasses
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from starlette.routing import BaseRoute, Mount

from bot import clock, store
from bot.config import Settings

log = logging.getLogger("dre-bot.sandbox")


@dataclass
class Wiring:
    settings: Settings                                   # pointed at the emulators
    slack_api_url: str
    mounts: list[BaseRoute] = field(default_factory=list)   # the emulators' HTTP APIs and the console, on the bot's server
    on_stop: list[Callable[[], None]] = field(default_factory=list)


def wire(settings: Settings, port: int) -> Wiring:
    """Start the emulators the settings leave unconfigured, and point the settings at them."""
    from sandbox import seed
    from sandbox.slack import SlackEmulator
    mounts: list[BaseRoute] = []
    on_stop: list[Callable[[], None]] = []
    api_url = settings.slack_api_url or f"http://127.0.0.1:{port}/sandbox/slack/api/"
    log.warning("SANDBOX MODE: open http://127.0.0.1:%s/ to see and click the sandbox's Slack. No SLACK_BOT_TOKEN, "
                "so Slack calls go to the built-in emulator at %s "
                "(stored in %s; `dre-bot transcript` prints it), and PagerDuty to the one at "
                "/sandbox/pagerduty. Webhooks without DRE_WEBHOOK_TOKEN are accepted from loopback only.",
                port, api_url, settings.sandbox_db_path)
    slack_emulator = SlackEmulator(settings.sandbox_db_path)
    seed.seed_slack(slack_emulator)
    mounts.append(Mount("/sandbox/slack", app=slack_emulator.app()))
    if not settings.pagerduty_api_token and not settings.pagerduty_routing_key:
        from sandbox.pagerduty import PagerDutyEmulator
        pd_emulator = PagerDutyEmulator(db_path=settings.sandbox_db_path)   # beside the Slack emulator's
        seed.seed_pagerduty(pd_emulator)
        mounts.append(Mount("/sandbox/pagerduty", app=pd_emulator.app()))
        pd_url = f"http://127.0.0.1:{port}/sandbox/pagerduty"
        pd_config = settings.pagerduty if settings.pagerduty.schedules else dataclasses.replace(
            settings.pagerduty, schedules=(seed.PD_SCHEDULE,), default_service=seed.PD_SERVICE)
        # A webhook secret the user set is kept: the emulator signs with it, as PagerDuty would.
        webhook_secret = settings.pagerduty_webhook_secret or seed.PD_WEBHOOK_SECRET
        settings = dataclasses.replace(
            settings, pagerduty_api_token=seed.PD_TOKEN, pagerduty_routing_key=seed.PD_ROUTING_KEY,
            pagerduty_api_url=pd_url, pagerduty_events_url=pd_url, pagerduty=pd_config,
            pagerduty_webhook_secret=webhook_secret, pagerduty_from_email=seed.PD_FROM_EMAIL,
            # Handoffs at the sandbox schedule's shift changes, unless dre-bot.toml sets its own.
            handoff=settings.handoff if settings.handoff.scheduled else dataclasses.replace(
                settings.handoff, schedule=seed.PD_SCHEDULE))
        # A comma-separated list is a rotation: the emulator signs with the first, as PagerDuty would with the new one.
        pd_emulator.subscribe(f"http://127.0.0.1:{port}/webhooks/pagerduty",
                              secret=webhook_secret.split(",")[0].strip())
        on_stop.append(pd_emulator.close)
    if not settings.monitoring_api_url and not settings.google_cloud_project:
        from sandbox.monitoring_api import MonitoringEmulator
        # gRPC, the only wire google-cloud-monitoring speaks: its own port; snoozes kept beside the Slack emulator.
        gcm_emulator = MonitoringEmulator(settings.sandbox_db_path)
        gcm_emulator.seed_examples()
        settings = dataclasses.replace(settings, monitoring_api_url=gcm_emulator.start())
        mounts.append(Mount("/sandbox/monitoring", app=gcm_emulator.app()))
        on_stop.append(gcm_emulator.stop)
        log.warning("Sandbox Cloud Monitoring (gRPC) at %s; its snoozes at /sandbox/monitoring/v3/projects/"
                    "PROJECT/snoozes.", settings.monitoring_api_url)
    if settings.env.get("DRE_SANDBOX_WAREHOUSE", "").lower() in ("off", "0", "no"):
        log.warning("No sandbox warehouse (DRE_SANDBOX_WAREHOUSE=off): diagnostics are off; the rest starts faster.")
    elif not settings.bigquery_api_url and not settings.google_cloud_project:
        settings, warehouse = _warehouse(settings)
        if warehouse is not None:
            on_stop.append(warehouse.stop)
    if not (settings.lineage.dbt_manifest or settings.lineage.edges or settings.lineage.bigquery):
        # The sandbox warehouse's dbt project, so the example alerts on orders and its readers share one thread.
        manifest = str(Path(__file__).with_name("dbt_manifest.json"))
        settings = dataclasses.replace(settings, group_by_lineage=True,
                                       lineage=dataclasses.replace(settings.lineage, dbt_manifest=manifest))
    # The console: a page at / that renders what the emulators hold and signs what a person does, as Slack would.
    from bot.slack.app import SANDBOX_SIGNING_SECRET
    from sandbox.console import Console
    console = Console(slack_emulator, f"http://127.0.0.1:{port}",
                      settings.slack_signing_secret or SANDBOX_SIGNING_SECRET, settings.webhook_token,
                      settings.pagerduty_api_token if settings.pagerduty_api_url.startswith("http://127.0.0.1") else None)
    mounts[:0] = console.routes()
    return Wiring(settings, api_url, mounts, on_stop)


def _warehouse(settings: Settings):
    """The local BigQuery for sandbox mode, started in the background so the bot answers at once; diagnostics
    asked for before it is up are retried by the outbox."""
    from sandbox.warehouse import Warehouse, missing_requirements
    missing = missing_requirements()
    if missing:
        log.warning("No sandbox warehouse (diagnostics are off): install %s, e.g. `pip install -e '.[sandbox]'`.",
                    ", ".join(missing))
        return settings, None
    warehouse = Warehouse()
    allowed = settings.diagnostics.allowed or (f"{warehouse.project}.*",)
    settings = dataclasses.replace(settings, bigquery_api_url=warehouse.api_endpoint,
                                   google_cloud_project=warehouse.project,
                                   diagnostics=dataclasses.replace(settings.diagnostics, allowed=allowed))

    def start() -> None:
        try:
            warehouse.start()
            from sandbox.warehouse_seed import PREVIOUS_SCHEMAS
            store.migrate(settings.db_path, settings.inbox_db_path)
            conn = store.connect(settings.db_path)   # the schema the sandbox's customers had before last night's change
            with store.transaction(conn):
                for table_ref, rows in PREVIOUS_SCHEMAS.items():
                    if store.schema_seen(conn, table_ref) is None:
                        store.save_schema(conn, table_ref, {r["column_name"]: r["data_type"] for r in rows},
                                          at=clock.now() - 86400)
            conn.close()
            log.warning("Sandbox warehouse (local BigQuery) ready at %s, project %s, seeded in %.1fs.",
                        warehouse.api_endpoint, warehouse.project, (warehouse.start_seconds or 0) +
                        (warehouse.seed_seconds or 0))
        except Exception as exc:
            log.error("The sandbox warehouse did not start: %s", exc)
    threading.Thread(target=start, name="sandbox-warehouse", daemon=True).start()
    return settings, warehouse
