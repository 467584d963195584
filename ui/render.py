"""HTML and Markdown for answers, citations, highlighted passages, documents and ingest reports.

Pure functions over JSON-shaped data (what `rag.answer.events` emits), so the in-process and HTTP backends render
alike. Everything that came from a document or a user is HTML-escaped; only our own tags are emitted.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from ui.i18n import t

MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]#|~$])")
_BULLET = re.compile(r"^(\s*)([-•+]\s+)")
DOC_ROUTE = "ui-doc"  # the document view lives at /ui-doc/{doc_id}, beside the Gradio mount at /ui
PAGE_ROUTE = "ui-page"  # a page of a PDF or scan as an image: /ui-page/{doc_id}/{page}
EXPORT_ROUTE = "ui-export"  # an answer as DOCX: /ui-export/{answer_id}


def esc(text: object) -> str:
    """HTML-escape any value (None becomes an empty string)."""
    return html.escape("" if text is None else str(text), quote=True)


def esc_md(text: str) -> str:
    # Escape HTML first, then Markdown punctuation, so passage text can never become markup or a link.
    return _MD_SPECIAL.sub(r"\\\1", esc(text))


def format_date(iso: str | None, lang: str = "vi") -> str:
    """'2024-07-30' → '30/07/2024' (vi) or unchanged ISO (en); a placeholder when missing."""
    if not iso:
        return t("no_date", lang)
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", iso)
    return f"{m.group(3)}/{m.group(2)}/{m.group(1)}" if m and lang == "vi" else iso


def format_number(number: str | None, lang: str = "vi") -> str:
    """Số hiệu for display; a blank number keeps its suffix ('…/STTTT-TTBCXB')."""
    if not number:
        return t("no_number", lang)
    return f"…{number}" if number.startswith("/") else number


def doc_url(doc_id: str, start: int | None = None, end: int | None = None, lang: str = "vi") -> str:
    """Relative link from the Gradio page (/ui/) to the document view, scrolled to a passage."""
    url = f"../{DOC_ROUTE}/{quote(doc_id, safe='')}?lang={quote(lang)}"
    if start is not None and end is not None:
        url += f"&start={int(start)}&end={int(end)}#passage"
    return url


def page_url(doc_id: str, page: int, start: int, end: int, lang: str = "vi") -> str:
    """Relative link from the Gradio page (/ui/) to the image of a cited page, the quote highlighted."""
    return (f"../{PAGE_ROUTE}/{quote(doc_id, safe='')}/{int(page)}?lang={quote(lang)}"
            f"&start={int(start)}&end={int(end)}")


def _page_link(cit: Mapping[str, Any], start: int, end: int, lang: str) -> str:
    if cit.get("page") is None:
        return ""
    url = page_url(cit["doc_id"], int(cit["page"]), start, end, lang)
    return (f' <a class="pq-open pq-page" href="{esc(url)}" target="_blank" rel="noopener">'
            f'{esc(t("open_page", lang))} ↗</a>')


def cite_id(turn: int, n: int) -> str:
    return f"src-{turn}-{n}"


def cite_link(turn: int, n: int, citation: Mapping[str, Any] | None = None) -> str:
    """An [n] marker as a link to its card in the sources panel."""
    tip = ""
    if citation:
        tip = f' title="{esc(citation.get("title"))} › {esc(citation.get("breadcrumb"))}"'
    return f'<a class="pq-cite" href="#{cite_id(turn, n)}"{tip}>[{n}]</a>'


def link_markers(text: str, turn: int, citations: Sequence[Mapping[str, Any]] = ()) -> str:
    """Answer text as Markdown: passage text escaped, each [n] (or [1, 2]) turned into citation links."""
    by_n = {int(c["n"]): c for c in citations}
    out: list[str] = []
    for line in text.split("\n"):
        bullet = _BULLET.match(line)
        prefix = ""
        if bullet:
            prefix, line = f"{bullet.group(1)}- ", line[bullet.end():]
        pieces: list[str] = []
        cursor = 0
        for m in MARKER.finditer(line):
            pieces.append(esc_md(line[cursor:m.start()]))
            numbers = [int(x) for x in m.group(1).split(",")]
            pieces.append("".join(cite_link(turn, n, by_n.get(n)) for n in numbers))
            cursor = m.end()
        pieces.append(esc_md(line[cursor:]))
        out.append(prefix + "".join(pieces))
    return "\n".join(out)


def answer_markdown(text: str, *, turn: int, citations: Sequence[Mapping[str, Any]] = (),
                    abstained: bool = False, lang: str = "vi") -> str:
    """The chat message for an answer; an abstention is set apart so it never reads as an answer."""
    if abstained:
        return (f'<div class="pq-abstain"><strong>{esc(t("abstain_title", lang))}</strong>'
                f"<p>{esc(text)}</p></div>")
    return link_markers(text, turn, citations)


def error_markdown(lang: str = "vi", detail: str | None = None) -> str:
    """The chat message when answering failed."""
    body = esc(detail) if detail else esc(t("error_unavailable", lang))
    return f'<div class="pq-error"><strong>{esc(t("error_title", lang))}</strong><p>{body}</p></div>'


def passage_html(passage: str, offset: int, start: int, end: int) -> str:
    """A passage (beginning at document offset `offset`) with the span [start, end) marked."""
    # Surrounding blank lines would show as empty space under white-space: pre-wrap.
    lead = len(passage) - len(passage.lstrip())
    passage, offset = passage.strip(), offset + lead
    a = max(0, min(len(passage), start - offset))
    b = max(a, min(len(passage), end - offset))
    if a == b:
        return esc(passage)
    return f"{esc(passage[:a])}<mark>{esc(passage[a:b])}</mark>{esc(passage[b:])}"


def context_window(text: str, start: int, end: int, limit: int = 1200) -> tuple[str, int]:
    """The paragraph(s) around [start, end) in a document text: (passage, its offset)."""
    lo = text.rfind("\n\n", 0, start)
    lo = 0 if lo < 0 else lo + 2
    hi = text.find("\n\n", end)
    hi = len(text) if hi < 0 else hi
    lo = max(lo, start - limit // 2)
    hi = min(hi, end + limit // 2)
    return text[lo:hi], lo


def _meta_rows(item: Mapping[str, Any], lang: str) -> str:
    rows = [(t("number", lang), format_number(item.get("number"), lang)),
            (t("date", lang), format_date(item.get("issued_date"), lang))]
    if item.get("issuer"):
        rows.append((t("issuer", lang), item["issuer"]))
    return "".join(f"<span><b>{esc(k)}:</b> {esc(v)}</span>" for k, v in rows)


def status_badge(cit: Mapping[str, Any], lang: str) -> str:
    """A badge for a cited text that is not in force on the question's date ('' when it is, or unknown)."""
    status = cit.get("status")
    if status == "ended":
        since = format_date(cit.get("ended_on"), lang)
        by = t("replaced_by", lang).format(number=cit["replaced_by"]) if cit.get("replaced_by") else ""
        return f' <span class="pq-status pq-ended">{esc(t("status_ended", lang).format(date=since))}{esc(by)}</span>'
    if status == "not_yet":
        return f' <span class="pq-status pq-not-yet">{esc(t("status_not_yet", lang))}</span>'
    return ""


