"""The ingest stage clock (pure logic) and per-slice embedding progress through a real store."""

from __future__ import annotations

import time

import pytest

from rag.timing import STAGES, StageClock


def test_clock_adds_up_per_stage_in_pipeline_order():
    clock = StageClock()
    with clock.stage("embed"):
        time.sleep(0.01)
    with clock.stage("embed"):
        time.sleep(0.01)
    clock.add("index", 0.5)
    totals = dict(clock.totals())
    assert [name for name, _ in clock.totals()] == list(STAGES)
    assert 0.02 <= totals["embed"] < 0.5 and totals["index"] == 0.5 and totals["parse"] == 0.0


def test_clock_counts_a_failing_block_and_rejects_unknown_stages():
    clock = StageClock()
    with pytest.raises(RuntimeError), clock.stage("parse"):
        time.sleep(0.01)
        raise RuntimeError("parser bug")
    assert dict(clock.totals())["parse"] >= 0.01
    with pytest.raises(ValueError, match="unknown ingest stage"):
        clock.add("tokenize", 1.0)
