"""Keyed access to the UI: when API keys are configured, the UI asks for one (HTTP Basic, key as password).

The browser remembers the credentials for the site and sends them with every page, Gradio call and document
view, so one prompt covers the whole UI; without this, the chat and the full texts would be readable by
anyone who can reach the port, bypassing the API's reader keys.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from rag.keys import role_for_key

REALM = "policyqa"


def _protected(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p + "/") for p in prefixes)


def presented_key(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The key in an Authorization header: Basic (any user name, key as password) or Bearer."""
    for name, value in headers:
        if name.lower() != b"authorization":
            continue
        scheme, _, cred = value.decode("latin-1").partition(" ")
        if scheme.lower() == "bearer":
            return cred.strip() or None
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(cred.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return None
            return decoded.partition(":")[2] or None
    return None


def request_key(request: Any) -> str | None:
    """The browser's key from a gr.Request (or any object with `headers`), as `presented_key` reads it."""
    headers = getattr(request, "headers", None)
    if not headers:
        return None
    return presented_key((str(k).encode("latin-1"), str(v).encode("latin-1")) for k, v in headers.items())


def key_is_known(key: str | None, keys: Iterable[str]) -> bool:
    """Constant-time membership test of a presented key."""
    return role_for_key(key, ((known, "known") for known in keys)) is not None


class UiKeyMiddleware:
    """Answer 401 (Basic challenge) on UI paths unless a configured key of any role is presented."""

    def __init__(self, app: ASGIApp, *, keys: Iterable[str], prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.keys = tuple(keys)
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not _protected(scope["path"], self.prefixes):
            await self.app(scope, receive, send)
            return
        if key_is_known(presented_key(scope.get("headers", [])), self.keys):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = "Cần khóa truy cập (API key) để mở giao diện hỏi đáp. / An API key is required.".encode()
        await send({"type": "http.response.start", "status": 401, "headers": [
            (b"www-authenticate", f'Basic realm="{REALM}", charset="UTF-8"'.encode()),
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
        ]})
        await send({"type": "http.response.body", "body": body})
