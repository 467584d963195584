"""Request and response bodies of the API; separate from the internal records in rag/records.py."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool

from rag.records import Answer, Citation, Filters, Hit, StoredDocument, Turn
from rag.shapes import answer_to_json, document_summary, hit_to_json

# Hard ceilings for the schema; the configured (usually lower) limits are checked in the routes.
QUESTION_CEILING = 8_000
TURN_CEILING = 8_000  # one earlier turn or chat message (answers are a few sentences)
HISTORY_CEILING = 200
TOP_K_MAX = 50


def _iso_string(value: object) -> object:
    # pydantic would read a number as a Unix timestamp; a filter date must be written as YYYY-MM-DD.
    if not isinstance(value, str | dt.date):
        raise ValueError("must be an ISO date string (YYYY-MM-DD)")
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_iso_string)]


def json_integer(value: object) -> object:
    # JSON Schema's integer: 5 and 5.0, but not true, "5" or 5.5 (pydantic's lax mode takes the first two).
    if isinstance(value, bool) or not isinstance(value, int | float | None):
        raise ValueError("must be an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("must be an integer")
        return int(value)
    return value


# Constraints go before the validator so they stay JSON Schema keywords (minimum/maximum) in the document.
TopK = Annotated[int, Field(ge=1, le=TOP_K_MAX), BeforeValidator(json_integer)]

EXAMPLE_QUESTION = "Các cơ quan báo chí cần tuyên truyền những nội dung gì về quyền con người?"


class Problem(BaseModel):
    """RFC 9457 problem details (every error response)."""

    type: str = Field(examples=["https://policyqa.local/problems/validation-error"])
    title: str = Field(examples=["Unprocessable Content"])
    status: int = Field(examples=[422])
    detail: str = Field(examples=["body.question: String should have at least 1 character"])
    instance: str | None = Field(default=None, examples=["/v1/ask"])


_PROBLEM_TEXT = {
    400: "Malformed request",
    401: "Missing or invalid API key",
    403: "The key's role is too low (or a cited document left its audience)",
    404: "Not found, or not this key's",
    409: "The conversation is full",
    413: "Body or upload too large",
    415: "Unsupported file type",
    422: "Invalid field (the detail names it)",
    429: "Rate limit exceeded; see Retry-After",
    503: "Store unavailable or not ready",
}


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem responses an operation can give."""
    return {
        code: {
            "model": Problem,
            "description": _PROBLEM_TEXT[code],
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for code in codes
    }


# ---- ask ----------------------------------------------------------------------------------------


class TurnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: str = Field(max_length=TURN_CEILING)

    def to_turn(self) -> Turn:
        return Turn(role=self.role, content=self.content)


class FiltersIn(BaseModel):
    """Metadata filters; all given filters must match."""

    model_config = ConfigDict(extra="forbid")

    doc_type: str | None = Field(default=None, max_length=100, description="Loại văn bản", examples=["công văn"])
    number: str | None = Field(default=None, max_length=100, description="Số hiệu", examples=["/STTTT-TTBCXB"])
    doc_id: str | None = Field(default=None, max_length=200)
    issuer: str | None = Field(
        default=None,
        max_length=200,
        description="Cơ quan ban hành (substring)",
        examples=["Sở Thông tin và Truyền thông"],
    )
    date_from: IsoDate | None = Field(
        default=None, description="Issued on or after (ISO date)", examples=["2024-01-01"]
    )
    date_to: IsoDate | None = Field(default=None, description="Issued on or before (ISO date)")

    def to_filters(self) -> Filters | None:
        f = Filters(
            doc_type=self.doc_type,
            number=self.number,
            doc_id=self.doc_id,
            issuer=self.issuer,
            date_from=self.date_from.isoformat() if self.date_from else None,
            date_to=self.date_to.isoformat() if self.date_to else None,
        )
        return f if any(vars(f).values()) else None


class AskRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"question": EXAMPLE_QUESTION},
                {
                    "question": "Còn Đài Phát thanh – Truyền hình tỉnh thì sao?",
                    "history": [
                        {"role": "user", "content": "Các cơ quan báo chí phải làm gì?"},
                        {
                            "role": "assistant",
                            "content": "Đẩy mạnh phổ biến, tuyên truyền các nội dung trên [1].",
                        },
                    ],
                    "filters": {"doc_type": "công văn"},
                    "top_k": 5,
                },
            ]
        },
    )

    question: str = Field(
        min_length=1,
        max_length=QUESTION_CEILING,
        description="The question (Vietnamese or English); the configured limit POLICYQA_MAX_QUESTION_CHARS applies",
    )
    history: list[TurnIn] = Field(
        default_factory=list,
        max_length=HISTORY_CEILING,
        description="Earlier turns, oldest first (POLICYQA_MAX_HISTORY_TURNS applies)",
    )
    filters: FiltersIn | None = None
    top_k: TopK | None = Field(default=None, description="Passages given to the composer")
    stream: StrictBool = Field(default=False, description="Stream typed SSE events (same as Accept: text/event-stream)")
    as_of: IsoDate | None = Field(default=None, examples=["2024-06-01"],
                                  description="Answer from the texts in force on this date (ISO, default today); "
                                              "citations report each text's status on it")
    conversation_id: str | None = Field(
        default=None, pattern="^[0-9a-f]{32}$",
        description="A saved conversation of this key (POST /v1/conversations): its stored exchanges are the "
                    "history (do not send `history` too) and this exchange is appended to it")


