"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.deps import MetricsDep, require_reader
from api.errors import ServiceUnavailable
from api.lifecycle import EngineSlot
from api.schemas import Health, Readiness, problem_responses
from api.security import Principal

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="The process is up")
async def healthz() -> Health:
    """Liveness: answers as long as the event loop runs; touches nothing else."""
    return Health()


@router.get("/readyz", response_model=Readiness, summary="Ready to answer", responses=problem_responses(503))
async def readyz(request: Request) -> Readiness:
    """Readiness: the store is reachable and the embedder loaded; 503 (with the reason) otherwise."""
    slot: EngineSlot = request.app.state.engine_slot
    try:
        engine = await slot.get()
        info = await run_in_threadpool(engine.store.info)  # counts the Chroma collection: proves it answers
    except ServiceUnavailable:
        raise
    except Exception as exc:
        raise ServiceUnavailable(f"not ready: {exc}", headers={"Retry-After": "5"}) from exc
    if engine.embedder is None:
        raise ServiceUnavailable("not ready: the embedder is not loaded", headers={"Retry-After": "5"})
    return Readiness(
        ready=True,
        store="ok",
        embedder=str(info.get("embedding_model", "")),
        documents=int(info["documents"]),
        chunks=int(info["chunks"]),
        vectors=int(info["vectors"]),
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}},
        **problem_responses(401, 429),
    },
)
async def metrics(metrics: MetricsDep, principal: Annotated[Principal, Depends(require_reader)]) -> Response:
    """Request counts and latency histograms by route and status, answers by outcome, ingest counts. Needs a
    key (any role) when keys are configured."""
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
