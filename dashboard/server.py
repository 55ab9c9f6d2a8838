"""`vigil serve`: one process with the dashboard, the HTTP API, /metrics and the jobs."""

from __future__ import annotations

import gc
import logging
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import streamlit as st
from starlette.middleware import Middleware
from starlette.routing import Route

from collectors.access import AccessService
from collectors.admin_api import admin_routes
from collectors.alert_api import alert_routes
from collectors.alert_settings import AlertSettingsError, check_rule_models
from collectors.alerting import Alerting
from collectors.auth_api import LoginRedirect, auth_routes
from collectors.drift_api import drift_routes
from collectors.drift_job import DriftJob
from collectors.drift_service import DriftService, file_sink
from collectors.drift_settings import check_columns
from collectors.explain_api import explain_routes
from collectors.explain_job import ExplainJob
from collectors.explain_service import ExplainService
from collectors.http_api import ApiContext, api_routes
from collectors.ingest import IngestService
from collectors.jobs import SystemJob, build_scheduler
from collectors.metrics import ServerMetrics
from collectors.oidc_secrets import write_secrets
from collectors.report_api import report_routes
from collectors.report_schedule import ReportSender, add_report_jobs
from collectors.retention_job import RetentionJob
from collectors.rules_api import rule_routes
from collectors.settings import Settings
from collectors.spool import SpoolWatcher
from collectors.system import default_sampler
from collectors.window_parts import PartCache
from dashboard.runtime import Runtime, set_runtime
from storage import SchemaTooNewError, Store, StoreLockedError, Writer
from storage.compact import compact
from storage.erasure import clear_purge, purge_needed
from storage.models import list_models
from storage.tokens import new_token, store_token

log = logging.getLogger("vigil.server")
APP_SCRIPT = Path(__file__).with_name("app.py")


def vigil_version() -> str:
    try:
        return version("vigil-ml")
    except PackageNotFoundError:
        return "0+unknown"


@dataclass
class Services:
    """Everything the server owns, built before the web server starts."""

    settings: Settings
    store: Store
    writer: Writer
    ingest: IngestService
    access: AccessService
    new_token: str | None = None
    background: list[Callable[[], Callable[[], None]]] = field(default_factory=list)


def first_token(access: AccessService) -> str | None:
    """An admin token made at the first start, when no token exists at all (shown once)."""
    if access.has_tokens():
        return None
    created = new_token()
    access.writer.run(lambda con: store_token(con, created, "first-start", "admin", None, "vigil"))
    access.reload_tokens()
    return created


def open_store(settings: Settings) -> Store:
    """Open the store; first rewrite the file when an erasure left deleted values in it."""
    store = Store(settings.db)
    if not purge_needed(store.cursor()):
        return store
    store.close()
    started = time.monotonic()
    print(f"vigil: compacting {settings.db} after an erasure…", flush=True)
    before, after = compact(settings.db)
    print(
        f"vigil: compacted in {time.monotonic() - started:.1f} s "
        f"({before / 1e6:,.1f} MB -> {after / 1e6:,.1f} MB); erased values are gone from the file",
        flush=True,
    )
    store = Store(settings.db)
    store.cursor().execute("BEGIN")
    clear_purge(store.cursor())
    store.cursor().execute("COMMIT")
    return store


def open_services(settings: Settings) -> Services:
    """Open the store (fails fast if another process holds it) and the writer."""
    store = open_store(settings)
    writer = Writer(store, max_queue=settings.write_queue_size)
    ingest = IngestService(store, writer, ServerMetrics())
    access = AccessService(store, writer, settings)
    services = Services(settings, store, writer, ingest, access, first_token(access))
    registered = list_models(store.cursor())
    known = {m.name for m in registered} | set(settings.models)
    try:
        check_rule_models(settings.alerting.rules, known)
    except AlertSettingsError:
        shutdown(services)
        raise
    for model in registered:
        for problem in check_columns(settings.model(model.name).drift, model.name, model.features):
            log.warning("drift setting ignored: %s", problem)
    for report in settings.reports.values():
        if report.model not in known:
            log.warning(
                "report %r names model %r, which is not registered yet", report.name, report.model
            )
    return services


