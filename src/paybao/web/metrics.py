"""Prometheus metrics: HTTP requests by route template and status, latency histograms, and the
background workers' heartbeats (read from the database at each scrape, so every server process
reports the same numbers).

Alert on `paybao_worker_heartbeat_age_seconds > 60` (+Inf when no worker is running at all;
NaN when the database could not be asked) or `paybao_workers_live < 1`."""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from paybao.services.heartbeats import HeartbeatSummary

REQUESTS = Counter("paybao_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "paybao_http_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)

WORKER_HEARTBEAT_AGE = Gauge(
    "paybao_worker_heartbeat_age_seconds",
    "Seconds since the freshest heartbeat of a running background worker (+Inf: none running)",
)
WORKERS_LIVE = Gauge("paybao_workers_live", "Background workers whose heartbeat is fresh")
WORKERS_STALE = Gauge(
    "paybao_workers_stale", "Background workers not stopped whose heartbeat is stale"
)


def observe_workers(summary: HeartbeatSummary | None) -> None:
    """Set the worker gauges before a scrape; None: the heartbeats could not be read."""
    if summary is None:
        for gauge in (WORKER_HEARTBEAT_AGE, WORKERS_LIVE, WORKERS_STALE):
            gauge.set(math.nan)
        return
    age_s = summary.freshest_age_s
    WORKER_HEARTBEAT_AGE.set(math.inf if age_s is None else age_s)
    WORKERS_LIVE.set(summary.live)
    WORKERS_STALE.set(summary.stale)


async def measure(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    started = time.perf_counter()
    response = await call_next(request)
    route = request.scope.get("route")
    # The route template (not the raw path) keeps label cardinality bounded.
    template = getattr(route, "path", "unmatched")
    LATENCY.labels(request.method, template).observe(time.perf_counter() - started)
    REQUESTS.labels(request.method, template, str(response.status_code)).inc()
    return response


def metrics_response() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
