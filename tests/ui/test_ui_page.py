"""'Mở trang gốc': the UI's page view proxies the API's page endpoint with the browser's key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ingest.pipeline import ingest_paths
from rag.runtime import open_runtime
from tests.conftest import make_settings
from tests.documents import make_pdf
from ui import render
from ui.app import mount_ui, standalone_app
from ui.backend import HttpBackend


@pytest.fixture(scope="module")
def paged(embedder: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    """The real API over a store holding one PDF (a text layer: pages without OCR, so this stays fast)."""
    tmp: Path = tmp_path_factory.mktemp("ui-page")
    settings = make_settings(tmp / "data", api_keys="adm-key:admin,rd-key:reader", rate_limit_per_minute=100_000)
    (tmp / "docs").mkdir()
    (tmp / "docs" / "cong-van.pdf").write_bytes(make_pdf())
    engine = open_runtime(settings, embedder=embedder)
    assert not ingest_paths(engine.store, [tmp / "docs"]).failed
    app = create_app(settings, engine)
    mount_ui(app, settings)  # no-op when create_app mounted it already
    yield app, engine
    engine.close()


def _span(engine: Any) -> tuple[str, int, int]:
    doc = next(iter(engine.store.snapshot.docs.values()))
    chunk = engine.store.snapshot.chunks[doc.chunk_ids[0]]
    return doc.doc_id, chunk.start, chunk.end


def test_source_card_links_the_original_page_only_for_paged_documents() -> None:
    cit = {"n": 1, "doc_id": "cong van", "title": "Công văn", "breadcrumb": "Mục I", "quote": "q", "start": 3,
           "end": 9}
    assert "Mở trang gốc" not in render.source_card(cit, turn=0)
    card = render.source_card({**cit, "page": 2}, turn=0)
    assert "Mở trang gốc" in card and 'href="../ui-page/cong%20van/2?lang=vi&amp;start=3&amp;end=9"' in card


def test_page_view_proxies_the_api_with_the_browsers_key(paged: tuple[Any, Any]) -> None:
    app, engine = paged
    doc_id, start, end = _span(engine)
    path = f"/{render.PAGE_ROUTE}/{doc_id}/1"
    with TestClient(app) as api_client:
        # A UI process of its own over the API, holding no key: only the browser's key can open the page.
        ui_app = standalone_app(engine.settings, HttpBackend("http://testserver", engine.settings, client=api_client))
        with TestClient(ui_app) as client:
            assert client.get(path).status_code == 401  # the UI asks for a key, as for the full text
            client.auth = ("can-bo", "rd-key")
            view = client.get(path, params={"start": start, "end": end, "lang": "en"})
            assert view.status_code == 200 and 'src="data:image/png;base64,iVBORw0KGgo' in view.text
            # A text-layer page has no word boxes: the page is shown with the API's reason, not a highlight.
            assert 'data-highlight="no"' in view.text and "not an OCR page" in view.text
            assert client.get(f"/{render.PAGE_ROUTE}/{doc_id}/99").status_code == 404
            assert client.get(f"/{render.PAGE_ROUTE}/no-such-doc/1").status_code == 404
            bad = client.get(path, params={"start": end, "end": start})
            assert bad.status_code == 422 and "start/end" in bad.text
        # Mounted in the API process, the same view reads the engine directly.
        local = api_client.get(path, params={"start": start, "end": end}, auth=("can-bo", "rd-key"))
        assert local.status_code == 200 and "Không tô được đoạn trích dẫn" in local.text
