"""Dependencies shared by the routers, as Annotated aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.lifecycle import EngineSlot
from api.metrics import ApiMetrics
from api.security import KeyRing, Principal, RateLimiter, require_role
from rag.runtime import Runtime
from rag.settings import Settings

# Declared for the OpenAPI document ("Authorize" in /docs); the header itself is parsed by KeyRing so that
# a malformed header gets a precise 401 instead of being treated as absent.
_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="API key from POLICYQA_API_KEYS (not needed on loopback with no keys configured)",
)


def request_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_engine(request: Request) -> Runtime:
    slot: EngineSlot = request.app.state.engine_slot
    engine = await slot.get()
    request.app.state.engine = engine
    return engine


def get_metrics(request: Request) -> ApiMetrics:
    return request.app.state.metrics  # type: ignore[no-any-return]


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _principal(
    request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    keys: KeyRing = request.app.state.keys
    principal = keys.authenticate(request.headers.get("authorization"), _client(request))
    limiter: RateLimiter = request.app.state.rate_limiter
    limiter.hit(principal.subject)
    return principal


async def require_reader(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
    require_role(principal, "reader")
    return principal


async def require_admin(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
    require_role(principal, "admin")
    return principal


async def reader_engine(principal: Annotated[Principal, Depends(require_reader)],
                        engine: Annotated[Runtime, Depends(get_engine)]) -> Runtime:
    """The engine as the caller may see it: only documents in its audience (admins: all of them)."""
    return engine.scoped(principal.access)


SettingsDep = Annotated[Settings, Depends(request_settings)]
EngineDep = Annotated[Runtime, Depends(get_engine)]
ReaderEngine = Annotated[Runtime, Depends(reader_engine)]  # every route that reads documents uses this one
MetricsDep = Annotated[ApiMetrics, Depends(get_metrics)]
Reader = Annotated[Principal, Depends(require_reader)]
Admin = Annotated[Principal, Depends(require_admin)]
