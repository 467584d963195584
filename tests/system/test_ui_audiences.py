"""The UI in a real browser behind reader keys with different groups: each browser sees only its audience,
in the documents tab, the answers, their sources and the full-text view."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CORPUS, FULL_CORPUS, REPO
from tests.servers import free_port, running
from tests.system.test_ui_browser import ANSWER_TIMEOUT_MS, CHROMIUM, CHROMIUM_ARGS, _ask

pytestmark = pytest.mark.slow

KEYS = "ui-adm:admin,ui-a:reader:so-tttt,ui-pub:reader"
SECRET_TITLE = "Tài liệu mật nhóm A"
QUESTION = "Luật Trật tự, an toàn giao thông đường bộ điều chỉnh những gì?"


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: apt-get install -y chromium (the CI script does this)")
    root = tmp_path_factory.mktemp("ui-aud")
    law = (FULL_CORPUS / "luat-36-2024-QH15.txt").read_text(encoding="utf-8")
    secret = root / "mat-nhom-a.md"
    secret.write_text(f"---\ntitle: {SECRET_TITLE}\naudience: so-tttt\n---\n"
                      + law[: law.index("Điều 3. ")], encoding="utf-8")
    env = {**os.environ, "POLICYQA_DATA_DIR": str(root / "data"), "HF_HUB_OFFLINE": "1",
           "ANONYMIZED_TELEMETRY": "False", "GRADIO_ANALYTICS_ENABLED": "False", "POLICYQA_API_KEYS": KEYS,
           "POLICYQA_HOST": "127.0.0.1"}
    subprocess.run([sys.executable, "-m", "policyqa", "ingest", str(CORPUS), str(secret), "--json"], env=env,
                   cwd=REPO, check=True, timeout=900, capture_output=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running([sys.executable, "-m", "policyqa", "serve", "--port", str(port)], ready_url=f"{url}/readyz",
                 log_path=root / "server.log", env=env, cwd=REPO, timeout_s=600):
        yield url


@pytest.fixture(scope="module")
def chromium(keyed_server: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _session(chromium, url: str, key: str):  # noqa: ANN001, ANN202
    context = chromium.new_context(viewport={"width": 1280, "height": 900},
                                   http_credentials={"username": "canbo", "password": key})
    page = context.new_page()
    page.goto(url + "/ui/")
    page.wait_for_selector("#pq-question textarea", timeout=60_000)
    return context, page


def test_each_browser_sees_only_its_audience(keyed_server: str, chromium, tmp_path: Path) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    context, page = _session(chromium, keyed_server, "ui-a")
    _ask(page, QUESTION)
    page.locator("#pq-chat a.pq-cite").first.wait_for(timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#pq-sources")).to_contain_text(SECRET_TITLE)
    link = page.locator("#pq-sources .pq-current .pq-export a").first  # "Tải về .docx" of this answer
    expect(link).to_be_visible()
    with page.expect_download() as download:
        link.click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.suffix == ".docx" and saved.read_bytes()[:2] == b"PK"
    page.get_by_role("tab", name="Văn bản").click()
    expect(page.locator("#pq-docs table")).to_contain_text(SECRET_TITLE)
    assert context.request.get(keyed_server + "/ui-doc/mat-nhom-a").status == 200
    page.screenshot(path=str(tmp_path / "group-reader.png"))
    context.close()

    context, page = _session(chromium, keyed_server, "ui-pub")
    _ask(page, QUESTION)
    bot = page.locator('#pq-chat [data-testid="bot"]').last
    expect(bot).not_to_have_text("", timeout=ANSWER_TIMEOUT_MS)
    page.wait_for_function("() => !document.querySelector('#pq-chat').innerText.includes('Đang soạn câu trả lời')",
                           timeout=ANSWER_TIMEOUT_MS)
    assert SECRET_TITLE not in page.locator("#pq-sources").inner_text()
    assert SECRET_TITLE not in page.locator("#pq-chat").inner_text()
    page.get_by_role("tab", name="Văn bản").click()
    table = page.locator("#pq-docs table")
    expect(table).to_contain_text("STTTT-TTBCXB")
    assert SECRET_TITLE not in table.inner_text()
    assert context.request.get(keyed_server + "/ui-doc/mat-nhom-a").status == 404
    page.screenshot(path=str(tmp_path / "public-reader.png"))
    context.close()


def test_conversations_are_saved_resumed_renamed_and_private(keyed_server: str, chromium) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    first, follow = "UBND các huyện, thành phố phải làm gì?", "Còn các cơ quan báo chí thì sao?"
    context, page = _session(chromium, keyed_server, "ui-a")
    for question in (first, follow):
        _ask(page, question)
        page.wait_for_function(  # the newest answer is complete: cited (or an abstention), not still writing
            """n => { const bots = document.querySelectorAll('#pq-chat [data-testid="bot"]');
                      return bots.length === n && bots[n - 1].querySelector('a.pq-cite, .pq-abstain') !== null
                             && !bots[n - 1].innerText.includes('Đang soạn câu trả lời'); }""",
            arg=1 if question == first else 2, timeout=ANSWER_TIMEOUT_MS)
        page.wait_for_timeout(500)
    answers = page.locator('#pq-chat [data-testid="bot"]').all_inner_texts()
    context.close()

    context, page = _session(chromium, keyed_server, "ui-a")  # a new browser session, same key
    page.locator("button[aria-label*='sidebar' i], .sidebar-toggle, button.toggle-button").first.click()
    option = page.locator("#pq-conversations label", has_text=first[:40])
    expect(option).to_be_visible(timeout=20_000)
    option.click()
    expect(page.locator('#pq-chat [data-testid="user"]')).to_have_count(2, timeout=20_000)
    assert page.locator('#pq-chat [data-testid="bot"]').all_inner_texts() == answers
    expect(page.locator("#pq-sources")).to_contain_text("STTTT-TTBCXB")
    page.fill("#pq-conv-title textarea, #pq-conv-title input", "Phân công của UBND huyện")
    page.click("#pq-conv-rename")
    expect(page.locator("#pq-conversations")).to_contain_text("Phân công của UBND huyện", timeout=20_000)
    context.close()

    context, page = _session(chromium, keyed_server, "ui-pub")  # another key sees none of it
    page.wait_for_timeout(2_000)
    assert "Phân công của UBND huyện" not in page.locator("#pq-conversations").inner_text()
    context.close()

    context, page = _session(chromium, keyed_server, "ui-a")
    page.locator("button[aria-label*='sidebar' i], .sidebar-toggle, button.toggle-button").first.click()
    page.locator("#pq-conversations label", has_text="Phân công của UBND huyện").click()
    expect(page.locator('#pq-chat [data-testid="user"]')).to_have_count(2, timeout=20_000)
    page.click("#pq-conv-delete")
    expect(page.locator("#pq-conv-status")).to_contain_text("Đã xoá", timeout=20_000)
    expect(page.locator('#pq-chat [data-testid="user"]')).to_have_count(0)
    assert "Phân công của UBND huyện" not in page.locator("#pq-conversations").inner_text()
    context.close()


def test_admin_views_show_feedback_and_audit_to_admin_keys_only(keyed_server: str, chromium) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    context, page = _session(chromium, keyed_server, "ui-pub")  # a reader asks and rates an answer
    _ask(page, "UBND các huyện, thành phố phải làm gì?")
    page.locator("#pq-chat a.pq-cite").first.wait_for(timeout=ANSWER_TIMEOUT_MS)
    page.locator('#pq-chat [data-testid="bot"]').last.hover()
    page.locator('#pq-chat button[aria-label="Dislike"]').last.click()
    page.fill("#pq-comment textarea", "Thiếu thời hạn báo cáo")
    page.click("#pq-comment-send")
    expect(page.locator("#pq-feedback-status")).not_to_be_empty(timeout=20_000)
    expect(page.get_by_role("tab", name="Quản trị")).to_have_count(0)  # no admin tab for a reader
    context.close()

    context, page = _session(chromium, keyed_server, "ui-adm")
    page.get_by_role("tab", name="Quản trị").click()
    page.locator("#pq-fb-rating input").click()
    page.get_by_role("option", name="👎").click()
    expect(page.locator("#pq-fb-table")).to_contain_text("Thiếu thời hạn báo cáo", timeout=20_000)
    page.locator("#pq-au-route input").click()
    page.get_by_role("option", name="ui_ask", exact=True).click()
    table = page.locator("#pq-au-table")
    expect(table).to_contain_text("UBND các huyện, thành phố phải làm gì?", timeout=20_000)
    expect(table).to_contain_text("reader")
    page.fill("#pq-au-since input, #pq-au-since textarea", "hôm qua")
    page.press("#pq-au-since input, #pq-au-since textarea", "Enter")
    expect(table).to_contain_text("YYYY-MM-DD", timeout=20_000)
    context.close()
