"""ALQAC 2025 task 1 (legal article retrieval): convert the laws, ingest once (cached), score articles."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evals import metrics as m
from evals.baselines import (
    CHUNK_OVERLAP,
    CHUNK_SIZE,
    RawDoc,
    langchain_passages,
    open_langchain_index,
    query_passages,
    search_passages,
)
from evals.relevance import Passage
from evals.run import store_settings
from ingest.pipeline import PIPELINE_VERSION, ingest_paths
from rag.runtime import open_runtime
from rag.settings import Settings

log = logging.getLogger(__name__)

# Where ../shared keeps ALQAC 2025 (read in place, never copied): the commands' defaults.
DEFAULT_LAWS = Path("../shared/data/alqac2025/laws")
DEFAULT_QUESTIONS = Path("../shared/data/alqac2025/train.json")
DEV_FRACTION = 0.2  # share of ALQAC train held out from `policyqa train` (split_questions), scored as `dev`
CONVERTER_VERSION = "1"  # bump when the Markdown written for a law changes
# The ALQAC deployment: the LoRA adapter learned on ALQAC train's `train` split (rag/data/adapters), with the
# fusion weight chosen for it on the `dev` split it never saw (0.35 → 0.45: dev hit@1 0.814 → 0.839; 0.831
# and 0.846 on its two halves). The bundled weights keep Settings.dense_weight (0.35, chosen on ALQAC train).
ADAPTER_DENSE_WEIGHT = 0.45
CHUNK_DEPTH = 50  # chunks retrieved per question, so that 10 distinct articles remain after merging
ARTICLE_DEPTH = 10

Article = tuple[str, str]  # (law_id, article_id)
_SYLLABLE = re.compile(r"\w+")


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


@dataclass(frozen=True)
class AlqacArticle:
    law_id: str
    article_id: str
    title: str  # "" for the Constitution, whose articles have no titles
    body: str

    @property
    def text(self) -> str:
        """Title and body as one passage."""
        return f"{self.title}\n{self.body}".strip() if self.title else self.body


@dataclass(frozen=True)
class AlqacLaw:
    law_id: str  # the file name without .json, NFC
    articles: tuple[AlqacArticle, ...]
    sha256: str


@dataclass(frozen=True)
class AlqacQuestion:
    id: str
    text: str
    gold: frozenset[Article]
    type: str = ""


def _titleless(values: list[str]) -> bool:
    # The Constitution's articles start with their body; a first line that ends like a sentence gives it away.
    firsts = [v.split("\n", 1)[0].strip() for v in values]
    sentence_like = sum(1 for f in firsts if f.endswith((".", ";", ":")) or len(f) > 200)
    return sentence_like * 2 > len(firsts)


def load_law(path: Path) -> AlqacLaw:
    """One law file: a JSON array of one-key objects {article number: "title\\nbody"}."""
    raw = path.read_bytes()
    values: list[tuple[str, str]] = []
    for obj in json.loads(raw):
        (key, value), = obj.items()
        values.append((str(key), nfc(value).replace("\r\n", "\n")))
    titleless = _titleless([v for _, v in values])
    law_id = nfc(path.stem)
    articles = []
    for key, value in values:
        if titleless:
            title, body = "", value.strip()
        else:
            head, _, rest = value.partition("\n")
            title, body = head.strip(), rest.strip()
        articles.append(AlqacArticle(law_id=law_id, article_id=key, title=title, body=body))
    return AlqacLaw(law_id=law_id, articles=tuple(articles), sha256=hashlib.sha256(raw).hexdigest())


def load_laws(laws_dir: Path) -> list[AlqacLaw]:
    """Every *.json law in a folder, sorted by file name."""
    files = sorted(laws_dir.glob("*.json"))
    if not files:
        raise FileNotFoundError(f"no law files (*.json) in {laws_dir}")
    return [load_law(f) for f in files]


def load_alqac_articles(laws_dir: Path) -> list[AlqacArticle]:
    """Every article of every law, in file and article order."""
    return [a for law in load_laws(laws_dir) for a in law.articles]


def load_questions(path: Path, laws: Sequence[str] | None = None) -> tuple[list[AlqacQuestion], int]:
    """Questions whose gold articles all lie in `laws` (all when None), and how many were skipped."""
    known = {nfc(x) for x in laws} if laws is not None else None
    out, skipped = [], 0
    for q in json.loads(path.read_text(encoding="utf-8")):
        gold = frozenset((nfc(r["law_id"]), str(r["article_id"])) for r in q["relevant_articles"])
        if known is not None and any(law not in known for law, _ in gold):
            skipped += 1
            continue
        out.append(AlqacQuestion(id=q["question_id"], text=nfc(q["text"]), gold=gold,
                                 type=q.get("question_type", "")))
    return out, skipped


def split_questions(questions: Sequence[AlqacQuestion], dev_fraction: float
                    ) -> tuple[list[AlqacQuestion], list[AlqacQuestion]]:
    """(train, dev): a question is in dev when the hash of its id falls below dev_fraction (stable forever)."""
    def bucket(q: AlqacQuestion) -> float:
        return int(hashlib.sha256(q.id.encode()).hexdigest()[:8], 16) / 16**8

    train = [q for q in questions if bucket(q) >= dev_fraction]
    dev = [q for q in questions if bucket(q) < dev_fraction]
    return train, dev


def law_body(law: AlqacLaw) -> str:
    """The articles as text: a "Điều N. Title" line, then the body (also what the LangChain recipe splits)."""
    lines = []
    for a in law.articles:
        lines.append(f"Điều {a.article_id}. {a.title}".rstrip())
        if a.body:
            lines.append(a.body)
        lines.append("")
    return "\n".join(lines)


def law_markdown(law: AlqacLaw) -> str:
    """The law as a document the normal ingester reads: YAML front matter, then the articles."""
    front = ["---", f"title: {json.dumps(law.law_id, ensure_ascii=False)}", "doc_type: luật", "---", ""]
    return "\n".join(front) + "\n" + law_body(law)


def cache_key(laws: Sequence[AlqacLaw], *parts: object) -> str:
    """Hash of the law files' contents, the converter version and whatever else a cached store depends on."""
    h = hashlib.sha256()
    for law in laws:
        h.update(f"{law.law_id}\0{law.sha256}\n".encode())
    h.update("|".join(str(p) for p in (CONVERTER_VERSION, *parts)).encode())
    return h.hexdigest()[:16]


