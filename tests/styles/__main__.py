"""python -m tests.styles [--notes-only|--dictations-only] [--show CATEGORY] [--json FILE] [--per-note K B]
[--per-dictation K B] [--families]: generate the style variants, run them, print per-category tallies.

--show CATEGORY (e.g. 7.layouts, or just 7) prints that category's failing variants with the validator's error
findings (rule: message) or, for dictations, the refusal / fidelity problems and the draft. Exit 1 when the gate
fails (any false supported, or false refusals above MAX_FALSE_REFUSAL_RATIO for notes or for dictations), as the
styles_gate tests do.
"""

from __future__ import annotations

import argparse
import json
import sys

from .harness import (
    MAX_FALSE_REFUSAL_RATIO, PER_DICTATION, PER_NOTE, as_json, progress_to_stderr, run_dictations, run_notes, show,
    table, top_reasons,
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.styles", description=__doc__.splitlines()[0])
    ap.add_argument("--notes-only", action="store_true")
    ap.add_argument("--families", action="store_true", help="only the family seeds (tests/styles/families.py)")
    ap.add_argument("--dictations-only", action="store_true")
    ap.add_argument("--show", metavar="CATEGORY", help="print the failing variants of a category")
    ap.add_argument("--limit", type=int, default=20, help="variants shown by --show")
    ap.add_argument("--json", metavar="FILE", help="write the tallies as JSON")
    ap.add_argument("--per-note", type=int, nargs=2, metavar=("KEEP", "BREAK"),
                    default=[PER_NOTE["keep"], PER_NOTE["break"]], help="styles per seed and category (0 = all)")
    ap.add_argument("--per-dictation", type=int, nargs=2, metavar=("KEEP", "BREAK"),
                    default=[PER_DICTATION["keep"], PER_DICTATION["break"]])
    args = ap.parse_args(argv)
    if args.families:
        from .families import main as families_main
        return families_main()
    tallies = []
    if not args.dictations_only:
        tallies.append(run_notes({**PER_NOTE, "keep": args.per_note[0], "break": args.per_note[1]},
                                 progress_to_stderr))
    if not args.notes_only:
        tallies.append(run_dictations({**PER_DICTATION, "keep": args.per_dictation[0],
                                       "break": args.per_dictation[1]}, progress_to_stderr))
    for t in tallies:
        print(table(t))
        print("  most common failure reasons (each failing variant once, by its first error):")
        for reason, count, ex in top_reasons(t):
            print(f"    {count:>5}  {reason}   e.g. {', '.join(ex)}")
        print()
    if args.show:
        cat = args.show
        for t in tallies:
            match = [c for c in t.categories() if c == cat or c.split(".")[0] == cat]
            for c in match:
                print(show(t, c, args.limit))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(as_json(tallies), fh, indent=1, ensure_ascii=False)
    bad = any(t.false_supported or t.false_refusal_ratio > MAX_FALSE_REFUSAL_RATIO for t in tallies)
    if not args.dictations_only:
        from .families import gate_problems, run as run_families, table as family_table
        ft = run_families()
        print(family_table(ft, examples=3 if args.show else 0))
        bad = bad or bool(gate_problems(ft))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
