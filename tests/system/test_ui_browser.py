"""End to end in a real browser: Debian chromium driven by Playwright against `policyqa serve` on loopback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import CORPUS, REPO
from tests.documents import make_docx
from tests.servers import free_port, running

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# The closed network: no background fetches, no QUIC, no first-run or component downloads.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
QUESTION = "UBND các huyện, thành phố phải làm gì?"
OFF_TOPIC = "Giá vàng hôm nay là bao nhiêu?"
ANSWER_TIMEOUT_MS = 180_000

@dataclass
class Server:
    url: str
    data_dir: Path
    env: dict[str, str]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: apt-get install -y chromium (the CI script does this)")
    data = tmp_path_factory.mktemp("ui-e2e")
    env = {**os.environ, "POLICYQA_DATA_DIR": str(data / "data"), "HF_HUB_OFFLINE": "1",
           "ANONYMIZED_TELEMETRY": "False", "GRADIO_ANALYTICS_ENABLED": "False", "POLICYQA_API_KEYS": "",
           "POLICYQA_HOST": "127.0.0.1"}
    subprocess.run([sys.executable, "-m", "policyqa", "ingest", str(CORPUS), "--json"], env=env, cwd=REPO,
                   check=True, timeout=900, capture_output=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running([sys.executable, "-m", "policyqa", "serve", "--port", str(port)], ready_url=f"{url}/readyz",
                 log_path=data / "server.log", env=env, cwd=REPO, timeout_s=600):
        yield Server(url=url, data_dir=data / "data", env=env)


@pytest.fixture(scope="module")
def browser(server: Server) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _ask(page, question: str) -> None:  # noqa: ANN001
    page.fill("#pq-question textarea", question)
    page.press("#pq-question textarea", "Enter")


def _record_bot_updates(page) -> None:  # noqa: ANN001
    # Remember every text the newest answer bubble shows, to see that it was updated while answering.
    page.evaluate("""() => {
        window.__pqTexts = [];
        new MutationObserver(() => {
            const bots = document.querySelectorAll('#pq-chat [data-testid="bot"]');
            if (bots.length) window.__pqTexts.push(bots[bots.length - 1].innerText);
        }).observe(document.querySelector('#pq-chat'), {subtree: true, childList: true, characterData: true});
    }""")


def test_ask_cite_highlight_and_feedback(server: Server, browser, tmp_path: Path) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url + "/")
    assert page.url.rstrip("/").endswith("/ui")
    page.wait_for_selector("#pq-question textarea", timeout=60_000)
    expect(page.get_by_role("tab", name="Hỏi đáp")).to_be_visible()
    expect(page.locator("#pq-examples button").first).to_have_text(QUESTION)

    _record_bot_updates(page)
    _ask(page, QUESTION)
    cite = page.locator("#pq-chat a.pq-cite").first
    cite.wait_for(timeout=ANSWER_TIMEOUT_MS)
    texts = page.evaluate("window.__pqTexts")
    assert any("Đang soạn" in x for x in texts) and len(set(texts)) >= 2, texts  # placeholder, then answer
    bot = page.locator('#pq-chat [data-testid="bot"]').last
    expect(bot).to_contain_text("UBND các huyện, thành phố")
    expect(cite).to_have_text("[1]")

    cite.click()
    card = page.locator(".pq-source.pq-active")
    expect(card).to_have_count(1)
    expect(card).to_have_attribute("id", "src-0-1")
    mark = card.locator(".pq-passage mark")
    expect(mark).to_be_visible()
    expect(mark).to_be_in_viewport()
    assert len(mark.inner_text().strip()) > 20
    expect(card).to_contain_text("STTTT-TTBCXB")  # số hiệu
    expect(card).to_contain_text("Sở Thông tin và Truyền thông")  # issuer
    expect(card).to_contain_text("›")  # breadcrumb
    page.screenshot(path=str(tmp_path / "desktop-answer.png"), full_page=True)

    with context.expect_page() as popup:
        card.locator("a.pq-open").click()
    doc_page = popup.value
    doc_page.wait_for_load_state()
    passage = doc_page.locator("mark#passage")
    expect(passage).to_be_visible()
    expect(passage).to_be_in_viewport()
    assert passage.inner_text().strip() == mark.inner_text().strip()
    doc_page.screenshot(path=str(tmp_path / "document-view.png"))
    doc_page.close()

    bot.hover()
    page.locator('#pq-chat button[aria-label="Dislike"]').last.click()
    expect(page.locator("#pq-feedback-status")).to_contain_text("Đã lưu đánh giá", timeout=20_000)
    page.fill("#pq-comment textarea", "Thiếu nhiệm vụ của cơ quan báo chí")
    page.click("#pq-comment-send")
    expect(page.locator("#pq-feedback-status")).to_contain_text("Đã lưu góp ý", timeout=20_000)

    out = subprocess.run([sys.executable, "-m", "policyqa", "feedback", "export", "--json"], env=server.env,
                         cwd=REPO, capture_output=True, text=True, timeout=120, check=True)
    rows = [r for r in json.loads(out.stdout) if r["question"] == QUESTION]
    assert len(rows) == 1, rows
    row = rows[0]
    assert row["rating"] == -1 and row["comment"] == "Thiếu nhiệm vụ của cơ quan báo chí"
    assert "[1]" in row["answer"] and row["citations"] and row["citations"][0]["quote"] in row["answer"]
    assert row["abstained"] is False and row["settings"]["answer_mode"] == "extractive"
    assert row["settings"]["embedding_model"] and row["settings"]["top_k"] >= 1

    # A second user (another browser profile) starts with an empty conversation.
    other = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    other.goto(server.url + "/ui/")
    other.wait_for_selector("#pq-question textarea", timeout=60_000)
    expect(other.locator('#pq-chat [data-testid="bot"]')).to_have_count(0)
    expect(other.locator("#pq-sources")).to_contain_text("Các nguồn trích dẫn")
    other.context.close()

    # The abstention is set apart from answers; "new conversation" clears this user's chat.
    _ask(page, OFF_TOPIC)
    expect(page.locator("#pq-chat .pq-abstain")).to_have_count(1, timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator(".pq-turn.pq-current")).to_contain_text(OFF_TOPIC)
    page.click("#pq-new")
    expect(page.locator('#pq-chat [data-testid="bot"]')).to_have_count(0)
    assert not errors, errors
    context.close()


def test_phone_width_filters_documents_upload_and_english(server: Server, browser, tmp_path: Path) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                  device_scale_factor=2)
    page = context.new_page()
    page.goto(server.url + "/ui/")
    page.wait_for_selector("#pq-question textarea", timeout=60_000)
    page.screenshot(path=str(tmp_path / "phone-start.png"))

    # Restrict to the dispatch's type, then ask through an example question.
    page.get_by_text("Giới hạn phạm vi tìm kiếm").click()
    page.locator("#pq-filter-type input").click()
    page.get_by_role("option", name="công văn").click()
    page.locator("#pq-examples button").first.click()
    cite = page.locator("#pq-chat a.pq-cite").first
    cite.wait_for(timeout=ANSWER_TIMEOUT_MS)
    cite.click()
    mark = page.locator(".pq-source.pq-active .pq-passage mark")
    expect(mark).to_be_in_viewport()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), "horizontal scroll"
    page.screenshot(path=str(tmp_path / "phone-answer.png"))

    page.get_by_role("tab", name="Văn bản").click()
    table = page.locator("#pq-docs table")
    expect(table).to_contain_text("STTTT-TTBCXB")
    expect(table).to_contain_text("công văn")

    page.get_by_text("Tải văn bản lên").click()
    expect(page.locator("#pq-admin-key")).to_have_count(0)  # no keys configured: no key asked
    good, bad = tmp_path / "cong-van-moi.docx", tmp_path / "hong.pdf"
    good.write_bytes(make_docx())
    bad.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage \x00\x01 not a pdf")
    page.locator("#pq-files input[type=file]").set_input_files([str(good), str(bad)])
    page.click("#pq-upload")
    report = page.locator("#pq-report")
    expect(report).to_contain_text("Tệp không xử lý được", timeout=ANSWER_TIMEOUT_MS)
    expect(report).to_contain_text("hong.pdf")
    expect(table).to_contain_text("123/SNV-TCBC", timeout=20_000)
    page.screenshot(path=str(tmp_path / "phone-documents.png"), full_page=True)

    page.get_by_text("English", exact=True).click()
    expect(page.get_by_role("tab", name="Documents")).to_be_visible()
    expect(page.locator("#pq-refresh")).to_have_text("Refresh")
    page.get_by_role("tab", name="Ask").click()
    expect(page.locator("#pq-send")).to_have_text("Send")
    expect(page.locator("#pq-new")).to_have_text("New conversation")
    context.close()
