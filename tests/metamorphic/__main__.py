"""python -m tests.metamorphic [--per N] [--examples N] [--families|--si]: generate the variants, validate them, print
the table (the SI joint seeds, then the family seeds per family).

--per caps the phrasings drawn per category and seed note (0 = every phrasing; the test uses the default).
Exit 1 when the gate fails (any false supported, or false refusals above the ratio), as the test does.
"""

from __future__ import annotations

import argparse
import sys

from .harness import (
    MAX_FALSE_REFUSAL_RATIO, families_gate_problems, family_table, progress_to_stderr, run, run_families, table,
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.metamorphic", description=__doc__.splitlines()[0])
    ap.add_argument("--per", type=int, default=4, help="phrasings per category and seed (0 = all)")
    ap.add_argument("--examples", type=int, default=3, help="failing variants shown per category")
    ap.add_argument("--families", action="store_true", help="the family seeds (evals/validator_families.jsonl) only")
    ap.add_argument("--si", action="store_true", help="the SI joint seeds (evals/validator.jsonl) only")
    args = ap.parse_args(argv)
    ok = True
    if not args.families:
        t = run(per=args.per, progress=progress_to_stderr)
        print(table(t, examples=args.examples))
        ok = not t.false_supported and t.false_refusal_ratio <= MAX_FALSE_REFUSAL_RATIO
    if not args.si:
        tallies = run_families(per=3 if args.per == 4 else args.per, progress=progress_to_stderr)
        print("\nfamilies (evals/validator_families.jsonl):")
        print(family_table(tallies, examples=args.examples))
        ok = ok and not families_gate_problems(tallies)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
