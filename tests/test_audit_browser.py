"""The audit's report.html in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright).

The report a real `notedraft audit` run wrote is opened from disk: the table sorts and filters, a note's evidence
is highlighted on its text at the spans' offsets (also past an emoji, where JavaScript counts differently), input
that looks like markup stays text (no script from a note, a file name or a claim runs), and the page asks for
nothing beyond itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
NOTEDRAFT = Path(sys.executable).with_name("notedraft")
if not NOTEDRAFT.exists():
    NOTEDRAFT = REPO / ".venv" / "bin" / "notedraft"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
GOOD = (
    "PROCEDURE: Left sacroiliac joint injection.\nDIAGNOSIS: Sacroiliitis (M46.1).\nThis was a diagnostic injection.\n"
    "Under fluoroscopic guidance a 22-gauge spinal needle was advanced into the left SI joint.\n"
    "Intra-articular placement was confirmed with contrast, which outlined the joint.\n"
    "Injected 40 mg Kenalog and 2 mL of 0.25% bupivacaine.\n"
)
NO_FLUORO = GOOD.replace("Under fluoroscopic guidance a", "Fluoroscopy was not used. A")
XSS_TEXT = '</script><script>window.__xss = 1</script><img src=x onerror="window.__xss = 3">'
XSS_NAME = '<img src=x onerror="window.__xss=2">.txt'
XSS_PHYSICIAN = '<b onmouseover="window.__xss=4">Dr. Evil</b>'


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


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A real audit of 130 notes (two pages): supported, not supported (one whose evidence follows an emoji),
    unreadable, and notes whose text, file name and physician are markup."""
    root = tmp_path_factory.mktemp("audit")
    notes = root / "notes"
    notes.mkdir()
    claims = ["note,codes,physician,date_of_service"]
    for i in range(126):
        text = (GOOD if i % 3 else NO_FLUORO) + f"Encounter {i}.\n"
        (notes / f"n{i:03d}.txt").write_text(text, encoding="utf-8")
        claims.append(f"n{i:03d}.txt,{'27096-LT' if i % 5 else '27096-RT'},Dr. {'ABC'[i % 3]},2026-11-{1 + i % 28:02d}")
    (notes / "emoji.txt").write_text("Patient 😀😀 seen.\n" + NO_FLUORO, encoding="utf-8")
    claims.append("emoji.txt,27096-RT,Dr. A,2026-11-30")
    (notes / "xss.txt").write_text(XSS_TEXT + "\n" + NO_FLUORO, encoding="utf-8")
    claims.append(f'xss.txt,27096-LT,"{XSS_PHYSICIAN.replace(chr(34), chr(34) * 2)}",2026-11-30')
    (notes / XSS_NAME).write_text(GOOD, encoding="utf-8")
    claims.append(f'"{XSS_NAME.replace(chr(34), chr(34) * 2)}",27096-LT,Dr. B,2026-11-30')
    (notes / "binary.txt").write_bytes(b"\x00\x01")
    claims.append("binary.txt,27096-LT,Dr. C,2026-11-30")
    (root / "claims.csv").write_text("\n".join(claims) + "\n", encoding="utf-8")
    out = root / "out"
    result = subprocess.run([str(NOTEDRAFT), "audit", str(notes), "--claims", str(root / "claims.csv"), "--out",
                             str(out), "--workers", "2"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    rows = {r["note"]: r for r in map(json.loads, (out / "results.jsonl").read_text(encoding="utf-8").splitlines())}
    return out / "report.html", rows


@pytest.fixture
def page(browser, report):
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    requests: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.set_default_timeout(10_000)
    page.goto(report[0].as_uri())
    yield page
    context.close()
    assert errors == [], f"JavaScript errors: {errors}"
    assert requests == [report[0].as_uri()], f"the report asked for more than itself: {requests}"


def _column(page, index: int) -> list[str]:
    return page.locator(f"#notes tbody tr td:nth-child({index})").all_inner_texts()


def test_the_table_pages_sorts_and_filters(page, report):
    rows = report[1]
    from playwright.sync_api import expect

    expect(page.locator("#count")).to_have_text(f"{len(rows)} notes")
    expect(page.locator("#page")).to_have_text("Page 1 of 2")
    assert len(_column(page, 1)) == 100
    page.click("#next")
    expect(page.locator("#page")).to_have_text("Page 2 of 2")
    assert len(_column(page, 1)) == len(rows) - 100

    page.click("#notes th[data-col='5']")  # errors, ascending
    expect(page.locator("#notes th[data-col='5']")).to_have_attribute("aria-sort", "ascending")
    expect(page.locator("#page")).to_have_text("Page 1 of 2")
    errors = [int(x or 0) for x in _column(page, 5)]
    assert errors == sorted(errors)
    page.click("#notes th[data-col='5']")  # descending
    errors = [int(x or 0) for x in _column(page, 5)]
    assert errors == sorted(errors, reverse=True) and errors[0] == max(
        sum(f["severity"] == "error" for f in r["findings"]) for r in rows.values())

    page.select_option("#f-verdict", "1")
    not_supported = sum(1 for r in rows.values() if r["error"] is None and not r["supported"])
    expect(page.locator("#count")).to_have_text(f"{not_supported} of {len(rows)} notes")
    assert set(_column(page, 2)) == {"Not supported"}

    page.select_option("#f-physician", "Dr. B")
    want = sum(1 for r in rows.values() if r["error"] is None and not r["supported"] and r["physician"] == "Dr. B")
    expect(page.locator("#count")).to_have_text(f"{want} of {len(rows)} notes")
    assert set(_column(page, 7)) == {"Dr. B"}

    page.click("#clear")
    page.fill("#q", "n042")
    expect(page.locator("#count")).to_have_text(f"1 of {len(rows)} notes")
    assert _column(page, 1) == ["n042.txt"]


def test_a_rule_in_the_chart_filters_the_table(page, report):
    rows = report[1]
    rule = "27096.guidance.fluoroscopy_or_ct"
    page.click(f"#rule-chart [data-rule='{rule}']")
    failing = sorted(n for n, r in rows.items() if any(f["rule"] == rule and f["severity"] == "error"
                                                       for f in r["findings"]))
    from playwright.sync_api import expect

    expect(page.locator("#count")).to_have_text(f"{len(failing)} of {len(rows)} notes")
    assert sorted(_column(page, 1)) == failing
    assert page.locator("#f-rule").input_value() == rule


def test_the_evidence_is_highlighted_on_the_text_at_its_offsets(page, report):
    row = report[1]["emoji.txt"]
    page.fill("#q", "emoji")
    page.click("#notes tbody tr:has-text('emoji.txt')")
    marks = page.locator("#detail pre.text mark")
    assert marks.count() > 0
    assert marks.first.is_visible()
    spans = {s["text"] for f in row["findings"] for s in f["spans"] if s["end"] > s["start"]}
    shown = set(marks.all_inner_texts())
    assert shown and shown <= spans, (shown, spans)  # past the emoji, the highlight is still the span's own text
    assert page.locator("#detail pre.text").inner_text() == row["text"]
    rules = page.locator("#detail .findings code.rule").all_inner_texts()
    assert rules == [f["rule"] for f in row["findings"]]
    questions = page.locator("#detail .questions li").all_inner_texts()
    assert questions == row["questions"]


def test_markup_in_a_note_a_file_name_or_a_claim_stays_text(page, report):
    assert page.evaluate("window.__xss") is None
    assert page.locator("script").count() == 4  # the report's own: summary, rows, details, the code
    assert page.locator("img, b").count() == 0
    page.fill("#q", "onerror")
    page.click(f"#notes tbody tr:has-text('{XSS_NAME[:8]}')")
    assert page.locator("#detail h3").inner_text() == XSS_NAME
    page.fill("#q", "xss.txt")
    page.click("#notes tbody tr:has-text('xss.txt')")
    assert page.locator("#detail pre.text").inner_text().startswith(XSS_TEXT)
    page.select_option("#f-physician", XSS_PHYSICIAN)
    assert XSS_PHYSICIAN in page.locator("#notes tbody").inner_text()
    page.hover("#notes tbody tr")
    assert page.evaluate("window.__xss") is None
    assert page.locator("img, b").count() == 0
