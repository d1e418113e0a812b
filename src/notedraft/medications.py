"""Medications as data: every drug a text names as given, with its amounts exactly as written.

The drugs (generic, role, brands with their label salt and product strengths, older and British names, shorthand,
misspellings) are `lexicon/drugs.toml`; the units and number words are `lexicon/units.toml`. Both are compiled once,
on first use, so importing the validator stays quick.

Public API (the reader of procedure events calls these per event):
  read_medications(ctx, elsewhere=...)  every affirmed mention of a drug, in text order, not de-duplicated
  dedupe_medications(meds)              one fact per drug and use (the Facts.medications list)
  dose_conflicts(meds, text)            the same drug stated with amounts that cannot all be true
  unread_amounts(ctx, meds)             amounts that no drug claims (asked about, never dropped)

What is read: amounts before or after the name in its clause ("40 mg Kenalog", "Kenalog 40 mgs", "2 cc's of
quarter percent Marcaine"), a concentration with its volume ("80 mg/1 mL", "6 mg (1 mL)", "40 mg/mL, 1 mL"), amounts
in a table row or a later column (pipes, tabs or aligned spaces, units from a "Dose (mg)" header), on the line below
a drug listed alone, per side or in total (a trailing "each side" covers the drugs listed before it), the salt and
product ("Kenalog-40" is 40 mg/mL: a strength, never a dose; with "1 mL" the dose is computed, 40 mg), and a drug
misspelled by a letter or two when an amount stands beside it. What a drug was for (contrast, sedation, skin local,
injectate) is read from its own clause; which procedure it belongs to is the caller's (`elsewhere`).
"""

from __future__ import annotations

import bisect
import os
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from . import recache
from .models import Conflict, Medication, Span
from .reading import wraps_at
from .recache import load_toml

if TYPE_CHECKING:
    from decimal import Decimal

DATA = Path(__file__).parent / "lexicon"
_st = os.stat(__file__)
_VERSION = (_st.st_size, _st.st_mtime_ns)  # what the command line's cache keeps of this file's work (see _alternation)
I = re.IGNORECASE

__all__ = ["read_medications", "dedupe_medications", "dose_conflicts", "unread_amounts", "lexicon", "number_value",
           "amounts"]


class _Lazy:
    """A pattern compiled on first use, so importing the validator compiles none of this module's patterns."""

    __slots__ = ("_args", "_pattern")

    def __init__(self, *args) -> None:
        self._args = args
        self._pattern: re.Pattern[str] | None = None

    def __getattr__(self, name: str):
        pattern = self._pattern
        if pattern is None:
            pattern = self._pattern = re.compile(*self._args)
        return getattr(pattern, name)


# --- the lexicon, compiled once ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Brand:
    name: str
    generic: str
    salt: str | None
    strengths: tuple[Decimal, ...]  # mg/mL
    strength_suffix: bool
    iodine: tuple[int, ...]


@dataclass(frozen=True)
class DrugLexicon:
    drugs: dict[str, tuple[str, str]]  # written form (lower case) -> (generic, role)
    brands: frozenset[str]  # written forms that are brand names (shown in the note beside the generic)
    brand_of: dict[str, Brand]  # written form (lower case, brands and their misspellings) -> brand
    upper_case: dict[str, tuple[str, str]]  # read only in upper case ("TA")
    brand_salt: dict[str, str]  # written form (lower case) -> the label's salt
    strength_suffix_brands: frozenset[str]
    fuzzy_by_length: dict[int, list[tuple[str, str, str]]]  # word length -> [(form, generic, role)] within 2
    drug_pattern: re.Pattern[str]
    unit_of: dict[str, str]  # unit spelling (lower case) -> canonical
    number_words: dict[str, int]
    fractions: dict[str, str]
    number: str  # regex source of one number (digits, fraction, words)
    mass: re.Pattern[str]
    mass_near_drug: re.Pattern[str]
    volume: re.Pattern[str]
    percent: re.Pattern[str]
    per_ml: re.Pattern[str]

    @property
    def amount(self) -> re.Pattern[str]:
        """Any amount (for table cells and lines of amounts): compiled when a table or a list is first read."""
        return _amount_pattern()


def _variants(form: str) -> set[str]:
    """"depo-medrol" is also written "depo medrol" and "depomedrol"; "isovue-m" also "isovue m"."""
    out = {form}
    if "-" in form or " " in form:
        parts = re.split(r"[- ]", form)
        out |= {"-".join(parts), " ".join(parts), "".join(parts)}
    return out


def _alternation(words, space: str | None = None) -> str:
    """A regex matching exactly the words, as a character trie: "bupi(?:v(?:acaine|icaine)?)?". A trie finds the
    longest word that ends at a word boundary, as a longest-first alternation would, in one pass over the letters.
    Building the trie of every drug name costs a one-shot command ~5 ms: the command line's cache keeps the result
    (recache.derived), keyed by the words and this file's version."""
    words = tuple(words)
    memo = ("drug-trie", _VERSION, words, space)
    known = recache.derived(memo)
    if known is not None:
        return known[0]
    source = _trie(words, space)
    recache.remember(memo, (source,))
    return source