class CitationOut(BaseModel):
    n: int = Field(description="The [n] marker in the answer text")
    doc_id: str
    chunk_id: str
    title: str
    number: str | None
    breadcrumb: str = Field(examples=["Công văn /STTTT-TTBCXB › II. › 1."])
    quote: str = Field(description="Exact supporting span: the document text between start and end")
    start: int
    end: int
    doc_type: str | None = None
    issued_date: str | None = None
    issuer: str | None = None
    status: Literal["in_force", "ended", "not_yet"] | None = Field(
        default=None, description="Validity of the cited text on the question's date (null: not stated)")
    replaced_by: str | None = Field(default=None, description="Số hiệu of the stored text that ended it")
    ended_on: str | None = Field(default=None, description="ISO date it ended")
    page: int | None = Field(default=None, description="Page the quote starts on (PDF, scan); null without pages")
    pages: list[int] = Field(default_factory=list, description="Every page the quote spans")
    boxes: list[tuple[int, float, float, float, float]] = Field(
        default_factory=list, description="(page, x0, y0, x1, y1) of the quoted OCR words, fractions of the page; "
                                          "empty unless the quote maps onto them with high confidence")
    ocr_confidence: float | None = Field(default=None, description="Mean OCR confidence of the quoted words")
    highlight_note: str | None = Field(default=None, description="Why the quote is not highlighted on its page")

    @classmethod
    def of(cls, c: Citation) -> CitationOut:
        return cls(**asdict(c))


class PassageOut(BaseModel):
    chunk_id: str
    doc_id: str
    title: str
    number: str | None
    breadcrumb: str
    text: str
    start: int
    end: int
    article: str | None
    score: float
    dense: float | None
    lexical: float | None
    rank: int
    page: int | None = Field(default=None, description="Page the passage starts on (PDF, scan); null without pages")
    pages: list[int] = Field(default_factory=list, description="Pages the passage lies on")

    @classmethod
    def of(cls, h: Hit) -> PassageOut:
        return cls(**hit_to_json(h))


class AnswerOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "question": EXAMPLE_QUESTION,
                    "standalone_question": EXAMPLE_QUESTION,
                    "answer": "Thông tin tuyên truyền khẳng định chính sách nhất quán của Việt Nam "
                    "trong việc bảo vệ và thúc đẩy quyền con người [1].",
                    "abstained": False,
                    "language": "vi",
                    "citations": [
                        {
                            "n": 1,
                            "doc_id": "dispatch-stttt-ttbcxb",
                            "chunk_id": "3f2a…",
                            "title": "thông tin, tuyên truyền về quyền con người",
                            "number": "/STTTT-TTBCXB",
                            "breadcrumb": "Công văn /STTTT-TTBCXB › I. › 1)",
                            "quote": "Thông tin tuyên truyền khẳng định chính sách "
                            "nhất quán của Việt Nam trong việc bảo vệ và thúc đẩy quyền con người",
                            "start": 812,
                            "end": 905,
                        }
                    ],
                    "related": [],
                    "removed_sentences": 0,
                    "mode": "extractive",
                    "warnings": [],
                    "timings": {"retrieve_ms": 41.2, "compose_ms": 3.9, "total_ms": 45.5},
                }
            ]
        }
    )

    question: str
    standalone_question: str = Field(description="The question after follow-up rewriting")
    answer: str = Field(description="Answer text with [n] citation markers")
    abstained: bool = Field(
        description="True when the documents do not answer; `related` then lists the "
        "closest passages, which are not an answer"
    )
    language: Literal["vi", "en"]
    citations: list[CitationOut]
    related: list[PassageOut]
    removed_sentences: int
    mode: str
    warnings: list[str]
    timings: dict[str, float] = Field(description="Milliseconds per stage")
    answer_id: str | None = Field(default=None, description="This answer's id in the audit trail: "
                                  "GET /v1/answers/{answer_id}/export with the same key exports it")

    @classmethod
    def of(cls, ans: Answer, answer_id: str | None = None) -> AnswerOut:
        return cls.model_validate({**answer_to_json(ans), "answer_id": answer_id})


