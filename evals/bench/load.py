"""Load test of POST /v1/ask from concurrent clients on loopback: latency percentiles, throughput, errors."""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from evals.metrics import percentile
from rag.network import is_loopback

# Questions about the seed dispatch (Công văn /STTTT-TTBCXB of the Kon Tum Sở TT&TT).
QUESTIONS = (
    "Các cơ quan báo chí Trung ương và địa phương cần làm gì?",
    "Đài Phát thanh – Truyền hình tỉnh có nhiệm vụ gì?",
    "UBND các huyện, thành phố phải chỉ đạo tuyên truyền ở đâu?",
    "Cổng TTĐT tỉnh và Trang TTĐT các sở, ban, ngành phải làm gì?",
    "Văn bản yêu cầu tuyên truyền những luật nào được Quốc hội thông qua tại kỳ họp thứ 7?",
    "Báo cáo buôn người (TIP) năm 2023 của Mỹ được công bố ngày nào?",
    "Cần phản bác những thông tin sai lệch nào về tự do tôn giáo và nhân quyền?",
    "Công văn 652/TTĐN-NVĐP do cơ quan nào ban hành?",
    "Ai ký công văn về tuyên truyền quyền con người?",
    "What should the provincial radio and television station do?",
)

RATE_LIMIT_HINT = ("the server's per-client rate limit refused them: start the server under test with "
                   "POLICYQA_RATE_LIMIT_PER_MINUTE=100000")


class LoadTestError(RuntimeError):
    """The server under test cannot be benchmarked (not loopback, or it refuses the warm-up request)."""


@dataclass(frozen=True)
class LevelResult:
    """What one concurrency level measured; errors = non-2xx answers plus transport failures."""

    clients: int
    requests: int
    errors: int
    rate_limited: int  # answers with 429, also counted in errors
    status: dict[str, int]  # "200", "429", "503", or a transport failure ("ReadTimeout", "ConnectError"…)
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    rps: float
    seconds: float
    abstained: int
    stopped_by: str  # "requests" or "time"


def ask_endpoint(url: str) -> str:
    """The /v1/ask URL of a base URL; refuses anything but a loopback host."""
    host = urlsplit(url).hostname or ""
    if not is_loopback(host):
        raise LoadTestError(f"bench load only targets loopback addresses, not {host!r}")
    return url.rstrip("/") + "/v1/ask"


def _headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def warm_up(endpoint: str, api_key: str | None, n: int = 2, timeout_s: float = 120.0) -> None:
    """A few sequential asks so the first measured request does not pay for lazy loading."""
    with httpx.Client(timeout=timeout_s, headers=_headers(api_key)) as client:
        for i in range(n):
            try:
                r = client.post(endpoint, json={"question": QUESTIONS[i % len(QUESTIONS)]})
            except httpx.HTTPError as exc:
                raise LoadTestError(f"warm-up request to {endpoint} failed: {type(exc).__name__}: {exc}") from exc
            if r.status_code == 429:
                raise LoadTestError(f"warm-up request got 429: {RATE_LIMIT_HINT}")
            if not r.is_success:
                raise LoadTestError(f"warm-up request got {r.status_code}: {r.text[:300]}")


def _one(client: httpx.Client, endpoint: str, question: str) -> tuple[str, bool]:
    """(status label, abstained) of one ask."""
    try:
        r = client.post(endpoint, json={"question": question})
        abstained = r.is_success and bool(r.json().get("abstained"))
        return str(r.status_code), abstained
    except (httpx.HTTPError, ValueError) as exc:  # ValueError: a 2xx body that is not JSON
        return type(exc).__name__, False


