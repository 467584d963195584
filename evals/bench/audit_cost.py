"""What the audit trail costs and whether it holds under load: the same store served twice by `policyqa
serve`, the trail switched off then on, each driven by the `bench load` harness in one run.

Reports p50/p95 of POST /v1/ask per client count with and without the trail and their ratio, then checks
the trail the loaded server wrote: one `ask` record per answered request (none lost) and an intact chain.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from evals.bench.load import LevelResult, run_load
from rag.audit.log import AuditLog, AuditQuery


class AuditBenchError(RuntimeError):
    """A server under test did not start, or its trail could not be read."""


@dataclass(frozen=True)
class AuditCost:
    without: tuple[LevelResult, ...]
    with_audit: tuple[LevelResult, ...]
    answered: int  # 2xx asks sent to the audited server (warm-up included)
    recorded: int  # `ask` records in its trail
    chain_ok: bool
    chain_reason: str

    def ratio(self, clients: int, field: str = "p50_ms") -> float | None:
        off = next((getattr(r, field) for r in self.without if r.clients == clients), None)
        on = next((getattr(r, field) for r in self.with_audit if r.clients == clients), None)
        return round(on / off, 3) if off and on is not None else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(data_dir: Path, *, audit_file: Path, audit: bool, timeout_s: float = 600.0) -> Iterator[str]:
    """`policyqa serve` on a free loopback port over `data_dir` (rate limit off); yields its base URL."""
    port = _free_port()
    env = {**os.environ, "POLICYQA_DATA_DIR": str(data_dir), "POLICYQA_API_KEYS": "",
           "POLICYQA_RATE_LIMIT_PER_MINUTE": "1000000", "POLICYQA_AUDIT_ENABLED": "true" if audit else "false",
           "POLICYQA_AUDIT_FILE": str(audit_file), "POLICYQA_UI_ENABLED": "false", "HF_HUB_OFFLINE": "1"}
    log_path = audit_file.with_suffix(".server.log")
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "policyqa", "serve", "--host", "127.0.0.1", "--port",
                                 str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                if proc.poll() is not None:
                    raise AuditBenchError(f"the server exited with {proc.returncode}; see {log_path}")
                try:
                    if httpx.get(url + "/readyz", timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise AuditBenchError(f"the server was not ready within {timeout_s:.0f} s; see {log_path}")
                time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def measure(data_dir: Path, levels: Sequence[int], *, max_requests: int, max_seconds: float,
            warmup: int = 2) -> AuditCost:
    """Serve `data_dir` without the trail, then with a fresh one; the same load against each."""
    with tempfile.TemporaryDirectory(prefix="policyqa-audit-bench-") as tmp:
        trail = Path(tmp) / "audit.sqlite"
        with serving(data_dir, audit_file=Path(tmp) / "off.sqlite", audit=False) as url:
            without = run_load(url, levels, max_requests=max_requests, max_seconds=max_seconds, warmup=warmup)
        with serving(data_dir, audit_file=trail, audit=True) as url:
            with_audit = run_load(url, levels, max_requests=max_requests, max_seconds=max_seconds, warmup=warmup)
            time.sleep(2.0)  # the last responses' background writes
        log = AuditLog(trail)
        try:
            recorded = len(log.query(AuditQuery(route="ask")))
            check = log.verify()
        finally:
            log.close()
    answered = warmup + sum(r.status.get("200", 0) for r in with_audit)
    return AuditCost(tuple(without), tuple(with_audit), answered, recorded, check.ok, check.reason)


def to_json(cost: AuditCost) -> dict[str, Any]:
    levels = sorted({r.clients for r in cost.without})
    return {"without_audit": [asdict(r) for r in cost.without], "with_audit": [asdict(r) for r in cost.with_audit],
            "p50_ratio": {str(n): cost.ratio(n) for n in levels},
            "p95_ratio": {str(n): cost.ratio(n, "p95_ms") for n in levels},
            "answered": cost.answered, "recorded": cost.recorded, "lost": cost.answered - cost.recorded,
            "chain_ok": cost.chain_ok, "chain_reason": cost.chain_reason}


def format_table(cost: AuditCost) -> str:
    lines = ["clients  audit  requests  p50 ms  p95 ms  req/s  errors"]
    for off, on in zip(cost.without, cost.with_audit, strict=True):
        for label, r in (("off", off), ("on", on)):
            lines.append(f"{r.clients:>7}  {label:>5}  {r.requests:>8}  {r.p50_ms:>6.1f}  {r.p95_ms:>6.1f}  "
                         f"{r.rps:>5.1f}  {r.errors:>6}")
        lines.append(f"{'':>7}  ratio  p50 ×{cost.ratio(on.clients)}  p95 ×{cost.ratio(on.clients, 'p95_ms')}")
    chain = "valid" if cost.chain_ok else "BROKEN: " + cost.chain_reason
    lines.append(f"audited server: {cost.answered} answered asks, {cost.recorded} ask records "
                 f"({cost.answered - cost.recorded} lost); chain {chain}")
    return "\n".join(lines)
