"""Hybrid retrieval: dense (Chroma) + lexical (BM25), fused; metadata filters; exact-reference fast path."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import numpy as np

from rag.query import QueryInfo, expand_abbreviations, understand
from rag.records import Filters, Hit
from rag.road_users import asked_road_users, other_road_users
from rag.store.lexical import analyze_query
from rag.store.store import Snapshot
from rag.text.diacritics import Lexicon, build_lexicon, restore, table_phrases
from rag.text.docnumber import normalize_doc_number
from rag.text.normalize import bare_words, fold_accents
from rag.text.places import asks_local_text, lower_words, mentions_place, places_named
from rag.text.question_kinds import penalty_act
from rag.validity_status import DocStatus, stale_docs

log = logging.getLogger(__name__)

Mode = Literal["hybrid", "dense", "lexical"]


def allowed_docs(snapshot: Snapshot, filters: Filters | None) -> set[str] | None:
    """Doc ids passing the metadata filters within the snapshot's scope; None when neither restricts."""
    if filters is None or not any(vars(filters).values()):
        return None if snapshot.scope is None else set(snapshot.scope)
    number = normalize_doc_number(filters.number) if filters.number else None
    issuer = fold_accents(filters.issuer) if filters.issuer else None
    keep: set[str] = set()
    for doc_id, doc in snapshot.docs.items():
        m = doc.meta
        if doc_id in filters.exclude_doc_ids:
            continue
        if filters.doc_id and doc_id != filters.doc_id:
            continue
        if filters.doc_type and fold_accents(m.doc_type or "") != fold_accents(filters.doc_type):
            continue
        if number and normalize_doc_number(m.number or "") != number:
            continue
        if issuer and issuer not in fold_accents(" ".join(filter(None, [m.issuer, m.parent_issuer]))):
            continue
        if filters.date_from and (not m.issued_date or m.issued_date < filters.date_from):
            continue
        if filters.date_to and (not m.issued_date or m.issued_date > filters.date_to):
            continue
        keep.add(doc_id)
    return keep


def dense_scores(engine: Any, query: str, n: int, allowed: set[str] | None,
                 snapshot: Snapshot) -> dict[str, float]:
    """Cosine similarity of the n nearest chunks visible in the snapshot."""
    vector = engine.embedder.embed_query_np(query)
    where = None
    if allowed is None and snapshot.scope is not None:  # a reader's view: never search outside it
        allowed = set(snapshot.scope)
    if allowed is not None:
        if not allowed:
            return {}
        where = {"doc_id": {"$in": sorted(allowed)}} if len(allowed) > 1 else {"doc_id": next(iter(allowed))}
    with engine.store.reading():
        pairs = engine.store.vectors.query(vector, n, where)
    # Chroma may already hold chunks of a document still being ingested; the snapshot decides visibility.
    return {cid: s for cid, s in pairs if cid in snapshot.chunks}


def _mask(snapshot: Snapshot, allowed: set[str] | frozenset[str]) -> np.ndarray:
    """Which lexical index rows belong to allowed documents (the index may hold chunks the view hides)."""
    chunks, ids = snapshot.chunks, snapshot.lexical.ids
    return np.fromiter(((c := chunks.get(cid)) is not None and c.doc_id in allowed for cid in ids),
                       dtype=bool, count=len(ids))


def lexical_scores(snapshot: Snapshot, tokens: list[str], n: int, allowed: set[str] | None) -> dict[str, float]:
    """BM25 scores of the n best chunks (positive scores only)."""
    scores = snapshot.lexical.scores(tokens)
    if allowed is None and snapshot.scope is not None:  # a reader's view: the index is shared, so mask it
        mask = snapshot.derived.get("scope_mask")
        if mask is None:  # once per view, not per query
            mask = snapshot.derived["scope_mask"] = _mask(snapshot, snapshot.scope)
        scores = np.where(mask, scores, 0.0)
    elif allowed is not None:
        scores = np.where(_mask(snapshot, allowed), scores, 0.0)
    if not len(scores):
        return {}
    top = np.argsort(-scores, kind="stable")[:n]
    return {snapshot.lexical.ids[i]: float(scores[i]) for i in top if scores[i] > 0}


def fuse_weighted(dense: dict[str, float], lexical: dict[str, float], dense_weight: float) -> dict[str, float]:
    """Weighted sum of max-normalised scores (a missing score counts as 0)."""
    dmax = max(dense.values(), default=0.0) or 1.0
    lmax = max(lexical.values(), default=0.0) or 1.0
    dmin = min(dense.values(), default=0.0)
    span = (dmax - dmin) or 1.0
    fused: dict[str, float] = {}
    for cid in set(dense) | set(lexical):
        d = (dense[cid] - dmin) / span if cid in dense else 0.0
        lx = lexical.get(cid, 0.0) / lmax
        fused[cid] = dense_weight * d + (1.0 - dense_weight) * lx
    return fused