def run_level(endpoint: str, clients: int, *, max_requests: int, max_seconds: float,
              api_key: str | None = None, timeout_s: float = 60.0) -> LevelResult:
    """`clients` threads, one keep-alive connection each, ask until max_requests are sent or max_seconds pass.

    A request started before the deadline is waited for (up to timeout_s) and counted.
    """
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    abstained = 0
    lock = threading.Lock()
    counter = iter(range(max_requests))
    started = time.perf_counter()
    deadline = started + max_seconds
    timed_out = False

    def worker() -> None:
        nonlocal abstained, timed_out
        with httpx.Client(timeout=timeout_s, headers=_headers(api_key)) as client:
            while True:
                with lock:
                    if time.perf_counter() >= deadline:
                        timed_out = True
                        return
                    i = next(counter, None)
                if i is None:
                    return
                t0 = time.perf_counter()
                status, skipped = _one(client, endpoint, QUESTIONS[i % len(QUESTIONS)])
                dt = time.perf_counter() - t0
                with lock:
                    latencies.append(dt * 1000)
                    statuses[status] += 1
                    abstained += skipped

    threads = [threading.Thread(target=worker, name=f"bench-client-{n}") for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    errors = sum(n for s, n in statuses.items() if not (s.isdigit() and 200 <= int(s) < 300))
    return LevelResult(
        clients=clients, requests=len(latencies), errors=errors, rate_limited=statuses.get("429", 0),
        status=dict(sorted(statuses.items())),
        p50_ms=round(percentile(latencies, 50) or 0.0, 1), p95_ms=round(percentile(latencies, 95) or 0.0, 1),
        p99_ms=round(percentile(latencies, 99) or 0.0, 1),
        mean_ms=round(statistics.fmean(latencies), 1) if latencies else 0.0,
        max_ms=round(max(latencies), 1) if latencies else 0.0,
        rps=round(len(latencies) / wall, 2) if wall else 0.0, seconds=round(wall, 2), abstained=abstained,
        stopped_by="time" if timed_out else "requests")


def run_load(url: str, levels: Sequence[int], *, max_requests: int, max_seconds: float,
             api_key: str | None = None, warmup: int = 2, timeout_s: float = 60.0) -> list[LevelResult]:
    """Warm up, then one bounded run per concurrency level, in the order given."""
    endpoint = ask_endpoint(url)
    warm_up(endpoint, api_key, warmup, timeout_s=max(timeout_s, 120.0))
    return [run_level(endpoint, n, max_requests=max_requests, max_seconds=max_seconds, api_key=api_key,
                      timeout_s=timeout_s) for n in levels]


def results_to_json(url: str, results: Sequence[LevelResult]) -> dict[str, Any]:
    """The whole run as JSON-ready data."""
    return {"url": ask_endpoint(url), "levels": [asdict(r) for r in results],
            "errors": sum(r.errors for r in results), "rate_limited": sum(r.rate_limited for r in results)}


def format_table(url: str, results: Sequence[LevelResult]) -> str:
    """A plain-text table, one row per level, plus a line that says what the errors were."""
    lines = [f"POST {ask_endpoint(url)}",
             f"{'clients':>7} {'requests':>8} {'errors':>6} {'429':>5} {'p50 ms':>8} {'p95 ms':>8} "
             f"{'p99 ms':>8} {'req/s':>7} {'seconds':>7}  status"]
    for r in results:
        status = " ".join(f"{k}×{v}" for k, v in r.status.items())
        lines.append(f"{r.clients:>7} {r.requests:>8} {r.errors:>6} {r.rate_limited:>5} {r.p50_ms:>8.1f} "
                     f"{r.p95_ms:>8.1f} {r.p99_ms:>8.1f} {r.rps:>7.2f} {r.seconds:>7.1f}  {status}"
                     + ("  (time bound reached)" if r.stopped_by == "time" else ""))
    errors = sum(r.errors for r in results)
    limited = sum(r.rate_limited for r in results)
    if limited:
        lines.append(f"{limited} of {errors} errors are 429 Too Many Requests: {RATE_LIMIT_HINT}.")
    if errors - limited:
        lines.append(f"{errors - limited} errors are server errors or transport failures (see status).")
    if not errors:
        lines.append("no errors")
    return "\n".join(lines)
