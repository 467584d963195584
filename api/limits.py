"""Request-size limits enforced while the body streams in (a Content-Length header is only a hint)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import PayloadTooLarge, Unprocessable, problem

MAX_JSON_BYTES = 1024 * 1024  # generous for a question with 20 turns of history
MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around the file bytes


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MiB" if n >= 1024 * 1024 else f"{n} bytes"


class BodyLimitMiddleware:
    """Reject bodies over the limit: at once when Content-Length says so, else when the count passes it."""

    def __init__(
        self, app: ASGIApp, *, json_limit: int, upload_limit: int, upload_path: str, prefix: str = "/v1/"
    ) -> None:
        self.app = app
        self.prefix = prefix
        self.json_limit = json_limit
        self.upload_limit = upload_limit
        self.upload_path = upload_path

    def _limit(self, scope: Scope) -> tuple[int, str]:
        if scope["method"] == "POST" and scope["path"].rstrip("/") == self.upload_path:
            return (
                self.upload_limit,
                f"upload is larger than the {_mib(self.upload_limit)} limit (POLICYQA_MAX_UPLOAD_BYTES)",
            )
        return self.json_limit, f"request body is larger than the {_mib(self.json_limit)} limit"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            # Only the API's own routes: an app mounted beside it (the UI at /ui) keeps its own limits.
            await self.app(scope, receive, send)
            return
        limit, message = self._limit(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await problem(413, message, slug="payload-too-large")(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            msg = await receive()
            if msg["type"] == "http.request":
                received += len(msg.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(message)
            return msg

        await self.app(scope, counting_receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def check_question(
    question: str,
    history_turns: int,
    *,
    max_chars: int,
    max_turns: int,
    field: str = "question",
    location: str = "body",
) -> None:
    """Apply the configured question and history limits (422 with the field path)."""
    if not question.strip():
        raise Unprocessable(
            f"{location}.{field}: must not be blank",
            errors=[{"loc": [location, field], "msg": "must not be blank", "type": "value_error"}],
        )
    if len(question) > max_chars:
        msg = f"is {len(question)} characters; the limit is {max_chars} (POLICYQA_MAX_QUESTION_CHARS)"
        raise Unprocessable(
            f"{location}.{field}: {msg}",
            errors=[{"loc": [location, field], "msg": msg, "type": "string_too_long"}],
        )
    if history_turns > max_turns:
        msg = f"has {history_turns} turns; the limit is {max_turns} (POLICYQA_MAX_HISTORY_TURNS)"
        raise Unprocessable(
            f"body.history: {msg}", errors=[{"loc": ["body", "history"], "msg": msg, "type": "too_long"}]
        )
