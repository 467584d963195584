"""Crash safety: `policyqa ingest` killed with SIGKILL at several points, then re-run, leaves the store a clean
ingest would: same documents and chunks, no duplicate, no orphan, manifest == Chroma == lexical index."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from evals.alqac import load_laws, write_converted
from tests.conftest import CORPUS, REPO, SHARED, server_overrides

pytestmark = pytest.mark.slow

ALQAC_LAWS = SHARED / "data" / "alqac2025" / "laws"
# Kill points from progress, not from the clock (timed kills flaked both ways as start-up and embedding speed
# moved): each re-run resumes where the last stopped, commits one more document (its "committed" log line),
# and is killed this share of an average document's work later, in the middle of the next one.
KILLED_RERUNS = 3
MID_DOCUMENT = 0.4

# Run in a fresh interpreter each time: what a new process finds in the store, with nothing cached.
INSPECT = """
import json, sys
from rag.runtime import open_runtime
from rag.store.lexical import LexicalIndex
from rag.settings import Settings

class NoEmbedder:
    model_id = sys.argv[1]

settings = Settings()
lexical = LexicalIndex.load(settings.lexical_dir)  # before opening the store, which would rebuild it
store = open_runtime(settings, embedder=NoEmbedder()).store
listed = store.docstore.chunk_ids()
vectors = store.vectors.all_ids()
records = set(store.docstore.chunk_records(sorted(listed)))
print(json.dumps({
    "documents": {d.doc_id: list(d.chunk_ids) for d in store.docstore.documents()},
    "listed": len(listed), "vectors": len(vectors), "orphan_vectors": len(vectors - listed),
    "missing_vectors": len(listed - vectors), "missing_records": len(listed - records),
    "lexical_matches": lexical is not None and set(lexical[0].ids) == listed,
}))
"""


def _folder(tmp: Path) -> Path:
    """The seed dispatch plus the four smallest ALQAC laws, as Markdown files: ~300 chunks of real text."""
    folder = tmp / "docs"
    laws = sorted(load_laws(ALQAC_LAWS), key=lambda law: sum(len(a.body) for a in law.articles))[:4]
    write_converted(laws, folder)
    shutil.copy(next(CORPUS.glob("dispatch-*.md")), folder)
    return folder


def _env(data_dir: Path, backend: dict[str, object]) -> dict[str, str]:
    env = {**os.environ, "POLICYQA_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "POLICYQA_GC_GRACE_S": "0"}
    env.update({f"POLICYQA_{k.upper()}": str(v) for k, v in backend.items()})
    return env


def _ingest(folder: Path, env: dict[str, str], kill_after: float | None = None,
            kill_after_commit: float | None = None) -> dict | None:
    """Run `policyqa ingest`; kill it `kill_after` seconds in, or `kill_after_commit` seconds after it
    reports its first committed document (read from its verbose log), or let it finish."""
    cmd = [sys.executable, "-m", "policyqa", "ingest", str(folder), "--json", "-v"]
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if kill_after is None and kill_after_commit is None:
        out, err = proc.communicate(timeout=1200)
        assert proc.returncode == 0, err.decode()[-3000:]
        return json.loads(out)
    committed = threading.Event()
    tail: list[bytes] = []

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            tail[:] = [*tail[-20:], line]
            if b": committed as " in line:
                committed.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if kill_after_commit is not None:
        deadline = time.monotonic() + 1200
        while not committed.wait(0.05):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("ingest ended before committing a document: " + b"".join(tail).decode()[-2000:])
        kill_after = kill_after_commit
    try:
        proc.wait(timeout=kill_after)
        pytest.fail(f"ingest finished before the kill at {kill_after:.1f}s; the kill points need a larger folder")
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    reader.join(timeout=10)
    return None


def _inspect(env: dict[str, str], model_id: str) -> dict:
    out = subprocess.run([sys.executable, "-c", INSPECT, model_id], env=env, cwd=REPO, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("mode", ["embedded", "server"])
def test_killed_ingest_rerun_leaves_a_clean_store(mode: str, tmp_path: Path, embedder,  # noqa: ANN001
                                                  request: pytest.FixtureRequest) -> None:
    backend = {} if mode == "embedded" else server_overrides(request.getfixturevalue("chroma_server"))
    reference_backend = {} if mode == "embedded" else server_overrides(request.getfixturevalue("chroma_server"))
    folder = _folder(tmp_path)
    ref_env = _env(tmp_path / "reference", reference_backend)
    reference = _ingest(folder, ref_env)
    assert reference is not None and not reference["failed"]
    # Start-up as the re-runs below see it: warm, on a store with little in it. (The first process of a test
    # run pays for cold imports and page cache, and a re-run on a full store reads its snapshot first: kill
    # points set from either landed after a faster re-run had already finished.)
    probe_backend = {} if mode == "embedded" else server_overrides(request.getfixturevalue("chroma_server"))
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    shutil.copy(next(CORPUS.glob("dispatch-*.md")), tiny)
    started = time.monotonic()
    probe = _ingest(tiny, _env(tmp_path / "probe", probe_backend))
    assert probe is not None and not probe["failed"]
    startup = time.monotonic() - started - probe["seconds"]
    expected = _inspect(ref_env, embedder.model_id)

    env = _env(tmp_path / "crashed", backend)
    per_document = reference["seconds"] / len(expected["documents"])
    rows = []
    for step in range(KILLED_RERUNS + 1):  # the first: killed while still starting up
        if step == 0:
            _ingest(folder, env, kill_after=startup * 0.5)
        else:
            _ingest(folder, env, kill_after_commit=MID_DOCUMENT * per_document)
        state = _inspect(env, embedder.model_id)
        rows.append((step, len(state["documents"]), state["orphan_vectors"]))
        assert state["missing_vectors"] == 0 and state["missing_records"] == 0, state  # no torn document
    assert rows[-1][1] >= KILLED_RERUNS, rows  # each killed re-run committed one more document first
    final = _ingest(folder, env)
    assert final is not None and not final["failed"]
    state = _inspect(env, embedder.model_id)
    print(f"\n{mode}: startup {startup:.1f}s, work {reference['seconds']:.1f}s; after each kill "
          f"(re-run, documents committed, orphan vectors): {rows}")

    assert state["documents"] == expected["documents"]  # same documents, same chunks, same order
    assert state["listed"] == state["vectors"] == expected["listed"]  # no duplicate, nothing missing
    assert state["orphan_vectors"] == state["missing_vectors"] == state["missing_records"] == 0
    assert state["lexical_matches"]
    again = _ingest(folder, env)
    assert again is not None and again["unchanged"] == len(expected["documents"]) and again["added"] == 0
