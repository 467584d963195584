"""The admin tab: the users' feedback (👍/👎 with comments) and the audit trail, each filterable.

The tab shows only for an admin key (or an open UI), and every handler checks the key again: hiding a tab
is not access control."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import gradio as gr

from ui.access import request_key
from ui.backend import AdminOnly, Backend, BackendUnavailable
from ui.chat import ChatSession
from ui.feedback import FeedbackStore
from ui.i18n import t
from ui.render import esc

log = logging.getLogger(__name__)

AUDIT_ROUTES = ("ask", "ask_stream", "chat", "chat_stream", "ui_ask", "search", "upload", "delete", "audience")
ROWS = 200  # rows shown per table
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True, eq=False)
class AdminTab:
    tab: gr.Tab
    fb_rating: gr.Dropdown
    fb_text: gr.Textbox
    fb_show: gr.Button
    fb_table: gr.HTML
    au_route: gr.Dropdown
    au_since: gr.Textbox
    au_show: gr.Button
    au_table: gr.HTML


def build_admin_tab() -> AdminTab:
    """Lay out the admin tab (hidden until an admin key is seen); call inside `gr.Tabs()`."""
    with gr.Tab(t("tab_admin"), id="admin", visible=False, elem_id="pq-admin-tab") as tab:
        gr.Markdown(f"### {t('admin_feedback')}")
        with gr.Row():
            fb_rating = gr.Dropdown([(t("all"), ""), ("👍", "1"), ("👎", "-1")], value="", label=t("admin_rating"),
                                    min_width=120, elem_id="pq-fb-rating")
            fb_text = gr.Textbox(label=t("admin_contains"), max_lines=1, max_length=200, elem_id="pq-fb-text")
            fb_show = gr.Button(t("admin_show"), size="sm", elem_id="pq-fb-show")
        fb_table = gr.HTML(elem_id="pq-fb-table")
        gr.Markdown(f"### {t('admin_audit')}")
        with gr.Row():
            au_route = gr.Dropdown([(t("all"), ""), *[(r, r) for r in AUDIT_ROUTES]], value="",
                                   label=t("admin_route"), min_width=120, elem_id="pq-au-route")
            au_since = gr.Textbox(label=t("admin_since"), placeholder="2026-12-01", max_lines=1, max_length=10,
                                  elem_id="pq-au-since")
            au_show = gr.Button(t("admin_show"), size="sm", elem_id="pq-au-show")
        au_table = gr.HTML(elem_id="pq-au-table")
    return AdminTab(tab, fb_rating, fb_text, fb_show, fb_table, au_route, au_since, au_show, au_table)


def _table(columns: Sequence[str], rows: Sequence[Sequence[str]], lang: str) -> str:
    if not rows:
        return f'<p class="pq-muted">{esc(t("admin_nothing", lang))}</p>'
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f'<td data-label="{esc(c)}">{esc(v)}</td>' for c, v in zip(columns, r,
                                                                                                strict=True))
                   + "</tr>" for r in rows)
    return (f'<div class="pq-table-wrap"><table class="pq-docs pq-admin"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def _cut(text: Any, n: int = 160) -> str:
    s = " ".join(str(text or "").split())
    return s if len(s) <= n else s[: n - 1] + "…"


def feedback_html(entries: Sequence[Mapping[str, Any]], rating: str, contains: str, lang: str) -> str:
    """The feedback, newest first, filtered by rating and by a word in the question, answer or comment."""
    needle = contains.strip().casefold()
    shown = [e for e in reversed(entries)
             if (not rating or int(e.get("rating") or 0) == int(rating))
             and (not needle or needle in " ".join(str(e.get(k) or "") for k in ("question", "answer",
                                                                                   "comment")).casefold())]
    cols = [t(k, lang) for k in ("admin_time", "admin_rating", "admin_question", "admin_answer", "admin_comment")]
    rows = [[str(e.get("updated_at") or e.get("created_at") or ""), "👍" if int(e.get("rating") or 0) > 0 else "👎",
             _cut(e.get("question")), _cut(e.get("answer")), _cut(e.get("comment"))] for e in shown[:ROWS]]
    return f'<p class="pq-muted">{esc(t("admin_count", lang).format(n=len(shown)))}</p>' + _table(cols, rows, lang)


def audit_html(records: Sequence[Mapping[str, Any]], lang: str) -> str:
    cols = [t(k, lang) for k in ("admin_time", "admin_keycol", "admin_route", "admin_question", "admin_abstained",
                                 "admin_citations", "admin_latency")]
    rows = [[str(r.get("time", "")), f"{r.get('key_id', '')} ({r.get('role', '')}"
             + (": " + "|".join(r.get("groups") or []) if r.get("groups") else "") + ")",
             str(r.get("route", "")), _cut(r.get("question")),
             "" if r.get("abstained") is None else ("✓" if r.get("abstained") else "–"),
             str(len(r.get("citations") or [])), f"{float(r.get('latency_ms') or 0):.0f} ms"] for r in records]
    return f'<p class="pq-muted">{esc(t("admin_count", lang).format(n=len(records)))}</p>' + _table(cols, rows, lang)


def _since_iso(value: str) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    if not _DATE.match(value):
        raise ValueError(value)
    return datetime.fromisoformat(value).replace(tzinfo=UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True, eq=False)
class AdminHandlers:
    backend: Backend
    feedback: FeedbackStore

    def _admin(self, request: gr.Request) -> bool:
        try:
            return self.backend.is_admin(request_key(request))
        except BackendUnavailable:
            return False

    def show_tab(self, request: gr.Request) -> Any:
        return gr.update(visible=self._admin(request))

    def show_feedback(self, rating: str, contains: str, sess: ChatSession, request: gr.Request) -> str:
        lang = sess.lang if sess else "vi"
        if not self._admin(request):
            return f'<p class="pq-error">{esc(t("admin_only", lang))}</p>'
        return feedback_html(self.feedback.export(), rating or "", contains or "", lang)

    def show_audit(self, route: str, since: str, sess: ChatSession, request: gr.Request) -> str:
        lang = sess.lang if sess else "vi"
        try:
            since_iso = _since_iso(since)
        except ValueError:
            return f'<p class="pq-error">{esc(t("admin_bad_date", lang))}</p>'
        try:
            records = self.backend.audit(request_key(request), route or None, since_iso, ROWS)
        except AdminOnly:
            return f'<p class="pq-error">{esc(t("admin_only", lang))}</p>'
        except BackendUnavailable as exc:
            log.warning("audit unavailable: %s", exc)
            return f'<p class="pq-error">{esc(t("error_unavailable", lang))}</p>'
        return audit_html(records, lang)


def wire_admin_tab(admin: AdminTab, session: gr.State, demo: gr.Blocks, handlers: AdminHandlers) -> None:
    demo.load(handlers.show_tab, None, [admin.tab], show_progress="hidden")
    gr.on([admin.fb_show.click, admin.fb_rating.change, admin.fb_text.submit], handlers.show_feedback,
          [admin.fb_rating, admin.fb_text, session], [admin.fb_table])
    gr.on([admin.au_show.click, admin.au_route.change, admin.au_since.submit], handlers.show_audit,
          [admin.au_route, admin.au_since, session], [admin.au_table])
