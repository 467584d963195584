"""Real server processes on loopback for the end-to-end tests: start, wait until ready, always stop."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running(cmd: Sequence[str], *, ready_url: str, log_path: Path, env: Mapping[str, str],
            cwd: Path | None = None, timeout_s: float = 300.0) -> Iterator[subprocess.Popen[bytes]]:
    """Run cmd until ready_url answers 200; fail with the log's tail if it exits or times out."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(list(cmd), cwd=cwd, env=dict(env), stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd[:4]} exited with {proc.returncode}:\n{_tail(log_path)}")
            try:
                if httpx.get(ready_url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{cmd[:4]} not ready after {timeout_s:.0f}s:\n{_tail(log_path)}")
            time.sleep(0.5)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _tail(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")[-3000:]


def chroma_command(path: Path, port: int) -> list[str]:
    """`chroma run` from this venv, persisting under path, on loopback."""
    chroma = Path(sys.executable).parent / "chroma"
    return [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]


def chroma_ready_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/api/v2/heartbeat"
