"""The "Mở trang gốc" view: a cited page of a PDF or scan as an image, the quote highlighted or the reason why not."""

from __future__ import annotations

import base64

from ui.backend import PageImage
from ui.i18n import t
from ui.render import esc, html_page


def page_html(view: PageImage, *, title: str, lang: str = "vi") -> str:
    """A standalone HTML page holding the page image (inline, one request) and a line on the highlight."""
    back = f'<p><a href="../../ui/">← {esc(t("doc_back", lang))}</a></p>'
    if view.status != 200:
        line = t("page_missing", lang).format(detail=view.detail)
        body = f'<main>{back}<p class="pq-page-note">{esc(line)}</p></main>'
        return html_page(title, body, lang)
    if view.highlighted:
        line = t("page_highlighted", lang)
    else:
        line = t("page_no_highlight", lang).format(note=view.note or "—")
    src = "data:image/png;base64," + base64.b64encode(view.png).decode("ascii")
    body = (f'<main>{back}<h1>{esc(title)}</h1>'
            f'<p class="pq-page-note" data-highlight="{"yes" if view.highlighted else "no"}">{esc(line)}</p>'
            f'<img class="pq-page-image" src="{src}" alt="{esc(title)}" style="max-width:100%;border:1px solid '
            f'#e3e3e0"></main>')
    return html_page(title, body, lang)
