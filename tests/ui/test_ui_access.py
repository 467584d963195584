"""Key parsing for the UI's Basic prompt (pure logic)."""

from __future__ import annotations

import base64

from ui.access import key_is_known, presented_key


def _basic(user: str, password: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", b"Basic " + base64.b64encode(f"{user}:{password}".encode()))]


def test_presented_key_forms() -> None:
    assert presented_key(_basic("cán bộ", "k:1")) == "k:1"  # only the first colon separates the user
    assert presented_key([(b"Authorization", b"Bearer abc")]) == "abc"
    assert presented_key([(b"authorization", b"Basic !!!not-base64")]) is None
    assert presented_key(_basic("user", "")) is None
    assert presented_key([(b"cookie", b"x=1")]) is None


def test_key_is_known() -> None:
    assert key_is_known("rd", ["adm", "rd"])
    assert not key_is_known("r", ["adm", "rd"])
    assert not key_is_known(None, ["adm"])
    assert not key_is_known("x", [])
