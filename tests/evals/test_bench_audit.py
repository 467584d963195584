"""`bench audit` end to end on a small store: two real servers, the trail off then on, the same load."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CORPUS, REPO, cli_env

pytestmark = pytest.mark.slow


def test_audit_cost_is_measured_and_the_loaded_trail_is_whole(tmp_path: Path) -> None:
    import subprocess
    import sys

    from evals.bench.audit_cost import format_table, measure

    data = tmp_path / "data"
    subprocess.run([sys.executable, "-m", "policyqa", "ingest", str(CORPUS), "--json"], env=cli_env(data),
                   cwd=REPO, check=True, timeout=900, capture_output=True)
    cost = measure(data, [1, 4], max_requests=12, max_seconds=20)
    assert all(r.errors == 0 and r.requests > 0 for r in (*cost.without, *cost.with_audit))
    assert cost.recorded == cost.answered and cost.chain_ok, format_table(cost)
    assert cost.ratio(1) is not None and cost.ratio(1) > 0
    assert "ratio  p50 ×" in format_table(cost)
