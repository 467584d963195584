"""The one constant-time key check (pure logic)."""

from __future__ import annotations

from rag.keys import role_for_key

KEYS = [("reader-key", "reader"), ("admin-key", "admin")]


def test_the_matching_key_gives_its_role():
    assert role_for_key("admin-key", KEYS) == "admin" and role_for_key("reader-key", KEYS) == "reader"


def test_unknown_empty_and_prefix_keys_give_nothing():
    assert role_for_key("admin-ke", KEYS) is None and role_for_key("admin-key ", KEYS) is None
    assert role_for_key("", KEYS) is None and role_for_key(None, KEYS) is None
    assert role_for_key("admin-key", []) is None


def test_vietnamese_keys_compare_as_utf8():
    assert role_for_key("khóa-bí-mật", [("khóa-bí-mật", "admin")]) == "admin"