def fuse_rrf(rankings: Iterable[dict[str, float]], k: int = 60) -> dict[str, float]:
    """Reciprocal rank fusion of several score maps."""
    fused: dict[str, float] = {}
    for scores in rankings:
        for rank, cid in enumerate(sorted(scores, key=lambda c: -scores[c]), start=1):
            fused[cid] = fused.get(cid, 0.0) + 1.0 / (k + rank)
    return fused


def _hits(snapshot: Snapshot, fused: dict[str, float], dense: dict[str, float], lexical: dict[str, float],
          k: int) -> list[Hit]:
    ranked = sorted(fused, key=lambda c: (-fused[c], c))[:k]
    hits = []
    for rank, cid in enumerate(ranked, start=1):
        chunk = snapshot.chunks[cid]
        meta = snapshot.docs[chunk.doc_id].meta
        hits.append(Hit(chunk=chunk, score=fused[cid], dense=dense.get(cid), lexical=lexical.get(cid),
                        rank=rank, title=meta.title, number=meta.number))
    return hits


def _scored(engine: Any, snapshot: Snapshot, *, dense_query: str | None, lexical_query: str | None, n: int,
            allowed: set[str] | None, timings: dict[str, float] | None) -> tuple[dict[str, float], dict[str, float]]:
    """Dense and lexical candidate scores (a None query skips that retriever), timed into `timings`."""
    t0 = time.perf_counter()
    dense = dense_scores(engine, dense_query, n, allowed, snapshot) if dense_query is not None else {}
    t1 = time.perf_counter()
    lexical = lexical_scores(snapshot, analyze_query(lexical_query), n, allowed) if lexical_query is not None else {}
    if timings is not None:
        timings["dense_ms"] = (t1 - t0) * 1000
        timings["lexical_ms"] = (time.perf_counter() - t1) * 1000
    return dense, lexical


def fuse(dense: dict[str, float], lexical: dict[str, float], *, fusion: str, dense_weight: float,
         rrf_k: int) -> dict[str, float]:
    """The configured fusion of the two retrievers' scores."""
    if fusion == "rrf":
        return fuse_rrf([dense, lexical], rrf_k)
    return fuse_weighted(dense, lexical, dense_weight)


def search(engine: Any, query: str, *, k: int = 10, filters: Filters | None = None, mode: Mode = "hybrid",
           fusion: str | None = None, dense_weight: float | None = None,
           timings: dict[str, float] | None = None) -> list[Hit]:
    """The k best chunks for a raw query string, best first (one retriever alone, or both fused)."""
    settings = engine.settings
    snapshot = engine.store.snapshot
    dense, lexical = _scored(engine, snapshot, dense_query=query if mode in ("hybrid", "dense") else None,
                             lexical_query=query if mode in ("hybrid", "lexical") else None,
                             n=max(settings.candidates, k), allowed=allowed_docs(snapshot, filters), timings=timings)
    if mode == "dense":
        fused = dict(dense)
    elif mode == "lexical":
        fused = dict(lexical)
    else:
        fused = fuse(dense, lexical, fusion=fusion or settings.fusion, rrf_k=settings.rrf_k,
                     dense_weight=settings.dense_weight if dense_weight is None else dense_weight)
    return _hits(snapshot, fused, dense, lexical, k)


# A document named by type and the first part of its number, without the symbol (accent-folded question).
_SHORT_KINDS = {"luat": "luat", "bo luat": "bo luat", "nghi dinh": "nghi dinh", "nd": "nghi dinh",
                "thong tu": "thong tu", "tt": "thong tu", "quyet dinh": "quyet dinh", "qd": "quyet dinh",
                "nghi quyet": "nghi quyet", "nq": "nghi quyet"}
_SHORT_NUMBER = re.compile(r"\b(bo luat|luat|nghi dinh|nd|thong tu|tt|quyet dinh|qd|nghi quyet|nq)\s+(?:so\s+)?"
                           r"(\d{1,4})(?:/(\d{4}))?(?![\d/])")


# A legal text named by its type and a capitalised title ("Bộ luật Hình sự", "Luật Đất đai").
_TITLED = re.compile(r"(?<!\w)(?:bộ luật|luật|nghị định|thông tư|pháp lệnh|nghị quyết)\s+(\w+)", re.IGNORECASE)


def names_unknown_document(snapshot: Snapshot, info: QueryInfo) -> bool:
    """The question names a legal text by title or number that is not in the store."""
    if info.numbers and not any(normalize_doc_number(d.meta.number or "") in
                                {normalize_doc_number(n) for n in info.numbers} for d in snapshot.docs.values()):
        return True
    titled = any(_is_title(info.standalone, m) for m in _TITLED.finditer(info.standalone))
    return titled and not named_documents(snapshot, info)


