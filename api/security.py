"""API keys, the two roles, the loopback rule and per-key rate limiting."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Literal, cast

from api.errors import Forbidden, RateLimited, Unauthorized
from rag.access import ADMIN, Access, Grant
from rag.keys import fingerprint, role_for_key
from rag.network import is_loopback
from rag.settings import Settings

Role = Literal["reader", "admin"]
_RANK = {"reader": 1, "admin": 2}


class InsecureBind(RuntimeError):
    """Serving on a non-loopback address without any API key configured."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: a key fingerprint (never the key itself) or the client address in open mode."""

    subject: str
    role: Role
    open_mode: bool = False
    groups: frozenset[str] = frozenset()  # a reader's groups (rag.access): public documents plus theirs

    @property
    def access(self) -> Access:
        return ADMIN if self.role == "admin" else Access(groups=self.groups)


def check_bind(settings: Settings, host: str | None = None) -> None:
    """Refuse to serve on a non-loopback address when no API key is configured."""
    host = host or settings.host
    if not settings.parsed_api_keys() and not is_loopback(host):
        raise InsecureBind(
            f"refusing to serve on {host}: no API keys are configured, so anyone who can reach this address "
            "could read and delete documents. Set POLICYQA_API_KEYS='KEY:admin,KEY2:reader' "
            "or bind to 127.0.0.1."
        )


class KeyRing:
    """The configured keys; lookups compare in constant time."""

    def __init__(self, settings: Settings) -> None:
        # parsed_api_keys() has already refused any role other than reader/admin
        self._keys = list(settings.parsed_api_keys().items())

    @property
    def open(self) -> bool:
        return not self._keys

    def grant_of(self, key: str) -> Grant | None:
        return role_for_key(key, self._keys)

    def authenticate(self, authorization: str | None, client: str) -> Principal:
        """The caller for an Authorization header; raises Unauthorized with the precise reason."""
        if self.open:
            return Principal(subject=f"ip:{client}", role="admin", open_mode=True)
        if not authorization:
            raise Unauthorized("missing API key: send 'Authorization: Bearer <key>'")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("malformed Authorization header: expected 'Bearer <key>'")
        grant = self.grant_of(token)
        if grant is None:
            raise Unauthorized("invalid API key")
        return Principal(subject=fingerprint(token), role=cast(Role, grant.role), groups=grant.groups)


def require_role(principal: Principal, needed: Role) -> None:
    """Raise Forbidden when the principal's role is below `needed`."""
    if _RANK[principal.role] < _RANK[needed]:
        raise Forbidden(f"this operation needs the '{needed}' role; your key has '{principal.role}'")


class RateLimiter:
    """Token bucket per subject: `per_minute` requests, refilled continuously, bursts up to `per_minute`."""

    MAX_SUBJECTS = 10_000

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}  # subject -> (tokens, last time)
        self._lock = threading.Lock()

    def hit(self, subject: str, now: float | None = None) -> None:
        """Take one token or raise RateLimited with the seconds until one is available."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(subject, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[subject] = (tokens, now)
                retry = max(1, math.ceil((1.0 - tokens) / self.rate))
                raise RateLimited(
                    f"rate limit of {int(self.capacity)} requests per minute exceeded; retry in {retry} s",
                    retry_after=retry,
                )
            self._buckets[subject] = (tokens - 1.0, now)
            if len(self._buckets) > self.MAX_SUBJECTS:
                self._prune(now)

    def _prune(self, now: float) -> None:
        # Buckets that have refilled completely carry no information; drop them to bound memory.
        full = [s for s, (t, last) in self._buckets.items() if t + (now - last) * self.rate >= self.capacity]
        for s in full:
            del self._buckets[s]
