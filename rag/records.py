"""Frozen records that flow between the pipeline steps (ingest → store → retrieve → answer)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

UnitKind = Literal[
    "header",  # administrative header block of a document
    "preamble",  # text before the first structural unit (căn cứ, opening paragraph)
    "phan", "chuong", "muc", "dieu", "khoan", "diem",  # legal structure
    "section", "item", "bullet", "paragraph",  # dispatch structure (I., 1), -, plain paragraph)
    "footnote", "closing",  # footnote body; Nơi nhận + signature block
]


Box = tuple[float, float, float, float]  # x0, y0, x1, y1 as fractions of the page's width and height


@dataclass(frozen=True)
class OcrWord:
    """One word Tesseract read, where it sits in the text and on its page."""

    text: str
    start: int  # offsets into the document text (SourceDocument.text, then ParsedDocument.text once parsed)
    end: int
    page: int  # 1-based page number
    box: Box
    confidence: float  # 0–100, as Tesseract reports it


@dataclass(frozen=True)
class Page:
    """One page of a PDF or image: where its text lies and, for OCR pages, the words and their confidence."""

    number: int  # 1-based
    start: int  # offsets into the document text, like OcrWord's
    end: int
    ocr: bool = False  # text read by OCR (no text layer)
    confidence: float | None = None  # mean word confidence of an OCR page (0–100)
    words: tuple[OcrWord, ...] = ()
    error: str | None = None  # why the page yielded no text, when it failed


@dataclass(frozen=True)
class SourceDocument:
    """Bytes turned into text by a loader; nothing interpreted yet."""

    path: str  # where it came from (display only; never used to open files after loading)
    format: Literal["md", "txt", "docx", "pdf", "html", "png", "jpeg", "tiff"]
    text: str  # extracted text (front matter removed for Markdown)
    sha256: str  # of the raw bytes
    front_matter: dict[str, str] = field(default_factory=dict)  # metadata declared in the file itself
    pages: tuple[Page, ...] = ()  # PDFs and images; empty for formats without pages
    warnings: tuple[str, ...] = ()  # what the loader noticed (failed pages, low OCR confidence)

    @property
    def paged(self) -> bool:
        """Text laid out on pages (PDF or image): line breaks are the layout's, not the author's."""
        return self.format in ("pdf", "png", "jpeg", "tiff")


@dataclass(frozen=True)
class ValidityFact:
    """One statement of a legal text about validity: its own effect, a provision's later effect, or its
    effect on another text (ends, replaces, amends, guides). Offsets point into the document's text."""

    kind: Literal["effective", "effective_part", "ends", "replaces", "amends", "guides", "ends_other"]
    date: str | None  # ISO date the statement gives (resolved: "kể từ ngày Luật này có hiệu lực" → its date)
    target: str | None  # số hiệu of the other text ("23/2008/QH12"), or the provision for effective_part
    target_title: str | None  # the other text's title when it is named by title
    article: str | None  # the Điều the statement is in
    clause: str | None  # its khoản
    start: int
    end: int


@dataclass(frozen=True)
class DocumentMeta:
    """Header metadata of a Vietnamese administrative or legal document."""

    title: str  # human title: "Luật Trật tự, an toàn giao thông đường bộ" or the trích yếu
    doc_type: str | None = None  # loại văn bản, lower case: "công văn", "luật", "nghị định", "thông tư"…
    number: str | None = None  # số hiệu, normalised: "36/2024/QH15", "/STTTT-TTBCXB" when the number is blank
    issued_date: str | None = None  # ISO date "2024-06-27"; None when blank in the original
    issuer: str | None = None  # cơ quan ban hành: "Sở Thông tin và Truyền thông tỉnh Kon Tum", "Quốc hội"
    parent_issuer: str | None = None  # cơ quan chủ quản line above the issuer ("UBND TỈNH KON TUM")
    place: str | None = None  # địa danh: "Kon Tum", "Hà Nội"
    subject: str | None = None  # trích yếu "V/v …"
    recipients: tuple[str, ...] = ()  # Kính gửi
    cc: tuple[str, ...] = ()  # Nơi nhận
    signer: str | None = None  # người ký
    signer_title: str | None = None  # "KT. GIÁM ĐỐC / PHÓ GIÁM ĐỐC"
    effective_from: str | None = None  # ISO date the text takes effect, as it states
    effective_to: str | None = None  # ISO date it states for its own end
    validity: tuple[ValidityFact, ...] = ()  # what it says about its own and other texts' validity
    pages: int | None = None  # page count of a PDF or image (None: a format without pages)
    ocr_pages: tuple[int, ...] = ()  # pages whose text was read by OCR
    ocr_confidence: float | None = None  # mean word confidence over the OCR pages (0–100)
    # who may read it (rag.access): "public" or groups "a|b"; None or malformed = admins only (fails closed)
    audience: str | None = None


