"""What the UI talks to: the engine in this process, or a remote policyqa API over HTTP.

Both give the same JSON shapes (rag.answer.events, rag.shapes.document_summary, IngestReport.to_json), so the
Gradio code does not know which one it has.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any, Protocol, TypeVar
from urllib.parse import quote, unquote

import httpx

from ingest.load import LoadError, LoadLimits
from ingest.page_image import BadSpan, PageMissing, page_view
from ingest.pipeline import ingest_uploads
from rag.access import Grant
from rag.answer.events import Event, answer_events
from rag.audit.export import ExportRefused, check_export, export_docx
from rag.audit.log import AuditLog, AuditQuery, AuditUnavailable
from rag.audit.pdf import PdfUnavailable
from rag.audit.record import AuditRecord, answer_fields, corpus_version, new_id, utc_now
from rag.conversations import ConversationFull, ConversationStore, ConversationsUnavailable
from rag.keys import fingerprint, role_for_key
from rag.records import Filters, Turn
from rag.settings import Settings
from rag.shapes import document_summary

log = logging.getLogger(__name__)
T = TypeVar("T")
OPEN_OWNER = "ip:127.0.0.1"  # the API's owner for a loopback client when no keys exist (the only clients then)


class BackendUnavailable(RuntimeError):
    """The engine is not open yet, or the remote API cannot be reached."""


class KeyDenied(BackendUnavailable):
    """The browser's key is not a configured one (shown as unavailable: nothing is read for it)."""


class AdminOnly(PermissionError):
    """An admin view asked for with a reader key (or none)."""


class UploadDenied(PermissionError):
    """The admin key is missing, wrong, or belongs to a reader."""


@dataclass(frozen=True)
class PageImage:
    """A page of a PDF or scan as the API's page endpoint gives it, or why it could not (status ≠ 200)."""

    status: int
    png: bytes = b""
    highlighted: bool = False  # X-Highlight: yes
    note: str | None = None  # X-Highlight-Note: why the quote is not highlighted
    detail: str = ""  # the problem's detail when status ≠ 200


@dataclass(frozen=True)
class ExportFile:
    """An answer exported as DOCX, or why not (status ≠ 200: 404 not this key's, 403 audience, 503)."""

    status: int
    data: bytes = b""
    detail: str = ""


class Backend(Protocol):
    settings: Settings

    # `key` is the browser's (ui.access.request_key): what it may read decides every answer and listing.

    def ask(self, question: str, history: Sequence[Turn], filters: Filters | None,
            key: str | None = None, conversation_id: str | None = None) -> Iterator[Event]:
        """Answer events (status, token, citations, done | error). With `conversation_id` (one of the key's
        saved conversations) its stored exchanges are the history and this exchange is appended to it."""
        ...

    def conversations(self, key: str | None = None) -> list[dict[str, Any]]:
        """The key's saved conversations, most recent first: {id, title, created_at, updated_at, exchanges}."""
        ...

    def conversation(self, conversation_id: str, key: str | None = None) -> dict[str, Any] | None:
        """One saved conversation with `turns` [{seq, time, question, answer}], or None (also another key's)."""
        ...

    def new_conversation(self, title: str = "", key: str | None = None) -> dict[str, Any]:
        """Start a saved conversation for the key."""
        ...

    def rename_conversation(self, conversation_id: str, title: str, key: str | None = None) -> bool:
        ...

    def delete_conversation(self, conversation_id: str, key: str | None = None) -> bool:
        ...

    def documents(self, key: str | None = None) -> list[dict[str, Any]]:
        """Summaries of the stored documents the key may read (rag.shapes.document_summary shape)."""
        ...

    def document(self, doc_id: str, key: str | None = None) -> dict[str, Any] | None:
        """One document's summary plus `text` and `chunks` [{id, start, end, text}], or None (also when the
        key may not read it)."""
        ...

    def page(self, doc_id: str, page: int, start: int | None, end: int | None, key: str | None) -> PageImage:
        """Page `page` of a document as PNG with the quote [start, end) highlighted; `key` is the browser's."""
        ...

    def export(self, answer_id: str, key: str | None = None, fmt: str = "docx") -> ExportFile:
        """The DOCX (or PDF) of one of the key's answers (its `answer_id`)."""
        ...

    def is_admin(self, key: str | None = None) -> bool:
        """Whether the key may see the admin views (feedback, audit)."""
        ...

    def audit(self, key: str | None, route: str | None = None, since: str | None = None,
              limit: int = 200) -> list[dict[str, Any]]:
        """Audit records (admin keys only: raises AdminOnly), newest first."""
        ...

    def upload_needs_key(self) -> bool:
        """True when uploads must carry an admin key."""
        ...

    def upload(self, files: Sequence[tuple[str, bytes]], key: str | None) -> dict[str, Any]:
        """Ingest files; the IngestReport as JSON. Raises UploadDenied."""
        ...

    def settings_snapshot(self) -> dict[str, Any]:
        """The settings an answer depended on, recorded with feedback."""
        ...


