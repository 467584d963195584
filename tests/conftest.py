"""Shared fixtures: one real bundled embedder per session, fresh stores in tmp dirs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
# Most tests need only the dispatch: this folder holds it alone (a link to corpus/'s file), so they stay fast.
CORPUS = REPO / "tests" / "data" / "dispatch"
FULL_CORPUS = REPO / "corpus"  # the default corpus: the dispatch, the two 2024 road laws, the decree, the 2008 law
LAWS = SHARED / "data" / "laws"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the CLI does: llama.cpp and torch share OpenMP


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings for a test store under data_dir, sharing the model cache between tests."""
    cache = Path(os.environ.get("POLICYQA_MODEL_CACHE_DIR", Path.home() / ".cache" / "policyqa"))
    values: dict[str, object] = {"corpus_dir": CORPUS, **overrides}
    return Settings(data_dir=data_dir, model_cache_dir=cache, **values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def embedder(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """The real bundled multilingual-e5-small, loaded once for the whole session."""
    from rag.runtime import load_embedder

    return load_embedder(make_settings(tmp_path_factory.mktemp("emb")))


@pytest.fixture
def engine_factory(embedder, tmp_path: Path) -> Iterator:  # noqa: ANN001
    """Open engines on fresh data dirs under tmp_path; closes them afterwards."""
    from rag.runtime import open_runtime

    opened = []

    def factory(name: str = "store", **overrides: object):  # noqa: ANN202
        engine = open_runtime(make_settings(tmp_path / name, **overrides), embedder=embedder)
        opened.append(engine)
        return engine

    yield factory
    for engine in opened:
        engine.close()


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """(host, port) of a real Chroma server on loopback: the one `.ci/run` started (POLICYQA_TEST_CHROMA_PORT),
    else one started here for the session. Tests keep apart by using their own collection names."""
    from tests.servers import chroma_command, chroma_ready_url, free_port, running

    given = os.environ.get("POLICYQA_TEST_CHROMA_PORT")
    if given:
        yield "127.0.0.1", int(given)
        return
    port = free_port()
    tmp = tmp_path_factory.mktemp("chroma-server")
    with running(chroma_command(tmp / "data", port), ready_url=chroma_ready_url(port), log_path=tmp / "chroma.log",
                 env=os.environ, timeout_s=60):
        yield "127.0.0.1", port


def server_overrides(server: tuple[str, int]) -> dict[str, object]:
    """Settings for a store on the Chroma server, in collections no other test uses."""
    import uuid

    return {"chroma_host": server[0], "chroma_port": server[1], "collection": f"t-{uuid.uuid4().hex[:12]}"}


@pytest.fixture(params=["embedded", "server"])
def backend(request: pytest.FixtureRequest) -> dict[str, object]:
    """Settings overrides for each store backend: embedded Chroma + SQLite, or everything on a Chroma server."""
    if request.param == "embedded":
        return {}
    return server_overrides(request.getfixturevalue("chroma_server"))


def cli_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for a `policyqa` subprocess on its own data dir (the model cache is shared)."""
    return {**os.environ, "POLICYQA_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False",
            "POLICYQA_MODEL_CACHE_DIR": str(make_settings(data_dir).model_cache_dir), "POLICYQA_API_KEYS": "",
            **extra}


@pytest.fixture(scope="session")
def full_corpus_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The whole default corpus (about 1,800 chunks) ingested once per run by `policyqa ingest`, as `make run`
    does, and a copy of that store: the first for the in-process engine, the second for CLI subprocesses
    (an embedded store belongs to the one process that opens it)."""
    import shutil
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("full-corpus")
    out = subprocess.run([sys.executable, "-m", "policyqa", "ingest", str(FULL_CORPUS), "--json"],
                         env=cli_env(root / "engine"), cwd=REPO, capture_output=True, text=True, timeout=1800)
    assert out.returncode == 0, out.stderr[-2000:]
    shutil.copytree(root / "engine", root / "cli", ignore=shutil.ignore_patterns("*.lock"))
    return root / "engine", root / "cli"


@pytest.fixture(scope="session")
def full_corpus_engine(embedder, full_corpus_dirs: tuple[Path, Path]):  # noqa: ANN001, ANN201
    """An engine over the whole default corpus, shared by the session (read-only use)."""
    from rag.runtime import open_runtime

    engine = open_runtime(make_settings(full_corpus_dirs[0], corpus_dir=FULL_CORPUS), embedder=embedder)
    assert len(engine.store.snapshot.docs) == 5
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def corpus_engine(embedder, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN001, ANN201
    """A store with the dispatch ingested, shared by the tests of one module (read-only use)."""
    from ingest.pipeline import ingest_paths
    from rag.runtime import open_runtime

    engine = open_runtime(make_settings(tmp_path_factory.mktemp("corpus")), embedder=embedder)
    report = ingest_paths(engine.store, [CORPUS])
    assert report.documents >= 1 and not report.failed, report
    yield engine
    engine.close()
