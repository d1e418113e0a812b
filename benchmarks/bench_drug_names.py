"""Benchmark: how many drug names each way of reading them finds, and at what cost per note. Not a test.

    python benchmarks/bench_drug_names.py [--shared DIR]

Compares, on the drug names in ../shared/devsets/*/notes, ../shared/realnotes/*.txt, the devsets' dictations and
evals/*.jsonl:
  1. the hand list before issue 16 (the DRUG_PATTERN of notedraft/lexicon.py at commit 4ab710b, if git has it);
  2. notedraft.medications exact (lexicon/drugs.toml);
  3. notedraft.medications with tolerant spelling (a misspelling by 1 edit, 2 from 9 letters, beside an amount);
  4. drug-named-entity-recognition (PyPI), exact and fuzzy, when installed;
  5. rapidfuzz (PyPI) over the same hand lexicon, when installed.
Coverage is measured on a labelled list of the drug forms the corpus uses (GOLD below: every occurrence counted),
on one-edit misspellings of every generic and brand (generated, fixed seed) and, for false positives, on every
other word of 6+ letters in the corpus, each placed before "40 mg". Speed is per note over the same texts.
"""

from __future__ import annotations

import argparse
import glob
import json
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from notedraft import medications  # noqa: E402

# Every drug form the corpus uses, labelled by hand: written form -> generic. Found with the surveys described in
# the report of issue 16 (every word within 40 characters of an amount; every word the library marks as a drug).
GOLD: dict[str, str] = {
    "kenalog": "triamcinolone", "triamcinolone": "triamcinolone", "triamcinalone": "triamcinolone",
    "kenelog": "triamcinolone", "aristospan": "triamcinolone", "TA": "triamcinolone",
    "depo-medrol": "methylprednisolone", "depomedrol": "methylprednisolone", "depo medrol": "methylprednisolone",
    "depo-medrone": "methylprednisolone", "methylprednisolone": "methylprednisolone",
    "methyl prednisolone": "methylprednisolone",
    "celestone": "betamethasone", "betamethasone": "betamethasone", "dexamethasone": "dexamethasone",
    "bupivacaine": "bupivacaine", "bupivicaine": "bupivacaine", "bupi": "bupivacaine", "marcaine": "bupivacaine",
    "levobupivacaine": "levobupivacaine", "chirocaine": "levobupivacaine",
    "ropivacaine": "ropivacaine", "ropi": "ropivacaine",
    "lidocaine": "lidocaine", "lido": "lidocaine", "lignocaine": "lidocaine", "xylocaine": "lidocaine",
    "omnipaque": "iohexol", "iohexol": "iohexol", "isovue": "iopamidol", "iopamidol": "iopamidol",
    "gadavist": "gadobutrol", "gadobutrol": "gadobutrol",
    "versed": "midazolam", "midazolam": "midazolam", "fentanyl": "fentanyl", "wydase": "hyaluronidase",
}


def corpus(shared: Path) -> list[str]:
    texts = [Path(p).read_text(encoding="utf-8") for p in sorted(glob.glob(str(shared / "devsets/*/notes/*.txt")))]
    texts += [Path(p).read_text(encoding="utf-8") for p in sorted(glob.glob(str(shared / "realnotes/*.txt")))]
    for p in sorted(glob.glob(str(shared / "devsets/*/draft_cases.json"))):
        texts += [c["dictation"] for c in json.loads(Path(p).read_text())]
    for p in sorted(glob.glob(str(REPO / "evals/*.jsonl"))):
        for line in Path(p).read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                texts.append(row.get("dictation") or row.get("note") or "")
    return [t for t in texts if t]


def gold_mentions(texts: list[str]) -> list[tuple[int, int, int, str, str]]:
    """(text index, start, end, form, generic) of every labelled form, longest first, case-insensitive except TA."""
    out = []
    forms = sorted(GOLD, key=len, reverse=True)
    alt = "|".join(re.escape(f) for f in forms if f != "TA")
    pattern = re.compile(rf"\b(?:{alt})\b|\b(?-i:TA)\b", re.I)
    for i, t in enumerate(texts):
        for m in pattern.finditer(t):
            form = m.group()
            out.append((i, m.start(), m.end(), form, GOLD.get(form.lower()) or GOLD[form]))
    return out


