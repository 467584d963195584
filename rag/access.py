"""Who may read which document: audiences on documents, access on callers, one rule between them.

A document's audience is `public` (every reader) or a set of groups written `so-tttt|ubnd-huyen`. A caller's
access is admin (everything) or reader with groups (public documents plus those sharing a group). The rule
fails closed: an audience that is missing or malformed in the store makes the document visible to admins only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PUBLIC = "public"
_GROUP = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MAX_GROUPS = 32

__all__ = ["ADMIN", "PUBLIC", "Access", "can_read", "parse_audience", "parse_groups", "stored_groups"]


@dataclass(frozen=True)
class Access:
    """What a caller may read: everything (admin) or public documents plus those of its groups."""

    admin: bool = False
    groups: frozenset[str] = frozenset()

    @property
    def key(self) -> str:
        """One spelling per distinct access (a cache key)."""
        return "admin" if self.admin else "reader:" + "|".join(sorted(self.groups))


ADMIN = Access(admin=True)


def parse_groups(raw: str) -> frozenset[str]:
    """Groups written `a|b` (lower case letters, digits, '.', '_', '-'); raises ValueError with the reason."""
    parts = [p.strip() for p in raw.split("|")]
    if not raw.strip() or any(not p for p in parts):
        raise ValueError(f"empty group in {raw!r}: write groups as 'so-tttt|ubnd-huyen'")
    bad = [p for p in parts if not _GROUP.match(p) or p == PUBLIC]
    if bad:
        raise ValueError(f"invalid group name {bad[0]!r}: use lower-case letters, digits, '.', '_' or '-' "
                         f"(at most 64 characters; '{PUBLIC}' is not a group)")
    if len(parts) > MAX_GROUPS:
        raise ValueError(f"{len(parts)} groups; at most {MAX_GROUPS}")
    return frozenset(parts)


def parse_audience(raw: str) -> str:
    """The canonical spelling of an audience given by a person (`public`, or groups `a|b`, sorted);
    raises ValueError with the reason."""
    value = raw.strip().lower()
    if value == PUBLIC:
        return PUBLIC
    return "|".join(sorted(parse_groups(value)))


def stored_groups(audience: str | None) -> frozenset[str] | None:
    """A stored audience read back: frozenset() for public, the groups, or None when missing or malformed."""
    if audience is None:
        return None
    if audience == PUBLIC:
        return frozenset()
    try:
        groups = parse_groups(audience)
    except ValueError:
        return None
    return groups if "|".join(sorted(groups)) == audience else None


def can_read(access: Access, audience: str | None) -> bool:
    """Whether `access` may read a document stored with `audience` (fails closed on a bad audience)."""
    if access.admin:
        return True
    groups = stored_groups(audience)
    if groups is None:
        return False
    return not groups or bool(groups & access.groups)


@dataclass(frozen=True)
class Grant:
    """What one API key may do: its role and, for readers, its groups."""

    role: str  # "reader" | "admin"
    groups: frozenset[str] = frozenset()

    @property
    def access(self) -> Access:
        return ADMIN if self.role == "admin" else Access(groups=self.groups)


ROLES = ("reader", "admin")


def parse_key_entry(item: str) -> tuple[str, Grant]:
    """One `KEY:ROLE` or `KEY:reader:GROUP|GROUP` entry; raises ValueError naming the entry (never the key)."""
    head, sep, last = item.rpartition(":")
    if sep and last in ROLES and head:
        return head, Grant(last)
    key, sep2, role = head.rpartition(":")
    if sep and sep2 and key and role in ROLES:
        try:
            groups = parse_groups(last)
        except ValueError as exc:
            raise ValueError(f"API key entry ending ':{role}:{last}': {exc}") from None
        return key, Grant(role, groups)
    raise ValueError("an API key entry must look like KEY:reader, KEY:admin or KEY:reader:GROUP|GROUP "
                     f"(the entry ending {item[-12:]!r} does not)")


def parse_key_entries(lines: list[str]) -> dict[str, Grant]:
    """Entries (blank ones and `#` comments skipped) as key -> grant."""
    keys: dict[str, Grant] = {}
    for raw in lines:
        item = raw.strip()
        if item and not item.startswith("#"):
            key, grant = parse_key_entry(item)
            keys[key] = grant
    return keys