# "các dự án luật Quốc hội thông qua", "nghị định Chính phủ ban hành": the body that passes a text, not its title
_ISSUERS = ("quốc hội", "chính phủ", "nhà nước", "thủ tướng")


def _is_title(text: str, m: re.Match[str]) -> bool:
    """A capitalised word after a text type starts a title, unless it is the body that passes such texts."""
    return m.group(1)[:1].isupper() and not text[m.start(1):].lower().startswith(_ISSUERS)


def unknown_names(snapshot: Snapshot, info: QueryInfo) -> list[str]:
    """How the question names the legal texts it asks about that the store does not hold, folded: their
    numbers ("03 2019 tt btttt") and their titles' first words ("luat bao hiem"), as bare words; [] when it
    names a stored text or none."""
    if named_documents(snapshot, info):
        return []
    stored = {normalize_doc_number(d.meta.number or "") for d in snapshot.docs.values()}
    names = [bare_words(n) for n in info.numbers if normalize_doc_number(n) not in stored]
    text = expand_abbreviations(info.standalone)
    for m in _TITLED.finditer(text):
        if _is_title(text, m):
            words = bare_words(text[m.start():]).split()
            kind_len = 2 if words[:2] in (["bo", "luat"], ["nghi", "dinh"], ["thong", "tu"], ["phap", "lenh"],
                                          ["nghi", "quyet"]) else 1
            names.append(" ".join(words[:kind_len + 2]))
    return names


def unknown_places(snapshot: Snapshot, info: QueryInfo, allowed: set[str] | None = None) -> list[str]:
    """Places whose local text the question asks about ("công văn của Sở … tỉnh Gia Lai") that no document it
    may be answered from (`allowed`; None: all) mentions; [] when it asks about no local text."""
    if not asks_local_text(info.standalone):
        return []
    named = places_named(info.standalone)
    if not named:
        return []
    texts: dict[str, str] | None = snapshot.derived.get("lower_words")
    if texts is None:
        texts = {doc_id: lower_words(doc.text) for doc_id, doc in snapshot.docs.items()}
        snapshot.derived["lower_words"] = texts
    kept = [t for d, t in texts.items() if allowed is None or d in allowed]
    return [p for p in named if not any(mentions_place(t, p) for t in kept)]


def mentions_any(text: str, names: Iterable[str]) -> bool:
    """The text names one of unknown_names' names (abbreviations expanded, accents and punctuation ignored)."""
    bare = f" {bare_words(expand_abbreviations(text))} "
    return any(f" {n} " in bare for n in names)


def named_documents(snapshot: Snapshot, info: QueryInfo) -> list[str]:
    """Documents the question names by số hiệu or by title (longest title match wins ties)."""
    folded_q = fold_accents(info.standalone)
    named: list[str] = []
    wanted = {normalize_doc_number(n) for n in info.numbers}
    for doc_id, doc in snapshot.docs.items():
        if doc.meta.number and normalize_doc_number(doc.meta.number) in wanted:
            named.append(doc_id)
    if named:
        return named
    for m in _SHORT_NUMBER.finditer(folded_q):  # "Nghị định 168", "Luật số 36", "luật 23/2008"
        kind = _SHORT_KINDS[m.group(1)]
        for doc_id, doc in snapshot.docs.items():
            number = doc.meta.number or ""
            if fold_accents(doc.meta.doc_type or "") == kind and number.split("/")[0] == m.group(2) and (
                    not m.group(3) or number.split("/")[1:2] == [m.group(3)]):
                named.append(doc_id)
    if named:
        return named
    best = 0
    bare_q = bare_words(folded_q)
    for doc_id, doc in snapshot.docs.items():
        title = bare_words(doc.meta.title or "")  # "Luật Trật tự an toàn…" names "Luật Trật tự, an toàn…"
        if len(title) >= 8 and f" {title} " in f" {bare_q} ":
            if len(title) > best:
                named, best = [doc_id], len(title)
            elif len(title) == best:
                named.append(doc_id)
    return named


def exact_units(snapshot: Snapshot, doc_ids: list[str], info: QueryInfo) -> list[str]:
    """Chunk ids of the Điều (and Khoản) the question points at inside the named documents."""
    if not info.article:
        return []
    out = []
    for doc_id in doc_ids:
        for cid in snapshot.by_doc.get(doc_id, ()):
            c = snapshot.chunks[cid]
            if c.article == info.article and (not info.clause or c.clause in (None, info.clause)):
                out.append(cid)
    return out


NAMED_DOC_BOOST = 0.5