def build_app(services: Services) -> Any:
    """The st.App with API routes and a lifespan that runs the jobs."""
    settings = services.settings
    system_job = SystemJob(default_sampler(settings.data_dir), services.ingest)
    drift = DriftService(services.ingest, settings)
    explain = ExplainService(services.ingest, settings, drift)
    spool = SpoolWatcher(settings.spool_dir, services.ingest, references=file_sink(drift))
    parts = PartCache()  # the API and the pages share computed window parts
    # No part cache for rules: their look-back windows move every evaluation, so cached
    # parts would only push the pages' parts out.
    alerting = Alerting(
        services.ingest, settings.alerting, lambda model: settings.model(model).provisional_coverage
    )
    scheduler = build_scheduler(
        settings, services.ingest, system_job, spool, alerting, DriftJob(drift), ExplainJob(explain)
    )
    add_report_jobs(scheduler, ReportSender(services.ingest, settings))
    scheduler.add_job(
        RetentionJob(services.access),
        "interval",
        seconds=settings.retention_interval_s,
        id="retention",
        replace_existing=True,
        next_run_time=datetime.now(UTC),
    )
    ctx = ApiContext(
        ingest=services.ingest,
        version=vigil_version(),
        max_body_bytes=settings.max_body_bytes,
        access=services.access,
        pii=lambda model: settings.model(model).pii,
        system_snapshot=system_job.publish,
        provisional_coverage=lambda model: settings.model(model).provisional_coverage,
        parts=parts,
    )

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
        set_runtime(
            Runtime(services.store, settings, parts, alerting, drift, explain, services.access)
        )
        scheduler.start()
        stoppers = [start() for start in services.background]
        log.info("vigil started: db=%s", settings.db)
        try:
            yield {"services": services}
        finally:
            for stop in stoppers:
                stop()
            scheduler.shutdown(wait=True)
            shutdown(services)

    routes = [
        *auth_routes(services.access, settings),
        *http_routes(ctx, alerting, drift, explain, settings),
    ]
    middleware = [Middleware(LoginRedirect, access=services.access, settings=settings)]
    return st.App(str(APP_SCRIPT), lifespan=lifespan, routes=routes, middleware=middleware)


def http_routes(
    ctx: ApiContext,
    alerting: Alerting,
    drift: DriftService,
    explain: ExplainService,
    settings: Settings,
) -> list[Route]:
    """Every API route (and /metrics), each guarded with the action it needs."""
    return [
        *api_routes(ctx),
        *alert_routes(ctx, alerting),
        *drift_routes(ctx, drift),
        *explain_routes(ctx, explain),
        *report_routes(ctx, settings),
        *admin_routes(ctx),
        *rule_routes(ctx, alerting),
    ]


def shutdown(services: Services) -> None:
    """Drain the write queue, checkpoint and close."""
    services.access.flush_token_use()
    services.writer.stop()
    services.store.close()
    set_runtime(None)
    log.info("vigil stopped: writes drained, database checkpointed")


def streamlit_config(settings: Settings) -> dict[str, Any]:
    config: dict[str, Any] = {
        "server.port": settings.port,
        "server.address": settings.host,
        "server.headless": True,
        "browser.gatherUsageStats": False,
        "server.fileWatcherType": "none",
        "server.runOnSave": False,
        "client.toolbarMode": "minimal",
        "theme.base": "light",
        # The Drift page's reference upload may be as large as an API upload.
        "server.maxUploadSize": max(1, settings.max_reference_bytes // (1024 * 1024)),
    }
    if settings.auth.oidc is not None:
        config["secrets.files"] = [str(write_secrets(settings.auth.oidc, settings.data_dir))]
    if settings.tls_cert is not None and settings.tls_key is not None:
        config["server.sslCertFile"] = str(settings.tls_cert)
        config["server.sslKeyFile"] = str(settings.tls_key)
    return config


def banner(services: Services) -> str:
    settings = services.settings
    host = "localhost" if settings.host in ("127.0.0.1", "::1") else settings.host
    scheme = "https" if settings.tls else "http"
    lines = [
        f"Vigil {vigil_version()} — dashboard: {scheme}://{host}:{settings.port}/",
        f"  API: {scheme}://{host}:{settings.port}/api/v1   metrics: /metrics   db: {settings.db}",
    ]
    if services.new_token:
        lines.append(f"  API token (admin scope; shown once, store it now): {services.new_token}")
    if settings.login_required:
        lines.append(f"  sign-in required: {scheme}://{host}:{settings.port}/login")
        if not services.access.has_users() and settings.auth.oidc is None:
            lines.append(
                "  no users yet: add one with `vigil users add NAME --role admin` "
                "(with this server's admin token in VIGIL_API_TOKEN)"
            )
    return "\n".join(lines)


def _tune_gc() -> None:
    """Collect less often: parsing a JSON batch allocates ~30 objects per record, and the
    default gen-0 threshold (700) runs hundreds of collections per batch for no garbage."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def _quiet_signals() -> None:
    """Let SIGTERM/SIGINT end the server with exit code 0.

    uvicorn handles both signals while serving and, after a clean shutdown, re-raises them
    to the handlers that were installed before it started: these no-ops, not death by signal.
    """
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: None)


def run_server(settings: Settings, prepare: Callable[[Services], None] | None = None) -> int:
    """Open everything, serve until SIGTERM/SIGINT, then shut down cleanly; the exit code."""
    try:
        services = open_services(settings)
    except (StoreLockedError, SchemaTooNewError, AlertSettingsError) as exc:
        print(f"vigil: {exc}", file=sys.stderr)
        return 2
    try:
        if prepare is not None:
            prepare(services)
        app = build_app(services)
        print(banner(services), flush=True)
        _quiet_signals()
        _tune_gc()
        app.run(config=streamlit_config(settings))
    except BaseException:
        if not services.store.closed:
            shutdown(services)
        raise
    if not services.store.closed:
        shutdown(services)
    return 0
