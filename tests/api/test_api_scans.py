"""A scan and a text file uploaded in one batch through the real API, then asked about: the citation knows
its page, and the page endpoint draws it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from evals.scans.degrade import to_bytes
from evals.scans.render import render_pages
from rag.runtime import open_runtime
from tests.conftest import make_settings
from tests.documents import SCANNED_DISPATCH

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SCAN = SCANNED_DISPATCH
TEXT = ("THÔNG BÁO\n\nVề lịch tiếp công dân\n\n1. Lãnh đạo Sở tiếp công dân vào sáng thứ Năm hằng tuần.\n\n"
        "2. Địa điểm tiếp công dân là trụ sở Sở Tư pháp.\n")


def test_scan_and_text_in_one_upload_answer_with_the_page(embedder: Any, tmp_path: Path) -> None:
    engine = open_runtime(make_settings(tmp_path / "data", rate_limit_per_minute=100_000), embedder=embedder)
    try:
        with TestClient(create_app(engine.settings, engine)) as client:
            files = [("files", ("cong-van-scan.png", to_bytes(render_pages(SCAN)[0], "PNG"), "image/png")),
                     ("files", ("thong-bao.txt", TEXT.encode(), "text/plain"))]
            up = client.post("/v1/documents", files=files)
            assert up.status_code == 200, up.text
            report = up.json()
            assert not report["failed"] and report["documents"] == 2, report
            docs = {d["id"]: d for d in client.get("/v1/documents").json()["documents"]}
            assert set(docs) == {"cong-van-scan", "thong-bao"}

            r = client.post("/v1/ask", json={"question": "Ủy ban nhân dân các huyện phải báo cáo kết quả thực "
                                                         "hiện trước ngày nào?"})
            assert r.status_code == 200, r.text
            ans = r.json()
            assert not ans["abstained"] and "30/6/2024" in ans["answer"], ans["answer"]
            cit = next(c for c in ans["citations"] if c["doc_id"] == "cong-van-scan")
            assert cit["page"] == 1 and cit["pages"] == [1]

            page = client.get("/v1/documents/cong-van-scan/pages/1",
                              params={"start": cit["start"], "end": cit["end"]})
            assert page.status_code == 200 and page.headers["content-type"] == "image/png"
            assert page.content.startswith(b"\x89PNG") and page.headers["x-highlight"] in ("yes", "no")
            assert client.get("/v1/documents/thong-bao/pages/1").status_code == 404  # a text file has no pages
    finally:
        engine.close()