def misspellings(seed: int = 16) -> list[tuple[str, str]]:
    """One edit of every generic and brand of 6+ letters (a deletion, a substitution, a swap of neighbours), keeping
    the first letter, that is not itself a lexicon form."""
    rng = random.Random(seed)
    lx = medications.lexicon()
    names = sorted({f for f, (g, _) in lx.drugs.items() if f.isalpha() and len(f) >= 7 and (f == g or f in lx.brands)})
    out = []
    for name in names:
        for kind in ("delete", "substitute", "swap"):
            i = rng.randrange(1, len(name) - 1)
            if kind == "delete":
                w = name[:i] + name[i + 1 :]
            elif kind == "substitute":
                w = name[:i] + rng.choice([c for c in "aeiouy" if c != name[i]] if name[i] in "aeiouy"
                                          else [c for c in "bcdfghklmnprstvz" if c != name[i]]) + name[i + 1 :]
            else:
                w = name[:i] + name[i + 1] + name[i] + name[i + 2 :]
            if w not in lx.drugs and w != name:
                out.append((w, lx.drugs[name][0]))
    return out


def other_words(texts: list[str]) -> list[str]:
    lx = medications.lexicon()
    gold = {f.lower() for f in GOLD}
    words = {w.lower() for t in texts for w in re.findall(r"[A-Za-z]{6,}", t)}
    return sorted(w for w in words if w not in gold and w not in lx.drugs)


# --- readers: each returns the set of (start, generic) it finds in a text ---------------------------------------------


