"""A screenshot of `notedraft audit`'s report.html for the docs, taken with Debian's chromium through Playwright.

    .venv/bin/python scripts/screenshot_audit.py        # writes docs/audit-report.png

Audits the real third-party notes in ../shared/realnotes (MTSamples) with a claims file made here in a temp folder:
each note billed with the CPT line a coder would pick for its labelled procedure (index.json), three fictional
physicians, November dates. Codes no family's rule pack covers (sympathetic blocks, 64680...) come out as "could
not be audited" rows. The page is opened from disk and one SI joint note,
billed with the wrong side, is selected so its evidence shows highlighted. Nothing is left behind but the PNG.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REALNOTES = ROOT.parent / "shared" / "realnotes"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
PHYSICIANS = ["Dr. Ana Lee", "Dr. Ben Ortiz", "Dr. Chen Wu"]
# procedure category (index.json) → the line a coder would bill; first match wins
BILLED = [("sacroiliac joint injection", None), ("trigger point", None), ("SI joint nerve block", "64451"),
          ("RF ablation - SI", "64625"), ("RF ablation - facet", "64635"), ("RF ablation", "64680"),
          ("ESI - transforaminal cervical", "64479"), ("ESI - transforaminal", "64483"),
          ("ESI - interlaminar cervical", "62321"), ("ESI - interlaminar thoracic", "62321"), ("ESI", "62323"),
          ("facet", "64493"), ("medial branch", "64490"), ("adhesiolysis", "62264"), ("epidurography", "72275"),
          ("large joint", "20610"), ("shoulder", "20605"), ("hip region", "20610"), ("other", "64520")]
SELECTED = "10_si-joint-and-sacral-alar-notch-injection-right.txt"


def claim_for(label: dict) -> str:
    name, category = label["file"], label["procedure_category"]
    if name == SELECTED:
        return "27096-LT"  # billed on the wrong side: the side evidence is what the coder sees highlighted
    if category == "sacroiliac joint injection":
        return {"right": "27096-RT", "left": "27096-LT"}.get(label["side"], "27096-50")
    if category == "trigger point injection":
        return "20553" if "8-sites" in name else "20552"
    return next(code for key, code in BILLED if key.lower() in category.lower() and code)


def main() -> None:
    labels = json.loads((REALNOTES / "index.json").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="notedraft-audit-shot-") as tmp:
        claims = Path(tmp) / "claims.csv"
        with open(claims, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["note", "codes", "physician", "date_of_service"])
            for i, label in enumerate(labels):
                w.writerow([label["file"], claim_for(label), PHYSICIANS[i % 3], f"2026-11-{1 + i % 28:02d}"])
        notes = Path(tmp) / "notes"  # the notes only (the folder also holds its README and index)
        notes.mkdir()
        for label in labels:
            shutil.copy(REALNOTES / label["file"], notes / label["file"])
        out = Path(tmp) / "audit"
        notedraft = Path(sys.executable).with_name("notedraft")
        result = subprocess.run([str(notedraft), "audit", str(notes), "--claims", str(claims), "--out", str(out)],
                                capture_output=True, text=True, timeout=300)
        print(result.stdout)
        if result.returncode not in (0, 1):
            sys.exit(result.stderr)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 1850}, device_scale_factor=1)
            page.goto((out / "report.html").as_uri())
            page.click(f"#notes tbody tr:has-text('{SELECTED}')")
            page.evaluate("window.scrollTo(0, 0)")
            target = ROOT / "docs" / "audit-report.png"
            page.screenshot(path=str(target), full_page=False)
            browser.close()
        print(f"wrote {target}")


if __name__ == "__main__":
    main()