def write_converted(laws: Sequence[AlqacLaw], folder: Path) -> dict[str, str]:
    """Write one Markdown file per law (only when its content changed); map file name → law id."""
    folder.mkdir(parents=True, exist_ok=True)
    names = {}
    for law in laws:
        path = folder / f"{law.law_id}.md"
        text = law_markdown(law)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        names[path.name] = law.law_id
    return names


def passage_article(p: Passage, law_of: Callable[[Passage], str | None]) -> Article | None:
    """The (law, article) a retrieved passage belongs to, None outside any article."""
    law = law_of(p)
    return (law, p.article) if law is not None and p.article is not None else None


def rank_articles(passages: Sequence[Passage], law_of: Callable[[Passage], str | None],
                  depth: int = ARTICLE_DEPTH) -> list[Article]:
    """Chunk ranking → article ranking: first occurrence order, no repeats, at most `depth`."""
    arts = [a for a in (passage_article(p, law_of) for p in passages) if a is not None]
    return m.dedupe(arts)[:depth]  # type: ignore[return-value]


def plain_bm25(laws: Sequence[AlqacLaw]) -> Callable[[str], list[Article]]:
    """The issue's reference: BM25 (bm25s defaults) over lower-cased syllables of whole articles."""
    import bm25s
    import numpy as np

    def tokens(text: str) -> list[str]:
        return _SYLLABLE.findall(text.lower())

    keys = [(a.law_id, a.article_id) for law in laws for a in law.articles]
    model = bm25s.BM25()
    model.index([tokens(a.text) for law in laws for a in law.articles], show_progress=False)

    def retrieve(query: str) -> list[Article]:
        known = [t for t in tokens(query) if t in model.vocab_dict]
        if not known:
            return []
        scores = model.get_scores(known)
        return [keys[i] for i in np.argsort(-scores, kind="stable")[:ARTICLE_DEPTH] if scores[i] > 0]

    return retrieve


@dataclass(frozen=True)
class ArticleOutcome:
    id: str
    gold: tuple[Article, ...]
    ranked: tuple[Article, ...]
    latency_ms: float

    @property
    def rank(self) -> int | None:
        return m.first_relevant_rank([a in self.gold for a in self.ranked])


@dataclass
class ArticleRun:
    name: str
    outcomes: list[ArticleOutcome]
    summary: dict[str, object] = field(default_factory=dict)


def summarize_articles(outcomes: Sequence[ArticleOutcome], f2_k: int) -> dict[str, object]:
    """hit@k, mrr@10, macro F2 of the top-1 and top-k articles, latency percentiles."""
    out: dict[str, object] = {"n": len(outcomes)}
    out.update(m.retrieval_summary([o.rank for o in outcomes]))
    out["f2@1"] = m.macro_f2((o.ranked[:1], o.gold) for o in outcomes)
    out[f"f2@{f2_k}"] = m.macro_f2((o.ranked[:f2_k], o.gold) for o in outcomes)
    lat = [o.latency_ms for o in outcomes]
    out["latency_ms_p50"] = m.percentile(lat, 50)
    out["latency_ms_p95"] = m.percentile(lat, 95)
    return m.rounded(out)


def run_articles(name: str, retrieve: Callable[[str], list[Article]], questions: Sequence[AlqacQuestion],
                 f2_k: int) -> ArticleRun:
    """Retrieve for every question (after one untimed warm-up) and score at article level."""
    if questions:
        retrieve(questions[0].text)
    outcomes = []
    for q in questions:
        t0 = time.perf_counter()
        ranked = retrieve(q.text)
        outcomes.append(ArticleOutcome(id=q.id, gold=tuple(sorted(q.gold)), ranked=tuple(ranked),
                                       latency_ms=(time.perf_counter() - t0) * 1000))
    return ArticleRun(name=name, outcomes=outcomes, summary=summarize_articles(outcomes, f2_k))