@dataclass(frozen=True)
class Footnote:
    label: str  # "1"
    text: str  # footnote body, normalised
    start: int  # offsets of the body in ParsedDocument.text
    end: int
    cited_at: int | None  # offset of the marker in the body text, None when never cited


@dataclass(frozen=True)
class DocReference:
    """A document number recognised in running text (normalised)."""

    number: str  # "652/TTĐN-NVĐP", "36/2024/QH15", "03/2019/TT-BTTTT"
    raw: str  # as written
    start: int
    end: int


@dataclass(frozen=True)
class Unit:
    """One node of the structure tree, flattened in reading order."""

    kind: UnitKind
    label: str  # "Chương II", "Điều 10", "Khoản 2", "Điểm a", "I", "1)", "•"
    title: str  # heading text after the label ("Phạm vi điều chỉnh"), may be ""
    start: int  # offsets in ParsedDocument.text, covering the whole unit incl. children
    end: int
    path: tuple[str, ...]  # labels of ancestors and itself, root first: ("Chương II", "Điều 10", "Khoản 2")
    depth: int


@dataclass(frozen=True)
class ParsedDocument:
    doc_id: str  # stable id derived from the source location, not its content
    source_path: str
    sha256: str
    format: str
    text: str  # normalised full text; every offset in the pipeline points into it
    meta: DocumentMeta
    units: tuple[Unit, ...]
    footnotes: tuple[Footnote, ...] = ()
    references: tuple[DocReference, ...] = ()
    warnings: tuple[str, ...] = ()
    pages: tuple[Page, ...] = ()  # offsets (and OCR words) mapped into `text`