def restore_lexicon(snapshot: Snapshot) -> Lexicon:
    """The diacritic-restoration lexicon of a snapshot's texts, built on the first unaccented question."""
    lexicon = snapshot.derived.get("restore")
    if lexicon is None:
        lexicon = snapshot.derived["restore"] = build_lexicon((c.text for c in snapshot.chunks.values()),
                                                              table_phrases())
    return lexicon  # type: ignore[no-any-return]


def _hybrid(engine: Any, snapshot: Snapshot, info: QueryInfo, n: int, allowed: set[str] | None,
            timings: dict[str, float] | None) -> tuple[dict[str, float], dict[str, float]]:
    """Dense and lexical scores of an understood question (typed without diacritics: both retrievers read the
    corpus's own spelling too)."""
    restored = restore(info.standalone, restore_lexicon(snapshot)) if info.unaccented else None
    return _scored(engine, snapshot, dense_query=restored or info.standalone,
                   lexical_query=_lexical_query(snapshot, info, restored), n=n, allowed=allowed, timings=timings)


def _lexical_query(snapshot: Snapshot, info: QueryInfo, restored: str | None = None) -> str:
    """The lexical query: the question with its expansions, and its restored spelling when typed without
    diacritics."""
    if info.unaccented:
        return " ".join([info.expanded, restored or restore(info.standalone, restore_lexicon(snapshot))])
    return info.expanded


def add_scores(fused: dict[str, float], other: dict[str, float], weight: float) -> dict[str, float]:
    """Two fused score maps, each scaled to its best, added (the second with `weight`)."""
    a, b = max(fused.values(), default=0.0) or 1.0, max(other.values(), default=0.0) or 1.0
    return {cid: fused.get(cid, 0.0) / a + weight * other.get(cid, 0.0) / b for cid in set(fused) | set(other)}


NOT_IN_FORCE_PENALTY = 0.5  # a text not in force on the question's date ranks below the one in force


def search_query(engine: Any, info: QueryInfo, *, k: int = 10, filters: Filters | None = None,
                 timings: dict[str, float] | None = None, statuses: Mapping[str, DocStatus] | None = None) -> list[Hit]:
    """Our retrieval for an understood question: hybrid search plus the exact-reference fast path.

    With statuses (validity on the question's date), chunks of texts not in force are down-weighted unless
    the question names them."""
    settings = engine.settings
    snapshot = engine.store.snapshot
    named = named_documents(snapshot, info)
    exact = exact_units(snapshot, named, info)
    if exact and filters is None:
        # Fast path: the question names the unit; rank it first without asking the embedder.
        chunks = {cid: 1.0 for cid in exact}
        lex = lexical_scores(snapshot, analyze_query(info.expanded), max(settings.candidates, k), None)
        fused = {**{cid: 0.5 * s / (max(lex.values()) or 1.0) for cid, s in lex.items()}, **chunks}
        return _hits(snapshot, fused, {}, lex, k)
    allowed = allowed_docs(snapshot, filters)
    dense, lexical = _hybrid(engine, snapshot, info, max(settings.candidates, k), allowed, timings)
    fused = fuse(dense, lexical, fusion=settings.fusion, dense_weight=settings.dense_weight, rrf_k=settings.rrf_k)
    act = penalty_act(info.standalone) if settings.penalty_act_weight > 0 else ""
    if act and len(act.split()) >= 2 and act != info.standalone:
        # "… bị phạt bao nhiêu, có bị trừ điểm bằng lái không?": those words fit every fine clause and points
        # clause of a decree alike and drown the few that name the act; BM25 over the act alone finds the
        # point that names it (a dense search of the act did not help: corpus_holdout citation precision
        # 0.926 → 0.901).
        act_lexical = lexical_scores(snapshot, analyze_query(_lexical_query(snapshot, understand(act))),
                                     max(settings.candidates, k), allowed)
        fused = add_scores(fused, act_lexical, settings.penalty_act_weight)
        lexical = {**act_lexical, **lexical}
    keep = set(named)
    if named:
        boost = NAMED_DOC_BOOST * (max(fused.values(), default=0.0) or 1.0)
        fused = {cid: s + boost if snapshot.chunks[cid].doc_id in keep else s for cid, s in fused.items()}
    users = asked_road_users(info.standalone)
    if users and settings.road_user_factor < 1.0:
        fused = {cid: s * settings.road_user_factor if other_road_users(snapshot.chunks[cid], users) else s
                 for cid, s in fused.items()}
    if statuses:
        stale = stale_docs(statuses, keep)
        if stale:
            fused = {cid: s * NOT_IN_FORCE_PENALTY if snapshot.chunks[cid].doc_id in stale else s
                     for cid, s in fused.items()}
    return _hits(snapshot, fused, dense, lexical, k)
