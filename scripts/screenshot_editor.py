"""Screenshots of the scribe editor for the docs, taken with Debian's chromium through Playwright.

    .venv/bin/python scripts/screenshot_editor.py            # writes docs/editor.png and docs/editor-realnote.png

1. docs/editor.png: a template draft from a realistic dictation, mid-edit: the guidance sentences deleted (the
   27096-LT line turns red with its fix) and a dose retyped as 80 mg (flagged as not in the dictation).
2. docs/editor-realnote.png: a real third-party note (../shared/realnotes/45_..., MTSamples) opened as a .txt
   with code line 27096-50, as a scribe would open a finished note. Skipped when that file is absent.

Runs the editor in-process on a free loopback port over a throwaway database; nothing is left behind but the PNGs.
"""

from __future__ import annotations

import argparse
import re
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from notedraft.web.app import create_app  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
DICTATION = ("L SIJ inj, diagnostic and therapeutic, fluoro, contrast confirmed intra-articular spread, image saved, "
             "40 mg kenalog + 2cc 0.25% bupi, dx M46.1, no complications")
REALNOTE = ROOT.parent / "shared" / "realnotes" / "45_si-joint-injection-bilateral-image-intensifier.txt"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(db: Path) -> tuple[str, object, threading.Thread]:
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(db), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise SystemExit("the editor did not start")
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, thread


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "editor.png")
    parser.add_argument("--realnote", type=Path, default=REALNOTE)
    parser.add_argument("--realnote-out", type=Path, default=ROOT / "docs" / "editor-realnote.png")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        print(f"screenshot_editor: {CHROMIUM} is not installed (apt-get install chromium)", file=sys.stderr)
        return 1

    from playwright.sync_api import expect, sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        base, server, thread = start(Path(tmp) / "editor.db")
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(15_000)
        page.goto(base + "/")
        page.evaluate("localStorage.setItem('notedraft.author', 'R. Alvarez')")
        page.reload()

        page.fill("#dictation", DICTATION)
        page.fill("#codes", "27096-LT")
        page.click("#generate")
        page.wait_for_url(re.compile(r"/drafts/\d+$"))
        note = page.input_value("#note")
        edited = re.sub(r"(?im)^.*fluoroscop.*\n", "", note).replace("40 mg", "80 mg")
        page.fill("#note", edited)
        expect(page.locator("#verdict")).to_have_text("Not supported")
        expect(page.locator("#grounding li")).not_to_have_count(0)
        page.locator("li.finding.error").first.click()  # show where the evidence sits
        page.wait_for_timeout(300)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.out))
        print(f"wrote {args.out}")

        if args.realnote.exists():
            page.goto(base + "/")
            page.fill("#codes", "27096-50")
            page.set_input_files("#open-file", str(args.realnote))
            page.wait_for_url(re.compile(r"/drafts/\d+$"))
            expect(page.locator("#verdict")).not_to_have_text("")
            page.wait_for_timeout(300)
            page.screenshot(path=str(args.realnote_out))
            print(f"wrote {args.realnote_out} ({args.realnote.name}, 27096-50: {page.inner_text('#verdict')}; "
                  f"{page.inner_text('#verdict-summary')})")
        else:
            print(f"skipped the real-note screenshot: {args.realnote} is absent", file=sys.stderr)

        page.on("dialog", lambda d: d.accept())
        browser.close()
        server.should_exit = True
        thread.join(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