def _page_label(cit: Mapping[str, Any], lang: str) -> str:
    """", trang 2" for a citation from a PDF or scan ('' for documents without pages)."""
    return f", {esc(t('page', lang))} {int(cit['page'])}" if cit.get("page") is not None else ""


def source_card(cit: Mapping[str, Any], *, turn: int, lang: str = "vi") -> str:
    """One citation: title, số hiệu, date, issuer, breadcrumb, passage with the quote marked, a link."""
    start, end = int(cit["start"]), int(cit["end"])
    if cit.get("passage") is not None:
        body = passage_html(cit["passage"], int(cit.get("passage_start") or 0), start, end)
    else:
        body = f"<mark>{esc(cit.get('quote'))}</mark>"
    kind = f'<span class="pq-type">{esc(cit["doc_type"])}</span> ' if cit.get("doc_type") else ""
    return (f'<article class="pq-source" id="{cite_id(turn, int(cit["n"]))}">'
            f'<header><span class="pq-n">[{int(cit["n"])}]</span> {kind}'
            f'<b>{esc(cit.get("title"))}</b>{status_badge(cit, lang)}</header>'
            f'<div class="pq-meta">{_meta_rows(cit, lang)}</div>'
            f'<div class="pq-crumb">{esc(cit.get("breadcrumb"))}{_page_label(cit, lang)}</div>'
            f'<div class="pq-passage">{body}</div>'
            f'<a class="pq-open" href="{esc(doc_url(cit["doc_id"], start, end, lang))}" target="_blank" '
            f'rel="noopener">{esc(t("open_doc", lang))} ↗</a>{_page_link(cit, start, end, lang)}</article>')


