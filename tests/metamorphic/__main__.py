"""python -m tests.metamorphic [--per N] [--examples N]: generate the variants, validate them, print the table.

--per caps the phrasings drawn per category and seed note (0 = every phrasing; the test uses the default).
Exit 1 when the gate fails (any false supported, or false refusals above the ratio), as the test does.
"""

from __future__ import annotations

import argparse
import sys

from .harness import MAX_FALSE_REFUSAL_RATIO, progress_to_stderr, run, table


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.metamorphic", description=__doc__.splitlines()[0])
    ap.add_argument("--per", type=int, default=4, help="phrasings per category and seed (0 = all)")
    ap.add_argument("--examples", type=int, default=3, help="failing variants shown per category")
    args = ap.parse_args(argv)
    t = run(per=args.per, progress=progress_to_stderr)
    print(table(t, examples=args.examples))
    return 0 if not t.false_supported and t.false_refusal_ratio <= MAX_FALSE_REFUSAL_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
