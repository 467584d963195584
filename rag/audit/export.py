"""Who may export an audited answer, and the export itself: the one rule the API route and the UI share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rag.access import Access, can_read
from rag.audit.docx import DOCX_MEDIA_TYPE, answer_docx
from rag.audit.pdf import PDF_MEDIA_TYPE, answer_pdf
from rag.audit.record import AuditRecord, utc_now
from rag.validity_status import doc_statuses

ANSWER_ROUTES = frozenset({"ask", "ask_stream", "chat", "chat_stream", "ui_ask"})


class ExportRefused(Exception):
    """Not this owner's answer (404: as if it did not exist) or it cites what the key may no longer read (403)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def check_export(record: AuditRecord | None, answer_id: str, *, owner: str, open_mode: bool, access: Access,
                 docs: Mapping[str, Any]) -> AuditRecord:
    """The record when `owner` may export it now; raises ExportRefused otherwise."""
    mine = record is not None and (open_mode or record.key_id == owner)
    if record is None or not mine or record.route not in ANSWER_ROUTES:
        raise ExportRefused(404, f"no answer with id {answer_id!r} for this key")
    hidden = {c.doc_id for c in record.citations
              if c.doc_id in docs and not can_read(access, docs[c.doc_id].meta.audience)}
    if hidden:  # its audience changed since: the answer quotes what this key may no longer read
        raise ExportRefused(403, f"this answer cites {len(hidden)} document(s) outside your key's audience now")
    return record


FORMATS = {"docx": DOCX_MEDIA_TYPE, "pdf": PDF_MEDIA_TYPE}


def export_docx(record: AuditRecord, docs: Mapping[str, Any], fmt: str = "docx") -> bytes:
    """The DOCX (or PDF) of an answer, each citation's validity as answered and as of now (`docs`: the store's).
    A PDF raises rag.audit.pdf.PdfUnavailable when its fonts are missing."""
    statuses = {doc_id: s.state for doc_id, s in doc_statuses(dict(docs)).items()}
    if fmt == "pdf":
        return answer_pdf(record, statuses, utc_now())
    return answer_docx(record, statuses, utc_now())