def _snapshot(settings: Settings) -> dict[str, Any]:
    return {"answer_mode": settings.answer_mode, "embedding_model": settings.embedding_model,
            "fusion": settings.fusion, "top_k": settings.top_k, "dense_weight": settings.dense_weight,
            "llm_model": settings.llm_model}


def _too_big(files: Sequence[tuple[str, bytes]], settings: Settings
             ) -> tuple[list[tuple[str, bytes]], list[dict[str, str]]]:
    ok, failed = [], []
    limit_mb = settings.max_upload_bytes / (1024 * 1024)
    for name, data in files:
        if len(data) > settings.max_upload_bytes:
            failed.append({"path": name, "error": f"file larger than the {limit_mb:g} MB limit"})
        else:
            ok.append((name, data))
    return ok, failed


class InProcessBackend:
    """The engine of this process, fetched at call time (the API's lifespan opens it after mounting)."""

    def __init__(self, get_engine: Callable[[], Any], settings: Settings,
                 conversations: ConversationStore | None = None, audit: AuditLog | None = None) -> None:
        self._get_engine = get_engine
        self.settings = settings
        self._keys = settings.parsed_api_keys()
        self._conversations = conversations or ConversationStore(settings.conversations_path)
        self._audit_log = audit  # the API's audit trail; None = UI answers are not recorded (standalone UI)

    def _grant(self, key: str | None) -> Grant:
        """What the browser's key may do (an open UI: everything); KeyDenied for a key not configured."""
        if not self._keys:
            return Grant("admin")
        grant = role_for_key((key or "").strip(), self._keys.items())
        if grant is None:  # the UI's middleware lets no such browser in; never show anything to one
            raise KeyDenied("this key is not configured")
        return grant

    def _owner(self, key: str | None) -> str:
        """Whose conversations these are: the key's fingerprint, as the API has it (open mode: loopback's)."""
        self._grant(key)
        return fingerprint((key or "").strip()) if self._keys else OPEN_OWNER

    def _engine(self, key: str | None = None) -> Any:
        """The engine as the browser's key sees it (admins and an open UI: everything)."""
        try:
            engine = self._get_engine()
        except AttributeError:
            engine = None
        if engine is None:
            raise BackendUnavailable("the engine is not open yet")
        return engine.scoped(self._grant(key).access)

    def ask(self, question: str, history: Sequence[Turn], filters: Filters | None,
            key: str | None = None, conversation_id: str | None = None) -> Iterator[Event]:
        engine = self._engine(key)
        started = time.perf_counter()
        owner = self._owner(key)
        if conversation_id is not None:
            conv = self._store_call(lambda s: s.get(owner, conversation_id))
            if conv is None:
                yield Event("error", {"title": "HTTP 404", "detail": "no such conversation for this key"})
                return
            history = conv.history(self.settings.max_history_turns)
        for ev in answer_events(question, history, filters, engine=engine):
            if ev.type == "done":  # audited like /v1/ask, so the answer can be exported by its answer_id
                ev = Event("done", {**ev.data, "answer_id": self._audit(ev.data, key, engine, started)})
                if conversation_id is not None:
                    try:
                        self._store_call(partial(ConversationStore.append, owner=owner,
                                                 conversation_id=conversation_id, question=question,
                                                 answer=dict(ev.data)))
                    except (BackendUnavailable, ConversationFull) as exc:  # the answer is still shown
                        log.error("exchange not saved in conversation %s: %s", conversation_id, exc)
            yield ev

    def _audit(self, answer: dict[str, Any], key: str | None, engine: Any, started: float) -> str:
        """Record a UI answer in the API's audit trail (route `ui_ask`); a failed write is logged, never raised."""
        grant, record_id = self._grant(key), new_id()
        if self._audit_log is None:
            return record_id
        docs = engine.store.snapshot.docs
        record = AuditRecord(id=record_id, time=utc_now(), key_id=self._owner(key), role=grant.role,
                             groups=tuple(sorted(grant.groups)), client="ui", route="ui_ask",
                             latency_ms=round((time.perf_counter() - started) * 1000, 1),
                             corpus_version=corpus_version(docs), **answer_fields(answer, docs))
        try:
            self._audit_log.append(record)
        except Exception:
            log.error("could not write audit record %s (ui_ask)", record_id, exc_info=True)
        return record_id

    def is_admin(self, key: str | None = None) -> bool:
        try:
            return self._grant(key).role == "admin"
        except KeyDenied:
            return False

    def audit(self, key: str | None, route: str | None = None, since: str | None = None,
              limit: int = 200) -> list[dict[str, Any]]:
        if not self.is_admin(key):
            raise AdminOnly("an admin key is required")
        if self._audit_log is None:
            return []
        try:
            records = self._audit_log.query(AuditQuery(since=since, route=route or None, limit=limit,
                                                       newest_first=True))
        except AuditUnavailable as exc:
            raise BackendUnavailable(str(exc)) from exc
        return [asdict(r) for r in records]

    def export(self, answer_id: str, key: str | None = None, fmt: str = "docx") -> ExportFile:
        if self._audit_log is None:
            return ExportFile(404, detail="answers are not audited here")
        engine = self._engine(key)
        try:
            record = self._audit_log.get(answer_id)
        except AuditUnavailable as exc:
            raise BackendUnavailable(str(exc)) from exc
        grant = self._grant(key)
        try:
            allowed = check_export(record, answer_id, owner=self._owner(key), open_mode=not self._keys,
                                   access=grant.access, docs=self._get_engine().store.snapshot.docs)
        except ExportRefused as exc:
            return ExportFile(exc.status, detail=str(exc))
        try:
            return ExportFile(200, export_docx(allowed, engine.store.snapshot.docs, fmt))
        except PdfUnavailable as exc:
            return ExportFile(503, detail=str(exc))

    def _store_call(self, op: Callable[[ConversationStore], T]) -> T:
        try:
            return op(self._conversations)
        except ConversationsUnavailable as exc:
            raise BackendUnavailable(str(exc)) from exc

    def conversations(self, key: str | None = None) -> list[dict[str, Any]]:
        owner = self._owner(key)
        return [asdict(c) | {"turns": []} for c in self._store_call(lambda s: s.list(owner))]

    def conversation(self, conversation_id: str, key: str | None = None) -> dict[str, Any] | None:
        owner = self._owner(key)
        found = self._store_call(lambda s: s.get(owner, conversation_id))
        return asdict(found) if found is not None else None

    def new_conversation(self, title: str = "", key: str | None = None) -> dict[str, Any]:
        owner = self._owner(key)
        return asdict(self._store_call(lambda s: s.create(owner, title)))

    def rename_conversation(self, conversation_id: str, title: str, key: str | None = None) -> bool:
        owner = self._owner(key)
        return self._store_call(lambda s: s.rename(owner, conversation_id, title))

    def delete_conversation(self, conversation_id: str, key: str | None = None) -> bool:
        owner = self._owner(key)
        return self._store_call(lambda s: s.delete(owner, conversation_id))

    def documents(self, key: str | None = None) -> list[dict[str, Any]]:
        docs = self._engine(key).store.snapshot.docs.values()
        return sorted((document_summary(d) for d in docs), key=lambda d: (d["title"] or "", d["id"]))

    def document(self, doc_id: str, key: str | None = None) -> dict[str, Any] | None:
        snap = self._engine(key).store.snapshot
        doc = snap.docs.get(doc_id)
        if doc is None:
            return None
        chunks = [snap.chunks[c] for c in doc.chunk_ids if c in snap.chunks]
        return {**document_summary(doc), "text": doc.text,
                "chunks": [{"id": c.id, "start": c.start, "end": c.end, "text": c.text,
                            "breadcrumb": c.breadcrumb} for c in chunks]}

    def page(self, doc_id: str, page: int, start: int | None, end: int | None, key: str | None) -> PageImage:
        engine = self._engine(key)
        try:
            view = page_view(engine.store.snapshot, engine.settings.originals_dir, doc_id, page, start, end,
                             LoadLimits.from_settings(engine.settings))
        except PageMissing as exc:
            return PageImage(404, detail=str(exc))
        except BadSpan as exc:
            return PageImage(422, detail=str(exc))
        except LoadError as exc:
            return PageImage(422, detail=f"cannot draw page {page}: {exc}")
        return PageImage(200, view.png, view.highlighted, view.note)

    def upload_needs_key(self) -> bool:
        return bool(self._keys)

    def _check_admin(self, key: str | None) -> None:
        if not self.is_admin(key):
            raise UploadDenied("an admin key is required")

    def upload(self, files: Sequence[tuple[str, bytes]], key: str | None) -> dict[str, Any]:
        self._check_admin(key)
        ok, failed = _too_big(files, self.settings)
        engine = self._engine(key)  # an admin's: the whole store
        report = ingest_uploads(engine.store, ok).to_json() if ok else _empty_report(engine)
        report["failed"] = [*failed, *report["failed"]]  # type: ignore[misc]
        return report

    def settings_snapshot(self) -> dict[str, Any]:
        return _snapshot(self.settings)


