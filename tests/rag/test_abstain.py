"""The abstention model: the shipped file loads and behaves; fitting and threshold choice on synthetic data."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from evals.calibrate import Example, abstain_scores, choose_threshold, fit, write_calibration
from rag.answer.abstain import FEATURES, load_calibration, p_answerable


def values(**kw: float) -> dict[str, float]:
    return {**dict.fromkeys(FEATURES, 0.0), **kw}


def test_shipped_model_loads_and_prefers_covered_evidence() -> None:
    cal = load_calibration()
    assert set(cal.weights) == set(FEATURES) and 0.0 < cal.threshold < 1.0
    covered = values(dense_top=0.9, lexical_top=3.0, coverage_top1=1.0, coverage_top3=1.0, agreement=1.0)
    missing = values(dense_top=0.8, lexical_top=1.0, coverage_top1=0.1, coverage_top3=0.2, need_missing=1.0)
    assert p_answerable(covered, cal) > cal.threshold > p_answerable(missing, cal)


def test_malformed_model_file(tmp_path: Path) -> None:
    bad = tmp_path / "a.yaml"
    bad.write_text("model: {weights: {}}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="malformed"):
        load_calibration(bad)


def synthetic(n: int, seed: int) -> list[Example]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        ok = i % 2 == 0
        cov = min(1.0, max(0.0, rng.gauss(0.8 if ok else 0.35, 0.15)))
        out.append(Example(str(i), ok, values(coverage_top3=cov, coverage_top1=cov, dense_top=rng.random()),
                           "answerable" if ok else "left-out"))
    return out


def test_fit_learns_the_signal_and_the_threshold_carries_over(tmp_path: Path) -> None:
    train, held = synthetic(300, 1), synthetic(300, 2)
    cal = fit(train)
    assert cal.weights["coverage_top3"] + cal.weights["coverage_top1"] > 1.0
    t = choose_threshold(train, cal)
    scores = abstain_scores(held, cal, t)
    assert scores["abstain_precision"] > 0.85 and scores["abstain_recall"] > 0.85
    path = tmp_path / "m.yaml"
    write_calibration(path, cal, {"command": "test"})
    loaded = load_calibration(path)
    assert loaded.weights == pytest.approx(cal.weights)


class _Chunk:
    def __init__(self, doc_id: str, text: str) -> None:
        self.doc_id, self.text = doc_id, text


class _Snap:
    """The fields the pair and rare-term features read (pure logic: a real snapshot is in the system tests)."""

    def __init__(self) -> None:
        self.chunks = {"a": _Chunk("law", "Phạt tiền người điều khiển xe mô tô"),
                       "b": _Chunk("dispatch", "tuyên truyền quyền con người")}
        self.derived: dict[str, object] = {}
        self.idf = {"~phat": 1.0, "~tien": 1.0, "~xe": 0.5, "~mo": 1.0, "~to": 1.0}
        self.idf_unseen = 4.0


def test_corpus_pairs_count_only_the_documents_left_to_answer() -> None:
    from rag.answer.abstain import corpus_pairs

    snap = _Snap()
    pairs = [("phat", "tien"), ("quyen", "con"), ("bao", "hiem")]
    assert corpus_pairs(pairs, snap, None) == pytest.approx(2 / 3)
    assert corpus_pairs(pairs, snap, {"law"}) == pytest.approx(1 / 3)  # the dispatch left out
    assert corpus_pairs([], snap, None) == 1.0


def test_rare_missing_is_the_rarest_word_not_found() -> None:
    from rag.answer.abstain import rare_missing
    from rag.query import understand

    snap, info = _Snap(), understand("phạt tiền xe mô tô", ())
    assert rare_missing(["phat", "tien", "xe"], ["Phạt tiền xe"], info, snap) == 0.0
    assert rare_missing(["phat", "xe", "flycam"], ["phạt xe"], info, snap) == 1.0  # never written: idf_unseen
    assert rare_missing(["phat", "xe"], ["xe"], info, snap) == pytest.approx(0.25)
