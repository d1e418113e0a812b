"""Issue 19's practice features in a real headless Chromium against uvicorn with accounts, on each database: two
people editing one note see both versions and a merge (defect 5); correcting and voiding; the scribe's own question;
the coder's worklist with an overridden line; the account page; the print stylesheet. Screenshots with
NOTEDRAFT_SCREENSHOTS=docs (SQLite run only), as practice-10... to practice-14...."""

from __future__ import annotations

import re

import pytest

from notedraft.web.accounts import add_user

from .test_browser import ARGS, browser  # noqa: F401
from .test_practice_flow import PASSWORD, PEOPLE, api, log_in, log_out, page, practice, shoot  # noqa: F401

pytestmark = pytest.mark.browser
COMPLETE = ("L SIJ inj, diagnostic and therapeutic, fluoro, contrast confirmed intra-articular spread, "
            "40 kenalog + 2cc 0.25% bupi, dx M46.1")
MEDICARE = COMPLETE  # no LCD history: seven errors under Medicare


def new_draft(page, base, *, mrn="MRN-55", payer="commercial", dictation=COMPLETE, name="Jo Smith"):
    page.goto(base + "/")
    page.fill("#patient-name", name)
    page.fill("#patient-dob", "1955-05-05")
    page.fill("#mrn", mrn)
    page.select_option("#physician", "drlee")
    page.select_option("#payer", payer)
    page.fill("#dictation", dictation)
    page.fill("#codes", "27096-LT")
    page.click("#generate")
    page.wait_for_url(re.compile(r"/drafts/\d+$"))
    return page.url


def test_a_save_conflict_shows_both_versions_and_saves_a_merge_of_them(practice, page, shoot, browser):  # noqa: F811
    from playwright.sync_api import expect

    base, store = practice
    log_in(page, base, "sam")
    url = new_draft(page, base)
    drafted = page.input_value("#note")
    other = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    log_in(other, base, "drlee")
    other.goto(url)
    other.fill("#note", drafted.replace("Medications injected:", "Medications injected (checked by Dr. Lee):"))
    other.click("#save")
    expect(other.locator("#revision-label")).to_have_text("2")
    page.fill("#note", drafted + "\nPatient tolerated the procedure well.\n")  # sam's edit, from revision 1
    page.click("#save")
    expect(page.locator("#conflict")).to_be_visible()
    expect(page.locator("#conflict-theirs")).to_contain_text("checked by Dr. Lee")
    expect(page.locator("#conflict-mine-now")).to_contain_text("tolerated the procedure well")
    merged = page.input_value("#conflict-merged")
    assert "checked by Dr. Lee" in merged and "tolerated the procedure well" in merged
    expect(page.locator("#conflict-merge-state")).to_contain_text("without overlap")
    shoot(page, "10-merge")
    page.click("#conflict-save-merged")
    expect(page.locator("#revision-label")).to_have_text("3")
    draft_id = int(url.rsplit("/", 1)[1])
    saved = store.get_draft(draft_id)["note"]
    assert "checked by Dr. Lee" in saved and "tolerated the procedure well" in saved  # nobody's edit is lost
    other.context.close()


