"""Score the validator and the offline drafter on ../shared/devsets (written outside the project).

Usage: python scripts/devsets.py [--verbose] [--shared DIR]
Prints per set: verdicts right, false supported, false refused; dictations right. The sets are a dev set: fix the
category a failure belongs to, never the note.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from notedraft.drafting import draft
from notedraft.validate import validate


def validate_cases(set_dir: Path):
    for case in json.loads((set_dir / "validate_cases.json").read_text()):
        name = case.get("note") or case.get("file")
        expect = case["expect_supported"] if "expect_supported" in case else case["expect"] == "supported"
        yield name, (set_dir / "notes" / name).read_text(encoding="utf-8"), case["codes"], case.get("payer"), expect, case.get("why", "")


def draft_problems(case: dict) -> list[str]:
    d = draft(case["dictation"], codes=case["codes"], strategy="template")
    problems = []
    supported = d.report.supported if d.report else False
    if supported != (case["expect"] == "supported"):
        problems.append(f"verdict {'supported' if supported else 'rejected'}")
    note = d.note.lower()
    for alts in case.get("must_mention", []):
        if not any(a.lower() in note for a in alts.split("|")):
            problems.append(f"missing {alts!r}")
    for bad in case.get("must_not_mention", []):
        if bad.lower() in note:
            problems.append(f"invented {bad!r}")
    suggest = case.get("suggest") or []
    for code in [suggest] if isinstance(suggest, str) else suggest:
        if code not in (d.report.suggested_codes if d.report else []):
            problems.append(f"not suggested {code}")
    if case.get("expect_queries") and not d.queries:
        problems.append("no query")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared"))
    ap.add_argument("--verbose", "-v", action="store_true")
    args = ap.parse_args()
    root = Path(args.shared) / "devsets"
    totals = dict(n=0, ok=0, fs=0, fr=0, good=0, dn=0, dok=0)
    for set_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        n = ok = fs = fr = good = 0
        for name, text, codes, payer, expect, why in validate_cases(set_dir):
            r = validate(text, codes, payer=payer)
            n += 1
            good += expect
            if r.supported == expect:
                ok += 1
                continue
            if r.supported:
                fs += 1
                tag = "FALSE SUPPORTED"
            else:
                fr += 1
                tag = "FALSE REFUSED"
            if args.verbose:
                errs = "; ".join(f"{f.rule}: {f.message[:140]}" for f in r.findings if f.severity == "error")
                print(f"  {set_dir.name}/{name} {codes} {payer or ''} {tag}\n      why: {why[:200]}\n      got: {errs[:600]}")
        dn = dok = 0
        for case in json.loads((set_dir / "draft_cases.json").read_text()):
            dn += 1
            problems = draft_problems(case)
            if not problems:
                dok += 1
            elif args.verbose:
                print(f"  {set_dir.name}/{case['id']} draft: {'; '.join(problems)}\n      dictation: {case['dictation'][:220]}")
        print(f"{set_dir.name}: verdicts {ok}/{n}, false supported {fs}, false refused {fr}/{good}; dictations {dok}/{dn}")
        for k, v in dict(n=n, ok=ok, fs=fs, fr=fr, good=good, dn=dn, dok=dok).items():
            totals[k] += v
    t = totals
    print(f"all: verdicts {t['ok']}/{t['n']}, false supported {t['fs']}, false refused {t['fr']}/{t['good']}; "
          f"dictations {t['dok']}/{t['dn']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
