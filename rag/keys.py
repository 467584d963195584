"""Presented API keys checked against the configured ones, in constant time: the one check the API, the
UI's access gate and the UI's upload use."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import TypeVar

T = TypeVar("T")

__all__ = ["fingerprint", "role_for_key"]


def role_for_key(candidate: str | None, keys: Iterable[tuple[str, T]]) -> T | None:
    """The role (or grant) paired with `candidate` among (key, role) pairs, or None. Every key is compared (no early
    exit) with hmac.compare_digest, so timing tells neither whether nor which key matched."""
    if not candidate:
        return None
    presented = candidate.encode()
    found: T | None = None
    for known, role in keys:
        if hmac.compare_digest(known.encode(), presented):
            found = role
    return found


def fingerprint(key: str) -> str:
    """Short stable id of a key for logs, audit records, rate-limit buckets and ownership (never the key)."""
    return "key:" + hashlib.sha256(key.encode()).hexdigest()[:12]