def test_correct_void_and_the_scribes_own_question(practice, page, shoot):  # noqa: F811
    from playwright.sync_api import expect

    base, store = practice
    log_in(page, base, "sam")
    first = new_draft(page, base, mrn="MRN-77")
    second = new_draft(page, base, mrn="MRN-77")
    expect(page.locator("#duplicate-warning")).to_contain_text("Another draft exists")
    page.fill("#own-question-text", "Was the patient on anticoagulants?")
    page.select_option("#own-question-kind", "history")
    page.click("#own-question-send")
    expect(page.locator("#sent-queries")).to_contain_text("anticoagulants")
    page.locator("#encounter-correct summary").click()
    page.fill("#c-name", "Jo A. Smith")
    page.select_option("#c-payer", "medicare")
    page.fill("#c-reason", "name and payer from the insurance card")
    shoot(page, "11-correct-void")
    page.click("#correct-save")
    expect(page.locator("#enc-patient")).to_have_text("Jo A. Smith")
    page.locator("#encounter-correct summary").click()
    page.fill("#void-reason", "duplicate of the first draft")
    page.once("dialog", lambda d: d.accept())
    page.click("#void")
    expect(page.locator("#voided-banner")).to_contain_text("duplicate of the first draft")
    expect(page.locator("#queries-closed")).to_be_visible()
    expect(page.locator("#sent-queries li")).to_contain_text("closed when the note was voided")
    page.goto(base + "/")
    expect(page.locator(f"#drafts tr[data-draft='{first.rsplit('/', 1)[1]}']")).to_have_count(1)
    expect(page.locator(f"#drafts tr[data-draft='{second.rsplit('/', 1)[1]}']")).to_have_count(0)
    versions = store.encounter_versions(store.get_draft(int(second.rsplit("/", 1)[1]))["encounter"]["id"])
    assert [v["reason"] for v in versions] == [None, "name and payer from the insurance card"]


def test_the_coders_worklist_shows_an_overridden_line_as_not_supported(practice, page, shoot):  # noqa: F811
    from playwright.sync_api import expect

    base, store = practice
    log_in(page, base, "drlee")
    url = new_draft(page, base, payer="medicare", dictation=MEDICARE, name="Ray Ortiz")
    expect(page.locator("#sign-state")).to_contain_text("still open")
    for i, box in enumerate(page.locator("#sign-reasons input").all()):
        box.fill(f"Criterion {i + 1} is in the referral letter of 2026-10-02.")
    page.check("#attest")
    page.click("#sign")
    expect(page.locator("#claim-banner")).to_contain_text("Signed with overridden documentation errors")
    log_out(page)
    log_in(page, base, "cody")
    page.click("#worklist-link")
    row = page.locator(f"#worklist tr[data-draft='{url.rsplit('/', 1)[1]}']")
    expect(row).to_contain_text("NOT SUPPORTED by the note")
    expect(row).to_contain_text("Ray Ortiz")
    shoot(page, "12-worklist")
    page.once("dialog", lambda d: d.accept())
    row.locator("button.mark-coded").click()
    expect(page.locator("#coded")).to_contain_text("cody")
    with page.expect_download() as download:
        page.click("#claims-csv")
    assert download.value.suggested_filename == "notedraft-claims.csv"


def test_the_account_page_makes_a_token_and_starts_totp(practice, page, shoot):  # noqa: F811
    from playwright.sync_api import expect

    base, store = practice
    log_in(page, base, "sam")
    page.click("#account-link")
    page.wait_for_url(base + "/account")
    page.fill("#token-name", "nightly export")
    page.click("#token-form button[type=submit]")
    expect(page.locator("#token-value")).to_have_text(re.compile(r"^ndt_[A-Za-z0-9_-]{40,}$"))
    token = page.text_content("#token-value")
    page.click("#totp-setup")
    expect(page.locator("#totp-secret")).to_have_text(re.compile(r"^[A-Z2-7]{16,}$"))
    shoot(page, "13-account")
    r = page.request.get(base + "/api/drafts", headers={"Authorization": f"Bearer {token}"})
    assert r.status == 200


def test_the_print_stylesheet_prints_the_note_not_the_controls(practice, page, shoot):  # noqa: F811
    from playwright.sync_api import expect

    base, store = practice
    log_in(page, base, "sam")
    new_draft(page, base, name="Kim Day")
    page.emulate_media(media="print")
    expect(page.locator("#print-note")).to_be_visible()
    expect(page.locator("#print-note")).to_contain_text("Left sacroiliac joint injection")
    expect(page.locator(".print-banner")).to_have_text("UNSIGNED DRAFT — not for billing")
    for hidden in ("header.topbar", "aside.side", "#save", "#note"):
        expect(page.locator(hidden)).to_be_hidden()
    expect(page.locator("#enc-patient")).to_have_text("Kim Day")
    shoot(page, "14-print")
    page.emulate_media(media="screen")
