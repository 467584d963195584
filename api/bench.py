"""Load test of POST /v1/ask from N concurrent clients on loopback: latency percentiles and throughput."""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

import httpx

from api.security import is_loopback

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


def percentile(values: list[float], p: float) -> float:
    """Linear-interpolated percentile (numpy's default method)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * p / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def run_bench(
    url: str,
    *,
    concurrency: int = 8,
    requests: int = 200,
    api_key: str | None = None,
    warmup: int = 2,
    timeout_s: float = 120.0,
) -> dict[str, Any]:
    """Send `requests` asks from `concurrency` threads (one keep-alive connection each); loopback only."""
    host = urlsplit(url).hostname or ""
    if not is_loopback(host):
        raise ValueError(f"bench-api only targets loopback addresses, not {host!r}")
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    endpoint = url.rstrip("/") + "/v1/ask"
    with httpx.Client(timeout=timeout_s, headers=headers) as warm:
        for i in range(warmup):
            warm.post(endpoint, json={"question": QUESTIONS[i % len(QUESTIONS)]}).raise_for_status()

    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    abstained = 0
    lock = threading.Lock()
    counter = iter(range(requests))

    def worker() -> None:
        nonlocal abstained
        with httpx.Client(timeout=timeout_s, headers=headers) as client:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                t0 = time.perf_counter()
                try:
                    r = client.post(endpoint, json={"question": QUESTIONS[i % len(QUESTIONS)]})
                    status = r.status_code
                    skipped = status == 200 and bool(r.json().get("abstained"))
                except httpx.HTTPError:
                    status, skipped = 0, False
                dt = time.perf_counter() - t0
                with lock:
                    latencies.append(dt)
                    statuses[status] += 1
                    abstained += skipped

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    ms = [x * 1000 for x in latencies]
    return {
        "url": endpoint,
        "concurrency": concurrency,
        "requests": len(ms),
        "seconds": round(wall, 3),
        "rps": round(len(ms) / wall, 2) if wall else 0.0,
        "p50_ms": round(percentile(ms, 50), 1),
        "p95_ms": round(percentile(ms, 95), 1),
        "p99_ms": round(percentile(ms, 99), 1),
        "mean_ms": round(statistics.fmean(ms), 1) if ms else 0.0,
        "max_ms": round(max(ms), 1) if ms else 0.0,
        "status": {str(k): v for k, v in sorted(statuses.items())},
        "abstained": abstained,
    }
