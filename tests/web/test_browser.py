"""The editor in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright), against uvicorn."""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

import pytest

from notedraft.web.app import create_app

from .helpers import free_port, saved_file

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
DICTATION = ("L SIJ inj, diagnostic and therapeutic, fluoro, contrast confirmed intra-articular spread, image saved, "
             "40 mg kenalog + 2cc 0.25% bupi, dx M46.1, no complications")
GUIDANCE_RULE = "27096.guidance.fluoroscopy_or_ct"


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is not installed (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser test: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def server(tmp_path):
    import uvicorn

    port = free_port()
    config = uvicorn.Config(create_app(tmp_path / "editor.db"), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 950})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_default_timeout(10_000)
    yield page
    context.close()
    assert errors == [], f"JavaScript errors: {errors}"


def test_dictation_to_draft_edit_reject_restore_save_reload(server, page):
    from playwright.sync_api import expect

    page.goto(server + "/")
    page.fill("#dictation", DICTATION)
    page.fill("#codes", "27096-LT")
    page.select_option("#strategy", "template")
    page.click("#generate")
    page.wait_for_url(re.compile(r"/drafts/\d+$"))

    expect(page.locator("#verdict")).to_have_text("Supported")
    expect(page.locator("#code-lines .code-line.ok")).to_have_text("27096-LT")
    original = page.input_value("#note")
    assert re.search(r"fluoroscop", original, re.I)

    # Delete the guidance statement(s): the rejection appears while typing, with its fix.
    without = re.sub(r"(?im)^.*fluoroscop.*(\n|$)", "", original)
    page.fill("#note", without)
    expect(page.locator("#verdict")).to_have_text("Not supported")
    finding = page.locator(f'li.finding.error[title="{GUIDANCE_RULE}"]')
    expect(finding).to_be_visible()
    expect(finding.locator(".fix")).to_contain_text("fluoroscop")
    for label in page.locator("#findings li.finding.error .sev").all_inner_texts():
        assert label.lower() == "error"
    expect(page.locator("#code-lines .code-line.err")).to_have_text("27096-LT")
    expect(page.locator("#dirty")).to_be_visible()

    # Restore it: supported again, the finding gone, the evidence highlighted.
    page.fill("#note", original)
    expect(page.locator("#verdict")).to_have_text("Supported")
    expect(finding).to_have_count(0)
    expect(page.locator("#backdrop mark.ok").filter(has_text=re.compile("fluoroscop", re.I)).first).to_be_attached()

    page.click("#save")
    expect(page.locator("#revision-label")).to_have_text("2")
    expect(page.locator("#dirty")).to_be_hidden()

    page.reload()
    expect(page.locator("#revision-label")).to_have_text("2")
    assert page.input_value("#note") == original
    page.click("#history-link")
    expect(page.locator("li.revision")).to_have_count(2)
    expect(page.locator("li.revision").first.locator("h2")).to_have_text("Revision 2")


def test_a_stale_tab_sees_the_conflict_and_loses_nothing(server, browser, page):
    from playwright.sync_api import expect

    page.goto(server + "/")
    page.fill("#dictation", DICTATION)
    page.click("#generate")
    page.wait_for_url(re.compile(r"/drafts/\d+$"))
    other = page.context.new_page()
    other.goto(page.url)

    page.context.clear_cookies()  # the CSRF cookie is gone: the page fetches a fresh token and still saves
    page.fill("#note", page.input_value("#note") + "\nAddendum from tab A.")
    page.click("#save")
    expect(page.locator("#revision-label")).to_have_text("2")

    mine = other.input_value("#note") + "\nAddendum from tab B."
    other.fill("#note", mine)
    other.click("#save")
    expect(other.locator("#conflict")).to_be_visible()
    expect(other.locator("#conflict-text")).to_contain_text("revision 2")
    assert other.input_value("#note") == mine  # the stale tab keeps its text
    # Both tabs added a line at the same place: the merge keeps both between markers, and will not save them.
    merged = other.input_value("#conflict-merged")
    assert "tab A" in merged and "tab B" in merged and "<<<<<<< theirs" in merged
    other.click("#conflict-save-merged")
    expect(other.locator("#conflict-merge-state")).to_contain_text("Keep one version")
    expect(other.locator("#revision-label")).to_have_text("1")
    resolved = mine.replace("\nAddendum from tab B.", "\nAddendum from tab A.\nAddendum from tab B.")
    other.fill("#conflict-merged", resolved)
    other.click("#conflict-save-merged")
    expect(other.locator("#revision-label")).to_have_text("3")
    other.goto(page.url + "/history")
    expect(other.locator("li.revision")).to_have_count(3)
    expect(other.locator("li.revision").nth(1)).to_contain_text("tab A")
    expect(other.locator("li.revision").nth(0)).to_contain_text("tab B")


def test_a_note_with_markup_renders_inert(server, page):
    from playwright.sync_api import expect
    import httpx

    hostile = "Left SI joint.\n<script>window.pwned = 1</script><img src=x onerror=\"window.pwned = 2\">"
    with httpx.Client(base_url=server) as c:
        c.headers["X-CSRF-Token"] = c.get("/api/csrf").json()["csrf"]
        url = c.post("/api/drafts/import", json=saved_file(note=hostile, dictation="<b>dictated</b>")).json()["url"]
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(server + url)
    expect(page.locator("#verdict")).to_have_text("Not supported")
    assert page.input_value("#note") == hostile
    page.wait_for_timeout(300)
    assert page.evaluate("window.pwned") is None
    assert page.locator("img[src=x]").count() == 0 and dialogs == []
    page.goto(server + url + "/history")
    assert page.evaluate("window.pwned") is None
    expect(page.locator("pre.note-pre").first).to_contain_text("<script>window.pwned = 1</script>")


def test_an_llm_draft_runs_in_the_background_with_progress_and_can_be_cancelled(server, page, monkeypatch):
    from playwright.sync_api import expect

    from tests.support.fake_openai import FakeOpenAI, hang, text

    with FakeOpenAI() as fake:
        # The editor builds its LLM client from the environment at request time, as in production.
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        fake.script(hang(60))
        page.goto(server + "/")
        page.fill("#dictation", DICTATION)
        page.fill("#codes", "27096-LT")
        page.select_option("#strategy", "llm-compose")
        page.click("#generate")
        expect(page.locator("#new-status")).to_contain_text(re.compile(r"Drafting with llm-compose… \d"))
        expect(page.locator("#generate")).to_be_disabled()
        expect(page.locator("#new-status")).not_to_have_text(page.locator("#new-status").inner_text())  # it ticks
        page.click("#cancel-draft")
        expect(page.locator("#new-error")).to_have_text("Cancelled; your dictation is still here.")
        expect(page.locator("#cancel-draft")).to_be_hidden()
        expect(page.locator("#generate")).to_be_enabled()
        assert page.input_value("#dictation") == DICTATION

        # An LLM whose notes never pass ends in the template fallback: the job finishes and the page opens it.
        fake.script(*[text("not a procedure note")] * 4)
        page.click("#generate")
        page.wait_for_url(re.compile(r"/drafts/\d+$"), timeout=60_000)
        expect(page.locator("#verdict")).to_have_text("Supported")
