"""The OpenAPI document, adjusted to say exactly what this deployment accepts."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from api.schemas import QUESTION_CEILING
from rag.settings import Settings

NOT_BLANK = r"\S"


def _tighten(schema: dict[str, Any], settings: Settings) -> None:
    """Write the configured limits into the document (the pydantic models only hold hard ceilings), so a
    client (or a fuzzer) reading it knows what will be accepted."""
    max_chars = min(settings.max_question_chars, QUESTION_CEILING)
    comps = schema.get("components", {}).get("schemas", {})
    ask = comps.get("AskRequest", {}).get("properties", {})
    if "question" in ask:
        ask["question"].update(maxLength=max_chars, pattern=NOT_BLANK)
    if "history" in ask:
        ask["history"]["maxItems"] = settings.max_history_turns
    search = schema.get("paths", {}).get("/v1/search", {}).get("get", {})
    for param in search.get("parameters", []):
        if param.get("name") == "q":
            param["schema"].update(maxLength=max_chars, pattern=NOT_BLANK)
    upload = schema.get("paths", {}).get("/v1/documents", {}).get("post", {})
    files = (
        upload.get("requestBody", {})
        .get("content", {})
        .get("multipart/form-data", {})
        .get("schema", {})
        .get("properties", {})
        .get("files")
    )
    if files is not None:
        files.update(minItems=1, maxItems=settings.max_upload_files)


def finish_openapi(app: FastAPI, settings: Settings, *, open_mode: bool) -> None:
    """Problem responses are application/problem+json only (FastAPI also lists application/json for a
    model); with no keys configured the bearer key is optional; the configured limits are stated."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            for item in schema.get("paths", {}).values():
                for op in item.values():
                    for code, resp in op.get("responses", {}).items():
                        content = resp.get("content", {})
                        if code[:1] in "45" and "application/problem+json" in content:
                            content.pop("application/json", None)
                    if open_mode and op.get("security"):
                        op["security"] = [{}, *op["security"]]
            _tighten(schema, settings)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