def _empty_report(engine: Any) -> dict[str, Any]:
    docs, chunks = engine.store.counts()
    return {"documents": docs, "chunks": chunks, "added": 0, "updated": 0, "removed": 0, "unchanged": 0,
            "failed": [], "ingested": [], "warnings": [], "seconds": 0.0}


def parse_sse(lines: Iterator[str]) -> Iterator[Event]:
    """Server-sent events (`event:` + `data:` lines, blank line between) as Events."""
    kind, data = "message", list[str]()
    for line in lines:
        if not line:
            if data:
                payload = json.loads("\n".join(data))
                yield Event(kind, payload)  # type: ignore[arg-type]
            kind, data = "message", []
        elif line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
    if data:
        yield Event(kind, json.loads("\n".join(data)))  # type: ignore[arg-type]


class HttpBackend:
    """A remote policyqa API (`policyqa ui --api URL`); `key` is sent as a Bearer token for reading."""

    CACHE_SECONDS = 30.0

    def __init__(self, base_url: str, settings: Settings, key: str | None = None,
                 client: httpx.Client | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.settings = settings
        self.key = key
        self._client = client or httpx.Client(base_url=self.base_url,
                                              timeout=httpx.Timeout(120.0, connect=5.0))
        self._docs: dict[tuple[str, str], tuple[float, dict[str, Any] | None]] = {}
        self._remote: dict[str, Any] | None = None  # what the remote reports about its settings

    def _headers(self, key: str | None = None) -> dict[str, str]:
        key = key or self.key  # the browser's key first: the API decides what that reader may see
        return {"Authorization": f"Bearer {key}"} if key else {}

    def ask(self, question: str, history: Sequence[Turn], filters: Filters | None,
            key: str | None = None, conversation_id: str | None = None) -> Iterator[Event]:
        body = {"question": question, "history": [] if conversation_id else [asdict(t) for t in history],
                "filters": {k: v for k, v in asdict(filters).items() if v} if filters else None,
                "top_k": None, "stream": True, "conversation_id": conversation_id}
        headers = {**self._headers(key), "Accept": "text/event-stream"}
        try:
            with self._client.stream("POST", "/v1/ask", json=body, headers=headers) as resp:
                if resp.status_code != 200:
                    resp.read()
                    yield Event("error", {"title": f"HTTP {resp.status_code}", "detail": _problem(resp)})
                    return
                yield from parse_sse(resp.iter_lines())
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"the API at {self.base_url} cannot be reached: {exc}") from exc

    def _get(self, path: str, key: str | None) -> httpx.Response:
        try:
            return self._client.get(path, headers=self._headers(key))
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"the API at {self.base_url} cannot be reached: {exc}") from exc

    def documents(self, key: str | None = None) -> list[dict[str, Any]]:
        resp = self._get("/v1/documents", key)
        if resp.status_code != 200:
            raise BackendUnavailable(_problem(resp))
        data = resp.json()
        docs = data["documents"] if isinstance(data, dict) else data
        return sorted(docs, key=lambda d: (d.get("title") or "", d["id"]))

    def document(self, doc_id: str, key: str | None = None) -> dict[str, Any] | None:
        slot = (key or self.key or "", doc_id)  # cached per key: one reader's view is never another's
        cached = self._docs.get(slot)
        if cached and time.monotonic() - cached[0] < self.CACHE_SECONDS:
            return cached[1]
        resp = self._get(f"/v1/documents/{quote(doc_id, safe='')}", key)
        if resp.status_code == 404:
            out = None
        elif resp.status_code != 200:
            raise BackendUnavailable(_problem(resp))
        else:
            data = resp.json()
            out = {**data["document"], "text": data["text"], "chunks": data.get("chunks", [])}
        if len(self._docs) > 1000:
            self._docs.clear()
        self._docs[slot] = (time.monotonic(), out)
        return out

    def page(self, doc_id: str, page: int, start: int | None, end: int | None, key: str | None) -> PageImage:
        params = {k: v for k, v in (("start", start), ("end", end)) if v is not None}
        try:  # the browser's key first, as for uploads: the API decides what that reader may see
            resp = self._client.get(f"/v1/documents/{quote(doc_id, safe='')}/pages/{int(page)}", params=params,
                                    headers=self._headers(key))
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"the API at {self.base_url} cannot be reached: {exc}") from exc
        if resp.status_code == 200:
            note = resp.headers.get("x-highlight-note")
            return PageImage(200, resp.content, resp.headers.get("x-highlight") == "yes",
                             unquote(note) if note else None)
        if resp.status_code in (401, 403, 404, 422):
            return PageImage(resp.status_code, detail=_problem(resp))
        raise BackendUnavailable(_problem(resp))

    def _send(self, method: str, path: str, key: str | None, body: dict[str, Any] | None = None) -> httpx.Response:
        try:
            return self._client.request(method, path, json=body, headers=self._headers(key))
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"the API at {self.base_url} cannot be reached: {exc}") from exc

    def _json(self, resp: httpx.Response, *ok: int) -> Any:
        if resp.status_code not in ok:
            raise BackendUnavailable(_problem(resp))
        return resp.json() if resp.content else None

    def conversations(self, key: str | None = None) -> list[dict[str, Any]]:
        data = self._json(self._send("GET", "/v1/conversations", key), 200)
        return list(data["conversations"])

    def conversation(self, conversation_id: str, key: str | None = None) -> dict[str, Any] | None:
        resp = self._send("GET", f"/v1/conversations/{quote(conversation_id, safe='')}", key)
        if resp.status_code in (404, 422):
            return None
        data: dict[str, Any] = self._json(resp, 200)
        return data

    def new_conversation(self, title: str = "", key: str | None = None) -> dict[str, Any]:
        data: dict[str, Any] = self._json(self._send("POST", "/v1/conversations", key, {"title": title}), 201)
        return data

    def rename_conversation(self, conversation_id: str, title: str, key: str | None = None) -> bool:
        resp = self._send("PATCH", f"/v1/conversations/{quote(conversation_id, safe='')}", key, {"title": title})
        if resp.status_code in (404, 422):
            return False
        self._json(resp, 200)
        return True

    def delete_conversation(self, conversation_id: str, key: str | None = None) -> bool:
        resp = self._send("DELETE", f"/v1/conversations/{quote(conversation_id, safe='')}", key)
        if resp.status_code in (404, 422):
            return False
        self._json(resp, 204)
        return True

    def is_admin(self, key: str | None = None) -> bool:
        return self._send("GET", "/v1/audit?limit=1", key).status_code == 200

    def audit(self, key: str | None, route: str | None = None, since: str | None = None,
              limit: int = 200) -> list[dict[str, Any]]:
        params = {k: v for k, v in (("route", route), ("since", since)) if v}
        try:
            resp = self._client.get("/v1/audit", params={**params, "limit": limit, "order": "desc"},
                                    headers=self._headers(key))
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"the API at {self.base_url} cannot be reached: {exc}") from exc
        if resp.status_code in (401, 403):
            raise AdminOnly(_problem(resp))
        records: list[dict[str, Any]] = self._json(resp, 200)["records"]
        return records

    def export(self, answer_id: str, key: str | None = None, fmt: str = "docx") -> ExportFile:
        resp = self._send("GET", f"/v1/answers/{quote(answer_id, safe='')}/export?format={quote(fmt)}", key)
        if resp.status_code == 200:
            return ExportFile(200, resp.content)
        if resp.status_code in (401, 403, 404, 422):
            return ExportFile(resp.status_code, detail=_problem(resp))
        raise BackendUnavailable(_problem(resp))

    def upload_needs_key(self) -> bool:
        # The remote decides; ask for a key unless one was given on the command line.
        return not self.key

    def upload(self, files: Sequence[tuple[str, bytes]], key: str | None) -> dict[str, Any]:
        multipart = [("files", (name, data, "application/octet-stream")) for name, data in files]
        try:
            resp = self._client.post("/v1/documents", files=multipart, headers=self._headers(key))
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"the API at {self.base_url} cannot be reached: {exc}") from exc
        self._docs.clear()
        if resp.status_code in (401, 403):
            raise UploadDenied(_problem(resp))
        if resp.status_code in (413, 415, 422):
            # Refused before (or instead of) ingesting: the problem says which file and why.
            failed = _problem_json(resp).get("failed") or []
            return {"rejected": _problem(resp), "failed": failed}
        if resp.status_code >= 400:
            raise BackendUnavailable(_problem(resp))
        data: dict[str, Any] = resp.json()
        return data

    def settings_snapshot(self) -> dict[str, Any]:
        if self._remote is None:
            try:
                resp = self._client.get("/readyz")
                ok = resp.status_code == 200
                self._remote = {"embedding_model": resp.json().get("embedder")} if ok else {}
            except (httpx.HTTPError, ValueError):
                self._remote = {}
        return {"api": self.base_url, **self._remote}


def _problem_json(resp: httpx.Response) -> dict[str, Any]:
    try:
        data = resp.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _problem(resp: httpx.Response) -> str:
    data = _problem_json(resp)
    return str(data.get("detail") or data.get("title") or f"HTTP {resp.status_code}")