def related_card(hit: Mapping[str, Any], *, lang: str = "vi") -> str:
    """A passage shown after an abstention: folded, no highlight, no number (it is not an answer)."""
    start, end = int(hit["start"]), int(hit["end"])
    return (f'<details class="pq-source pq-related"><summary><b>{esc(hit.get("breadcrumb"))}</b> '
            f'<span class="pq-muted">{esc(hit.get("title"))}</span></summary>'
            f'<div class="pq-passage">{esc((hit.get("text") or "").strip())}</div>'
            f'<a class="pq-open" href="{esc(doc_url(hit["doc_id"], start, end, lang))}" target="_blank" '
            f'rel="noopener">{esc(t("open_doc", lang))} ↗</a></details>')


def turn_sources_html(view: Mapping[str, Any], *, turn: int, lang: str = "vi") -> str:
    """The sources of one answer: its citation cards, or the related passages after an abstention."""
    parts = [f'<p class="pq-q"><b>{esc(t("sources_for", lang))}:</b> {esc(view.get("question"))}</p>']
    if view.get("pending"):
        parts.append(f'<p class="pq-muted">{esc(t("sources_waiting", lang))}</p>')
    elif view.get("abstained"):
        related = view.get("related") or []
        parts.append(f'<p class="pq-muted">{esc(t("related" if related else "no_related", lang))}</p>')
        parts.extend(related_card(h, lang=lang) for h in related)
    else:
        parts.extend(source_card(c, turn=turn, lang=lang) for c in view.get("citations") or [])
    if not view.get("pending") and view.get("answer_id"):
        url = f"../{EXPORT_ROUTE}/{quote(str(view['answer_id']), safe='')}"
        parts.append(f'<p class="pq-export"><a href="{esc(url)}" download>{esc(t("export_docx", lang))}</a> · '
                     f'<a href="{esc(url)}?format=pdf" download>{esc(t("export_pdf", lang))}</a></p>')
    return "".join(parts)


def sources_html(views: Sequence[Mapping[str, Any]], current: int | None, lang: str = "vi") -> str:
    """All answers' sources, only the current one shown; the page script switches on a [n] click."""
    if not views:
        return f'<div class="pq-sources"><p class="pq-muted">{esc(t("sources_empty", lang))}</p></div>'
    current = len(views) - 1 if current is None else current
    sections = [f'<section class="pq-turn{" pq-current" if i == current else ""}" data-turn="{i}">'
                f"{turn_sources_html(v, turn=i, lang=lang)}</section>" for i, v in enumerate(views)]
    return f'<div class="pq-sources">{"".join(sections)}</div>'


