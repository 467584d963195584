"""Audiences, key grants and the one rule between them (pure logic; the stores are tested in tests/api)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.pipeline import resolve_audience
from rag.access import ADMIN, Access, Grant, can_read, parse_audience, parse_key_entries, stored_groups
from rag.settings import Settings


@pytest.mark.parametrize(("raw", "canonical"), [
    ("public", "public"), (" PUBLIC ", "public"), ("so-tttt", "so-tttt"),
    ("ubnd-huyen|so-tttt", "so-tttt|ubnd-huyen"), ("A|b", "a|b"), ("so.tttt_2", "so.tttt_2"),
])
def test_audiences_are_read_into_one_spelling(raw: str, canonical: str) -> None:
    assert parse_audience(raw) == canonical


@pytest.mark.parametrize("raw", ["", "|", "so-tttt|", "sở-tttt", "so tttt", "public|so-tttt", "-x", "a" * 65,
                                 "|".join(f"g{i}" for i in range(33))])
def test_bad_audiences_are_refused_with_a_reason(raw: str) -> None:
    with pytest.raises(ValueError, match="group"):
        parse_audience(raw)


def test_the_rule_fails_closed() -> None:
    reader_a = Access(groups=frozenset({"so-tttt"}))
    nobody = Access()
    assert can_read(nobody, "public") and can_read(reader_a, "public")
    assert can_read(reader_a, "so-tttt") and can_read(reader_a, "so-tttt|ubnd-huyen")
    assert not can_read(reader_a, "ubnd-huyen") and not can_read(nobody, "so-tttt")
    # missing, malformed or not canonical in the store: admins only
    for stored in (None, "", "Sở TT", "ubnd-huyen|so-tttt", "so-tttt|", "public|so-tttt"):
        assert not can_read(reader_a, stored) and not can_read(nobody, stored), stored
        assert can_read(ADMIN, stored)


@given(st.sets(st.sampled_from(["a", "b", "c", "d"]), max_size=4), st.sets(st.sampled_from(["a", "b", "c", "d"]),
                                                                             min_size=1, max_size=4))
def test_a_reader_reads_a_group_document_iff_they_share_a_group(mine: set[str], theirs: set[str]) -> None:
    audience = parse_audience("|".join(theirs))
    assert stored_groups(audience) == frozenset(theirs)
    assert can_read(Access(groups=frozenset(mine)), audience) == bool(mine & theirs)


def test_key_entries_carry_roles_and_groups() -> None:
    keys = parse_key_entries("k1:admin,k2:reader:so-tttt|ubnd-huyen,k3:reader, ,# comment".split(","))
    assert keys == {"k1": Grant("admin"), "k2": Grant("reader", frozenset({"so-tttt", "ubnd-huyen"})),
                    "k3": Grant("reader")}
    assert keys["k1"].access == ADMIN and keys["k3"].access == Access()
    assert keys["k2"].access.groups == {"so-tttt", "ubnd-huyen"}


@pytest.mark.parametrize("entry", ["k1", "k1:owner", ":admin", "k1:reader:", "k1:reader:Sở", "k1:owner:so-tttt"])
def test_malformed_key_entries_fail_without_showing_the_key(entry: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_key_entries([entry])
    assert "KEY:reader" in str(err.value) or "group" in str(err.value)


def test_keys_file_adds_to_the_setting(tmp_path: Path) -> None:
    path = tmp_path / "keys.txt"
    path.write_text("# one key per line\nfile-key:reader:so-tttt\n\nfile-admin:admin\n", encoding="utf-8")
    keys = Settings(api_keys="env-key:reader", api_keys_file=path).parsed_api_keys()
    assert set(keys) == {"env-key", "file-key", "file-admin"}
    assert keys["file-key"].groups == {"so-tttt"}
    with pytest.raises(ValueError, match="cannot read the API keys file"):
        Settings(api_keys_file=tmp_path / "missing.txt").parsed_api_keys()


def test_default_audience_setting_is_checked() -> None:
    assert Settings(default_audience="Ubnd-Huyen").default_audience == "ubnd-huyen"
    with pytest.raises(ValueError):
        Settings(default_audience="Sở TT")


def test_audience_precedence_flag_then_front_matter_then_stored_then_default() -> None:
    assert resolve_audience("so-tttt", "ubnd-huyen", "x", "public") == ("ubnd-huyen", None)
    assert resolve_audience("UBND-huyen|so-tttt", None, "x", "public") == ("so-tttt|ubnd-huyen", None)
    assert resolve_audience(None, None, "so-tttt", "public") == ("so-tttt", None)
    assert resolve_audience(None, None, None, "public") == ("public", None)
    stored, warning = resolve_audience("Sở TT&TT", None, "public", "public")
    assert not can_read(Access(groups=frozenset({"so-tttt"})), stored) and warning and "only admins" in warning
