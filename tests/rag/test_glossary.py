"""The English → Vietnamese glossary table: it loads, its Vietnamese is the documents' own, and English
questions meet the law's words through it."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
import yaml

from rag.query import GLOSSARY, glossary, translate_terms
from rag.text.normalize import fold_accents
from tests.conftest import REPO


def test_table_loads_longest_first_and_normalised() -> None:
    pairs = glossary()
    assert len(pairs) > 250
    assert [len(en) for en, _ in pairs] == sorted((len(en) for en, _ in pairs), reverse=True)
    for en, vi in pairs:
        assert en == en.lower() and en.isascii(), en
        assert vi == unicodedata.normalize("NFC", vi), en


def test_no_key_is_written_twice() -> None:
    keys = [line.split(":", 1)[0] for line in GLOSSARY.read_text(encoding="utf-8").splitlines()
            if line and not line.startswith(("#", " "))]
    assert len(keys) == len(set(keys))


def test_the_road_words_are_the_texts_own() -> None:
    corpus = " ".join(fold_accents(p.read_text(encoding="utf-8")) for p in (REPO / "corpus").glob("*.txt"))
    corpus = " ".join(re.sub(r"[^\w\s/]", " ", corpus).split())
    for en in ("driving licence", "ambulance", "give way", "u-turn", "smart vehicle", "power", "tunnel",
               "residential area", "weaving", "priority vehicles"):
        vi = dict(glossary())[en]
        assert fold_accents(vi) in corpus, (en, vi)


@pytest.mark.parametrize(("question", "wanted"), [
    ("Who has the power to deduct points from a driving licence?", ["thẩm quyền", "trừ điểm", "giấy phép lái xe"]),
    ("What is the fine for not giving way to an ambulance?", ["xe cứu thương", "phạt"]),
    ("What counts as a smart vehicle?", ["phương tiện giao thông thông minh"]),
])
def test_english_questions_meet_the_laws_words(question: str, wanted: list[str]) -> None:
    vi = translate_terms(question)
    for w in wanted:
        assert w in vi, (w, vi)


def test_malformed_table_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "g.yaml"
    bad.write_text(yaml.safe_dump({"fine": ["phạt"]}), encoding="utf-8")
    with pytest.raises(ValueError, match="g.yaml"):
        glossary(bad)