def documents_html(docs: Sequence[Mapping[str, Any]], lang: str = "vi") -> str:
    """The stored documents as a table with metadata and chunk counts; titles open the document view."""
    if not docs:
        return f'<p class="pq-muted">{esc(t("docs_empty", lang))}</p>'
    total = sum(int(d.get("chunks") or 0) for d in docs)
    columns = ("title", "type", "number", "date", "issuer", "chunks")
    head = "".join(f"<th>{esc(t(k, lang))}</th>" for k in columns)
    rows = []
    for d in docs:
        cells = [(t("type", lang), d.get("doc_type") or ""),
                 (t("number", lang), format_number(d.get("number"), lang)),
                 (t("date", lang), format_date(d.get("issued_date"), lang)),
                 (t("issuer", lang), d.get("issuer") or ""),
                 (t("chunks", lang), str(int(d.get("chunks") or 0)))]
        # data-label lets a phone show each row as a small card with labelled lines.
        rows.append(
            f'<tr><td><a href="{esc(doc_url(d["id"], lang=lang))}" target="_blank" rel="noopener">'
            f'<b>{esc(d.get("title"))}</b></a></td>'
            + "".join(f'<td data-label="{esc(k)}">{esc(v)}</td>' for k, v in cells) + "</tr>")
    count = t("docs_count", lang).format(docs=len(docs), chunks=total)
    return (f'<p class="pq-muted">{esc(count)}</p><div class="pq-table-wrap"><table class="pq-docs">'
            f'<thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


def report_markdown(report: Mapping[str, Any], lang: str = "vi") -> str:
    """An ingest report (IngestReport.to_json()) for people: counts, then each failed file and why."""
    if report.get("rejected"):
        lines = [f"#### {t('report_heading', lang)}", "", f"**{t('upload_rejected', lang)}** "
                 f"{esc_md(str(report['rejected']))}"]
        lines += ["", *[f"- **{esc_md(str(f.get('path')))}**: {esc_md(str(f.get('error')))}"
                        for f in report.get("failed") or []]]
        return "\n".join(lines)
    lines = [f"#### {t('report_heading', lang)}", "",
             t("report_line", lang).format(**{k: report.get(k, 0) for k in
                                              ("documents", "chunks", "added", "updated", "removed",
                                               "unchanged")})]
    failed = report.get("failed") or []
    if failed:
        lines += ["", f"**{t('report_failed', lang)}:**", ""]
        lines += [f"- **{esc_md(str(f.get('path')))}**: {esc_md(str(f.get('error')))}" for f in failed]
    else:
        lines += ["", t("report_ok", lang)]
    warnings = report.get("warnings") or []
    if warnings:
        lines += ["", f"**{t('report_warnings', lang)}:**", ""]
        lines += [f"- {esc_md(str(w))}" for w in warnings[:20]]
    return "\n".join(lines)


DOC_PAGE_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f7f7f5;
color:#1f2328}
main{max-width:860px;margin:0 auto;padding:16px 18px 80px}
h1{font-size:1.25rem;line-height:1.4;margin:.4rem 0}
.meta{display:flex;flex-wrap:wrap;gap:4px 18px;color:#555;font-size:.92rem;margin-bottom:12px}
.crumb{color:#555;font-size:.9rem;margin:4px 0 12px}
.text{white-space:pre-wrap;line-height:1.65;background:#fff;border:1px solid #e3e3e0;border-radius:8px;
padding:16px 18px;overflow-wrap:anywhere}
mark{background:#ffe58a;padding:1px 0;border-radius:2px;scroll-margin-top:35vh}
a{color:#0b5cad}
"""


def document_page(doc: Mapping[str, Any] | None, *, start: int | None = None, end: int | None = None,
                  lang: str = "vi") -> str:
    """A standalone HTML page with a document's full text, the passage [start, end) marked and scrolled to."""
    if doc is None:
        body = (f"<main><p>{esc(t('doc_not_found', lang))}</p>"
                f"<p><a href=\"../ui/\">{esc(t('doc_back', lang))}</a></p></main>")
        return html_page(t("doc_not_found", lang), body, lang)
    text = str(doc.get("text") or "")
    if start is not None and end is not None and 0 <= start < end <= len(text):
        shown = (f"{esc(text[:start])}<mark id=\"passage\" title=\"{esc(t('doc_passage', lang))}\">"
                 f"{esc(text[start:end])}</mark>{esc(text[end:])}")
    else:
        shown = esc(text)
    kind = f"{esc(doc.get('doc_type'))} · " if doc.get("doc_type") else ""
    body = (f'<main><p><a href="../ui/">← {esc(t("doc_back", lang))}</a></p>'
            f"<h1>{kind}{esc(doc.get('title'))}</h1><div class=\"meta\">{_meta_rows(doc, lang)}</div>"
            f'<div class="text">{shown}</div></main>')
    return html_page(str(doc.get("title") or ""), body, lang)


def html_page(title: str, body: str, lang: str) -> str:
    return (f'<!doctype html><html lang="{esc(lang)}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{DOC_PAGE_CSS}</style></head><body>{body}</body></html>")
