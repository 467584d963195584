"""Scans of the default corpus: the dispatch whole, and the header and first two articles of each law."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from evals.scans.degrade import LEVELS, Degradation, degrade, to_pdf
from evals.scans.render import ScanDocument, render_pages
from ingest.load import discover, load_file
from ingest.parse.document import prepare_text

_RULE = re.compile(r"^[-_=–—*.\s]*$")
_FN_MARK = re.compile(r"\[\^(\w{1,4})\]")
_FN_BODY = re.compile(r"^\[\^(\w{1,4})\]:\s*")
_ARTICLE = re.compile(r"^Điều\s+(\d+)", re.MULTILINE)


@dataclass(frozen=True)
class ScanFile:
    name: str  # file name, the same stem as the text original (so the document id is the same)
    data: bytes
    pages: int
    reference: str  # the text the pages show, in reading order


def _paras(text: str) -> list[str]:
    return [p.strip() for p in text.split("\n\n") if p.strip() and not _RULE.match(p)]


def _lines(p: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in p.split("\n") if x.strip() and not _RULE.match(x))


def scan_document(text: str, *, articles: int | None = None) -> ScanDocument:
    """An official-layout page description of a document's normalised text (header, body, closing).

    With `articles`, the body stops before article `articles + 1` (laws: the header and the first articles)."""
    paras = _paras(text)
    left, right = list(_lines(paras[0])), list(_lines(paras[1]))
    if len(right) > 2:  # motto and its line joined: keep the two lines, the rest is body
        right = right[:2]
    number, date = paras[2], paras[3] if ", ngày" in paras[3] else ""
    rest = paras[4 if date else 3:]
    subject: list[str] = []
    if rest and rest[0].startswith("V/v"):
        subject = [rest.pop(0)]
    body: list[str] = []
    cc: list[str] = []
    signature: list[str] = []
    signer = ""
    notes: list[str] = []
    for i, p in enumerate(rest):
        if _FN_BODY.match(p):
            notes.append(_FN_BODY.sub(lambda m: f"({m[1]}) ", p))
        elif p.startswith("Nơi nhận"):
            cc = [*_lines(p)]
            tail = rest[i + 1:]
            while tail and tail[0].startswith("-"):
                cc += _lines(tail.pop(0))
            sig = [x for x in tail if not _FN_BODY.match(x)]
            signature = [ln for s in sig[:-1] for ln in _lines(s)]
            signer = sig[-1] if sig else ""
            notes += [_FN_BODY.sub(lambda m: f"({m[1]}) ", x) for x in tail if _FN_BODY.match(x)]
            break
        else:
            body += [_FN_MARK.sub(lambda m: f"({m[1]})", ln) for ln in _lines(p)]
    if articles is not None:
        cut = next((k for k, p in enumerate(body) if (m := _ARTICLE.match(p)) and int(m[1]) > articles), len(body))
        body = body[:cut]
    title: list[str] = []
    while body and (body[0].isupper() or (title and len(title) < 2 and not body[0].startswith("Căn cứ"))):
        title.append(body.pop(0))
    return ScanDocument(tuple(left), tuple(right), number, date, tuple(subject), tuple(title),
                        tuple(body + notes), tuple(cc), tuple(signature), signer)


def corpus_documents(corpus: Path) -> list[tuple[str, ScanDocument]]:
    """(file stem, page description) of the corpus's dispatch and its laws (two articles each)."""
    out = []
    for path in sorted(corpus.iterdir()):
        if path.suffix not in (".md", ".txt") or path.stem in ("provenance", "catalog"):
            continue
        text = prepare_text(load_file(path))
        out.append((path.stem, scan_document(text, articles=None if path.suffix == ".md" else 2)))
    return out


def build_scan(stem: str, doc: ScanDocument, level: Degradation = LEVELS["scan"], seed: int = 0) -> ScanFile:
    """An image-only PDF of the document at a degradation level; the last page is photographed when the level
    is `scan` (a phone picture among scanned pages, as officials send them)."""
    pages = render_pages(doc, dpi=level.dpi, seed=seed)
    damaged = []
    for i, page in enumerate(pages):
        lvl = LEVELS["photo"] if level.name == "scan" and len(pages) > 1 and i == len(pages) - 1 else level
        damaged.append(degrade(page, lvl, seed=seed + i))
    return ScanFile(f"{stem}.pdf", to_pdf(damaged, level.dpi), len(pages), doc.reference())


def scan_corpus(corpus: Sequence[Path], folder: Path, level: Degradation = LEVELS["scan"]) -> list[Path]:
    """Each text document of the corpus (files and folders) written under `folder` as an image-only PDF of the
    whole document, at the path that gives it the text original's document id (the same stem; the same
    relative path inside a folder), so relevance judgements made for the text carry over to the scan."""
    written = []
    for root, path in discover(list(corpus)):
        if path.suffix not in (".md", ".txt") or path.stem in ("provenance", "catalog"):
            continue
        inside = path.relative_to(root)  # a file given alone is its parent folder's child
        text = prepare_text(load_file(path))
        scan = build_scan(path.stem, scan_document(text), level)
        out = folder / inside.with_suffix(".pdf")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(scan.data)
        written.append(out)
    return written
