"""Every error leaves the API as RFC 9457 problem JSON; domain errors are translated here, once."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ingest.load import LoadError
from rag.store.vectors import EmbeddingMismatch, StoreBusy, StoreUnavailable

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://policyqa.local/problems/"  # stable identifiers, not fetched by anyone


class ApiError(StarletteHTTPException):
    """An error that carries its HTTP status (datasette-style); subclass of HTTPException so FastAPI re-raises
    it untouched even when it surfaces while the request body is being read."""

    status = 400
    slug = "bad-request"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(status_code=self.status, detail=detail, headers=headers)
        self.extra = extra


class NotFound(ApiError):
    status, slug = 404, "not-found"


class Conflict(ApiError):
    status, slug = 409, "conflict"


class PayloadTooLarge(ApiError):
    status, slug = 413, "payload-too-large"


class UnsupportedMediaType(ApiError):
    status, slug = 415, "unsupported-media-type"


class Unprocessable(ApiError):
    status, slug = 422, "validation-error"


class Unauthorized(ApiError):
    status, slug = 401, "unauthorized"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="policyqa"'})


class Forbidden(ApiError):
    status, slug = 403, "forbidden"


class RateLimited(ApiError):
    status, slug = 429, "rate-limited"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)}, retry_after=retry_after)


class ServiceUnavailable(ApiError):
    status, slug = 503, "service-unavailable"


def problem(
    status: int,
    detail: str,
    *,
    request: Request | None = None,
    slug: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """An application/problem+json response."""
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    body: dict[str, Any] = {
        "type": TYPE_BASE + (slug or title.lower().replace(" ", "-")),
        "title": title,
        "status": status,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.url.path
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def problem_data(exc: BaseException) -> dict[str, Any]:
    """Problem fields for an exception met inside a stream, where no HTTP status can be sent any more."""
    status, slug, detail = _classify(exc)
    return {"type": TYPE_BASE + slug, "title": HTTPStatus(status).phrase, "status": status, "detail": detail}


def _classify(exc: BaseException) -> tuple[int, str, str]:
    if isinstance(exc, ApiError):
        return exc.status, exc.slug, str(exc.detail)
    if isinstance(exc, StoreBusy):
        return 503, "store-busy", f"the store is busy: {exc}"
    if isinstance(exc, StoreUnavailable):
        return 503, "store-unavailable", f"the document store is unavailable: {exc}"
    if isinstance(exc, EmbeddingMismatch):
        return 503, "embedding-mismatch", str(exc)
    return 500, "internal-error", "internal error; the server log has the details"


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Field paths and messages only: echoing the rejected input back could reflect megabytes or secrets.
    out = []
    for err in exc.errors():
        out.append(
            {
                "loc": [str(p) for p in err.get("loc", ())],
                "msg": str(err.get("msg", "")),
                "type": str(err.get("type", "")),
            }
        )
    return out


async def _on_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc, ApiError):
        return problem(exc.status, str(exc.detail), request=request, slug=exc.slug, headers=exc.headers, **exc.extra)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no route {request.method} {request.url.path}"
    elif exc.status_code == 405:
        detail = f"method {request.method} is not allowed on {request.url.path}"
        return problem(405, detail, request=request, headers={"Allow": _allowed_methods(request)})
    return problem(exc.status_code, detail, request=request, headers=exc.headers)


def _allowed_methods(request: Request) -> str:
    # Starlette's Allow names only the first route matching the path, and /v1/documents has two (GET and
    # POST): derive it from the OpenAPI document instead, which lists every operation on a path.
    app = request.app
    index = getattr(app.state, "allow_index", None)
    if index is None:
        index = []
        for template, ops in app.openapi().get("paths", {}).items():
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
            index.append((re.compile(f"^{pattern}$"), sorted(m.upper() for m in ops)))
        app.state.allow_index = index
    path = request.url.path
    return ", ".join(next((methods for rx, methods in index if rx.match(path)), []))


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _validation_errors(exc)
    if any(e["type"] == "json_invalid" for e in errors):
        err = next(e for e in exc.errors() if e.get("type") == "json_invalid")
        reason = (err.get("ctx") or {}).get("error") or "invalid JSON"
        return problem(400, f"malformed JSON body: {reason}", request=request, slug="malformed-json")
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(first["loc"]) or "request"
    detail = f"{where}: {first['msg']}" + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")
    return problem(422, detail, request=request, slug="validation-error", errors=errors)


async def _on_store_error(request: Request, exc: Exception) -> JSONResponse:
    status, slug, detail = _classify(exc)
    log.warning("%s %s: %s", request.method, request.url.path, exc)
    return problem(status, detail, request=request, slug=slug, headers={"Retry-After": "5"})


async def _on_load_error(request: Request, exc: Exception) -> JSONResponse:
    return problem(415, str(exc), request=request, slug="unsupported-media-type")


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "internal error; the server log has the details", request=request, slug="internal-error")


def install_error_handlers(app: FastAPI) -> None:
    """Register the one translation from exceptions to problem JSON."""
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StoreUnavailable, _on_store_error)
    app.add_exception_handler(EmbeddingMismatch, _on_store_error)
    app.add_exception_handler(LoadError, _on_load_error)
    app.add_exception_handler(Exception, _on_unexpected)