def old_reader():
    try:
        source = subprocess.run(["git", "-C", str(REPO), "show", "4ab710b:src/notedraft/lexicon.py"], check=True,
                                capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    ns: dict = {}
    exec(compile(source, "lexicon@4ab710b", "exec"), ns)  # the old tables, for comparison only
    pattern, drugs = ns["DRUG_PATTERN"], ns["DRUGS"]
    return lambda t: {(m.start(), drugs[m.group("drug").lower()][0]) for m in pattern.finditer(t)}


def exact_reader(t: str) -> set[tuple[int, str]]:
    lx = medications.lexicon()
    return {(m.start(), lx.drugs[m.group("drug").lower()][0]) for m in lx.drug_pattern.finditer(t)}


_READINGS: dict[str, object] = {}


def tolerant_reader(t: str) -> set[tuple[int, str]]:
    """The reader's own hits (exact and tolerant) on the text's Reading, which validate() builds anyway: its cost
    is not counted here (see prepare)."""
    from notedraft.reading import Reading

    ctx = _READINGS.get(t) or Reading(t)
    return {(ctx.span(h.start, h.end).start, h.generic) for h in medications._hits(ctx)}


def _prepare(t: str) -> None:
    from notedraft.reading import Reading

    _READINGS[t] = Reading(t)


tolerant_reader.prepare = _prepare  # type: ignore[attr-defined]


def library_reader(fuzzy: bool):
    try:
        from drug_named_entity_recognition import find_drugs
    except ImportError:
        return None

    def read(t: str) -> set[tuple[int, str]]:
        tokens = list(re.finditer(r"[A-Za-z][A-Za-z'-]*", t))
        words = [m.group() for m in tokens]
        out = set()
        # exact on tokens and pairs; the library's fuzzy pass on pairs raises (UnboundLocalError in 2.0.9), so its
        # fuzzy matching is called one token at a time
        for data, a, b in find_drugs(words, is_fuzzy_match=False):
            out.add((tokens[a].start(), (data.get("name") or "").lower()))
        if fuzzy:
            for j, w in enumerate(words):
                for data, a, b in find_drugs([w], is_fuzzy_match=True):
                    if data.get("match_type") == "fuzzy":
                        out.add((tokens[j].start(), (data.get("name") or data.get("match_variant") or "").lower()))
        return out

    return read


def rapidfuzz_reader():
    try:
        from rapidfuzz import fuzz, process
    except ImportError:
        return None
    lx = medications.lexicon()
    forms = [f for f in lx.drugs if len(f) >= 6 and f.isalpha()]

    def read(t: str) -> set[tuple[int, str]]:
        out = exact_reader(t)
        taken = {s for s, _ in out}
        for m in re.finditer(r"[A-Za-z]{6,}", t):
            if m.start() in taken:
                continue
            hit = process.extractOne(m.group().lower(), forms, scorer=fuzz.ratio, score_cutoff=88)
            if hit:
                out.add((m.start(), lx.drugs[hit[0]][0]))
        return out

    return read


def same_drug(found: str, generic: str) -> bool:
    return generic in found  # the library names "Methylprednisolone Acetate", "Lidocaine Viscous"


def score(read, texts, gold, misspelled, others) -> dict:
    by_text: dict[int, set] = {}
    times = []
    for i, t in enumerate(texts):
        if hasattr(read, "prepare"):
            read.prepare(t)
        start = time.perf_counter()
        by_text[i] = read(t)
        times.append((time.perf_counter() - start) * 1000)
    hit_forms: dict[str, list[bool]] = {}
    hits = 0
    for i, s, e, form, generic in gold:
        ok = any(a == s and same_drug(g, generic) for a, g in by_text[i])
        hits += ok
        hit_forms.setdefault(form.lower(), []).append(ok)
    missed_forms = sorted(f for f, oks in hit_forms.items() if not any(oks))
    m_hits = sum(any(same_drug(g, generic) for a, g in read(f"{w} 40 mg") if a == 0) for w, generic in misspelled)
    false = [w for w in others if any(a == 0 for a, _ in read(f"{w} 40 mg"))]
    return dict(mentions=f"{hits}/{len(gold)}", forms=f"{len(hit_forms) - len(missed_forms)}/{len(hit_forms)}",
                missed=missed_forms, misspellings=f"{m_hits}/{len(misspelled)}", false_positives=len(false),
                false_examples=false[:8], ms_median=statistics.median(times), ms_p95=sorted(times)[int(0.95 * (len(times) - 1))])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=str(REPO.parent / "shared"))
    args = ap.parse_args()
    texts = corpus(Path(args.shared))
    start = time.perf_counter()
    medications.lexicon()
    compiled = 1000 * (time.perf_counter() - start)
    gold = gold_mentions(texts)
    misspelled = misspellings()
    others = other_words(texts)
    print(f"{len(texts)} texts, {len(gold)} labelled drug mentions of {len({g[3].lower() for g in gold})} forms, "
          f"{len(misspelled)} generated misspellings, {len(others)} other words of 6+ letters")
    print(f"notedraft lexicon (drugs.toml, units.toml): read and compiled on first use in {compiled:.1f} ms")
    readers = [("hand list before (4ab710b)", old_reader()), ("medications exact", exact_reader),
               ("medications + tolerant", tolerant_reader)]
    t0 = time.perf_counter()
    lib = library_reader(False)
    if lib is not None:
        lib("x")
        print(f"drug-named-entity-recognition: import and first call {1000 * (time.perf_counter() - t0):.0f} ms")
    readers += [("drug-named-entity-recognition exact", lib), ("drug-named-entity-recognition fuzzy", library_reader(True)),
                ("rapidfuzz ratio>=88 over the lexicon", rapidfuzz_reader())]
    for name, read in readers:
        if read is None:
            print(f"{name}: not available")
            continue
        r = score(read, texts, gold, misspelled, others)
        print(f"{name}: mentions {r['mentions']}, forms {r['forms']}, misspellings {r['misspellings']}, "
              f"false positives {r['false_positives']}/{len(others)}, per text median {r['ms_median']:.3f} ms "
              f"p95 {r['ms_p95']:.3f} ms")
        if r["missed"]:
            print(f"    forms missed: {', '.join(r['missed'])}")
        if r["false_examples"]:
            print(f"    false positives e.g.: {', '.join(r['false_examples'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