def ours_and_dense(engine: Any, questions: Sequence[AlqacQuestion], law_of: Callable[[Passage], str | None],
                   name: str, f2_k: int = 5) -> list[ArticleRun]:
    """Our full path (`name`) and our dense retriever alone (`name-dense`) over one engine's store."""
    return [run_articles(name, lambda q: rank_articles(query_passages(engine, q, CHUNK_DEPTH), law_of),
                         questions, f2_k),
            run_articles(f"{name}-dense", lambda q: rank_articles(search_passages(engine, q, CHUNK_DEPTH, "dense"),
                                                                  law_of), questions, f2_k)]


@contextmanager
def alqac_engine(settings: Settings, embedder: Any, laws: Sequence[AlqacLaw]
                 ) -> Iterator[tuple[Any, Callable[[Passage], str | None], Any, Path]]:
    """The laws converted and ingested (cached by content, pipeline and model) into an engine:
    (engine, the ALQAC law of a passage, the ingest report, the cache folder)."""

    key = cache_key(laws, PIPELINE_VERSION, embedder.model_id, settings.chunk_max_tokens)
    cache = settings.data_dir / "eval-cache" / f"alqac-{key}"
    names = write_converted(laws, cache / "laws")
    engine = open_runtime(store_settings(settings, cache / "store"), embedder=embedder)
    try:
        report = ingest_paths(engine.store, [cache / "laws"])
        for failure in report.failed:
            log.warning("ingest failed for %s: %s", failure.path, failure.error)
        law_by_doc = {d.doc_id: names.get(Path(d.source_key).name, nfc(d.meta.title))
                      for d in engine.store.snapshot.docs.values()}

        def law_of(p: Passage) -> str | None:
            return law_by_doc.get(p.doc_names[0])

        yield engine, law_of, report, cache
    finally:
        engine.close()


def evaluate_alqac(settings: Settings, embedder: Any, laws_dir: Path, questions_path: Path, *,
                   limit: int | None = None, compare: bool = False, f2_k: int = 5,
                   reference: bool = False, question_ids: set[str] | None = None,
                   extra: Sequence[tuple[str, Any, Settings]] = ()) -> dict[str, Any]:
    """Convert, ingest (cached by content hash) and score ALQAC retrieval: ours and, optionally, baselines.

    `question_ids` keeps only those questions (a split); `extra` adds (name, embedder, settings) rows: our
    full path over a store built with that embedder (the untrained or a trained bi-encoder), in the same run."""
    laws = load_laws(laws_dir)
    questions, skipped = load_questions(questions_path, [law.law_id for law in laws])
    if question_ids is not None:
        questions = [q for q in questions if q.id in question_ids]
    questions = questions[:limit] if limit is not None else questions
    model_id = embedder.model_id
    result: dict[str, Any] = {}
    with alqac_engine(settings, embedder, laws) as (engine, our_law, report, cache):
        def ranked(mode: str) -> Callable[[str], list[Article]]:
            return lambda q: rank_articles(search_passages(engine, q, CHUNK_DEPTH, mode), our_law)

        def ours(q: str) -> list[Article]:
            return rank_articles(query_passages(engine, q, CHUNK_DEPTH), our_law)

        runs = [run_articles("policyqa", ours, questions, f2_k)]
        result["ingest"] = report.to_json()
        if compare:
            runs.append(run_articles("bm25", ranked("lexical"), questions, f2_k))
            runs.append(run_articles("dense", ranked("dense"), questions, f2_k))
            docs = [RawDoc(key=law.law_id, text=law_body(law), names=(law.law_id,)) for law in laws]
            lc_key = cache_key(laws, "langchain", CHUNK_SIZE, CHUNK_OVERLAP, model_id)
            lc_dir = settings.data_dir / "eval-cache" / f"alqac-langchain-{lc_key}"
            index = open_langchain_index(lc_dir, embedder, docs)
            result["langchain"] = {"chunks": index.chunks, "build_seconds": round(index.seconds, 2)}
            runs.append(run_articles(
                "langchain", lambda q: rank_articles(langchain_passages(index, q, CHUNK_DEPTH),
                                                     lambda p: p.doc_names[0]), questions, f2_k))
        if reference:
            runs.append(run_articles("bm25-plain", plain_bm25(laws), questions, f2_k))
    for name, other, other_settings in extra:
        with alqac_engine(other_settings, other, laws) as (engine2, law2, _report, _cache):
            runs += ours_and_dense(engine2, questions, law2, name, f2_k)
    result.update({"runs": runs, "questions": len(questions), "skipped_questions": skipped,
                   "laws": len(laws), "cache": str(cache), "embedding_model": model_id})
    return result
