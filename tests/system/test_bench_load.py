"""`policyqa bench load` as a second process against a real `policyqa serve`: 32 clients, zero errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import CORPUS, REPO
from tests.servers import free_port, running

pytestmark = pytest.mark.slow


def _env(data: Path, rate_limit: int) -> dict[str, str]:
    return {**os.environ, "POLICYQA_DATA_DIR": str(data), "POLICYQA_CORPUS_DIR": str(CORPUS),
            "POLICYQA_RATE_LIMIT_PER_MINUTE": str(rate_limit), "HF_HUB_OFFLINE": "1",
            "ANONYMIZED_TELEMETRY": "False"}


def _cli(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "policyqa", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """corpus/ ingested by `policyqa ingest`, as `make run` does."""
    data = tmp_path_factory.mktemp("bench-load") / "data"
    proc = _cli("ingest", "--json", env=_env(data, 120))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["documents"] >= 1
    return data


@contextmanager
def _serve(data: Path, rate_limit: int, log: Path) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "policyqa", "serve", "--port", str(port), "--log-level", "warning"]
    with running(cmd, ready_url=f"{base}/readyz", log_path=log, env=_env(data, rate_limit), cwd=REPO,
                 timeout_s=240):
        yield base


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[str]:
    """The server under test, started with a rate limit high enough for a load test (as README says)."""
    with _serve(data_dir, 100_000, data_dir.parent / "server.log") as base:
        yield base


def test_api_holds_32_clients_without_errors(server: str, data_dir: Path) -> None:
    proc = _cli("bench", "load", "--url", server, "--clients", "1,8,32", "--requests", "40", "--max-seconds", "60",
                "--json", env=_env(data_dir, 120), timeout=400)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    levels = {lv["clients"]: lv for lv in report["levels"]}
    assert sorted(levels) == [1, 8, 32] and report["errors"] == 0
    for n, lv in levels.items():
        assert lv["errors"] == 0 and lv["status"] == {"200": lv["requests"]}, lv
        assert lv["requests"] >= min(n, 40) and 0 < lv["p50_ms"] <= lv["p95_ms"] <= lv["p99_ms"], lv
    assert levels[32]["requests"] == 40 and levels[32]["stopped_by"] == "requests"


def test_rate_limited_server_is_reported_as_429_and_fails(tmp_path: Path) -> None:
    # A store of its own: the embedded store of the module's server belongs to that process while it runs.
    with _serve(tmp_path / "data", 20, tmp_path / "limited.log") as base:
        proc = _cli("bench", "load", "--url", base, "--clients", "4", "--requests", "40", "--max-seconds", "60",
                    env=_env(tmp_path / "data", 120), timeout=300)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "429 Too Many Requests" in proc.stdout and "POLICYQA_RATE_LIMIT_PER_MINUTE" in proc.stdout
        row = next(line for line in proc.stdout.splitlines() if line.split()[:1] == ["4"])
        assert "429×" in row


def test_only_loopback_targets() -> None:
    proc = _cli("bench", "load", "--url", "http://192.0.2.1:8000", "--requests", "1", env=dict(os.environ))
    assert proc.returncode == 2 and "loopback" in proc.stderr
