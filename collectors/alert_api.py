"""GET /api/v1/alerts (current alerts) and /api/v1/alerts/history (state changes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from collectors.alerting import Alerting
from collectors.http_api import ApiContext, ApiError, guarded, ok, query_time
from monitoring.alert_lifecycle import silence_from_row, silenced
from storage import alerts as store_alerts

HISTORY_DEFAULT = timedelta(days=1)
HISTORY_LIMIT = 10_000


def current_alerts(alerting: Alerting) -> list[dict[str, Any]]:
    """Pending and firing alerts, firing first, with their rule's metric and threshold."""
    rules = {r.name: r for r in alerting.rules()}
    now = alerting.clock()
    con = alerting.ingest.store.cursor()
    silences = [silence_from_row(s) for s in store_alerts.list_silences(con, now, active_only=True)]
    out = []
    for row in store_alerts.load_instances(con):
        if row["state"] not in ("pending", "firing"):
            continue
        rule = rules.get(row["rule"])
        since = row["fired_at"] if row["state"] == "firing" else row["active_since"]
        out.append(
            {
                "rule": row["rule"],
                "model": row["model"] or None,
                "state": row["state"],
                "value": row["value"],
                "since": since,
                "severity": None if rule is None else rule.severity,
                "metric": None if rule is None else rule.metric,
                "comparison": None if rule is None else rule.comparison,
                "threshold": None if rule is None else rule.threshold,
                "silenced": rule is not None
                and silenced(rule, row["model"] or None, silences, now) is not None,
            }
        )
    return sorted(out, key=lambda a: (a["state"] != "firing", str(a["since"]), a["rule"]))


def _time(value: str | None, name: str, default: datetime) -> datetime:
    return query_time(value, name) or default


def alert_routes(ctx: ApiContext, alerting: Alerting) -> list[Route]:
    """The alert routes, behind the same token as ingest."""

    async def alerts(request: Request) -> Response:
        found = await run_in_threadpool(current_alerts, alerting)
        return ok({"alerts": found})

    async def history(request: Request) -> Response:
        now = datetime.now(UTC)
        end = _time(request.query_params.get("end"), "end", now)
        start = _time(request.query_params.get("start"), "start", end - HISTORY_DEFAULT)
        if end <= start:
            raise ApiError(400, f"end {end.isoformat()} must be after start {start.isoformat()}")
        frame = await run_in_threadpool(
            lambda: store_alerts.transitions(
                alerting.ingest.store.cursor(), start, end, limit=HISTORY_LIMIT
            )
        )
        rows = [
            {**r, "model": r.get("model") or None}
            for r in frame.astype(object).where(frame.notna(), None).to_dict("records")
        ]
        return ok({"start": start, "end": end, "transitions": rows})

    return [
        Route("/api/v1/alerts", guarded(ctx, alerts), methods=["GET"]),
        Route("/api/v1/alerts/history", guarded(ctx, history), methods=["GET"]),
    ]
