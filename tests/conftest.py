"""Shared fixtures: one real bundled embedder per session, fresh stores in tmp dirs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CORPUS = REPO / "corpus"
LAWS = SHARED / "data" / "laws"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the CLI does: llama.cpp and torch share OpenMP


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings for a test store under data_dir, sharing the model cache between tests."""
    cache = Path(os.environ.get("POLICYQA_MODEL_CACHE_DIR", Path.home() / ".cache" / "policyqa"))
    return Settings(data_dir=data_dir, model_cache_dir=cache, corpus_dir=CORPUS, **overrides)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def embedder(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """The real bundled multilingual-e5-small, loaded once for the whole session."""
    from rag.engine import load_embedder

    return load_embedder(make_settings(tmp_path_factory.mktemp("emb")))


@pytest.fixture
def engine_factory(embedder, tmp_path: Path) -> Iterator:  # noqa: ANN001
    """Open engines on fresh data dirs under tmp_path; closes them afterwards."""
    from rag.engine import open_engine

    opened = []

    def factory(name: str = "store", **overrides: object):  # noqa: ANN202
        engine = open_engine(make_settings(tmp_path / name, **overrides), embedder=embedder)
        opened.append(engine)
        return engine

    yield factory
    for engine in opened:
        engine.close()


@pytest.fixture(scope="module")
def corpus_engine(embedder, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN001, ANN201
    """A store with corpus/ ingested, shared by the tests of one module (read-only use)."""
    from ingest.pipeline import ingest_paths
    from rag.engine import open_engine

    engine = open_engine(make_settings(tmp_path_factory.mktemp("corpus")), embedder=embedder)
    report = ingest_paths(engine.store, [CORPUS])
    assert report.documents >= 1 and not report.failed, report
    yield engine
    engine.close()