def chunk_id(doc_id: str, breadcrumb: str, text: str) -> str:
    """A chunk's id: a hash of its document, place and text, so unchanged chunks keep theirs across ingests."""
    return hashlib.sha256("\x00".join((doc_id, breadcrumb, text)).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Chunk:
    """The unit of retrieval: one structural unit (or a slice of one) under the token budget."""

    id: str  # hash(doc_id, breadcrumb, text)
    doc_id: str
    ordinal: int  # position in the document
    text: str  # == ParsedDocument.text[start:end]
    start: int
    end: int
    breadcrumb: str  # "Luật 36/2024/QH15 › Chương II › Điều 10 › Khoản 2"
    kind: str
    article: str | None = None  # Điều number ("10") when inside an Điều
    clause: str | None = None  # Khoản number when the chunk is one Khoản
    section: str | None = None  # top-level dispatch section ("I", "II") when applicable
    footnotes: tuple[Footnote, ...] = ()  # footnotes cited inside this chunk
    context: str = ""  # heading context prepended for embedding/lexical search (title, breadcrumb)
    pages: tuple[int, ...] = ()  # pages the chunk's text lies on (PDF, image), first to last
    page_starts: tuple[int, ...] = ()  # where each of those pages begins in the text (the chunk's start at most)
    words: tuple[OcrWord, ...] = ()  # OCR words of the chunk's text, offsets into the document text

    @property
    def page(self) -> int | None:
        """The page the chunk starts on; None for documents without pages."""
        return self.pages[0] if self.pages else None

    def search_text(self) -> str:
        """Text given to the embedder and the lexical index: context, body, cited footnotes."""
        parts = [self.context, self.text] if self.context else [self.text]
        parts.extend(f"[{f.label}] {f.text}" for f in self.footnotes)
        return "\n".join(parts)


@dataclass(frozen=True)
class StoredDocument:
    """What the store knows about one ingested document."""

    doc_id: str
    source_key: str  # absolute source path (or "upload:<name>") used to detect removals
    root: str  # the folder it was ingested from ("" for uploads and single files)
    sha256: str
    format: str
    meta: DocumentMeta
    text: str
    chunk_ids: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    ingested_at: str = ""


@dataclass(frozen=True)
class IngestFailure:
    path: str
    error: str


@dataclass(frozen=True)
class IngestReport:
    documents: int  # documents in the store after the run
    chunks: int  # chunks in the store after the run
    added: int  # chunks newly written
    updated: int  # documents whose content changed
    removed: int  # chunks removed
    unchanged: int  # documents skipped because their content hash was unchanged
    failed: tuple[IngestFailure, ...] = ()
    ingested: tuple[str, ...] = ()  # doc ids written or refreshed in this run
    warnings: tuple[str, ...] = ()
    seconds: float = 0.0
    stages: tuple[tuple[str, float], ...] = ()  # (stage, seconds): rag.timing.STAGES

    @property
    def nothing_ingested(self) -> bool:
        """Every file failed: nothing was ingested and nothing was already there unchanged."""
        return bool(self.failed) and not self.ingested and not self.unchanged

    def to_json(self) -> dict[str, object]:
        return {
            "documents": self.documents,
            "chunks": self.chunks,
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "failed": [{"path": f.path, "error": f.error} for f in self.failed],
            "ingested": list(self.ingested),
            "warnings": list(self.warnings),
            "seconds": round(self.seconds, 3),
            "stages": {name: round(sec, 3) for name, sec in self.stages},
        }


# ---- retrieval and answers -------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    doc_type: str | None = None  # "công văn", "luật"…
    number: str | None = None  # số hiệu (normalised before comparing)
    doc_id: str | None = None
    issuer: str | None = None  # substring, accent- and case-insensitive
    date_from: str | None = None  # ISO dates, inclusive
    date_to: str | None = None
    exclude_doc_ids: tuple[str, ...] = ()  # documents left out (leave-one-document-out evaluation)


@dataclass(frozen=True)
class Turn:
    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its scores."""

    chunk: Chunk
    score: float  # fused score (higher is better)
    dense: float | None = None  # cosine similarity
    lexical: float | None = None  # BM25 score
    rank: int = 0
    title: str = ""
    number: str | None = None


@dataclass(frozen=True)
class Citation:
    n: int
    doc_id: str
    chunk_id: str
    title: str
    number: str | None
    breadcrumb: str
    quote: str  # exact supporting span, == document text[start:end]
    start: int  # offsets into the stored normalised document text
    end: int
    doc_type: str | None = None
    issued_date: str | None = None
    issuer: str | None = None
    status: str | None = None  # validity on the question's date: in_force, ended, not_yet (None: unknown)
    replaced_by: str | None = None  # số hiệu of the text that ended it, when one is stored
    ended_on: str | None = None  # ISO date it ended
    page: int | None = None  # page the quote starts on (PDF, image); None for documents without pages
    pages: tuple[int, ...] = ()  # every page the quote spans
    boxes: tuple[tuple[int, float, float, float, float], ...] = ()  # (page, x0, y0, x1, y1) of the quoted OCR
    # words, fractions of the page; only when the quote maps onto them with high confidence
    ocr_confidence: float | None = None  # mean confidence of the quoted OCR words (0–100)
    highlight_note: str | None = None  # why the quote is not highlighted on its OCR page


@dataclass(frozen=True)
class Answer:
    question: str
    standalone_question: str  # after follow-up rewriting
    text: str  # answer with [n] markers
    citations: tuple[Citation, ...]
    abstained: bool
    related: tuple[Hit, ...] = ()  # closest passages when abstaining (not an answer)
    hits: tuple[Hit, ...] = ()  # what retrieval returned, best first (for eval and debugging)
    language: Literal["vi", "en"] = "vi"
    removed_sentences: int = 0  # sentences the verifier dropped
    mode: str = "extractive"
    warnings: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)  # milliseconds per stage


@dataclass(frozen=True)
class SearchResult:
    """Passages retrieved for a question (rag.answer.entry.search), without an answer."""

    question: str
    standalone_question: str  # the question rewritten to stand alone (follow-ups), as retrieval read it
    hits: tuple[Hit, ...]