def _trie(words: tuple[str, ...], space: str | None) -> str:
    trie: dict = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict) -> str:
        end = "" in node
        branches = [(space if ch == " " and space else re.escape(ch)) + emit(child)
                    for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        if len(branches) == 1 and not end:
            return branches[0]
        return "(?:" + "|".join(branches) + ")" + ("?" if end else "")

    return emit(trie)


def _spellings(units: dict[str, list[str]]) -> tuple[str, dict[str, str]]:
    of = {s.lower(): canon for canon, spellings in units.items() for s in spellings}
    return "(?:" + _alternation(sorted(of), space=r"\s+") + ")", of


@cache
def lexicon() -> DrugLexicon:
    from decimal import Decimal

    with open(DATA / "drugs.toml", "rb") as fh:
        drug_data = load_toml(fh)["drug"]
    with open(DATA / "units.toml", "rb") as fh:
        units = load_toml(fh)
    drugs: dict[str, tuple[str, str]] = {}
    brands: set[str] = set()
    brand_of: dict[str, Brand] = {}
    upper: dict[str, tuple[str, str]] = {}
    brand_salt: dict[str, str] = {}
    suffix: set[str] = set()
    fuzzy: dict[int, list[tuple[str, str, str]]] = {}

    def add(form: str, generic: str, role: str, *, tolerant: bool = True) -> None:
        for f in _variants(form.lower()):
            drugs[f] = (generic, role)
            if tolerant and len(f) >= 5 and f.isalpha():
                for n in range(len(f) - 2, len(f) + 3):  # the word lengths this form is within two edits of
                    fuzzy.setdefault(n, []).append((f, generic, role))

    for d in drug_data:
        generic, role = d["generic"], d["role"]
        for form in [generic, *d.get("names", []), *d.get("misspellings", [])]:
            add(form, generic, role)
        for form in d.get("abbreviations", []):
            add(form, generic, role, tolerant=False)
        for form, salt in d.get("upper_case", {}).items():
            upper[form] = (generic, role)
            drugs[form.lower()] = (generic, role)
            if salt:
                brand_salt[form.lower()] = salt
        for b in d.get("brands", []):
            brand = Brand(b["name"], generic, b.get("salt"), tuple(Decimal(str(s)) for s in b.get("strengths", [])),
                          bool(b.get("strength_suffix")), tuple(b.get("iodine", [])))
            for form in [b["name"], *b.get("names", [])]:
                brands |= _variants(form.lower())
            for form in [b["name"], *b.get("names", []), *b.get("misspellings", [])]:
                add(form, generic, role)
                for f in _variants(form.lower()):
                    brand_of[f] = brand
                    if brand.salt:
                        brand_salt[f] = brand.salt
                    if brand.strength_suffix:
                        suffix.add(f)
    names = sorted(k for k in drugs if k.upper() not in upper)
    # a shorthand that is also the first word of another product ("depo" of Depo-Provera): never the drug there
    not_before = [rf"{re.escape(form)}[-\s]?(?:{'|'.join(words)})\b"
                  for d in drug_data for b in d.get("brands", []) for form, words in b.get("not_before", {}).items()]
    guard = rf"(?!{'|'.join(not_before)})" if not_before else ""
    drug_pattern = re.compile(r"\b" + guard + r"(?P<drug>" + _alternation(names)
                              + "".join(f"|(?-i:{re.escape(k)})" for k in sorted(upper)) + r")\b", I)

    words = {k: int(v) for k, v in units["numbers"].items()}
    fractions = {k: str(v) for k, v in units["fractions"].items()}
    tens = _alternation(sorted(w for w, v in words.items() if v >= 20 and v % 10 == 0))
    ones = _alternation(sorted(w for w, v in words.items() if 1 <= v <= 9))
    word_alt = _alternation(sorted(words))
    frac_alt = _alternation(sorted(fractions), space=r"\s+")
    # Digits, a fraction ("1/2", "1 1/2") or words ("forty", "twenty five", "one and a half", "a quarter"). Never
    # the "2" of "1/2".
    # A spoken decimal: "point five", "one point five", "point two five" (before any word alone: "point five
    # percent" is 0.5%, never the "five percent" in it).
    digit = rf"(?:{ones}|zero|oh)"
    spoken = rf"(?:(?:{digit})\s+)?point(?:\s+{digit})+"
    core = (rf"(?:\d+\s+\d+\s*/\s*\d+|\d+\s*/\s*\d+(?!\s*/)|\d*\.?\d+"
            rf"|\b(?:{spoken}|(?:{tens})[\s-](?:{ones})|(?:{word_alt})(?:\s+and\s+a\s+half)?|{frac_alt})\b)")
    number = rf"(?<![\d/.]){core}"
    mass_units, mass_of = _spellings(units["mass"])
    near_only, near_of = _spellings(units["mass_near_drug"])
    vol_units, vol_of = _spellings(units["volume"])
    pct_alt = "|".join(re.escape(s).replace(r"\ ", r"\s+") for s in units["percent"]["spellings"] if s != "%")
    unit_of = {**mass_of, **near_of, **vol_of}
    # (not before "/ mL", "/kg", "/ 2 mL": a strength or a rate; "40 mg / Marcaine 0.5%" lists the next drug)
    per = r"(?!\s*/\s*(?:\d|\.\d|ml\b|mls\b|cc\b|ccs\b|cc's|milliliters?\b|millilitres?\b|kg\b|day\b|d\b|hr\b|h\b|min\b))"
    mass = re.compile(rf"(?P<n>{number})\s*(?P<unit>{mass_units})(?![A-Za-z]){per}", I)
    # A bare "g" is a gram only beside a drug, never a needle's gauge ("22 g spinal needle", "25 g 1.5 inch").
    near = re.compile(rf"(?P<n>{number})\s*(?P<unit>{mass_units}(?![A-Za-z])|{near_only}(?![A-Za-z])"
                      r"(?!\s*(?:x\b|\d|-?\s*(?:inch|in\b|cm|mm)|(?:\w+\s+)?(?:needle|spinal|quincke|tuohy|chiba|whitacre"
                      r"|pencil|catheter|cannula|introducer|stylet|angiocath|gauge))))" + per, I)
    volume = re.compile(rf"(?P<n>{number})\s*(?P<unit>{vol_units})(?![A-Za-z])", I)
    percent = re.compile(rf"(?P<n>{number})\s*(?:%|(?:{pct_alt})(?![A-Za-z]))", I)
    # "40 mg/mL", "6 mg per mL", "80 mg/1 mL" (80 mg in 1 mL: the volume given), "20 mg / 0.5 cc".
    per_ml = re.compile(rf"(?P<n>{number})\s*(?:mg|mgs|milligrams?)\s*(?:/|\bper\b)\s*(?P<v>\d*\.?\d+)?\s*{vol_units}"
                        r"(?![A-Za-z])", I)
    return DrugLexicon(drugs=drugs, brands=frozenset(brands), brand_of=brand_of, upper_case=upper,
                       brand_salt=brand_salt, strength_suffix_brands=frozenset(suffix), fuzzy_by_length=fuzzy,
                       drug_pattern=drug_pattern, unit_of=unit_of, number_words=words, fractions=fractions,
                       number=number, mass=mass, mass_near_drug=near, volume=volume, percent=percent, per_ml=per_ml)


@cache
def _amount_pattern() -> re.Pattern[str]:
    lx = lexicon()
    return re.compile(f"{lx.per_ml.pattern}|{lx.mass.pattern}|{lx.volume.pattern}|{lx.percent.pattern}"
                      .replace("?P<n>", "").replace("?P<v>", "").replace("?P<unit>", ""), I)


@cache
def _patterns() -> dict[str, re.Pattern[str]]:
    """The drug-related patterns that do not come from the data files, compiled on first use."""
    return {
        # A salt written after the generic ("triamcinolone hexacetonide", "methylprednisolone acetate").
        "SALT": re.compile(r"\s*(?P<salt>hexacetonide|acetonide|sodium\s+phosphate(?:\s*(?:and|/|&)\s*(?:betamethasone\s+)?acetate)?"
                           r"|acetate|sodium\s+succinate|succinate|diacetate|dipropionate)\b", I),
        # What a drug was for, read in its own clause: local anaesthetic for the skin and needle tract is not the
        # injectate.
        "SKIN_LOCAL": re.compile(
            r"\bskin\b|\bwheal\b|\bsub-?cutaneous\w*|\bsub-?q\b|\bsuperficial\w*|\b(?:needle\s+)?(?:tract|track)\b"
            r"|\blocal\s+infiltrat\w*|\binfiltrat\w*\s+(?:of\s+)?(?:the\s+)?(?:skin|soft\s+tissue)"
            # "the ... region was anesthetized with 4% lidocaine": tissue on the way in, never the target itself
            r"|\b(?:region|tissues?|area|fascia)\s+(?:(?:was|were)\s+)?(?:then\s+)?(?:an?a?esthe(?:tiz|tis)\w*|numbed)\b", I),
        # Amounts per side or in total ("20 mg per side", "40 mg each joint", "80 mg total").
        "PER_SIDE": re.compile(
            r"\b(?:per|each|every|to\s+each|into\s+each|in\s+each|on\s+each|at\s+each|for\s+each)\s+(?:side|joint|SIJ"
            r"|SI\s+joint|sacroiliac\s+joint)s?\b|\ba\s+side\b|\beach\b|\bapiece\b|\bper\s+site\b|\beach\s+site\b", I),
        "IN_TOTAL": re.compile(r"\b(?:in\s+)?total\b|\bdivided\b|\bsplit\b", I),
        # An amount no known drug claims is kept (never dropped silently) unless its clause says what it is.
        "AMOUNT_EXPLAINED": re.compile(
            r"\b(?:contrast|dye|saline|solution|mixture|total|syringe|needle|gauge|inch|cm|fluid|blood|csf|aspirat\w*"
            r"|per\s+site|each\s+site|omnipaque|isovue|sedation|versed|fentanyl|propofol)\b"
            r"|(?-i:\bNS\b)|\bPFNS\b", I),  # "10 cc NS": normal saline, the diluent
        "BARE_NUMBER": re.compile(r"(?<![\w.%/])(?P<n>\d*\.?\d+)(?![\w.%/])"),
    }


# The names other modules import from notedraft.lexicon (which re-exports them), built on first use.
_FROM_LEXICON = {
    "DRUGS": "drugs", "BRANDS": "brands", "UPPER_CASE_DRUGS": "upper_case", "BRAND_SALT": "brand_salt",
    "STRENGTH_SUFFIX_BRANDS": "strength_suffix_brands", "DRUG_PATTERN": "drug_pattern", "NUMBER": "number",
    "MASS": "mass", "VOLUME": "volume", "PERCENT": "percent", "PER_ML": "per_ml",
}
EXPORTS = frozenset(_FROM_LEXICON) | {"SALT", "SKIN_LOCAL", "PER_SIDE", "IN_TOTAL", "AMOUNT_EXPLAINED", "BARE_NUMBER",
                                      "number_value"}


def __getattr__(name: str):
    if name in _FROM_LEXICON:
        return getattr(lexicon(), _FROM_LEXICON[name])
    if name in EXPORTS and name != "number_value":  # a static set: import machinery probes names like __path__
        return _patterns()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def patterns() -> dict[str, re.Pattern[str]]:
    """Every compiled drug and amount pattern by name (for tests of the fast scanner)."""
    lx = lexicon()
    return {**{k: getattr(lx, v) for k, v in _FROM_LEXICON.items() if isinstance(getattr(lx, v), re.Pattern)},
            "MASS_NEAR_DRUG": lx.mass_near_drug, **_patterns()}


def number_value(written: str) -> str:
    """'1/2' → '0.5', '1 1/2' → '1.5', 'half a' → '0.5', 'one and a half' → '1.5', '.5' → '0.5', 'two' → '2',
    'twenty five' → '25', 'quarter' → '0.25'."""
    from decimal import Decimal

    lx = lexicon()
    w = re.sub(r"[\s-]+", " ", written.strip().lower())
    if re.fullmatch(r"\d*\.?\d+", w):
        return ("0" + w) if w.startswith(".") else w
    value: Decimal
    m = re.fullmatch(r"(?:(\d+) )?(\d+) ?/ ?(\d+)", w)
    if m:
        value = Decimal(m.group(1) or 0) + Decimal(m.group(2)) / Decimal(m.group(3))
    elif (spoken := re.fullmatch(r"(?:(\w+) )?point((?: \w+)+)", w)) and all(
            d in lx.number_words or d in ("zero", "oh") for d in ((spoken.group(1) or "zero") + spoken.group(2)).split()):
        digit = {"zero": "0", "oh": "0", **{k: str(v) for k, v in lx.number_words.items() if v <= 9}}
        whole = digit.get(spoken.group(1) or "zero")
        decimals = [digit.get(d) for d in spoken.group(2).split()]
        if whole is None or None in decimals:
            return w
        value = Decimal(f"{whole}.{''.join(decimals)}")  # type: ignore[arg-type]
    elif w in lx.fractions or w.replace(" ", "-") in lx.fractions:
        value = Decimal(lx.fractions.get(w) or lx.fractions[w.replace(" ", "-")])
    elif w in lx.number_words:
        value = Decimal(lx.number_words[w])
    elif (half := re.fullmatch(r"(\w+) and a half", w)) and half.group(1) in lx.number_words:
        value = Decimal(lx.number_words[half.group(1)]) + Decimal("0.5")
    elif (pair := re.fullmatch(r"(\w+) (\w+)", w)) and pair.group(1) in lx.number_words and pair.group(2) in lx.number_words:
        value = Decimal(lx.number_words[pair.group(1)] + lx.number_words[pair.group(2)])
    else:
        return w
    return format(value.quantize(Decimal("0.001")).normalize(), "f")


def _num(n: str) -> str:
    return number_value(n)


def _unit(u: str) -> str:
    return lexicon().unit_of.get(re.sub(r"\s+", " ", u.lower()), u.lower())


# --- tolerant spelling -----------------------------------------------------------------------------------------------


def _osa_distance(a: str, b: str, k: int) -> int:
    """Optimal-string-alignment edit distance (insert, delete, substitute, swap two neighbours), or k + 1 once it
    exceeds k."""
    if abs(len(a) - len(b)) > k:
        return k + 1
    # The letters one word has more of than the other (the larger of the two counts) bound the distance from below:
    # a substitution adds one letter on each side, an insertion or deletion on one, a swap on neither. Most drug
    # names are far from a word by this count alone, so the table below is seldom filled.
    extra = Counter(a)
    extra.subtract(b)
    if max(sum(n for n in extra.values() if n > 0), -sum(n for n in extra.values() if n < 0)) > k:
        return k + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                v = min(v, prev2[j - 2] + 1)
            cur[j] = v
        if min(cur) > k:
            return k + 1
        prev2, prev = prev, cur
    return prev[-1]


@lru_cache(maxsize=4096)
def tolerant_match(word: str) -> tuple[str, str] | None:
    """(generic, role) of the one drug a word of 6 or more letters misspells by at most one edit (two from 9
    letters), with the same first letter: "triamcinalone", "bupivicaine", "lidocane", "methylprednisolon". None when
    no drug, or more than one drug, is that close ("bexamethasone" is one letter from betamethasone and two from
    dexamethasone: the nearest is not clear enough to name)."""
    w = word.lower()
    if len(w) < 6 or not w.isalpha() or w in lexicon().drugs:
        return None
    k = 1 if len(w) <= 8 else 2
    same: dict[tuple[str, str], int] = {}  # drugs with a form of the same first letter, by distance
    near: dict[tuple[str, str], int] = {}  # every drug, by distance
    for form, generic, role in lexicon().fuzzy_by_length.get(len(w), ()):
        d = _osa_distance(w, form, k + 1)
        if d <= k + 1:
            key = (generic, role)
            near[key] = min(d, near.get(key, 99))
            if form[0] == w[0]:
                same[key] = min(d, same.get(key, 99))
    if not same:
        return None
    best = min(same.values())
    winners = [g for g, d in same.items() if d == best]
    # one drug nearest, within k, and no other drug within one more edit
    if best > k or len(winners) != 1 or any(d <= best + 1 for g, d in near.items() if g != winners[0]):
        return None
    return winners[0]


# --- hits: where the text names a drug -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    """One place the text names a drug: exactly (the lexicon's pattern) or within an edit or two (near an amount)."""

    start: int
    end: int
    written: str
    generic: str
    role: str

    def span(self) -> tuple[int, int]:
        return self.start, self.end


_STEP = r"\s|of\b|[(),:/]|\d*\.?\d+\s*(?:%|percent\b|mg\s*/\s*(?:ml|cc)\b)|\bmg\s*/\s*(?:ml|cc)\b"
_SKIP_BACK = _Lazy(rf"(?:{_STEP})*$", I)
_SKIP_AHEAD = _Lazy(rf"(?:{_STEP})*([A-Za-z]+)", I)


def _hits(ctx) -> list[Hit]:
    lx = lexicon()
    out = [Hit(m.start(), m.end(), m.group("drug"), *lx.drugs[m.group("drug").lower()])
           for m in ctx.finditer(lx.drug_pattern)]
    starts = [h.start for h in out]
    text = ctx.text
    # A misspelled drug is read only with an amount beside it ("triamcinalone 40 mg", "2 mL 0.25% bupivicaine"):
    # the word right before or right after the amount, in its line.
    extra: dict[int, Hit] = {}
    # the mass and volume scans are the ones unread_amounts makes anyway (the reading caches them); a percent or a
    # strength between the amount and the word is stepped over (_SKIP_BACK, _SKIP_AHEAD)
    found = sorted((m for p in (lx.mass, lx.volume) for m in ctx.finditer(p)), key=lambda m: m.start())
    for m in found:
        line_start, line_end = _line(text, m.start())
        candidates = []
        before = text[max(line_start, m.start() - 40) : m.start()]
        trimmed = before[: len(before) - len(_SKIP_BACK.search(before).group())]
        w = re.search(r"[A-Za-z]+$", trimmed)
        if w and not (w.start() == 0 and m.start() - len(before) > line_start and text[m.start() - len(before) - 1].isalpha()):
            candidates.append((m.start() - len(before) + w.start(), w.group()))
        after = _SKIP_AHEAD.match(text[m.end() : min(line_end, m.end() + 40)])
        if after:
            candidates.append((m.end() + after.start(1), after.group(1)))
        for pos, word in candidates:
            if pos in extra or len(word) < 6:
                continue
            i = bisect.bisect_right(starts, pos) - 1
            if i >= 0 and pos < out[i].end:
                continue
            found = tolerant_match(word)
            if found:
                extra[pos] = Hit(pos, pos + len(word), word, *found)
    if extra:
        out = sorted(out + list(extra.values()), key=lambda h: h.start)
    return out


# --- reading the mentions --------------------------------------------------------------------------------------------

# Where one drug's amounts end: punctuation, a sentence's full stop (not a decimal point), joining words.
_DOSE_BOUNDARY = _Lazy(
    r"[,;:()|\t]|\r(?!\n)|(?<!\bc)(?<!\bc\.c)\.(?!\d)|\+|\bplus\b|\band\b(?!\s+a\s+half\b)|\bwith\b|\bw/|\bfollowed\s+by\b|\bthen\b|\bx\b(?!\s*\d*\.?\d+\s*(?:ml|cc)s?\b)"
    # a line that ends in "of" runs on ("1 mL of\nmethylprednisolone"): its break is no boundary
    r"|(?<!\bof)(?<!\bof )(?<!\bof\r)(?<!\bof \r)\r?\n"
    # a spaced slash before the next drug's name: "Kenalog 40 mg / Marcaine 0.5% 2 mL" (not "40 mg / mL")
    r"|\s/\s+(?=[a-z]|$)(?!(?:ml|cc|mg|mcg)\b)", I
)
# a line of prose (no table cells: no pipe, tab or run of spaces) that ends in an amount
_RUN_ON_LINE = _Lazy(r"(?:^|\n)(?:[^|\t\n]*[a-z][^|\t\n]*\bof\s+\d*\.?\d+\s*(?:%|mg|mcg|ml|cc)s?[ \t]*\r?$"
                     # or a long line of prose ("... Injected 80 mg\nDepo-Medrol"), no table cells in it
                     r"|(?![^\n]*(?:[ ]{2}|\t|\|))(?=[^\n]{45,}$)[^\n]*[a-z][^\n]*\d\s*(?:%|mg|mcg|ml|cc)s?[ \t]*\r?$)", I)
_PAIRED_LEFT = _Lazy(r"\d*\.?\d+\s*(?:mg|mcg|ml|cc)s?\s*\(\s*\d*\.?\d+\s*(?:mg|mcg|ml|cc)s?\s*\)\s*(?:of\s+)?$", I)
_COLON_AMOUNT = _Lazy(r"(?<![\d:]):[ \t]*\.?\d")
_BARE_LEFT = _Lazy(r"(?P<n>\d*\.?\d+)\s*(?:of\s+)?$")
_BARE_RIGHT = _Lazy(r"^\s*(?P<n>\d*\.?\d+)(?!\s*(?:%|mg|mcg|cc|ml|units?|/|g\b|ga\b|gauge|kg\b|-?\s*(?:inch|in\b|cm)))(?![\w.])", I)
# Table cells: a pipe, a tab, or a run of two or more spaces between words.
_CELL_BREAK = _Lazy(r"[ \t]*\|[ \t]*|[ \t]*\t[ \t]*|[ ]{2,}")
_HEADER_WORD = _Lazy(r"\b(?:dose|dosage|amount|volume|vol|concentration|conc|strength|quantity|qty)\b", I)
_HEADER_UNIT = _Lazy(r"\(\s*(mg|mcg|ml|mL|cc|%)\s*\)|\bin\s+(mg|mcg|ml|mL|cc)\b", I)


def _runs_on(text: str, brk: int) -> bool:
    """Whether the line ending at `brk` is prose that ends in an amount (see _RUN_ON_LINE), read whole."""
    start = text.rfind("\n", 0, brk) + 1
    return _RUN_ON_LINE.search(text[start:brk]) is not None


def _window(ctx, lo: int, hi: int, *, left: bool) -> str:
    chunk = ctx.text[lo:hi]

    def wrapped(m: re.Match[str]) -> bool:  # a line of prose wrapped onto the next: no boundary (reading._wraps_at)
        return m.group()[-1:] == "\n" and wraps_at(ctx.text, lo + m.start(), lo + m.end())

    if left:
        # "0.5 mL (20 mg) of triamcinolone": an amount in parentheses after an amount is the same dose restated
        paired = _PAIRED_LEFT.search(chunk)
        cut = 0
        for m in _DOSE_BOUNDARY.finditer(chunk, 0, paired.start() if paired else len(chunk)):
            if m.group()[-1:] == "\n" and not chunk[m.end():].strip() and _runs_on(ctx.text, lo + m.start()):
                continue  # "2 mL of 1%\nlidocaine": a prose line that ends in the amount runs on into its drug
            if wrapped(m):
                continue
            cut = m.end()
        return chunk[cut:]
    # "Triamcinolone (Kenalog) 40 mg": the closing parenthesis of a name in parentheses does not end the clause.
    skip = len(chunk) - len(chunk.lstrip(" )")) if chunk.lstrip(" ").startswith(")") else 0
    m = _DOSE_BOUNDARY.search(chunk, skip)
    # "Kenalog: 40 mg", "Bupivacaine 0.25%: 2 mL": a colon before an amount labels the drug's amount
    while m is not None and ((m.group() == ":" and _COLON_AMOUNT.match(chunk, m.start())) or wrapped(m)):
        m = _DOSE_BOUNDARY.search(chunk, m.end())
    return chunk[: m.start()] if m else chunk


_BREAK = _Lazy(r"\r\n?|\n")


@lru_cache(maxsize=8)
def _line_index(text: str) -> tuple[list[int], list[int]]:
    breaks = list(_BREAK.finditer(text))
    return [0] + [m.end() for m in breaks], [m.start() for m in breaks] + [len(text)]


def _line(text: str, pos: int) -> tuple[int, int]:
    """(start, end) of the line holding `pos`, by bisection: a long text of one line stays linear."""
    starts, ends = _line_index(text)
    i = bisect.bisect_right(starts, pos) - 1
    return starts[i], ends[i]


def _cells(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The cells of a line, as (start, end) with surrounding blanks and pipes trimmed. A pipe table keeps its empty
    cells ("| Bupivacaine 0.25% | | 2 mL |"), so a cell's index is its column."""
    line = text[start:end]
    if "|" in line:
        inner_start = start + len(line) - len(line.lstrip(" \t|"))
        inner_end = end - (len(line) - len(line.rstrip(" \t|")))
        out, pos = [], inner_start
        for m in re.finditer(r"\|", text[inner_start:inner_end]):
            out.append((pos, inner_start + m.start()))
            pos = inner_start + m.end()
        out.append((pos, inner_end))
        return [(a + len(text[a:b]) - len(text[a:b].lstrip()), b - len(text[a:b]) + len(text[a:b].rstrip())) for a, b in out]
    out, pos = [], start
    for m in _CELL_BREAK.finditer(text, start, end):
        if m.start() > pos:
            out.append((pos, m.start()))
        pos = m.end()
    if pos < end:
        out.append((pos, end))
    return [(a + len(text[a:b]) - len(text[a:b].lstrip(" |")), b - len(text[a:b]) + len(text[a:b].rstrip(" |")))
            for a, b in out if text[a:b].strip(" |")]


# What may stand beside amounts in a cell or line that holds amounts and nothing else ("40 mg / 1 mL each side").
_FILLER = _Lazy(r"(?:[\s(),;:=/+&.-]|\b(?:of|in|and|each|per|side|sides|joint|joints|site|sites|total|apiece"
                     r"|to|into|at|on|a|the|both|for|SIJ?|SI\s+joint|dose|dosage|amount|volume|vol|concentration|conc"
                     r"|strength|quantity|qty)\b)*", I)


def _is_amount_only(s: str) -> bool:
    if len(s) > 120:
        return False
    lx = lexicon()
    if lx.amount.search(s) is None:
        return False
    return _FILLER.fullmatch(lx.amount.sub(" ", s)) is not None


def _header_units(text: str, line_start: int, row: list[tuple[int, int]], piped: bool) -> dict[int, str]:
    """Units a table's header row gives its columns ("Dose (mg)", "Volume (mL)"), by the index of the row's cell."""
    pos = line_start
    for _ in range(12):  # the header stands a few lines up, in the same block of lines
        if pos <= 0:
            return {}
        a, b = _line(text, pos - 1)
        if not text[a:b].strip():
            return {}
        pos = a
        header = text[a:b]
        if _HEADER_WORD.search(header) and not lexicon().amount.search(header):
            cells = _cells(text, a, b)
            out: dict[int, str] = {}
            for i, (c0, c1) in enumerate(row):
                if piped:
                    j = i if i < len(cells) else None
                else:  # aligned columns: the header cell over this cell's start
                    col = c0 - line_start
                    j = next((k for k, (h0, h1) in enumerate(cells) if h0 - a - 2 <= col <= h1 - a + 2), None)
                if j is not None:
                    u = _HEADER_UNIT.search(text, cells[j][0], cells[j][1])
                    if u:
                        out[i] = (u.group(1) or u.group(2))
            return out
    return {}


def _row_right(ctx, hit: Hit, end: int, next_start: int, hits_on_line: int) -> tuple[str, int] | None:
    """A drug in a table row, alone in its row: its own cell's amounts and the amount cells after it ("Lidocaine 1%
    (skin) | 2 mL", "Kenalog      40 mg      1 mL", a bare "40" under "Dose (mg)"). Returns (window, end) or None."""
    text = ctx.text
    a, b = _line(text, hit.start)
    if hits_on_line != 1 or not _CELL_BREAK.search(text, end, b):
        return None
    row = _cells(text, a, b)
    mine = next((i for i, (c0, c1) in enumerate(row) if c0 <= hit.start < c1), None)
    if mine is None or mine + 1 >= len(row):
        return None
    piped = "|" in text[a:b]
    units = _header_units(text, a, row, piped)
    own = _window(ctx, end, row[mine][1], left=False)
    parts, stop = [own], row[mine][1]
    for i in range(mine + 1, len(row)):
        c0, c1 = row[i]
        cell = text[c0:c1]
        if not cell.strip():
            continue
        if re.fullmatch(r"\d*\.?\d+", cell.strip()) and i in units:
            cell = f"{cell.strip()} {units[i]}"
        elif not _is_amount_only(cell):
            break
        parts.append(cell)
        stop = c1
    if len(parts) == 1 or stop > next_start:
        return None
    return " " + " ".join(parts) + " ", stop


_LINE_END = _Lazy(r"[ \t:-]*(?:\r|\n)")


_BRAND_IN_PARENTHESES = _Lazy(r"^[ \t]*\([A-Za-z][\w -]{1,30}\)")
_FIELD_LABEL = _Lazy(r"[ \t]*(?P<label>[A-Za-z][A-Za-z ]{1,30}?[ \t]+\d{1,2})[ \t]*:")


def _amounts_below(ctx, med: Medication, end: int, next_start: int) -> None:
    """A drug read with no amount takes the ones on the lines below its name ("Methylprednisolone acetate
    (Depo-Medrol) 40 mg/mL\nMedication 1 Volume: 1 mL\nMedication 1 Dose: 40 mg")."""
    if med.dose or med.volume:
        return
    below = _next_line(ctx, end, next_start)
    if below is None:
        return
    dose, concentration, volume = _amounts("", ctx.text[end : _line(ctx.text, end)[1]] + " " + below[0], med.role)
    med.dose, med.volume = dose, volume
    med.concentration = med.concentration or concentration
    _compute_dose(med)


def _next_line(ctx, end: int, next_start: int) -> tuple[str, int] | None:
    """A drug listed alone on its line with its amounts on the lines below ("Kenalog\\n   40 mg / 1 mL",
    "Medication: Kenalog\\nDose: 40 mg\\nVolume: 1 mL"): up to four lines that hold amounts and nothing else."""
    text = ctx.text
    a, b = _line(text, end)
    rest = _BRAND_IN_PARENTHESES.sub("", text[end:b], count=1)  # "Methylprednisolone acetate (Depo-Medrol) 40 mg/mL"
    if _LINE_END.match(text, end) is None and not (b - end <= 120 and _is_amount_only(rest)):
        return None  # the rest of the drug's line is empty, or its own amounts ("Bupivacaine 0.25%")
    # "Medication 1: Depo-Medrol 40 mg/mL\nMedication 1 Volume: 1 mL\nMedication 1 Dose: 40 mg": the drug's own
    # field label opens the lines of its amounts
    label = _FIELD_LABEL.match(text, a, end)
    own = label.group("label").lower() if label else None
    parts: list[str] = []
    stop = None
    pos = b
    for _ in range(4):
        brk = _BREAK.match(text, pos)
        nxt = brk.end() if brk else pos
        if brk is None or nxt >= len(text) or text[nxt] in "\r\n":
            break  # the end, or a blank line
        c, d = _line(text, nxt)
        line = text[c:d]
        if own and line.lstrip().lower().startswith(own + " "):
            line = line.lstrip()[len(own):]
        if d > next_start or not _is_amount_only(line):
            break
        parts.append(line)
        stop, pos = d, d
    if stop is None:
        return None
    return " ".join(parts), stop


def _amount_parenthesis(text: str, pos: int, next_start: int) -> int | None:
    """Where "(1 mL)" ends when it follows an amount: "6 mg (1 mL)", "20 mg (1 mL of 20 mg/mL)"."""
    m = re.match(r"\s*\(([^()\n]{1,40})\)", text[pos:next_start])
    if m and _is_amount_only(m.group(1)):
        return pos + m.end()
    return None


def read_medications(ctx, elsewhere: list[tuple[int, int, str]] | tuple = ()) -> list[Medication]:
    """Every medication the text names as given (affirmed), in text order, with its amounts as written. Drugs in
    `elsewhere` spans ((start, end, label) of another procedure's text) are marked use="other_procedure"."""
    text = ctx.text
    hits = _hits(ctx)
    name_ends = [_name_end(text, h) for h in hits]
    owners = _gap_owners(ctx, hits, name_ends)
    statuses = _list_statuses(ctx, hits)
    lines = [_line(text, h.start)[0] for h in hits]
    per_line = Counter(line for line, _ in {(line, h.generic) for line, h in zip(lines, hits)})
    # where the next hit of another drug starts, for every hit (one pass from the end: scanning the hits after each
    # hit made a text of many mentions quadratic)
    next_others = [len(text)] * len(hits)
    for j in range(len(hits) - 2, -1, -1):
        after = hits[j + 1]
        next_others[j] = after.start if after.generic != hits[j].generic else next_others[j + 1]
    meds: list[Medication] = []
    origin: list[int] = []  # the hit each medication was read at
    for i, h in enumerate(hits):
        if statuses[i] != "affirmed":
            continue
        written, generic, role = h.written, h.generic, h.role
        end, salt, product, strength, odd_suffix = name_ends[i]
        prev_end = name_ends[i - 1][0] if i else 0
        next_start = hits[i + 1].start if i + 1 < len(hits) else len(text)
        left = _window(ctx, max(prev_end, h.start - 45), h.start, left=True)
        right = _window(ctx, end, min(next_start, end + 30), left=False)
        stop = end + len(right.rstrip())
        on_line = per_line[lines[i]]
        next_other = next_others[i]
        row = _row_right(ctx, h, end, next_other, on_line)
        if row is not None and not (owners.get(i) or (i and owners.get(i - 1))):
            right, stop = row
        # An amount between two drugs with nothing between them belongs to one of them ("40 mg kenalog 2 mL 0.5%
        # ropi": the 2 mL is the ropivacaine's); when the text does not say which, neither gets it and we ask.
        ambiguous = None
        if i and owners.get(i - 1) in ("prev", "ambiguous"):
            ambiguous = left.strip() if owners[i - 1] == "ambiguous" else None
            left = ""
        if owners.get(i) in ("next", "ambiguous"):
            ambiguous = ambiguous or (right.strip() if owners[i] == "ambiguous" else None)
            right, stop = "", end
        if meds and meds[-1].name == generic and origin and _inside(ctx, meds[-1], h):
            # "Triamcinolone (Kenalog) | 40 mg": the brand named inside the mention already read
            prev = meds[-1]
            prev.as_written = written if written.lower() in lexicon().brands else prev.as_written
            prev.salt, prev.product = prev.salt or salt, prev.product or product
            prev.concentration = prev.concentration or strength
            _amounts_below(ctx, prev, end, next_start)
            _compute_dose(prev)
            continue
        if meds and _names_previous(text, meds[-1], h, generic):  # "triamcinolone 40 mg (Kenalog-40, 1 mL)"
            _merge_parenthetical(meds[-1], written, salt, product, strength, right, text, end, next_start)
            _amounts_below(ctx, meds[-1], end, next_start)
            continue
        dose, concentration, volume = _amounts(left, right, role)
        second = None  # "Kenalog 20 mg per side, 40 mg total": a second statement of the same drug's amount
        more = _TRAILING_AMOUNT.match(text, end + len(right)) if not owners.get(i) and row is None else None
        if more and text.startswith("(", more.end() + len(text[more.end():]) - len(text[more.end():].lstrip())) and \
                _amount_parenthesis(text, more.end(), next_start) is None:
            more = None  # "1 mL (see note)": only an amount in parentheses ends the trailing amount
        if more and more.end() <= next_start:
            # an amount set off by a comma: "Depo-Medrol 40 mg/mL, 1 mL", "lidocaine 1%, 2 mL at the skin"
            d2, _, v2 = _amounts("", " " + more.group("amount"), role)
            tail = _basis(more.group("tail") or "")
            if not (dose or volume):
                right, stop = text[end : more.end()], more.end()
                dose, concentration, volume = _amounts(left, right, role)
            elif v2 and not volume and not tail:  # "Depo-Medrol 80 mg, 2 mL": 80 mg in 2 mL
                volume, right, stop = v2, text[end : more.end()], more.end()
            elif d2 and dose and tail and tail != _basis(left + " " + right):
                second = (d2, tail, more.start("amount"), more.end())
            elif (v2 and volume and v2 != volume) or (d2 and dose and d2 != dose):
                ambiguous = ambiguous or f"{dose or volume} and {more.group('amount').strip()}"
        if not (dose or volume) and not owners.get(i) and row is None:
            paren = _amount_parenthesis(text, end, next_start)  # "Dexamethasone (10 mg) was injected"
            if paren is not None:
                extra = text[end:paren]
                d2, c2, v2 = _amounts("", extra.replace("(", " ").replace(")", " "), role)
                if d2 or v2:
                    dose, concentration, volume = d2, c2 or concentration, v2
                    right, stop = extra, paren
        if not (dose or volume) and not owners.get(i):
            below = _next_line(ctx, end, next_start)
            if below is not None:
                right, stop = right + " " + below[0], below[1]
                dose, concentration, volume = _amounts(left, right, role)
        if (dose or volume) and not owners.get(i):
            paren = _amount_parenthesis(text, stop, next_start)
            if paren is not None and not _basis(text[stop:paren]):  # "(6 mL total)" is another statement
                extra = text[stop:paren]
                d2, c2, v2 = _amounts("", extra.replace("(", " ").replace(")", " "), role)
                dose, concentration, volume = dose or d2, concentration or c2, volume or v2
                right, stop = right + extra, paren
                tail = _BASIS_TAIL.match(text, stop, next_start)
                if tail:  # "Kenalog 40 mg/mL, 1 mL (40 mg) per side": the phrase after the parenthesis is its basis
                    right, stop = right + tail.group(), tail.end()
        lo = h.start - len(left)
        med = Medication(
            name=generic,
            as_written=written,
            dose=dose,
            concentration=concentration or strength,
            volume=volume,
            role=role,  # type: ignore[arg-type]
            span=ctx.span(lo + (len(left) - len(left.lstrip())), max(stop, h.end)),
            salt=salt,
            product=product,
            basis=_basis(left + " " + right),
            ambiguous_amount=ambiguous or odd_suffix,
        )
        _compute_dose(med)
        brand = lexicon().brand_of.get(written.lower())
        if brand is not None and len(brand.strengths) == 1 and not med.concentration:
            med.label_strength = f"{_fmt(brand.strengths[0])} mg/mL"
        med.use, med.belongs_to = _use(ctx, med, h, elsewhere, in_row=row is not None)  # type: ignore[assignment]
        meds.append(med)
        origin.append(i)
        if second is not None:
            d2, basis2, a, b = second
            meds.append(med.model_copy(update={"dose": d2, "basis": basis2, "volume": None, "computed_dose": False,
                                               "ambiguous_amount": None, "span": ctx.span(a, b)}))
            origin.append(i)
    _shared_basis(ctx, hits, meds, origin)
    _same_on_other_side(ctx, meds)
    return meds


# "40 mg Kenalog + 2 mL 0.25% bupivacaine, then same on the right": the amounts given on the first side were given
# again on the other, so each is an amount per side.
_SAME_OTHER_SIDE = _Lazy(
    r"\b(?:(?:the\s+)?same\s+(?:thing\s+|injection\s+|procedure\s+|mixture\s+|amounts?\s+|doses?\s+)?(?:(?:was|were)\s+)?"
    r"(?:(?:done|given|injected|repeated|performed)\s+)?|repeated\s+)(?:on|for|to|at|into|in)\s+(?:the\s+)?"
    r"(?:left|right|other|opposite|contralateral)(?:\s+(?:side|SIJ|SI\s+joint|sacroiliac\s+joint|joint))?\b", I)


def _same_on_other_side(ctx, meds: list[Medication]) -> None:
    """Each drug is looked at once (linear in the drugs and the phrases): the drugs stated since the previous such
    phrase, in its paragraph, before it."""
    text = ctx.text
    order = sorted(((_offset(ctx, m.span.start), _offset(ctx, m.span.end), m) for m in meds if m.span is not None),
                   key=lambda t: t[0])
    i, done = 0, 0
    for m in _SAME_OTHER_SIDE.finditer(text):
        if ctx.status(m.start(), m.end()) != "affirmed":
            continue
        para = max(text.rfind("\n\n", done, m.start()), 0)
        while i < len(order) and order[i][0] < m.start():
            a, b, med = order[i]
            i += 1
            if max(done, para) <= a and b <= m.start() and med.basis is None and (med.dose or med.volume):
                med.basis = "per_side"
        done = m.end()


def _inside(ctx, med: Medication, h: Hit) -> bool:
    return med.span is not None and _offset(ctx, med.span.start) <= h.start < _offset(ctx, med.span.end)


def dedupe_medications(meds: list[Medication]) -> list[Medication]:
    """Drop repeats (same drug, same dose text) and an undosed mention once a dosed one of that drug is kept.

    Bookkeeping per drug name keeps this linear: comparing each medication with every kept one (re-rendering
    its dose text each time) was quadratic in the number of dosed mentions."""
    out: list[Medication | None] = []
    kept: dict[tuple, set[tuple]] = {}  # (drug, use, procedure) -> fact tuples kept
    undosed: dict[tuple, tuple[int, tuple]] = {}  # (drug, use, procedure) -> (place in out, fact) of its undosed mention
    for med in meds:
        key = (med.name, med.use, med.belongs_to)  # the same drug for the same use in the same procedure
        same = kept.setdefault(key, set())
        fact = med.fact()
        if same and (not med.dosed or fact in same):
            continue
        if med.dosed and key in undosed:  # at most one: an undosed mention is kept only as a drug's first
            place, old = undosed.pop(key)
            out[place] = None
            same.discard(old)
        if not med.dosed:
            undosed[key] = (len(out), fact)
        same.add(fact)
        out.append(med)
    return [m for m in out if m is not None]


def _shared_basis(ctx, hits: list[Hit], meds: list[Medication], origin: list[int]) -> None:
    """"Kenalog 20 mg and 1 mL 0.25% bupivacaine each side": a per-side or total phrase after the last drug of a
    list covers every drug of the list that states none. A list runs while no verb stands between two drugs in one
    sentence."""
    text = ctx.text
    run: list[int] = []

    def close() -> None:
        if len(run) < 2:
            return
        last = meds[run[-1]]
        if last.basis is None or last.span is None:
            return
        tail = text[hits[origin[run[-1]]].end : max(hits[origin[run[-1]]].end, _offset(ctx, last.span.end))]
        if _basis(tail) != last.basis:
            return  # the phrase stands before the last drug's name: its own
        if any(meds[j].basis not in (None, last.basis) for j in run):
            return
        for j in run[:-1]:
            if meds[j].basis is None and (meds[j].dose or meds[j].volume):
                meds[j].basis = last.basis

    for k in range(len(meds)):
        if run:
            a, b = hits[origin[run[-1]]], hits[origin[k]]
            between = text[a.end : b.start]
            if ctx.sentence(a.start)[0] != ctx.sentence(b.start)[0] or ctx.has_verb(between):
                close()
                run = []
        run.append(k)
    close()


def _offset(ctx, original_pos: int) -> int:
    """A position in the original text as a position in the normalised text (the identity for ASCII text)."""
    index = getattr(ctx, "_index", None)
    if index is None:
        return original_pos
    return bisect.bisect_left(index, original_pos)


_PER_SITE = _Lazy(r"\b(?:each|per|every|total|both|apiece|respectively)\b", I)


_TOTAL_BEFORE = _Lazy(r"\btotal\b[^.;]*$", I)


def dose_conflicts(meds: list[Medication], text: str) -> list[Conflict]:
    """The same drug stated with amounts that cannot all be true: two different plain amounts, or a per-side amount
    whose total (one or two sides) matches no other stated amount. A total that is the sum of the amounts stated
    for each injection ("20 mg ... 20 mg ... total 40 mg") agrees. A question, never a choice. `text` is the text
    the medications' spans index (the original)."""
    from decimal import Decimal

    by_name: dict[tuple, list[Medication]] = {}
    for med in meds:
        if med.dose and med.span is not None and med.dose.endswith(" mg"):
            by_name.setdefault((med.name, med.use, med.belongs_to), []).append(med)
    out: list[Conflict] = []
    for (name, _, _), group in by_name.items():
        amounts: dict[str | None, set[Decimal]] = {}
        plain_mentions: dict[tuple[int, int], Decimal] = {}
        for m in group:
            basis = m.basis if m.basis in ("per_side", "total") else None
            line_start = text.rfind("\n", 0, m.span.start) + 1
            if basis is None and _TOTAL_BEFORE.search(text, max(line_start, m.span.start - 40), m.span.start):
                basis = "total"  # "Total: midazolam 3 mg IV"
            elif basis is None:
                line_end = text.find("\n", m.span.end)
                line_end = len(text) if line_end < 0 else line_end
                if _PER_SITE.search(text, max(line_start, m.span.start - 40), min(line_end, m.span.end + 40)):
                    basis = "per_side"  # on the mention's own line: a list's next line is another statement
            value = Decimal(m.dose.split()[0])
            amounts.setdefault(basis, set()).add(value)
            if basis is None:
                plain_mentions[(m.span.start, m.span.end)] = value
        plain, per, total = amounts.get(None, set()), amounts.get("per_side", set()), amounts.get("total", set())
        # "midazolam 2 mg IV ... midazolam 1 mg IV ... Total: midazolam 3 mg": doses given in steps and their total
        summed = len(total) == 1 and len(plain_mentions) > 1 and next(iter(total)) == sum(plain_mentions.values())
        consistent = (len(plain) <= 1 or summed) and len(per) <= 1 and len(total) <= 1
        if consistent and per:  # each stated amount is one side's or both sides'
            (p,) = per
            consistent = all(x in (p, 2 * p) for x in plain | total) and len((plain - {p}) | total) <= 1
        elif consistent:
            consistent = summed or not (plain and total and plain != total)
        if consistent:
            continue
        doses = sorted({m.dose_text() or m.dose for m in group})
        out.append(Conflict(
            kind="dose",
            message=f"{name} is stated with amounts that do not agree: {', '.join(doses)}.",
            question=f"How much {name} was injected (per side, or in total)?",
            evidence=[m.span for m in group if m.span][:3]))
    return out


def _list_statuses(ctx, hits: list[Hit]) -> list[str]:
    """Each drug's status, where drugs listed together share their predicate: in "Kenalog 40 mg, lidocaine 1% 2 mL
    were drawn up but not injected" neither was injected. A list runs while no verb stands between two drugs."""
    statuses = [ctx.status(h.start, h.end) for h in hits]
    run: list[int] = []
    out = list(statuses)

    def close() -> None:
        worst = next((statuses[j] for j in run if statuses[j] != "affirmed"), None)
        if worst is not None:
            for j in run:
                out[j] = worst

    for i, h in enumerate(hits):
        if run:
            prev = hits[run[-1]]
            between = ctx.text[prev.end : h.start]
            same_sentence = ctx.sentence(prev.start)[0] == ctx.sentence(h.start)[0]
            if not same_sentence or ctx.has_verb(between):
                close()
                run = []
        run.append(i)
    close()
    return out


def unread_amounts(ctx, meds: list[Medication]) -> list[Span]:
    """Amounts ("40 mg TA" before TA was known) that no drug claims, so the drafter asks instead of dropping them."""
    lx = lexicon()
    explained = _patterns()["AMOUNT_EXPLAINED"]
    # The medications' spans, merged into disjoint sorted intervals so that "is this amount inside one?" is a
    # bisect. It was `any(a <= pos < b for a, b in spans)`: amounts x medications, quadratic on a long list of
    # doses ("Kenalog 1 mg. Kenalog 2 mg. ..." took 98 s for 8,000 of them, 134 KB).
    starts: list[int] = []
    ends: list[int] = []
    for a, b in sorted((_offset(ctx, m.span.start), _offset(ctx, m.span.end)) for m in meds if m.span):
        if starts and a <= ends[-1]:
            ends[-1] = max(ends[-1], b)
        else:
            starts.append(a)
            ends.append(b)

    def claimed(pos: int) -> bool:
        i = bisect.bisect_right(starts, pos) - 1
        return i >= 0 and pos < ends[i]

    out: list[Span] = []
    for pattern in (lx.mass, lx.volume):
        for m in ctx.finditer(pattern):
            if claimed(m.start()) or ctx.status(m.start(), m.end()) != "affirmed":
                continue
            # the same window a drug reads its dose from: if a drug stands in it, the amount is that drug's
            left = _window(ctx, max(0, m.start() - 45), m.start(), left=True)
            right = _window(ctx, m.end(), min(len(ctx.text), m.end() + 45), left=False)
            if lx.drug_pattern.search(left + " " + right) or explained.search(left + m.group() + right):
                continue
            word = re.match(r"\s*(?:of\s+)?([A-Za-z][\w-]*)", ctx.text[m.end() : m.end() + 30])
            out.append(ctx.span(m.start(), m.end() + (word.end() if word else 0)))
    return sorted(out, key=lambda s: s.start)


def _amounts(left: str, right: str, role: str) -> tuple[str | None, str | None, str | None]:
    """(dose, concentration, volume) read from a drug's left and right windows, as written and normalised:
    "40 mgs" → 40 mg, "2 cc's" → 2 mL, "quarter percent" → 0.25%, "80 mg/1 mL" → 80 mg in 1 mL (80 mg/mL)."""
    from decimal import Decimal

    lx = lexicon()

    def last(pattern: re.Pattern[str], s: str):
        found = list(pattern.finditer(s))
        return found[-1] if found else None

    per_ml = lx.per_ml.search(left + " " + right)
    # A bare "g" is grams only right beside the name ("Kenalog 40 g", "40 g Kenalog"), never further along its
    # clause, where it is a needle's gauge more often than not.
    near_left, near_right = last(lx.mass_near_drug, left), lx.mass_near_drug.search(right)
    if near_left and near_left.group("unit").lower() == "g" and left[near_left.end():].strip(" of"):
        near_left = last(lx.mass, left)
    if near_right and near_right.group("unit").lower() == "g" and right[: near_right.start()].strip():
        near_right = lx.mass.search(right)
    mass = near_left or near_right
    volume = last(lx.volume, left) or lx.volume.search(right)
    percent = last(lx.percent, left) or lx.percent.search(right)
    dose = f"{_num(mass.group('n'))} {_unit(mass.group('unit'))}" if mass else None
    vol = f"{_num(volume.group('n'))} mL" if volume else None
    conc = f"{_num(percent.group('n'))}%" if percent else None
    if per_ml:
        n = Decimal(_num(per_ml.group("n")))
        v = per_ml.group("v")
        if v and Decimal(_num(v)) > 0:
            # "80 mg/1 mL": 80 mg given in 1 mL, the strength 80 mg/mL
            v_value = Decimal(_num(v))
            dose = dose or f"{_fmt(n)} mg"
            vol = vol or f"{_fmt(v_value)} mL"
            conc = conc or f"{_fmt(n / v_value)} mg/mL"
        else:
            conc = conc or f"{_fmt(n)} mg/mL"
            if mass and Decimal(_num(mass.group("n"))) == n and _overlaps(mass, per_ml, left, near_left is mass):
                dose = None  # "40 mg per mL" is a concentration, not an amount given ("40 mg/mL, 40 mg" gives both)
    # Dictation shorthand: "40 kenalog", "depo-medrol 80", "2cc 0.25 bupi". A bare number next to a steroid is its
    # dose in mg (the only unit steroids are dosed in); a bare decimal below 2 next to a local anesthetic is its
    # concentration in percent. Any other bare number is left unread rather than guessed.
    bare = _BARE_LEFT.search(left) or _BARE_RIGHT.search(right)
    if bare is None and role == "steroid" and not (mass or per_ml):
        bare = _bare_words().search(left)  # "forty of kenalog": a number in words, the steroid's mg as in digits
    if bare and not (mass or per_ml or (percent and role == "anesthetic")):
        n = float(_num(bare.group("n")))
        if role == "steroid" and not dose and n >= 1 and not (volume and bare.group("n") == volume.group("n")):
            dose = f"{_num(bare.group('n'))} mg"
        elif role == "anesthetic" and not conc and n < 2 and not (volume and bare.group("n") == volume.group("n")):
            conc = f"{_num(bare.group('n'))}%"
    return dose, conc, vol


amounts = _amounts


@cache
def _bare_words() -> re.Pattern[str]:
    # never "one": "one kenalog" counts a vial or an injection as often as it doses one
    words = _alternation(sorted(w for w, v in lexicon().number_words.items() if v >= 2))
    tens = _alternation(sorted(w for w, v in lexicon().number_words.items() if v >= 20 and v % 10 == 0))
    ones = _alternation(sorted(w for w, v in lexicon().number_words.items() if 1 <= v <= 9))
    return re.compile(rf"\b(?P<n>(?:{tens})[\s-](?:{ones})|{words})\s*(?:of\s+)?$", I)


def _overlaps(mass: re.Match[str], per_ml: re.Match[str], left: str, in_left: bool) -> bool:
    """Whether the mass read from `left` (in_left) or the right window is the per-mL strength's own number; per_ml
    was read from left + " " + right."""
    start = mass.start() if in_left else len(left) + 1 + mass.start()
    return per_ml.start() <= start < per_ml.end()


def _fmt(d: Decimal) -> str:
    from decimal import Decimal

    return format(d.quantize(Decimal("0.001")).normalize(), "f")


# --- names: salts, product strengths, who owns an amount, per side or total, what each drug was for ------------------

# An amount set off by a comma after a drug's own amounts, ending its clause (or saying what it was for, "at the
# skin"), with its own per-side or total phrase: "Depo-Medrol 40 mg/mL, 1 mL", "Kenalog 20 mg per side, 40 mg total".
class _TrailingAmount:
    """An amount set off by a comma after a drug's own amounts, ending its clause (or saying what it was for, "at
    the skin", or followed by the clause's verb, "were injected"), with its own per-side or total phrase:
    "Depo-Medrol 40 mg/mL, 1 mL", "Sensorcaine 0.25%, 2 mL were injected", "Kenalog 20 mg per side, 40 mg total".
    Built from the unit and number spellings of units.toml on first use."""

    _pattern: re.Pattern[str] | None = None

    def match(self, text: str, pos: int) -> re.Match[str] | None:
        if self._pattern is None:
            lx = lexicon()
            amount = f"(?:{lx.mass.pattern}|{lx.volume.pattern})".replace("?P<n>", "").replace("?P<v>", "").replace(
                "?P<unit>", "")
            self._pattern = re.compile(
                rf"\s*,\s*(?P<amount>{amount})"
                r"(?P<tail>\s+(?:in\s+)?total\b|\s+(?:per|each|to\s+each|into\s+each|at\s+each|in\s+each|for\s+each|on\s+each)"
                r"\s+(?:side|joint|SIJ|site|SI\s+joint)s?\b|\s+(?:each|apiece)\b"
                r"|(?=\s*(?:[,;)|\t\r\n]|\((?=[^()]{0,20}\d)|\.(?!\d)|\band\b|\+|\bplus\b|$|\((?=[^()\n]{1,40}\)))|\s+(?:at|to|for|into|in)\s+(?:the\s+)?(?:skin|sub-?cutaneous\w*|soft\s+tissue"
                r"|(?:needle\s+)?tract)\b|\s+(?:(?:was|were|is|are)\s+)?(?:then\s+)?(?:injected|given|administered|instilled"
                r"|infiltrated|delivered|placed)\b))", I)
        return self._pattern.match(text, pos)


_TRAILING_AMOUNT = _TrailingAmount()
# A per-side or total phrase right after an amount's parenthesis: "1 mL (40 mg) per side", "2 mL (80 mg) total".
_BASIS_TAIL = _Lazy(r"\s+(?:(?:in\s+)?total\b|(?:per|each|to\s+each|into\s+each|at\s+each|in\s+each|for\s+each|on\s+each)"
                    r"\s+(?:side|joint|SIJ|site|SI\s+joint)s?\b|(?:each|apiece)\b)", I)


def _name_end(text: str, h: Hit) -> tuple[int, str | None, str | None, str | None, str | None]:
    """Where a drug's name ends, with the salt and product strength it carries: "triamcinolone hexacetonide",
    "Kenalog-40" (40 mg/mL by its label), "Depo-Medrol" (acetate). Returns (end, salt, product, strength, odd):
    `odd` describes a hyphenated number that is no strength the brand is sold in ("Kenalog-50")."""
    from decimal import Decimal

    lx = lexicon()
    key = h.written.lower()
    end, salt, product, strength, odd = h.end, lx.brand_salt.get(key), None, None, None
    suffix = _STRENGTH_SUFFIX.match(text, end)  # at `end`, not on text[end:]: a copy of the rest per drug was quadratic
    if suffix:  # "Kenalog-40" names the product, never a dose
        brand = lx.brand_of.get(key)
        n = Decimal(suffix.group(1))
        if brand is not None and brand.strength_suffix:
            if n in brand.strengths:
                product, strength = f"{brand.name}-{suffix.group(1)}", f"{suffix.group(1)} mg/mL"
            else:
                odd = (f"{h.written}-{suffix.group(1)} (no {brand.name} product is {suffix.group(1)} mg/mL)")
        end = suffix.end()
    said = _patterns()["SALT"].match(text, end)
    if said:
        salt, end = re.sub(r"\s+", " ", said.group("salt").lower()).replace("/", " and ").replace(" & ", " and "), said.end()
        salt = re.sub(r"\s*and\s*(?:betamethasone\s+)?", " and ", salt)
    return end, salt, product, strength, odd


_STRENGTH_SUFFIX = re.compile(r"-(\d+)\b(?!%)")
_NUMBERISH = _Lazy(r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty"
                        r"|thirty|forty|fifty|sixty|eighty|half|quarter|eighth)\b", I)


def _amount_in(s: str) -> bool:
    if _patterns()["BARE_NUMBER"].search(s):
        return True
    if not _NUMBERISH.search(s):  # no digit and no number word: no amount (the common case, and cheap)
        return False
    lx = lexicon()
    return any(p.search(s) for p in (lx.mass, lx.volume, lx.percent, lx.per_ml))


def _gap_owners(ctx, hits: list[Hit], ends: list[tuple]) -> dict[int, str]:
    """For each pair of neighbouring drugs with amounts between them and no boundary: whose the amounts are —
    "next" (the dictation writes amounts before names: "40 mg kenalog 2 mL 0.5% ropi"), "prev" (after names:
    "kenalog 40 mg bupi 0.25% 2 mL"), or "ambiguous"."""
    text, out = ctx.text, {}
    lx = lexicon()
    for i in range(len(hits) - 1):
        a, b = hits[i], hits[i + 1]
        gap = text[ends[i][0] : b.start]
        if not _amount_in(gap) or _DOSE_BOUNDARY.search(gap) or "(" in gap:
            continue
        prev_end = ends[i - 1][0] if i else 0
        a_outer = _amount_in(_window(ctx, max(prev_end, a.start - 45), a.start, left=True))
        nxt = hits[i + 2].start if i + 2 < len(hits) else len(text)
        b_end = ends[i + 1][0]
        b_right = _window(ctx, b_end, min(nxt, b_end + 30), left=False)
        # B's right side running straight into a third drug is the next gap, not B's own amounts
        b_outer = _amount_in(b_right) and not (i + 2 < len(hits) and b_end + len(b_right) >= nxt)
        if a_outer and not b_outer:
            out[i] = "next"
        elif b_outer and not a_outer:
            out[i] = "prev"
        else:
            roles = [a.role, b.role]
            only_mass = not (lx.volume.search(gap) or lx.percent.search(gap))
            if only_mass and roles.count("steroid") == 1:  # steroids are the drugs dosed in mg
                out[i] = "prev" if roles[0] == "steroid" else "next"
            else:
                out[i] = "ambiguous"
    return out


def _names_previous(text: str, prev: Medication, h: Hit, generic: str) -> bool:
    """The drug opens a parenthesis right after the previous mention of the same drug: one mention, two names."""
    if prev.name != generic or prev.span is None:
        return False
    return bool(re.fullmatch(r"[^()\n,;]*\(\s*", text[prev.span.end : h.start]))


def _merge_parenthetical(med: Medication, written: str, salt, product, strength, right: str, text: str,
                         end: int, next_start: int) -> None:
    inner = text[end : min(next_start, end + 60)]
    close = inner.find(")")
    after = ""
    if close >= 0:  # "methylprednisolone (Depo-Medrol) 80 mg": the amount after the parenthesis is this drug's
        stop = min(next_start, end + close + 1 + 30)
        after = _window_text(text[end + close + 1 : stop])
    inner = inner[: close if close >= 0 else len(inner)]
    dose, conc, volume = _amounts("", inner + " " + after, med.role)
    if dose and not med.dose:
        med.dose = dose
    med.as_written = written if written.lower() in lexicon().brands else med.as_written
    med.salt = med.salt or salt
    med.product = med.product or product
    med.concentration = med.concentration or conc or strength
    if volume and not med.volume:
        med.volume = volume
    med.basis = med.basis or _basis(inner) or _basis(after)  # "10 mg triamcinolone (Aristospan) per side"
    if med.span is not None:
        stop = end + (close + 1 + len(after.rstrip()) if close >= 0 else len(inner))
        paren = _amount_parenthesis(text, stop, next_start) if close >= 0 and after.strip() else None
        if paren is not None:  # "betamethasone (Celestone Soluspan) 6 mg (1 mL)"
            d2, c2, v2 = _amounts("", text[stop:paren].replace("(", " ").replace(")", " "), med.role)
            med.volume = med.volume or v2
            med.concentration = med.concentration or c2
            stop = paren
            tail = _BASIS_TAIL.match(text, stop, next_start)
            if tail and med.basis is None:  # "... (Kenalog) 40 mg/mL (1 mL) per side"
                med.basis, stop = _basis(tail.group()), tail.end()
        more = _TRAILING_AMOUNT.match(text, stop) if close >= 0 and not (med.dose or med.volume) else None
        if more and more.end() <= next_start:  # "Kenalog-40 (triamcinolone acetonide), 1 mL"
            d2, _, v2 = _amounts("", " " + more.group("amount"), med.role)
            med.dose, med.volume = med.dose or d2, med.volume or v2
            med.basis = med.basis or _basis(more.group("tail") or "")
            stop = more.end()
        med.span = Span(start=med.span.start, end=stop, text=text[med.span.start : stop])
    _compute_dose(med)


def _window_text(chunk: str) -> str:
    m = _DOSE_BOUNDARY.search(chunk)
    return chunk[: m.start()] if m else chunk


def _basis(s: str) -> str | None:
    if _patterns()["IN_TOTAL"].search(s):
        return "total"
    if _patterns()["PER_SIDE"].search(s):
        return "per_side"
    return None


def _compute_dose(med: Medication) -> None:
    """Strength × volume: "Kenalog-40 1 mL" is 40 mg. A stated dose that disagrees with its own arithmetic is a
    question, not a choice."""
    from decimal import Decimal

    conc = re.fullmatch(r"(\d*\.?\d+) mg/mL", med.concentration or "")
    vol = re.fullmatch(r"(\d*\.?\d+) mL", med.volume or "")
    if not (conc and vol):
        return
    product = format((Decimal(conc.group(1)) * Decimal(vol.group(1))).normalize(), "f")
    if med.dose is None:
        med.dose, med.computed_dose = f"{product} mg", True
    elif med.dose != f"{product} mg" and not med.computed_dose:
        med.ambiguous_amount = med.ambiguous_amount or f"{med.dose} stated, but {med.concentration} × {med.volume} is {product} mg"


_SEGMENT_END = _Lazy(r"[,;:\n()|\t]|\s/\s|\.(?!\d)|\+|\band\b|\bthen\b|\bfollowed\s+by\b|\bplus\b", I)
# "lidocaine 1% 2 mL (skin)": a parenthesis right after a drug's amounts says what that drug was for
_OWN_PARENTHESIS = _Lazy(r"[ \t]*\([^()\n]{1,30}\)")


def _use(ctx, med: Medication, h: Hit, elsewhere, *, in_row: bool = False):
    """What the drug was for: contrast, sedation, skin and tract anaesthesia ("skin wheal 1% lido", "lidocaine 1%,
    2 mL at the skin"), a second procedure's drug ("left L4-5 TFESI with 80 mg Depo-Medrol"), or the injectate."""
    for start, end, label in elsewhere:
        if start <= h.start < end:
            return "other_procedure", label
    if med.role == "contrast":
        return "contrast", None
    if med.role == "sedative":
        return "sedation", None
    if med.role == "anesthetic":
        text = ctx.text
        skin = _patterns()["SKIN_LOCAL"]
        if in_row:  # "Lidocaine 1% (skin) | 2 mL": the row's first cell says what it was for
            a, b = _line(text, h.start)
            cells = _cells(text, a, b)
            cell = next(((c0, c1) for c0, c1 in cells if c0 <= h.start < c1), (h.start, h.end))
            if skin.search(text, *cell):
                return "skin_local", None
        lo = max(0, h.start - 60)
        before = text[lo : h.start]
        cuts = list(_SEGMENT_END.finditer(before))
        if len(cuts) > 1 and cuts[-1].group() == ":":  # "skin local: 1 percent lidocaine": the label says it
            cuts.pop()
        seg_start = lo + (cuts[-1].end() if cuts else 0)
        tail = max(h.end, _offset(ctx, med.span.end) if med.span else h.end)
        own = _OWN_PARENTHESIS.match(text, tail)
        if own:
            tail = own.end()
        after = _SEGMENT_END.search(text, tail, min(len(text), tail + 60))
        seg_end = after.start() if after else min(len(text), tail + 60)
        if skin.search(text, seg_start, seg_end):
            return "skin_local", None
    return "injectate", None
