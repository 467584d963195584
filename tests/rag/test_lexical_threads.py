"""The word segmenter under concurrent first use, as a fresh API worker meets it."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

# A fresh interpreter: underthesea loads its CRF model on the first call, and a second thread arriving
# during that load used to find a half-built model (AttributeError → HTTP 500 on a new worker's first asks).
SCRIPT = """
import threading
from rag.store.lexical import analyze

barrier = threading.Barrier(16)
errors = []

def first_use():
    barrier.wait()
    try:
        assert "cơ_quan" in analyze("Các cơ quan báo chí cần làm gì?")
    except Exception as exc:
        errors.append(repr(exc))

threads = [threading.Thread(target=first_use) for _ in range(16)]
for t in threads: t.start()
for t in threads: t.join()
print("errors", len(errors), errors[:2])
"""


def test_concurrent_first_use_of_the_segmenter() -> None:
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.strip().startswith("errors 0"), out.stdout