# ---- search -------------------------------------------------------------------------------------


class SearchOut(BaseModel):
    query: str
    standalone_query: str
    hits: list[PassageOut]


# ---- documents ----------------------------------------------------------------------------------


class DocumentSummary(BaseModel):
    id: str
    title: str
    doc_type: str | None = None
    number: str | None = None
    issued_date: str | None = None
    issuer: str | None = None
    parent_issuer: str | None = None
    place: str | None = None
    subject: str | None = None
    recipients: list[str] = []
    cc: list[str] = []
    signer: str | None = None
    signer_title: str | None = None
    pages: int | None = Field(default=None, description="Page count of a PDF or image (null: no pages)")
    ocr_pages: list[int] = Field(default_factory=list, description="Pages whose text was read by OCR")
    ocr_confidence: float | None = Field(default=None, description="Mean OCR word confidence (0–100)")
    audience: str | None = Field(default=None, description="Who may read it: 'public' or groups 'a|b' "
                                 "(null or malformed: admins only)")
    format: str
    source: str = Field(description="File name, or 'upload:<name>' for uploads (server paths are not shown)")
    sha256: str
    chunks: int
    characters: int
    warnings: list[str]
    ingested_at: str

    @classmethod
    def of(cls, doc: StoredDocument) -> DocumentSummary:
        data = document_summary(doc)
        src = doc.source_key
        data["source"] = src if src.startswith("upload:") else src.replace("\\", "/").rsplit("/", 1)[-1]
        return cls.model_validate(data)


class AudienceIn(BaseModel):
    audience: str = Field(min_length=1, max_length=2200, description="'public', or groups separated by '|'",
                          examples=["so-tttt|ubnd-huyen"])


class AudienceOut(BaseModel):
    id: str
    audience: str
    previous: str | None = Field(description="The audience before this change")


class DocumentList(BaseModel):
    total: int
    documents: list[DocumentSummary]


class FootnoteOut(BaseModel):
    label: str
    text: str


class ChunkOut(BaseModel):
    id: str
    ordinal: int
    kind: str
    breadcrumb: str
    start: int = Field(description="Offset of the chunk in the document's normalised `text`")
    end: int
    text: str
    article: str | None = None
    clause: str | None = None
    section: str | None = None
    footnotes: list[FootnoteOut] = []


class DocumentDetail(BaseModel):
    document: DocumentSummary
    text: str = Field(description="Full normalised text; every chunk offset points into it")
    chunks: list[ChunkOut] = Field(description="Chunks in reading order, with breadcrumbs and offsets")


class UploadedFile(BaseModel):
    filename: str = Field(description="Sanitised name (never used as a path)")
    detected_format: str = Field(description="Format detected from the bytes, not from the name")
    bytes: int


class IngestFailureOut(BaseModel):
    path: str
    error: str


class IngestReportOut(BaseModel):
    documents: int
    chunks: int
    added: int
    updated: int
    removed: int
    unchanged: int
    failed: list[IngestFailureOut]
    ingested: list[str]
    warnings: list[str]
    seconds: float
    files: list[UploadedFile] = []


class DeleteOut(BaseModel):
    id: str
    removed_chunks: int


# ---- health -------------------------------------------------------------------------------------


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    ready: bool
    store: str
    embedder: str
    documents: int
    chunks: int
    vectors: int


class ConversationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(default="", max_length=500, description="Shown in the list; empty = the first question")


class ConversationRename(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=500)


class ConversationSummaryOut(BaseModel):
    id: str
    title: str
    created_at: str
    updated_at: str
    exchanges: int


class ExchangeOut(BaseModel):
    seq: int
    time: str
    question: str
    answer: dict[str, Any] = Field(description="The answer as /v1/ask returned it (answer_id included)")


class ConversationOut(ConversationSummaryOut):
    turns: list[ExchangeOut]


class ConversationList(BaseModel):
    conversations: list[ConversationSummaryOut]
