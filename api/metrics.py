"""Prometheus metrics on a per-app registry (several apps in one test process must not collide)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.records import Answer, IngestReport

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class ApiMetrics:
    """The counters and histograms of one app."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "policyqa_http_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "policyqa_http_request_duration_seconds",
            "Time from request start to the last byte of the response",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge("policyqa_http_requests_in_flight", "Requests being served", registry=r)
        self.answers = Counter(
            "policyqa_answers",
            "Questions answered, by outcome (answered/abstained/error)",
            ["outcome", "endpoint"],
            registry=r,
        )
        self.ingest_files = Counter(
            "policyqa_ingest_files",
            "Uploaded files by result (ingested/unchanged/failed)",
            ["result"],
            registry=r,
        )
        self.ingest_requests = Counter(
            "policyqa_ingest_requests", "Upload requests that reached the ingester", registry=r
        )
        self.deleted = Counter("policyqa_documents_deleted", "Documents deleted through the API", registry=r)
        self.rate_limited = Counter("policyqa_rate_limited", "Requests refused with 429", registry=r)

    def record_answer(self, ans: Answer | None, endpoint: str) -> None:
        outcome = "error" if ans is None else ("abstained" if ans.abstained else "answered")
        self.answers.labels(outcome=outcome, endpoint=endpoint).inc()

    def record_ingest(self, report: IngestReport) -> None:
        self.ingest_requests.inc()
        self.ingest_files.labels(result="ingested").inc(len(report.ingested))
        self.ingest_files.labels(result="unchanged").inc(report.unchanged)
        self.ingest_files.labels(result="failed").inc(len(report.failed))


def _route_label(scope: Scope) -> str:
    # The route template (/v1/documents/{doc_id}), never the raw path, so label cardinality stays bounded.
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class MetricsMiddleware:
    """Count every request and time it to the last body byte (so streamed answers are timed in full)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        m = self.metrics
        m.in_flight.inc()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            m.in_flight.dec()
            labels = {"route": _route_label(scope), "method": scope["method"], "status": str(status)}
            m.requests.labels(**labels).inc()
            m.latency.labels(**labels).observe(time.perf_counter() - started)
            if status == 429:
                m.rate_limited.inc()
