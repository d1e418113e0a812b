"""The practice flow as people do it, in a real headless Chromium against uvicorn with accounts, on each database.

A scribe drafts a note for an encounter from a dictation that never says what guided the needle, edits it, and
sends the question to the physician; the physician sees the inbox count, answers, and the note is redrafted;
the physician signs (attesting, with a reason for anything still open) and adds an addendum that leaves the
signed text as it was; a second physician cannot sign; a coder opens the signed note and exports FHIR.

With NOTEDRAFT_SCREENSHOTS=DIR (e.g. docs) each step is saved as DIR/practice-N-....png (SQLite run only), so
CI never dirties the tree.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from pathlib import Path

import pytest

from notedraft.web.accounts import add_user
from notedraft.web.app import create_app
from notedraft.web.store import ATTESTATION

from .helpers import serve_in_thread
from .test_browser import browser  # noqa: F401  (the module-scoped Chromium fixture)

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"
PEOPLE = [
    ("sam", "Sam Rivera", "scribe"),
    ("drlee", "Dr. Ana Lee", "physician"),
    ("drkim", "Dr. Ben Kim", "physician"),
    ("cody", "Cody Park", "coder"),
]
MRN = "MRN-204817"
TODAY = __import__("datetime").date.today().isoformat()
# Everything an SI joint injection note needs except what guided the needle.
DICTATION = "L SIJ inj, diagnostic and therapeutic, 40 kenalog + 2cc 0.25% bupi, dx M46.1"
ANSWER = "Fluoroscopy guided the needle; contrast confirmed intra-articular spread."


@pytest.fixture
def practice(db_target):
    """uvicorn serving the editor on `db_target` with four accounts; yields (base URL, store)."""

    app = create_app(db_target)
    for username, name, role in PEOPLE:
        add_user(app.state.store, username=username, display_name=name, role=role, password=PASSWORD)
    srv, thread, base = serve_in_thread(app)
    yield base, app.state.store
    srv.should_exit = True
    thread.join(timeout=10)
    app.state.store.close()


@pytest.fixture
def page(browser):  # noqa: F811
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_default_timeout(15_000)
    yield page
    context.close()
    assert errors == [], f"JavaScript errors: {errors}"


@pytest.fixture
def shoot(request, db_target):
    """shoot(page, name): a full-page screenshot into $NOTEDRAFT_SCREENSHOTS (SQLite run only)."""
    folder = os.environ.get("NOTEDRAFT_SCREENSHOTS")

    def shoot(page, name: str) -> None:
        if folder and not db_target.startswith("postgresql"):
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.evaluate("window.scrollTo(0, 0)")  # the dictation column is sticky: show the page from its top
            page.screenshot(path=str(Path(folder) / f"practice-{name}.png"), full_page=True)

    return shoot


def log_in(page, base: str, username: str) -> None:
    page.goto(base + "/")
    page.wait_for_url(re.compile(r"/login$"))  # every page needs a login once accounts exist
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(base + "/")


def log_out(page) -> None:
    page.click("#logout")
    page.wait_for_url(re.compile(r"/login$"))


def api(page, base: str, method: str, path: str, body: dict | None = None):
    """The API from inside the logged-in browser context (its cookies, the page's CSRF token)."""
    token = page.get_attribute('meta[name="csrf-token"]', "content")
    return page.request.fetch(base + path, method=method, headers={"X-CSRF-Token": token}, data=body)


def test_scribe_physician_coder_flow(practice, page, shoot):
    from playwright.sync_api import expect

    base, store = practice

    # -- the scribe drafts a note for an encounter ------------------------------------------------------------------
    log_in(page, base, "sam")
    expect(page.locator("#who")).to_have_text("Sam Rivera · Scribe")
    expect(page.locator("#author")).to_have_count(0)  # no free-typed name with accounts
    expect(page.locator("#admin-link")).to_have_count(0)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", page.input_value("#date-of-service"))  # defaults to today
    page.fill("#patient-name", "Maria Gonzalez")
    page.fill("#patient-dob", "1958-04-02")
    page.fill("#mrn", MRN)
    page.fill("#date-of-service", TODAY)
    page.select_option("#physician", "drlee")
    page.select_option("#place", "office")
    page.select_option("#payer", "commercial")
    page.fill("#dictation", DICTATION)
    page.fill("#codes", "27096-LT")
    page.select_option("#strategy", "template")
    page.click("#generate")
    page.wait_for_url(re.compile(r"/drafts/\d+$"))
    draft_url = page.url
    draft_id = int(draft_url.rsplit("/", 1)[1])

    expect(page.locator("#enc-mrn")).to_have_text(MRN)
    expect(page.locator("#enc-date")).to_have_text(TODAY)
    expect(page.locator("#enc-patient")).to_have_text("Maria Gonzalez")
    expect(page.locator("#enc-physician")).to_have_text("Dr. Ana Lee")
    expect(page.locator("#dictation-view .dictation-part.original pre")).to_have_text(DICTATION)
    expect(page.locator("#verdict")).to_have_text("Not supported")
    guidance_question = page.locator("#queries li").filter(has_text=re.compile("guided the needle"))
    expect(guidance_question).to_have_count(1)
    expect(page.locator("#send-queries")).to_have_text("Send to Dr. Ana Lee")
    expect(page.locator("#sign-panel")).to_have_count(0)  # a scribe never signs

    # Pointing at a documented requirement lights its words in the note and in the dictation.
    page.locator("#satisfied li[title$='diagnosis.documented']").hover()
    expect(page.locator("#dictation-view mark.focus")).to_have_text("M46.1")
    # the note's diagnosis line is lit where it states the diagnosis: its words and its code
    expect(page.locator("#backdrop mark.focus").first).to_contain_text(re.compile(r"Sacroiliitis|M46\.1"))
    shoot(page, "1-scribe-drafts")

    # -- the scribe edits: the live check follows the text ----------------------------------------------------------
    drafted = page.input_value("#note")
    assert "40 mg" in drafted
    page.fill("#note", drafted.replace("40 mg", "80 mg", 1))
    expect(page.locator("#grounding li").filter(has_text="80").first).to_be_visible()  # not in the dictation
    expect(page.locator("#dirty")).to_be_visible()
    expect(page.locator("#send-queries")).to_be_disabled()  # questions go with a saved revision
    page.fill("#note", drafted)  # the scribe takes it back: only the physician can say what guided the needle
    expect(page.locator("#grounding li")).to_have_count(0)
    expect(page.locator("#send-queries")).to_be_enabled()
    page.click("#send-queries")
    expect(page.locator("#queries-status")).to_contain_text("Sent 1 question to Dr. Ana Lee")
    expect(page.locator("#sent-queries li")).to_contain_text("guided the needle")
    shoot(page, "2-scribe-sends-question")

    # The list: searchable, and this note waits for the physician's answer.
    page.goto(base + "/")
    row = page.locator(f"#drafts tr[data-draft='{draft_id}']")
    expect(row).to_contain_text(MRN)
    expect(row).to_contain_text("Dr. Ana Lee")
    expect(row.locator("td.attention")).to_have_text("waiting for the physician's answer")
    page.fill("#f-mrn", "no-such-patient")
    page.click("#filter-apply")
    expect(page.locator("#drafts")).to_have_count(0)
    page.fill("#f-mrn", MRN[-6:])
    page.select_option("#f-physician", "drlee")
    page.click("#filter-apply")
    expect(page.locator("#drafts tbody tr")).to_have_count(1)
    shoot(page, "3-the-list")
    log_out(page)

    # -- the physician answers ---------------------------------------------------------------------------------------
    log_in(page, base, "drlee")
    expect(page.locator("#inbox-count")).to_have_text("1")
    page.click("#inbox-link")
    item = page.locator(".inbox-item").filter(has_text="guided the needle")
    expect(item).to_contain_text(MRN)
    item.locator("textarea").fill(ANSWER)
    item.locator("button[type=submit]").click()
    result = item.locator(".answer-result")
    expect(result).to_contain_text("redrafted")
    assert result.get_attribute("data-then") == "redrafted"
    expect(page.locator("#inbox-count")).to_be_hidden()
    shoot(page, "4-physician-answers")
    page.reload()  # the answered question moves below, with the answer
    expect(page.locator("#open-queries")).to_have_count(0)
    expect(page.locator("#answered-queries li")).to_contain_text(ANSWER)
    page.locator("#answered-queries li a").click()

    # -- the redrafted note: the answer is dictated text, marked as such; the physician signs ------------------------
    page.wait_for_url(draft_url)
    expect(page.locator("#dictation-view .dictation-part.answer pre")).to_have_text(ANSWER)
    expect(page.locator("#dictation-view .dictation-part.answer .part-label")).to_contain_text("Physician's answer")
    assert re.search(r"fluoroscop", page.input_value("#note"), re.I)
    expect(page.locator("#sign-panel")).to_be_visible()
    expect(page.locator("#attestation-text")).to_have_text(ATTESTATION)
    expect(page.locator("#sign-state")).not_to_have_text("Checking the note…")
    reasons = page.locator("#sign-reasons input").all()
    for reason in reasons:  # a reason of the physician's own for any open finding
        reason.fill("Reviewed against my own procedure record.")
    if len(reasons) > 1:
        page.check("#same-reason")  # one reason for all of them is a choice the physician confirms
    page.check("#attest")
    shoot(page, "5-physician-signs")
    signed_text = page.input_value("#note")
    page.click("#sign")
    expect(page.locator("#signed-note")).to_contain_text("Signed by Dr. Ana Lee")
    expect(page.locator("#status-label")).to_have_text("Signed")
    assert page.locator("#note").get_attribute("readonly") is not None
    assert page.input_value("#note") == signed_text

    # -- an addendum after signing leaves the signed text unchanged ---------------------------------------------------
    addendum = "Patient called the next day: pain 2/10, no new symptoms."
    page.fill("#addendum-text", addendum)
    page.click("#add-addendum")
    expect(page.locator(".addendum")).to_have_count(1)
    expect(page.locator(".addendum pre")).to_have_text(addendum)
    expect(page.locator(".addendum")).to_contain_text("Addendum by Dr. Ana Lee")
    assert page.input_value("#note") == signed_text
    got = api(page, base, "GET", f"/api/drafts/{draft_id}").json()
    assert got["note"] == signed_text and got["status"] == "signed"
    assert [a["text"] for a in got["addenda"]] == [addendum]
    assert store.revision(draft_id, got["finalised"]["revision"])["note"] == signed_text
    shoot(page, "6-addendum")
    log_out(page)

    # -- a second physician cannot sign ---------------------------------------------------------------------------------
    log_in(page, base, "drkim")
    page.goto(draft_url)
    expect(page.locator("#signed-note")).to_be_visible()
    expect(page.locator("#sign-panel")).to_have_count(0)
    expect(page.locator("#addendum-form")).to_have_count(0)
    refused = api(page, base, "POST", f"/api/drafts/{draft_id}/sign",
                  {"revision": got["revision"], "attest": True, "overrides": []})
    assert refused.status == 403, refused.text()
    assert "Dr. Ana Lee" in refused.json()["message"]
    shoot(page, "7-other-physician")
    log_out(page)

    # -- a coder opens the signed note and exports FHIR -------------------------------------------------------------------
    log_in(page, base, "cody")
    expect(page.locator("#new-draft")).to_have_count(0)  # a coder does not draft
    row = page.locator(f"#drafts tr[data-draft='{draft_id}']")
    expect(row.locator("td").nth(7)).to_have_text("Signed")
    expect(row.locator("td.attention")).to_have_text("signed")
    page.locator(f"#drafts tr[data-draft='{draft_id}'] a").click()
    page.wait_for_url(draft_url)
    expect(page.locator("#sign-panel")).to_have_count(0)
    assert page.locator("#note").get_attribute("readonly") is not None
    shoot(page, "8-coder-exports")
    if importlib.util.find_spec("notedraft.exports") is None:
        pytest.skip("notedraft.exports (the FHIR builder) is not on this branch yet; everything before this passed")
    with page.expect_download() as download:
        page.click("#export-fhir")
    bundle = json.loads(Path(download.value.path()).read_text())
    assert bundle["resourceType"] == "Bundle"
    kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert {"DocumentReference", "Procedure"} <= kinds


def test_admin_adds_and_disables_an_account(practice, page, shoot):
    from playwright.sync_api import expect

    base, store = practice
    add_user(store, username="ada", display_name="Ada Admin", role="admin", password=PASSWORD)
    log_in(page, base, "ada")
    page.click("#admin-link")
    page.wait_for_url(base + "/admin")
    page.fill("#new-username", "newcoder")
    page.fill("#new-name", "New Coder")
    page.select_option("#new-role", "coder")
    page.fill("#new-password", "short")
    page.click("#add-user button[type=submit]")
    expect(page.locator("#admin-error")).to_contain_text("too short")  # one clear line; the form keeps its fields
    assert page.input_value("#new-username") == "newcoder"
    page.fill("#new-password", PASSWORD)
    page.click("#add-user button[type=submit]")
    row = page.locator("#users tr[data-user='newcoder']")
    expect(row).to_contain_text("Coder")
    row.locator("button.toggle-active").click()
    expect(page.locator("#users tr[data-user='newcoder'] td").nth(3)).to_have_text("no")
    assert next(u for u in store.users() if u["username"] == "newcoder")["active"] in (False, 0)
    expect(page.locator("#access-log")).to_contain_text("user.disable")
    shoot(page, "9-admin")


def test_signing_over_an_open_finding_needs_the_physicians_reason(practice, page):
    from playwright.sync_api import expect

    base, store = practice
    log_in(page, base, "drlee")
    page.fill("#patient-name", "Lee Park")
    page.fill("#patient-dob", "1970-01-01")
    page.fill("#mrn", "MRN-7")
    expect(page.locator("#physician")).to_have_value("drlee")  # a physician drafting is the rendering physician
    page.fill("#dictation", "R SIJ inj, fluoro, contrast confirmed intra-articular, 40 kenalog, dx M46.1, therapeutic")
    page.fill("#codes", "27096-RT")
    page.click("#generate")
    page.wait_for_url(re.compile(r"/drafts/\d+$"))
    drafted = page.input_value("#note")
    assert "40 mg" in drafted
    page.fill("#note", drafted.replace("40 mg", "80 mg", 1))  # a dose the dictation never gave
    expect(page.locator("#sign-state")).to_contain_text("Save your changes first")
    expect(page.locator("#sign")).to_be_disabled()
    page.click("#save")
    expect(page.locator("#revision-label")).to_have_text("2")
    reasons = page.locator("#sign-reasons li")
    expect(reasons.filter(has_text="80").first).to_be_visible()
    expect(reasons.first.locator(".tag")).to_have_text("not dictated")
    page.check("#attest")
    page.click("#sign")  # no reason given: the server refuses and says why; nothing is signed
    expect(page.locator("#sign-error")).to_contain_text("need your reason")
    expect(page.locator("#signed-note")).to_have_count(0)
    boxes = page.locator("#sign-reasons input").all()
    for box in boxes:
        box.fill("I gave 80 mg; the dictation was wrong.")
    if len(boxes) > 1:
        page.check("#same-reason")
    page.click("#sign")
    expect(page.locator("#signed-note")).to_contain_text("Signed by Dr. Ana Lee")
    expect(page.locator("#signed-note .overrides")).to_contain_text("I gave 80 mg; the dictation was wrong.")
    draft_id = int(page.url.rsplit("/", 1)[1])
    overrides = store.get_draft(draft_id)["finalised"]["overrides"]
    assert overrides and all(o["reason"] == "I gave 80 mg; the dictation was wrong." for o in overrides)
