"""Medicare SI joint LCD coverage facts, read from the note text, and the checks the payer overlay uses.

The multi-MAC "Sacroiliac Joint Injections and Procedures" LCDs (coding-rules.md §2) cover an SI joint injection only
when the record shows: moderate to severe pain over the SI joint below L5, for at least 3 months, without
radiculopathy; other causes not suggested; at least 3 named positive provocative maneuvers; at least 4 weeks of
conservative care, continuing; for a therapeutic injection a prior diagnostic one with at least 75% relief; for a
repeat, at least 50% relief lasting at least 3 months; and no more sessions than the caps.

The words each criterion is read from are data: `rules/coverage/medicare_si_lcd.toml` (the score-to-severity rule and
its sources are there too). This module is the grammar: which words must stand together, what a list of tests is,
which statuses count.

ONE READING, RAW SPANS. Every criterion is read from the one Reading of the note (`reading.read`, cached: the
extractor and the validator share it), on its normalised text; every span returned is a span of the ORIGINAL text
(`Reading.span`), so a note with "…", smart quotes, en dashes or NBSP reads the same and shows the same words.

FAIL CLOSED: a criterion is met only by a positive statement that the reader can point at. A mention set aside by
the reader (negated, planned, declined, conditional, quoted, in a SmartList placeholder) never counts; "FABER"
without a result, "tests were positive" without names, "PT recommended", "pain 7/10" in a plan meet nothing.
History is the one exception to "affirmed only": the LCD criteria are history by nature, so a historical mention
counts as evidence here, never a planned or hypothetical one. A statement that ESTABLISHES a criterion by negation
("no radicular symptoms", "MRI: no stenosis") is read as a whole, its negation words allowed (not read as doubt).
Two established statements that disagree ("radiculopathy" and "no radiculopathy") are a conflict, not a pick.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .checks import Claim, Outcome, check
from .models import Span
from .reading import WINDOW, Reading, read, wraps_at
from .recache import load_toml

I = re.IGNORECASE
EVIDENCE = frozenset({"affirmed", "historical"})  # statuses that can meet a criterion (see the module docstring)
PHRASING_FILE = Path(__file__).parent / "rules" / "coverage" / "medicare_si_lcd.toml"

# Physician questions for the overlay's findings, keyed by rule id without the code (queries.py asks them).
QUESTIONS = {
    "medicare.lcd.pain_duration": "How long has the SI joint pain lasted (in weeks, months or years)?",
    "medicare.lcd.pain_location": "Where exactly is the pain: over the SI joint / buttock, below L5, between the iliac crest and the gluteal fold?",
    "medicare.lcd.pain_severity": "How severe is the pain: mild, moderate or severe (and its score on a named scale, e.g. NRS 7/10)?",
    "medicare.lcd.no_radiculopathy": "Does the pain radiate down the leg, or is there no radiculopathy (e.g. no radicular symptoms, straight-leg raise negative)?",
    "medicare.lcd.other_causes": "Were other causes (stenosis, disc herniation with radiculopathy, fracture, tumor, infection, hardware) considered and excluded, by exam or imaging?",
    "medicare.lcd.provocative_tests": "Which provocative tests were positive (FABER/Patrick, Gaenslen, thigh thrust, compression, distraction, Yeoman)?",
    "medicare.lcd.conservative_care": "Which conservative treatments were tried, for how many weeks, and did the pain persist despite them?",
    "medicare.lcd.prior_diagnostic_relief": "What percent relief did the prior diagnostic SI joint injection give (and when)?",
    "medicare.lcd.repeat_relief": "What percent relief did the last SI joint injection give, from what baseline on which scale?",
    "medicare.lcd.sessions_diagnostic_cap": "How many diagnostic SI joint sessions (27096/64451) has the patient had, and when?",
    "medicare.lcd.sessions_therapeutic_cap": "How many therapeutic SI joint sessions (27096/64451) in the last 12 months, and when?",
}


# --- the phrasing (data) --------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def phrasing() -> dict:
    """rules/coverage/medicare_si_lcd.toml, as loaded (see its header)."""
    with PHRASING_FILE.open("rb") as fh:
        return load_toml(fh)


def _alt(items: list[str]) -> str:
    return "(?:" + "|".join(items) + ")"


P = phrasing()
_SEV = P["severity"]

# --- words ----------------------------------------------------------------------------------------------------------
_NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                 "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}
_DAYS_PER = {"y": 365, "m": 30, "w": 7, "d": 1}  # a month is 30 days, so "3 months" is exactly the 90-day threshold
DURATION = re.compile(
    r"(?<![\d.,/])(?P<n>\d+(?:\.\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|an?)\+?"
    r"(?:\s*(?:-|to)\s*\d+)?\s*[- ]?\s*(?P<unit>years?|yrs?|months?|mos?|weeks?|wks?|days?)\b(?!\s*-?\s*old\b)",  # not an age
    I,
)
_DURATION_FIELD = re.compile(r"(?im)^[ \t|*•-]*(?:(?:pain|symptoms?)\s+)?duration(?:\s+of\s+(?:the\s+)?(?:pain|symptoms?))?[ \t]*[:|=]")
_UPPER_BOUND_BEFORE = re.compile(r"(?:less\s+than|fewer\s+than|under|up\s+to|almost|nearly|<|≤)\s*$", I)
_AGO_AFTER = re.compile(r"\s*(?:ago|prior|earlier|before|after|following|post|later)\b", I)
PAIN = re.compile(r"\b" + _alt(_SEV["pain_nouns"]) + r"|\bsymptoms?\b", I)
# The pain's duration counts only for pain of this region: "knee pain for 6 months" says nothing about the SI joint.
PAIN_SITE = re.compile(r"\b(?:back|lumbar|lumbosacral|sacr\w*|SIJ?|buttocks?|gluteal|PSIS|LBP)\b", I)
RELIEF = re.compile(r"\b" + _alt(P["relief"]["words"]) + r"\b", I)
PERCENT = re.compile(r"(?P<n>\d{1,3})(?:\s*(?:-|to)\s*\d{1,3})?\s*(?:%|percent\b)", I)
DATE = re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b|\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{4}\b"
                  r"|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+(?:\d{1,2},?\s+)?\d{4}\b"
                  r"|(?<=\bon\s)\d{1,2}/\d{1,2}\b", I)
# A SmartList, SmartLink or blank left in the text: a statement holding one is not finished, so it establishes nothing.
_PLACEHOLDER = re.compile(r"\{[^{}\r\n]{0,200}\}|\*{3,}|_{3,}|@[A-Z][A-Z0-9_]+@|\[\s*\]")

# location
_LOC = P["location"]
LOCATION = re.compile(r"\b" + _alt(_LOC["with_pain"]) + r"\b", I)
FORTIN = re.compile(r"\b" + _alt(_LOC["fortin"]), I)
# "SI joint pain" names the location too, but not in a heading that only restates the diagnosis or the procedure.
SI_PAIN = re.compile(r"\b(?:SI|SIJ|sacroiliac)[- ]+(?:joint\s+)?(?:pain|dysfunction\s+pain)\b", I)
_LABEL_SECTION = re.compile(r"diagnos|procedure|indication|impression|assessment", I)

# severity
SEVERITY = re.compile(r"\b(?:(?P<sev>" + _alt(_SEV["moderate_or_severe"]) + r")|(?P<mild>" + _alt(_SEV["mild"]) + r"))\b", I)
_PAIN_NOUN = _alt(_SEV["pain_nouns"])
_NOT_PAIN = re.compile(r"^(?:" + "|".join(_SEV["not_pain"]) + r")\b", I)
_GRADES_NOUN = re.compile(r"(?:\s*\([^()]{0,40}\))?(?P<words>(?:\s+[\w/'-]+){0,5}?)\s*(?:\([^()]{0,40}\)\s*)?\b(?P<noun>" + _PAIN_NOUN + r")\b", I)
_PREDICATE_BEFORE = re.compile(
    r"\b" + _PAIN_NOUN + r"\b[^.;]{0,60}?\b(?:is|was|are|were|remains?|has\s+been|rated|described|reported|characterized"
    r"|graded|severity|intensity)\s*(?:as\s+|at\s+|:\s*|=\s*)?(?:\w+\s+)?$", I)
_APPOSITION_BEFORE = re.compile(r"[,(:;-]\s*$")
_APPOSITION_AFTER = re.compile(r"\s*(?:[,;.)\]]|$|\s+in\s+(?:severity|intensity)|\s*\()", I)
_SEVERITY_LABEL = re.compile(r"\b(?:pain\s+)?(?:severity|intensity)\s*[:=-]\s*$", I)

# scores
_SCALES = _alt(P["scores"]["scale_names"])
SCORE = re.compile(
    r"(?:\b(?P<scale>" + _SCALES + r")\b\s*(?:\(\s*0\s*-\s*10\s*\)\s*)?(?:scores?|ratings?|levels?)?\s*(?:of|is|was|=|:|at|rated(?:\s+at)?)?\s*)?"
    r"(?<![\d/.])(?P<n>\d{1,3}(?:\.\d)?)(?:\s*-\s*(?P<n2>\d{1,3}(?:\.\d)?))?\s*"
    r"(?P<unit>/\s*10(?![\d/])|/\s*100(?![\d/])|out\s+of\s+10\b|out\s+of\s+100\b|mm\b|cm\b)?",
    I,
)
_NAMED_SCALE = re.compile(r"NRS|VAS|VRS|NPRS|numeric|visual", I)
_SCALE_DECLARED = re.compile(r"\bpain\s+(?:scale|score)s?\b[^.;\n]{0,20}?\b(?:NRS|VAS|VRS|NPRS|numeric|visual)", I)
_NOT_BASELINE = re.compile(r"\b(?:" + "|".join(P["scores"]["not_baseline"]) + r")", I)
_TRANSITION_AFTER = re.compile(r"\s*(?:to|->|→|-)\s*\d", I)

# radiculopathy
_RAD = P["radiculopathy"]
NO_RADICULAR = re.compile(r"\b(?:" + "|".join(_RAD["absent"]) + r")", I)
RADICULAR = re.compile(r"\b(?:" + "|".join(_RAD["present"]) + r")", I)
_THIGH_ONLY = re.compile(_alt(_RAD["thigh_only"]), I)
_DOUBT_BEFORE = re.compile(r"\b(?:not|cannot|can't|unable\s+to|could\s+not)\s*(?:\w+\s+){0,2}$", I)
# Negation words that are the fact itself in a statement of absence ("no radicular symptoms", "MRI: no stenosis")
ABSENCE_ALLOW = re.compile(r"no|not|n't|without|w/o|never|none|nor|neither|denie[sd]|deny|negative\s+for|absent|absence"
                           r"|ruled\s+out|rule\s+out|rules\s+out|excluded|nonfocal|non-focal|unremarkable", I)

# other causes
_C = P["causes"]
_ADJ = r"(?:" + "|".join(_C["adjectives"]) + r")\s+"
_ITEM = r"(?:" + _ADJ + r")*(?:" + "|".join(_C["items"]) + r")"
_CAUSES = _ITEM + r"(?:\s*(?:,|\bor\b|\band\b|\bnor\b|/)\s*(?:(?:and|or)\s+)?(?:no\s+|without\s+)?" + _ITEM + r")*"
CAUSE_EXCLUDED = re.compile(
    r"\b(?:" + "|".join(_C["excluded_before"]) + r")\s+(?:" + _ADJ + r")*" + _CAUSES + r"\b"
    r"|\b" + _CAUSES + r"\s+(?:" + "|".join(_C["excluded_after"]) + r")\b",
    I,
)
_STUDY = r"(?:" + "|".join(_C["studies"]) + r")"
_REGION = r"(?:" + "|".join(_C["regions"]) + r")"
IMAGING_CLEAR = re.compile(
    r"\b(?:" + _REGION + r"\s+(?:spine\s+)?" + _STUDY + r"|" + _STUDY + r"(?:\s+(?:of\s+(?:the\s+)?)?" + _REGION
    + r"(?:\s+(?:spine|and\s+" + _REGION + r"))?)?)s?\b[^.;]{0,60}?\b(?:" + "|".join(_C["clear"]) + r")",
    I,
)
_OTHER_REGION = re.compile(r"\b(?:" + "|".join(_C["other_regions"]) + r")\b", I)
# An ICD-10 title in a diagnosis list ("spondylosis without myelopathy or radiculopathy") is a code's name, not an
# evaluation that excluded a cause or radiculopathy.
_ICD_TITLE = re.compile(r"\bspondylosis\s+without\s+myelopathy(?:\s+or\s+radiculopathy)?", I)
CAUSE_PRESENT = re.compile(r"\b(?:" + "|".join(_C["present"]) + r")\b", I)

# provocative tests
_TEST_NAMES = list(P["tests"])
_TEST_GROUPS: list[tuple[str, bool]] = []
_test_parts = []
for _name, _spec in P["tests"].items():
    for _weak, _key in ((False, "names"), (True, "weak_names")):
        if _spec.get(_key):
            _test_parts.append(f"(?P<t{len(_TEST_GROUPS)}>" + "|".join(_spec[_key]) + ")")
            _TEST_GROUPS.append((_name, _weak))
TEST = re.compile(r"\b(?:" + "|".join(_test_parts) + ")", I)
_R = P["results"]
_POS = _alt(_R["positive"])
_NEG = _alt(_R["negative"])
_UNC = _alt(_R["unclear"])
_SIDE = r"(?:on\s+(?:the\s+)?|to\s+the\s+)?(?P<{g}>left|right|bilaterally|bilateral|both\s+sides|L|R)\b"
RESULT_AFTER = re.compile(
    r"[ \t]*\)?[ \t]*(?:(?:tests?|maneuvers?|manoeuvres?|signs?|testing)\b[ \t]*)?(?:" + _SIDE.format(g="side1") + r"[ \t]*)?"
    r"(?:[:=|][ \t]*|[-–][ \t]+(?=\w|\())?(?:(?:is|are|was|were|found|noted|elicited)\s+)?(?:to\s+be\s+)?(?:all\s+|both\s+|each\s+)?"
    r"(?:strongly\s+|clearly\s+|mildly\s+|markedly\s+|very\s+)?(?:(?P<unc>" + _UNC + r")|(?P<pos>" + _POS + r")|(?P<neg>" + _NEG + r"))"
    r"(?:\s*" + _SIDE.format(g="side2") + r")?",
    I,
)
_ALTERNATIVE_AFTER = re.compile(r"\s*(?:/|\bor\b)\s*(?:" + _POS + "|" + _NEG + ")", I)
RESULT_BEFORE = re.compile(
    r"(?:(?P<pos>positive|pos|\+)|(?P<neg>negative|neg))\s*:?\s*(?:for\s+)?(?:(?:the|a|an)\s+)?"
    r"(?:(?P<side>left|right|bilateral|L|R)[- ]?(?:sided\s+)?)?$",
    I,
)
_NEGATED_POLARITY = re.compile(r"\b(?:no|not|without|never)\s*$", I)  # "no positive FABER"
_LEAD_WORD = r"(?:" + "|".join(_R["lead_words"]) + r")"
LEAD = re.compile(r"[\s\-*•:,()]*(?:(?:(?:positive|pos|negative|neg)\b|\(\+\)|\(-\)|" + _LEAD_WORD + r"\b)[\s:,()\-]*)+", I)
_LEAD_COUNT = re.compile(r"(?P<n>\d+)\s*(?:/|of|out\s+of)\s*\d+", I)
_GLUE = re.compile(
    r"(?:[\s,/&()|•*]|-(?=\s)|\band\b|\bor\b|\bas\s+well\s+as\b|\bthe\b|\d+[.)](?=\s)|(?:tests?|maneuvers?|manoeuvres?|signs?)\b"
    r"|\b(?:left|right|bilateral|bilat|L|R|lt|rt)\b)*",
    I,
)
# "FABER (L), Gaenslen (L)": the side each test was done on, in parentheses after it
_PAREN_SIDE = re.compile(r"\s*\(\s*(?P<side>left|right|L|R|lt|rt|bilateral(?:ly)?|bilat|both)\s*\)", I)
_TEST_WORD_AFTER = re.compile(r"\s*(?:tests?|maneuvers?|manoeuvres?|signs?)\b", I)
_WEAK_NOT_BEFORE = re.compile(r"\b(?:root|nerve|cord|thecal|sac|neural|foraminal|canal|spinal|disc|disk|fracture)\s*$", I)
_UNNAMED_COUNT = re.compile(r"\b\d\s*(?:/|of|out\s+of)\s*\d\s+(?:provocative\s+)?(?:tests?|maneuvers?)\b", I)

# conservative care
_CV = P["conservative"]
THERAPY = re.compile(r"\b(?:" + "|".join(_CV["therapies"]) + r")\b", I)
FAILED = re.compile(r"\b(?:" + "|".join(_CV["failed"]) + r")", I)
HELPED = re.compile(r"\b(?:" + "|".join(_CV["helped"]) + r")\b", I)
CARE_ALLOW = re.compile(r"fail\w*|unsuccessful\w*|refractory|ineffective|limited|minimal|poor\w*|inadequate\w*|insufficient"
                        r"|partial|temporary|transient|benefits?|" + "|".join(_CV["done"]), I)
CARE_ALLOW_NOT = re.compile(CARE_ALLOW.pattern + r"|not|n't|didn't|doesn't|hasn't|haven't|hadn't|didnt|doesnt", I)
_NOT_BEGUN_BEFORE = re.compile(r"\b(?:" + "|".join(_CV["not_begun"]) + r")\b[^.;]{0,30}$", I)
_NEG_WORD = re.compile(r"\b(?:not|never|nor|neither|none)\b|n't\b|\b(?:didnt|doesnt|hasnt|havent|wasnt|werent)\b", I)
_DURATION_THEN_THERAPY = re.compile(r"^\s*(?:(?:" + "|".join(_CV["course"]) + r")\s+)?(?:of|on|with)\s+(?:\w+\s+){0,3}?$"
                                    r"|^[ \t]+$", I)  # telegraphic: "10 weeks PT"
_THERAPY_THEN_DURATION = re.compile(
    r"^[^.;]{0,40}?(?:\bfor|\bx|×|\bover|\bthe\s+(?:past|last)|\(|-)\s*(?:(?:at\s+least|more\s+than|over|greater\s+than|>|≥)\s*)?$"
    r"|^[ \t]*:?[ \t]*$",  # telegraphic: "PT 12 weeks", "PT: 12 weeks"
    I,
)
CONTINUES = re.compile(r"\b(?:" + "|".join(_CV["continues"]) + r")\b", I)
_STOPPED_BEFORE = re.compile(r"\b(?:not|no\s+longer|stop\w*|won't|unable\s+to)\s+(?:\w+\s+){0,1}$", I)

# prior injections
_OTHER_TARGET = re.compile(r"\b(?:" + "|".join(P["relief"]["other_targets"]) + r")\b", I)
_INJ = r"(?:injections?|blocks?|SIJIs?|inj\b|injs\b|sessions?)"
DIAGNOSTIC_BLOCK = re.compile(r"\bdiagnostic\s+(?:[\w/-]+\s+){0,5}?" + _INJ + r"|\bdx\s+(?:[\w-]+\s+){0,3}?(?:blocks?|inj\w*)", I)
PRIOR_THERAPEUTIC = re.compile(
    r"\b(?:prior|previous|last|most\s+recent|first|initial|earlier|1st|second|2nd|third|3rd)\s+(?:[\w-]+\s+){0,4}?therapeutic\s+(?:[\w-]+\s+){0,4}?" + _INJ
    + r"|\btherapeutic\s+(?:[\w-]+\s+){0,4}?(?:injections?|SIJIs?|inj\b)(?=\s+(?:on\s+|in\s+|dated\s+)?\d)"
    + r"|\b(?:prior|previous|last|most\s+recent)\s+(?:(?:left|right|bilateral|L|R|SI|SIJ|sacroiliac|joint|steroid)\s+){0,4}(?:injections?|SIJIs?|inj\b)",
    I,
)
_PRIOR_WORD = re.compile(r"\b(?:prior|previous(?:ly)?|last|most\s+recent|earlier|initial|gave|provided|yielded|resulted|produced|had)\b", I)
_SESSION_LIST = re.compile(r"(?im)^[^\n]{0,40}?\b(?:injections?|sessions?|procedures?)\b[^\n]{0,40}?\b(?:in\s+the\s+)?(?:past|last|prior)\s+"
                           r"(?:12|twelve)\s+months\b[^\n]{0,80}:[ \t]*\r?\n")
_LIST_LINE = re.compile(r"[ \t]*(?:[-*•]|\d+[.)])?[ \t]*(?P<item>[^\n]*)(?:\r?\n|$)")
_FIRST_BEFORE = re.compile(r"\bfirst\s+$", I)
_TODAY_AFTER = re.compile(r"\s*(?:is\s+|was\s+)?(?:today|this\s+(?:visit|morning|afternoon|session))\b", I)
_TODAY_BEFORE = re.compile(r"\b(?:this\s+is|today\s+is|today's\s+is|today's|this)\s+(?:the\s+|her\s+|his\s+|their\s+|a\s+|an\s+)?(?:\w+\s+){0,2}$", I)
REPEAT_TODAY = re.compile(r"\brepeat\s+(?:[\w-]+\s+){0,3}?(?:therapeutic|SI\s+joint\s+injection|SIJI|injection)\b", I)

_ORDINALS = {"second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
             "2nd": 2, "3rd": 3, "4th": 4, "5th": 5, "6th": 6, "7th": 7, "8th": 8}
_KIND_WORDS = r"(?:(?:left|right|bilateral|SI|SIJ|sacroiliac|joint|diagnostic|therapeutic|steroid)\s+){0,4}"
_PERIOD = (r"(?P<period>[^.;]{0,30}?\b(?:this\s+(?:calendar\s+)?year|in\s+(?:the\s+)?(?:past|last)\s+(?:12|twelve)\s+months"
           r"|in\s+(?:the\s+)?(?:past|last)\s+year|within\s+(?:the\s+)?(?:past\s+)?(?:12\s+months|year)|in\s+12\s+months))?")
SESSION_ORDINAL = re.compile(
    r"\b(?P<ord>" + "|".join(_ORDINALS) + r")\s+" + _KIND_WORDS + r"(?:injection|session|SIJI|block|inj)\b" + _PERIOD, I
)
_THIS_IS = re.compile(r"\b(?:this\s+is|today\s+is|today's\s+is)\s+(?:the|her|his|their|a)\s+$", I)
SESSION_PRIOR = re.compile(
    r"\b(?P<n>\d+|one|two|three|four|five|six)\s+(?:prior|previous|other)\s+" + _KIND_WORDS
    + r"(?:injections|sessions|SIJIs|blocks)\b" + _PERIOD,
    I,
)

CONTRAINDICATION = re.compile(
    r"\b(?:allerg\w*|anaphyla\w*|reaction)[:\s]+(?:\w+\s+){0,2}?(?:to\s+)?(?:iodinated\s+|iodine\s+)?(?:contrast|iodine|dye)\b"
    r"|\b(?:contrast|iodine|dye)\s+allerg\w*|\bpregnan(?:t|cy)\b(?!\s+test)",
    I,
)
_RULED_OUT_AFTER = re.compile(r"\W*(?:\w+\s+){0,2}?(?:negative|neg\b|ruled\s+out|excluded|denied)", I)
_FAILURE_IS_THE_FACT = re.compile(r"fail\w*|unsuccessful\w*", I)
# A sentence about the policy, not the patient: "Medicare covers moderate to severe pain", "the LCD requires ...".
_POLICY = re.compile(r"\b(?:medicare|LCDs?|L3\d{4}|polic(?:y|ies)|payers?|insurers?|MACs?|CMS)\b[^.;\n]{0,40}?\b(?:covers?|covered"
                     r"|coverage|requires?|required|criteria|criterion|mandates?|expects?|allows?|pays?|defines?)\b", I)


# --- the reading of one note ----------------------------------------------------------------------------------------


@dataclass
class Criterion:
    """One LCD criterion as the note documents it: met or not, the spans that show it (of the original text), why
    (for the message), and where the statement stands in the normalised text (`at`, for drafting)."""

    met: bool
    evidence: list[Span] = field(default_factory=list)
    detail: str = ""
    at: list[tuple[int, int]] = field(default_factory=list)
    disputed: bool = False  # met only by a score the cited schemes grade differently (a warning, see pain_severity)

    def outcome(self) -> Outcome:
        return Outcome(self.met, list(self.evidence), self.detail)


class Reader:
    """The coverage facts of one note, read from its one Reading. Built once per text (see `reader`); each criterion
    is read on first use. Offsets are into `self.text` (the Reading's normalised text); spans are of the original."""

    def __init__(self, source: str | Reading) -> None:
        self.r = source if isinstance(source, Reading) else read(source)
        self.ctx = self.r
        self.text = self.r.text
        self._memo: dict[tuple, Criterion] = {}
        self._holes = _Intervals(m.span() for m in _PLACEHOLDER.finditer(self.text))

    def criterion(self, name: str, **args) -> Criterion:
        """`getattr(self, name)(**args)`, computed once: the validator asks the same check for a rule's `when` and
        `require`, again to explain a finding, and again when it works out the suggested codes."""
        key = (name, tuple(sorted(args.items())))
        if key not in self._memo:
            self._memo[key] = getattr(self, name)(**args)
        return self._memo[key]

    # helpers
    def span(self, start: int, end: int) -> Span:
        """The ORIGINAL text's span for [start, end) of the normalised text."""
        return self.r.span(start, end)

    def spans(self, ranges) -> list[Span]:
        return sorted({self.span(a, b) for a, b in ranges}, key=lambda s: s.start)

    def unfinished(self, pos: int) -> bool:
        """A placeholder (SmartList, '***', '____') in the clause holding `pos`: the statement is not finished."""
        if not self._holes.ranges:
            return False
        lo, hi = self.r.clause(pos)
        f = self.r.field_at(pos)
        if f is not None:  # "Radicular symptoms: {YES/NO:123}": the label stands or falls with its value
            lo, hi = min(lo, f.start), max(hi, f.end)
        i = bisect.bisect_left(self._holes.starts, lo)
        return (i < len(self._holes.starts) and self._holes.starts[i] < hi) or lo in self._holes

    def counts(self, start: int, end: int, allow: re.Pattern[str] | None = _FAILURE_IS_THE_FACT) -> bool:
        # "failed PT", "unsuccessful NSAIDs": the failure is what the LCD asks for, not a doubt about the treatment
        return self.r.status(start, end, allow=allow) in EVIDENCE and not self.unfinished(start) and not self.policy(start)

    def policy(self, pos: int) -> bool:
        """The sentence holding `pos` speaks of the policy ("Medicare covers ...", "the LCD requires ..."), not the patient."""
        lo, hi = self.sentence_of(pos)
        return _POLICY.search(self.text, lo, hi) is not None

    def holds(self, start: int, end: int, allow: re.Pattern[str], allow_not: re.Pattern[str] | None = None,
              phrases: list[tuple[int, int]] = ()) -> bool:
        """Whether the statement [start, end) is established, its own negation words allowed (`allow`). A field's
        label ("Radiculopathy: none") is read through its value. A clause negation ("did not help") is allowed too
        (`allow_not`) only when every negation word of the sentence lies inside one of `phrases`."""
        f = self.r.field_at(start)
        if f is not None and start < f.label_end and f.end > f.value_start:
            start, end = max(f.value_start, start), max(end, f.end)
        if self.unfinished(start) or self.policy(start):
            return False
        status = self.r.status(start, end, allow=allow)
        if status in EVIDENCE:
            return True
        if status == "negated" and allow_not is not None:
            lo, hi = self.sentence_of(start)
            negs = [n.span() for n in _NEG_WORD.finditer(self.text, lo, hi) if not (start <= n.start() and n.end() <= end)]
            if negs and all(any(a <= s and e <= b for a, b in phrases) for s, e in negs):
                return self.r.status(start, end, allow=allow_not) in EVIDENCE
        return False

    def sentence_of(self, pos: int) -> tuple[int, int]:
        """The sentence holding `pos`, read at most WINDOW characters either side of it (as the Reading reads a
        clause): a text with no full stop for kilobytes stays linear to read."""
        lo, hi = self.r.sentence(pos)
        return max(lo, pos - WINDOW), min(hi, pos + WINDOW)

    def durations(self, lo: int, hi: int) -> list[tuple[re.Match[str], int]]:
        """Durations in text[lo:hi] that are lower bounds of a length of time, with their length in days."""
        out = []
        for m in DURATION.finditer(self.text, lo, hi):
            if _UPPER_BOUND_BEFORE.search(self.text, max(lo, m.start() - 15), m.start()):
                continue  # "less than 3 months" is not at least 3 months
            if _AGO_AFTER.match(self.text, m.end()):
                continue  # "4 months ago", "6 weeks after the fall": it dates an event; it is not a duration
            n = m.group("n").lower()
            value = float(_NUMBER_WORDS.get(n, n)) if n in _NUMBER_WORDS or n[0].isdigit() else None
            if value is not None:
                out.append((m, int(value * _DAYS_PER[m.group("unit")[0].lower()])))
        return out

    def _pain_near(self, pos: int, lo: int, hi: int) -> re.Match[str] | None:
        found = [p for p in PAIN.finditer(self.text, lo, hi)]
        return min(found, key=lambda p: abs(p.start() - pos)) if found else None

    # criteria ------------------------------------------------------------------------------------------------------
    def pain_duration(self, min_months: float) -> Criterion:
        need = min_months * _DAYS_PER["m"]
        shorter: list[tuple[int, int]] = []
        for p in self.r.finditer(PAIN):
            if not self.counts(p.start(), p.end()):
                continue
            lo, hi = self.sentence_of(p.start())
            if not PAIN_SITE.search(self.text, lo, hi):
                continue
            for m, days in self.durations(lo, hi):
                if THERAPY.search(self.text, max(lo, m.start() - 30), min(hi, m.end() + 30)) or RELIEF.search(
                    self.text, max(lo, m.start() - 40), m.start()
                ):
                    continue  # "6 weeks of PT", "relief for 4 months": not how long the pain has lasted
                if not self.counts(m.start(), m.end()):
                    continue
                if days >= need:
                    return Criterion(True, self.spans([m.span(), p.span()]), at=[m.span(), p.span()])
                shorter.append(m.span())
        # "- Pain: moderate to severe left low back pain ...\n- Duration: 6 months": a criteria list's own Duration field
        # is the duration of the pain it lists, when that pain (of this region) is stated
        pains = [p for p in self.r.finditer(PAIN) if self.counts(p.start(), p.end())
                 and PAIN_SITE.search(self.text, *self.sentence_of(p.start()))]
        for field in (_DURATION_FIELD.finditer(self.text) if pains and not shorter else ()):
            line_end = self.text.find("\n", field.end())
            for m, days in self.durations(field.end(), line_end if line_end >= 0 else len(self.text)):
                if self.counts(m.start(), m.end()) and days >= need:
                    return Criterion(True, self.spans([m.span(), pains[0].span()]), at=[m.span(), pains[0].span()])
                shorter.append(m.span())
                break
        if shorter:
            first = self.span(*shorter[0])
            return Criterion(False, self.spans(shorter), f"the pain's stated duration ({first.text!r}) is under {min_months:g} months")
        return Criterion(False, [], "no duration of the back / SI joint pain is stated (e.g. '6-month history of left buttock pain')")

    def pain_location(self) -> Criterion:
        for m in self.r.finditer(LOCATION):
            lo, hi = self.sentence_of(m.start())
            p = self._pain_near(m.start(), lo, hi)
            if p is not None and self.counts(m.start(), m.end()):
                more = [o.span() for o in LOCATION.finditer(self.text, lo, hi) if self.counts(o.start(), o.end())]
                return Criterion(True, [self.span(*m.span())], at=sorted({m.span(), p.span(), *more}))
        for m in self.r.finditer(FORTIN):
            lo, hi = self.sentence_of(m.start())
            after = RESULT_AFTER.match(self.text, m.end())
            before = RESULT_BEFORE.search(self.text[max(lo, m.start() - 30) : m.start()])
            positive = (after and after.group("pos")) or (before and before.group("pos") and not after)
            if positive and self.counts(m.start(), m.end()):
                end = after.end() if after else m.end()
                return Criterion(True, [self.span(*m.span())], at=[(m.start() - (len(before.group()) if before else 0), end)])
        for m in self.r.finditer(SI_PAIN):
            section = self.r.section(m.start()) or ""
            if self.counts(m.start(), m.end()) and not _LABEL_SECTION.search(section):
                return Criterion(True, [self.span(*m.span())], at=[m.span()])
        return Criterion(False, [], "the pain's location (over the SI joint, below L5) is not described outside the diagnosis")

    # severity -------------------------------------------------------------------------------------------------------
    def _grades(self) -> tuple[list[tuple[int, int, int, int]], list[tuple[int, int, int, int]]]:
        """Words grading the pain: (moderate-or-severe, mild), each (word start, word end, pain start, pain end)."""
        sev, mild = [], []
        text = self.text
        for m in self.r.finditer(SEVERITY):
            lo, hi = self.sentence_of(m.start())
            bound = None
            after = _GRADES_NOUN.match(text, m.end(), hi)
            nxt = re.match(r"\s*(?:\([^()]{0,40}\)\s*)?([\w-]+)", text[m.end() : hi])
            if nxt and _NOT_PAIN.match(nxt.group(1)):
                continue  # "moderate stenosis", "severe degenerative changes", "moderate relief"
            if after and not any(_NOT_PAIN.match(w) for w in after.group("words").split()):
                bound = after.span("noun")
            else:
                before = text[max(lo, m.start() - 80) : m.start()]
                p = None
                if _PREDICATE_BEFORE.search(before) or _SEVERITY_LABEL.search(before):
                    p = self._pain_near(m.start(), lo, m.start())
                elif _APPOSITION_BEFORE.search(before) and _APPOSITION_AFTER.match(text, m.end()):
                    p = self._pain_near(m.start(), max(lo, m.start() - 120), m.start())
                if p is not None:
                    bound = p.span()
            if bound is None or not self.counts(m.start(), m.end()):
                continue
            (sev if m.group("sev") else mild).append((m.start(), m.end(), *bound))
        return sev, mild

    def scores(self) -> list[tuple[str, float, tuple[int, int]]]:
        """Pain scores that grade the pain itself (not after the injection, not a relief, not in a plan):
        (scale "nrs" 0-10 or "vas_mm" 0-100, value, span)."""
        out = []
        text = self.text
        found = list(self.r.finditer(SCORE))
        for i, m in enumerate(found):
            unit = (m.group("unit") or "").lower().replace(" ", "")
            scale = (m.group("scale") or "").strip()
            named = bool(_NAMED_SCALE.match(scale)) if scale else False
            if not unit and not named:
                continue  # a bare number, or "pain 8" with no scale: no score
            n = float(m.group("n"))
            if m.group("n2") is not None and n == 0:
                continue  # "NRS 0-10": the scale's range, not a score
            if unit in ("/100", "outof100", "mm") or (not unit and scale.upper().startswith("VAS") and n > 10):
                kind, value = "vas_mm", n
            elif unit == "cm":
                kind, value = "vas_mm", n * 10
            elif unit in ("/10", "outof10") or (not unit and n <= 10 and not scale.upper().startswith("VAS")):
                kind, value = "nrs", n
            else:
                continue  # "VAS 7" without a unit: 7 mm or 7 cm, unknown
            if (kind == "nrs" and value > 10) or (kind == "vas_mm" and value > 100):
                continue
            lo, hi = self.sentence_of(m.start())
            if not (named or PAIN.search(text, lo, hi) or _NAMED_SCALE.search(text, lo, hi)
                    or (lo > 0 and _SCALE_DECLARED.search(text, self.sentence_of(lo - 1)[0], lo))):
                continue  # "Pain scale: NRS 0-10. Pre-procedure 7/10.": the line before names the scale
            start = m.start("n")
            # the words between the previous score and the next: "7/10 before, 2/10 after", "8/10 to 1/10"
            seg_lo = max(self.r.clause(start)[0], found[i - 1].end() if i and found[i - 1].end() > lo else lo)
            seg_hi = min(self.r.clause(start)[1], found[i + 1].start() if i + 1 < len(found) else hi)
            segment = text[seg_lo:start] + " " + text[m.end() : seg_hi]
            if _NOT_BASELINE.search(segment) or re.search(r"\b(?:to|->|→)\s*$|\bfrom\s+$", text[max(lo, start - 8) : start], I):
                continue
            if _TRANSITION_AFTER.match(text, m.end()):
                continue  # "8/10 to 1/10": the baseline of an injection's relief, not the pain's own grade
            if DIAGNOSTIC_BLOCK.search(text, lo, hi) or PRIOR_THERAPEUTIC.search(text, lo, hi) or PERCENT.search(text, lo, hi):
                continue  # a prior injection's response
            if not self.counts(m.start(), m.end()):
                continue
            out.append((kind, value, (m.start(), m.end())))
        return out

    @staticmethod
    def grade(kind: str, value: float) -> str:
        """"met", "disputed" or "mild": the score-to-severity rule of rules/coverage/medicare_si_lcd.toml."""
        cut = _SEV[kind]
        return "met" if value >= cut["met_from"] else "disputed" if value >= cut["disputed_from"] else "mild"

    def pain_severity(self) -> Criterion:
        sev, mild = self._grades()
        scores = self.scores()
        graded = {g: [s for s in scores if self.grade(s[0], s[1]) == g] for g in ("met", "disputed", "mild")}
        words = lambda found: [(a, b) for a, b, _, _ in found]  # noqa: E731
        if sev and mild:
            ev = words(sev[:1]) + words(mild[:1])
            return Criterion(False, self.spans(ev), "the note grades the pain both ways: " + ", ".join(repr(s.text) for s in self.spans(ev)))
        if mild and graded["met"]:
            ev = words(mild[:1]) + [graded["met"][0][2]]
            return Criterion(False, self.spans(ev), "the note calls the pain mild and scores it "
                             + ", ".join(repr(s.text) for s in self.spans(ev)[1:]) + ": a conflict")
        if sev:
            a, b, pa, pb = sev[0]
            return Criterion(True, self.spans([(a, b)]), at=[(a, b), (pa, pb)])
        if graded["met"]:
            best = max(graded["met"], key=lambda s: s[1])
            return Criterion(True, self.spans([best[2]]), at=[best[2]])
        if graded["disputed"]:
            best = max(graded["disputed"], key=lambda s: s[1])
            shown = self.span(*best[2]).text
            cut = _SEV[best[0]]
            return Criterion(True, self.spans([best[2]]), f"the pain is graded only by its score ({shown!r}), which the cited "
                             f"scales grade moderate or mild (every scheme calls {cut['met_from']:g} or more at least moderate)",
                             at=[best[2]], disputed=True)
        if mild or graded["mild"]:
            ev = words(mild[:1]) + [s[2] for s in graded["mild"][:1]]
            return Criterion(False, self.spans(ev), "the pain is documented as mild: " + ", ".join(repr(s.text) for s in self.spans(ev)))
        return Criterion(False, [], "the note neither grades the pain (moderate, severe) nor scores it on a scale (e.g. NRS 7/10)")

    def pain_severity_disputed(self) -> Criterion:
        """Holds when the severity criterion is met only by a score the cited schemes disagree on (a warning)."""
        c = self.criterion("pain_severity")
        return Criterion(c.met and c.disputed, list(c.evidence), c.detail)

    # radiculopathy --------------------------------------------------------------------------------------------------
    def no_radiculopathy(self) -> Criterion:
        titles = _Intervals(m.span() for m in self.r.finditer(_ICD_TITLE))
        absent = [m for m in self.r.finditer(NO_RADICULAR) if m.start() not in titles
                  and not _DOUBT_BEFORE.search(self.text, max(0, m.start() - 25), m.start())
                  and self.holds(m.start(), m.end(), ABSENCE_ALLOW)]
        inside = _Intervals((m.start(), m.end()) for m in absent)
        present = []
        for m in self.r.finditer(RADICULAR):
            if m.start() in inside or m.start() in titles or not self.counts(m.start(), m.end()):
                continue
            lo, hi = self.sentence_of(m.start())
            if re.search(r"thigh|buttock|groin", m.group(), I) and _THIGH_ONLY.search(self.text, lo, hi):
                continue  # referred pain into the thigh that stops above the knee is no radicular pain
            present.append(m)
        if present and absent:
            spans = self.spans([present[0].span(), absent[0].span()])
            return Criterion(False, spans, "the note states radicular symptoms and their absence (a conflict for the "
                             "physician): " + " / ".join(repr(s.text) for s in spans))
        if present:
            spans = self.spans([m.span() for m in present[:3]])
            return Criterion(False, spans, "the note documents radicular symptoms: " + ", ".join(repr(s.text) for s in spans))
        if absent:
            return Criterion(True, self.spans([absent[0].span()]), at=[m.span() for m in absent[:2]])
        return Criterion(False, [], "the note does not state that radiculopathy is absent")

    def other_causes(self) -> Criterion:
        titles = _Intervals(m.span() for m in self.r.finditer(_ICD_TITLE))
        excluded = [m for m in self.r.finditer(CAUSE_EXCLUDED) if m.start() not in titles
                    and not _DOUBT_BEFORE.search(self.text, max(0, m.start() - 25), m.start())
                    and self.holds(m.start(), m.end(), ABSENCE_ALLOW)]
        for m in self.r.finditer(IMAGING_CLEAR):
            lo = self.sentence_of(m.start())[0]
            if _OTHER_REGION.search(self.text, max(lo, m.start() - 25), m.end()) and not re.search(_REGION, m.group(), I):
                continue  # "chest x-ray unremarkable" excludes nothing here
            if self.holds(m.start(), m.end(), ABSENCE_ALLOW):
                excluded.append(m)
        covered = _Intervals((m.start(), m.end()) for m in excluded)
        present = [
            m for m in self.r.finditer(CAUSE_PRESENT)
            if m.start() not in covered and m.start() not in titles and self.counts(m.start(), m.end())
        ]
        if present:
            spans = self.spans([m.span() for m in present[:3]])
            return Criterion(False, spans, "the note documents a possible other cause: " + ", ".join(repr(s.text) for s in spans))
        if excluded:
            ranges = sorted({m.span() for m in excluded})
            return Criterion(True, self.spans(ranges[:3]), at=ranges[:3])
        return Criterion(False, [], "the note does not say other causes were considered and excluded (exam or imaging)")

    # provocative tests -----------------------------------------------------------------------------------------------
    def provocative_tests(self, min: int, side: str = "unstated") -> Criterion:
        positive, negative, unclear, at = _read_tests(self, side)
        names = sorted({name for name, _ in positive}, key=_TEST_NAMES.index)
        spans = sorted({s for _, s in positive}, key=lambda s: s.start)
        if len(names) >= min:
            return Criterion(True, spans, ", ".join(names), at=at)
        parts = [f"{len(names)} named positive test(s)" + (f" ({', '.join(names)})" if names else "")]
        if negative:
            parts.append("negative: " + ", ".join(sorted({n for n, _ in negative}, key=_TEST_NAMES.index)))
        if unclear:
            parts.append("set aside (no stated result, the other side, or not affirmed): " + ", ".join(repr(s.text) for _, s in unclear[:3]))
        count = self.r.search(_UNNAMED_COUNT)
        if count:
            parts.append(f"{self.span(*count.span()).text!r} does not name the tests")
        evidence = spans + [s for _, s in negative + unclear]
        return Criterion(False, sorted(set(evidence), key=lambda s: s.start), "; ".join(parts))

    # conservative care -----------------------------------------------------------------------------------------------
    def _care(self, t: re.Match[str], lo: int, hi: int) -> tuple[bool, list[tuple[int, int]]]:
        """Whether therapy mention `t` is a therapy done (not planned, not begun today, not negated), and the failure
        phrases of its sentence."""
        failed = [f.span() for f in FAILED.finditer(self.text, lo, hi)
                  if not _DOUBT_BEFORE.search(self.text, max(lo, f.start() - 12), f.start())]
        if _NOT_BEGUN_BEFORE.search(self.text, max(lo, t.start() - 40), t.start()):
            return False, failed
        return self.holds(t.start(), t.end(), CARE_ALLOW, CARE_ALLOW_NOT, failed), failed

    def conservative_care(self, min_weeks: float) -> Criterion:
        need = min_weeks * _DAYS_PER["w"]
        why = "no conservative treatment is documented as tried"
        for t in self.r.finditer(THERAPY):
            lo, hi = self.sentence_of(t.start())
            done, failed = self._care(t, lo, hi)
            if not done:
                continue
            attached = [(m, days) for m, days in self.durations(lo, hi) if self._duration_of(m, t)]
            long_enough = [(m, d) for m, d in attached if d >= need]
            in_failure = _Intervals(failed)
            helped = [h for h in HELPED.finditer(self.text, lo, hi) if h.start() not in in_failure
                      and self.r.local_status(h.start(), h.end()) == "affirmed"]
            if long_enough and not helped:
                m = long_enough[0][0]
                ranges = [t.span(), m.span()] + failed[:1]
                return Criterion(True, self.spans(ranges), at=ranges)
            shown = self.span(*t.span()).text
            if not attached:
                why = f"{shown!r} is documented without its duration"
            elif not long_enough:
                why = f"{shown!r} lasted {self.span(*attached[0][0].span()).text!r}, under {min_weeks:g} weeks"
            else:
                why = f"{shown!r} is documented as having helped ({self.span(*helped[0].span()).text!r}), not as pain persisting despite it"
        return Criterion(False, [], why)

    def _duration_of(self, m: re.Match[str], t: re.Match[str]) -> bool:
        """Whether duration `m` is how long therapy `t` lasted: "6 weeks of PT", "PT for 6 weeks", "a 6-week course of
        PT", or the head of a list, "2 months of NSAIDs and PT" (the duration attaches to the list's first therapy)."""
        if m.start() >= t.end():
            return _THERAPY_THEN_DURATION.match(self.text[t.end() : m.start()]) is not None
        if m.end() > t.start():
            return False
        head = THERAPY.search(self.text, m.end(), t.start()) or t  # the first therapy after the duration
        return _DURATION_THEN_THERAPY.match(self.text[m.end() : head.start()]) is not None

    def conservative_care_continues(self) -> Criterion:
        for t in self.r.finditer(THERAPY):
            lo, hi = self.sentence_of(t.start())
            status = self.r.status(t.start(), t.end(), allow=CARE_ALLOW)
            if status not in EVIDENCE | {"planned"} or self.unfinished(t.start()):
                continue  # a plan to continue is the statement this asks for; a negated or hypothetical one is not
            for c in CONTINUES.finditer(self.text, max(lo, t.start() - 60), min(hi, t.end() + 30)):
                if not _STOPPED_BEFORE.search(self.text, max(lo, c.start() - 20), c.start()):
                    ranges = sorted([c.span(), t.span()])
                    return Criterion(True, self.spans(ranges), at=ranges)
        return Criterion(False, [], "the note does not say conservative care continues alongside the injection")

    # prior injections ------------------------------------------------------------------------------------------------
    def _anchors(self, lo: int, hi: int) -> list[tuple[str, int, int]]:
        """The injections a sentence names, in order: ("diagnostic" | "therapeutic", start, end)."""
        out = [("diagnostic", *m.span()) for m in DIAGNOSTIC_BLOCK.finditer(self.text, lo, hi)
               if not _OTHER_TARGET.search(m.group())]
        for m in PRIOR_THERAPEUTIC.finditer(self.text, lo, hi):
            if not _OTHER_TARGET.search(m.group()) and not any(a <= m.start() < b for _, a, b in out):
                out.append(("therapeutic", *m.span()))
        return sorted(out, key=lambda a: a[1])

    def _prior(self, kind: str) -> list[tuple[int, int, int, int]]:
        """Prior injections of `kind` the note states, each with its segment of the sentence: (anchor start, anchor
        end, segment start, segment end). A segment runs to the next injection named; words before the first one
        belong to it ("85% relief for 6 hours after the diagnostic block on 3/2")."""
        out = []
        seen: set[tuple[int, int]] = set()
        for m in self.r.finditer(DIAGNOSTIC_BLOCK if kind == "diagnostic" else PRIOR_THERAPEUTIC):
            lo, hi = self.sentence_of(m.start())
            for _ in range(3):  # "first therapeutic injection: baseline NRS 8; NRS 3 at 6 weeks - 60% relief": one
                if hi >= len(self.text) or not self.text[lo:hi].rstrip().endswith(";"):  # statement across its
                    break  # semicolons
                hi = min(self.sentence_of(hi)[1], m.start() + WINDOW)
            if (lo, hi) in seen:
                continue
            seen.add((lo, hi))
            anchors = self._anchors(lo, hi)
            for i, (k, a, b) in enumerate(anchors):
                if k != kind:
                    continue
                seg_lo = lo if i == 0 else anchors[i - 1][2]
                seg_hi = anchors[i + 1][1] if i + 1 < len(anchors) else hi
                if kind == "therapeutic" and "therapeutic" not in self.text[a:b].lower() and (
                        DIAGNOSTIC_BLOCK.search(self.text, max(seg_lo, a - 25), seg_hi)  # "bilateral diagnostic SI joint injections"
                        or (i + 1 < len(anchors) and anchors[i + 1][0] == "diagnostic"
                                                                        and anchors[i + 1][1] - b < 25)):
                    continue  # "Prior injection: diagnostic left SI joint injection ...": the diagnostic one
                if (_TODAY_BEFORE.search(self.text, max(lo, a - 25), a) or _TODAY_AFTER.match(self.text, b)
                        or (kind == "therapeutic" and (_FIRST_BEFORE.search(self.text, max(lo, a - 12), a)
                                                           or self.text[a:b].lower().startswith("first")))) \
                        and not DATE.search(self.text, b, seg_hi):
                    continue  # "This is a diagnostic injection", "First therapeutic session today", "First therapeutic
                    # injection of the last 12 months": today's
                status = self.r.status(a, b, allow=_FAILURE_IS_THE_FACT)
                if status not in EVIDENCE or self.unfinished(a):
                    continue
                dated = DATE.search(self.text, a, seg_hi) is not None
                prior_word = _PRIOR_WORD.search(self.text, max(lo, a - 30), seg_hi) is not None
                if status == "historical" or dated or prior_word:
                    out.append((a, b, seg_lo, seg_hi))
        return out

    def _relief_of(self, seg_lo: int, seg_hi: int) -> list[tuple[int, tuple[int, int]]]:
        """Percent reliefs stated in a segment: (percent, span); a lower bound of a range; from scores "8/10 to 1/10"
        when no percent is given."""
        if not RELIEF.search(self.text, seg_lo, seg_hi) and not re.search(r"\d\s*/\s*10\s*(?:to|->|→)", self.text[seg_lo:seg_hi]):
            return []
        out = []
        for p in PERCENT.finditer(self.text, seg_lo, seg_hi):
            if _UPPER_BOUND_BEFORE.search(self.text, max(seg_lo, p.start() - 15), p.start()):
                continue
            out.append((int(p.group("n")), p.span()))
        if not out:
            for s in re.finditer(r"(?P<a>\d{1,2})\s*(?:/\s*10)?\s*(?:to|->|→)\s*(?P<b>\d{1,2})\s*/\s*10", self.text[seg_lo:seg_hi]):
                a, b = int(s.group("a")), int(s.group("b"))
                if 0 < a <= 10 and b <= a:
                    out.append((round(100 * (a - b) / a), (seg_lo + s.start(), seg_lo + s.end())))
        return out

    def prior_diagnostic_relief(self, min_percent: int) -> Criterion:
        return self._relief(min_percent, "diagnostic")

    def _relief(self, min_percent: int, kind: str) -> Criterion:
        lower: list[tuple[int, int]] = []
        seen = None
        for a, b, seg_lo, seg_hi in self._prior(kind):
            seen = seen or (a, b)
            for n, span in self._relief_of(seg_lo, seg_hi):
                if n >= min_percent:
                    return Criterion(True, self.spans([(a, b), span]), at=[(a, b), span])
                lower.append(span)
        what = "the prior diagnostic injection" if kind == "diagnostic" else "the prior injection"
        if lower:
            shown = self.span(*lower[0]).text
            return Criterion(False, self.spans(lower), f"{what} gave {shown} relief, under {min_percent}%")
        if seen:
            return Criterion(False, self.spans([seen]), f"{what} is mentioned without a percent relief")
        return Criterion(False, [], f"{what} and its percent relief are not documented")

    def repeat_stated(self) -> Criterion:
        for m in self.r.finditer(REPEAT_TODAY):
            if "diagnostic" not in m.group().lower() and self.counts(m.start(), m.end()):
                return Criterion(True, [self.span(*m.span())], self.span(*m.span()).text)
        prior = self._prior("therapeutic")
        if prior:
            a, b = prior[0][:2]
            return Criterion(True, [self.span(a, b)], self.span(a, b).text)
        for n, kind, _, span in self.sessions():
            if kind == "therapeutic" and n >= 2:
                return Criterion(True, [span], span.text)
        return Criterion(False, [], "no prior SI joint injection is stated")

    def repeat_relief(self, min_percent: int) -> Criterion:
        return self._relief(min_percent, "therapeutic")

    def repeat_relief_duration(self, min_months: float) -> Criterion:
        need = min_months * _DAYS_PER["m"]
        shorter: list[tuple[int, int]] = []
        for a, b, seg_lo, seg_hi in self._prior("therapeutic"):
            if not RELIEF.search(self.text, seg_lo, seg_hi):
                continue
            for m in DURATION.finditer(self.text, seg_lo, seg_hi):
                if _UPPER_BOUND_BEFORE.search(self.text, max(seg_lo, m.start() - 15), m.start()) or _AGO_AFTER.match(self.text, m.end()):
                    continue
                n = m.group("n").lower()
                days = float(_NUMBER_WORDS.get(n, n)) * _DAYS_PER[m.group("unit")[0].lower()]
                if days >= need:
                    return Criterion(True, self.spans([(a, b), m.span()]), at=[(a, b), m.span()])
                shorter.append(m.span())
        if shorter:
            shown = self.span(*shorter[0]).text
            return Criterion(False, self.spans(shorter), f"the relief lasted {shown!r}, under {min_months:g} months")
        return Criterion(False, [], "how long the last injection's relief lasted is not stated")

    # sessions --------------------------------------------------------------------------------------------------------
    def sessions(self) -> list[tuple[int, str | None, bool, Span]]:
        """(session count including today's, 'diagnostic'/'therapeutic'/None, within 12 months stated, span)."""
        out = []
        for m in self.r.finditer(SESSION_ORDINAL):
            # "this is the third injection" is today's session, also when an HPI says it; without "this is", only an
            # affirmed mention counts ("after her second injection" dates an earlier one, it is no count of sessions)
            this = _THIS_IS.search(self.text, max(0, m.start() - 25), m.start())
            if self.r.status(m.start(), m.end()) == "affirmed" or (this and self.counts(m.start(), m.end())):
                out.append((_ORDINALS[m.group("ord").lower()], _kind(m.group()), bool(m.group("period")), self.span(*m.span())))
        for m in self.r.finditer(SESSION_PRIOR):
            if self.counts(m.start(), m.end()):
                n = m.group("n").lower()
                out.append((int(_NUMBER_WORDS.get(n, n)) + 1, _kind(m.group()), bool(m.group("period")), self.span(*m.span())))
        # "SI joint injection sessions in the past 12 months (all left, therapeutic):" over one dated line per session
        for m in _SESSION_LIST.finditer(self.text):
            if not self.counts(m.start(), m.end()):
                continue
            dated, pos = 0, m.end()
            for line in _LIST_LINE.finditer(self.text, m.end()):
                if line.start() != pos or not DATE.match(self.text, line.start("item")):
                    break
                dated, pos = dated + 1, line.end()
            if dated:
                head = self.text[m.start():m.end()]
                out.append((dated + 1, _kind(head), True, self.span(m.start(), pos)))
        return out

    def dated_prior_sessions(self, kind: str) -> list[tuple[str, Span]]:
        """Prior `kind` SI joint injections stated with a date, one per date (a session is everything done on one
        day: a left one and a right one on two days are two sessions, NGS FAQ)."""
        dates: dict[str, Span] = {}
        for a, b, _, seg_hi in self._prior(kind):
            d = DATE.search(self.text, b, seg_hi)
            if d is not None:
                dates.setdefault(d.group().lower(), self.span(a, d.end()))
        return list(dates.items())

    def contraindication(self) -> Criterion:
        for m in self.r.finditer(CONTRAINDICATION):
            # An allergy is a standing fact (an "Allergies:" heading reads as history); "no contrast allergy" is not one.
            if (self.counts(m.start(), m.end()) and not _RULED_OUT_AFTER.match(self.text, m.end())
                    and not re.search(r"\b(?:no|denies|nkda|not)\b", self.text[max(0, m.start() - 20) : m.start()], I)):
                return Criterion(True, [self.span(*m.span())])
        return Criterion(False, [], "no contrast allergy or pregnancy is documented")


class _Intervals:
    """Whether a position lies inside one of a set of [start, end) ranges, by bisection (a note may hold thousands)."""

    def __init__(self, ranges) -> None:
        self.ranges = sorted(ranges)
        self.starts = [a for a, _ in self.ranges]
        self.reach = []  # the furthest end among the ranges up to each index, so overlapping ranges are handled
        for _, b in self.ranges:
            self.reach.append(max(b, self.reach[-1]) if self.reach else b)

    def __contains__(self, pos: int) -> bool:
        i = bisect.bisect_right(self.starts, pos) - 1
        return i >= 0 and pos < self.reach[i]


def _kind(phrase: str) -> str | None:
    low = phrase.lower()
    return "diagnostic" if "diagnostic" in low else "therapeutic" if "therapeutic" in low else None


def _side_of(word: str | None) -> str | None:
    if not word:
        return None
    w = word.lower()
    return "left" if w in ("left", "l", "lt") else "right" if w in ("right", "r", "rt") else "bilateral"


def _polarity(m: re.Match[str]) -> str:
    return "unclear" if m.group("unc") else "positive" if m.group("pos") else "negative"


def _read_tests(r: Reader, side: str = "unstated"):
    """Provocative tests with their result: (positive, negative, set aside, statement extents). A result is read
    from the words right after a test ("FABER +", "Gaenslen: positive"), after a list ("FABER, Gaenslen and thigh
    thrust positive on the left": a test without its own result takes the next one's), right before a list
    ("positive Gaenslen, thigh thrust and compression tests"), or from the list's heading ("Positive provocative
    maneuvers on the left: ...", "3/5 provocative maneuvers positive: ..."). Two results that disagree, a result
    for the other side only, or none at all mean the test is set aside (fail closed)."""
    text = r.text
    mentions = []
    paren_side: dict[int, str | None] = {}
    for m in r.r.finditer(TEST):
        name, weak = _TEST_GROUPS[int(m.lastgroup[1:])]
        if weak and _WEAK_NOT_BEFORE.search(text, max(0, m.start() - 20), m.start()):
            continue  # "nerve root compression", "thecal sac compression"
        mentions.append((name, weak, m, RESULT_AFTER.match(text, m.end())))
        if mentions[-1][3] is None and (paren := _PAREN_SIDE.match(text, m.end())):
            paren_side[m.start()] = _side_of(paren.group("side"))
    groups: list[list[tuple[str, bool, re.Match[str], re.Match[str] | None]]] = []
    for item in mentions:
        if groups:
            prev = groups[-1][-1]
            prev_end = prev[3].end() if prev[3] else prev[2].end()
            gap = text[prev_end : item[2].start()]
            if prev_end <= item[2].start() and _GLUE.fullmatch(gap) and (gap.strip() or "\n" not in gap) and len(gap) < 40:
                groups[-1].append(item)
                continue
        groups.append([item])
    starts = [m.start() for _, _, m, _ in mentions]
    positive, negative, unclear, at = [], [], [], []
    prev_end = 0
    for group in groups:
        first, last = group[0][2], group[-1][2]
        lo, hi = r.sentence_of(first.start())
        others = bisect.bisect_left(starts, hi) - bisect.bisect_left(starts, lo) > len(group)
        # the group's own result before it: "positive FABER, ..." or a heading "Positive on the left: FABER, ..."
        line_start = text.rfind("\n", 0, first.start()) + 1
        if line_start > 1 and wraps_at(text, line_start - 1 - (text[line_start - 2] == "\r"), line_start):
            line_start = text.rfind("\n", 0, line_start - 1) + 1  # "Positive provocative\nmaneuvers: FABER, ..."
        window_lo = max(lo, prev_end, first.start() - 120, line_start)
        head = text[window_lo : first.start()]
        before = RESULT_BEFORE.search(head[-40:])
        lead_pol, lead_side, lead_count, lead_span = None, None, None, None
        count = _LEAD_COUNT.search(head) if LEAD.fullmatch(head.split(":")[-1] if head.count(":") > 1 else head) else None
        lead_count = int(count.group("n")) if count else None
        if before:
            lead_pol = "positive" if before.group("pos") else "negative"
            lead_side = _side_of(before.group("side"))
            if _NEGATED_POLARITY.search(text[max(lo, first.start() - 60) : first.start() - len(before.group())]):
                lead_pol = "unclear"  # fail closed: "no positive FABER" is not a positive FABER
            lead_span = (first.start() - len(before.group()), first.start())
        else:
            lead_text, lead_at = head, window_lo
            if not lead_text.strip(" \t-*•") and window_lo > 0:
                # a list under a heading line: "Provocative tests, positive on the left:\n- FABER\n- Gaenslen"
                prev_line_end = window_lo - 1
                prev_line_start = text.rfind("\n", 0, prev_line_end) + 1
                if text[prev_line_start:prev_line_end].rstrip().endswith(":"):
                    lead_text, lead_at = text[prev_line_start:prev_line_end], prev_line_start
            stripped = lead_text.split(":")[-1] if lead_text.count(":") > 1 else lead_text
            if stripped.strip() and LEAD.fullmatch(stripped):
                pols = {("positive" if w.lower().startswith(("pos", "(+")) else "negative")
                        for w in re.findall(r"\bpositive\b|\bpos\b|\bnegative\b|\bneg\b|\(\+\)|\(-\)", stripped, I)}
                if len(pols) == 1:
                    lead_pol = pols.pop()
                    sides = {_side_of(s) for s in re.findall(r"\b(?:left|right|bilateral(?:ly)?|both)\b", stripped, I)}
                    lead_side = sides.pop() if len(sides) == 1 else None
                    count = _LEAD_COUNT.search(stripped)
                    lead_count = int(count.group("n")) if count else lead_count
                    off = lead_at + len(lead_text) - len(stripped)
                    lead_span = (off + len(stripped) - len(stripped.lstrip()), off + len(stripped.rstrip()))
        prev_end = (group[-1][3].end() if group[-1][3] else last.end())
        # each test's result: its own, else the next one's in the list, else the lead's
        results: list[tuple[str | None, str | None, tuple[int, int] | None]] = []
        following: tuple[str | None, str | None, tuple[int, int] | None] = (None, None, None)
        for name, weak, m, own in reversed(group):
            if own is not None:
                pol = "unclear" if _ALTERNATIVE_AFTER.match(text, own.end()) else _polarity(own)
                following = (pol, _side_of(own.group("side1") or own.group("side2")), own.span())
            results.append(following)
        results.reverse()
        strong_group = len(group) > 1 or others or bool(lead_pol)
        # a list is one statement: its head's standing ("Medicare requires FABER, ...") reaches every test in it
        head_counts = r.counts(first.start(), first.end())
        named_positive = 0
        for (name, weak, m, own), (pol, side_said, pol_span) in zip(group, results):
            if weak and not (strong_group or _TEST_WORD_AFTER.match(text, m.end())):
                continue  # "compression" alone is an ordinary word
            span = r.span(m.start(), m.end())
            if lead_pol and pol and lead_pol != pol:
                pol = "unclear"  # the heading and the test's own result disagree
            pol = pol or lead_pol
            side_said = paren_side.get(m.start()) or side_said or lead_side
            opposite = side in ("left", "right") and side_said in ("left", "right") and side_said != side
            standing = (head_counts and r.counts(m.start(), m.end())
                        and (pol_span is None or r.counts(*pol_span)) and (lead_span is None or r.counts(*lead_span)))
            if pol is None or pol == "unclear" or opposite or not standing:
                unclear.append((name, span))
            elif pol == "positive":
                positive.append((name, span))
                named_positive += 1
                at.append(m.span())
                if pol_span is not None:
                    at.append(pol_span)
                if lead_span is not None:
                    at.append(lead_span)
            else:
                negative.append((name, span))
        if lead_count is not None and named_positive > lead_count:
            # "2/5 positive: FABER, Gaenslen, thigh thrust": the count and the names disagree
            moved = [(n, s) for n, s in positive if any(s == r.span(m.start(), m.end()) for _, _, m, _ in group)]
            positive = [p for p in positive if p not in moved]
            unclear += moved
    return positive, negative, unclear, sorted(set(at))


@lru_cache(maxsize=16)
def reader(source: str | Reading) -> Reader:
    """One Reader per note (its text, or the Reading the validator passes): the overlay's checks share it (the
    validator asks them per rule and per line)."""
    return Reader(source)


def _read(c: Claim) -> Reader | None:
    reading = getattr(c, "reading", None)  # the one Reading of the claim's note, once Claim carries it
    if reading is not None:
        return reader(reading)
    return reader(c.text) if c.text else None


_NO_TEXT = Outcome(False, [], "the note text is not available")  # fail closed: no text, no evidence


def _criterion(name: str):
    """A check that reads one criterion (a method of Reader) with the rule's args."""

    def run(c: Claim, **args) -> Outcome:
        r = _read(c)
        return r.criterion(name, **args).outcome() if r else _NO_TEXT

    run.__name__ = f"lcd_{name}"
    run.__doc__ = f"Medicare SI LCD: Reader.{name} (see coverage.py)."
    return check(run)


for _name in ("pain_duration", "pain_location", "pain_severity", "pain_severity_disputed", "no_radiculopathy",
              "other_causes", "conservative_care", "conservative_care_continues", "prior_diagnostic_relief",
              "repeat_stated", "repeat_relief", "repeat_relief_duration", "contraindication"):
    _criterion(_name)


@check
def lcd_provocative_tests(c: Claim, min: int) -> Outcome:
    """Medicare SI LCD: at least `min` named positive provocative tests; a test positive only on the side not
    injected does not count for a one-sided injection."""
    r = _read(c)
    if r is None:
        return _NO_TEXT
    side = c.facts.side if c.facts.side in ("left", "right") else "unstated"
    return r.criterion("provocative_tests", min=min, side=side).outcome()


@check
def lcd_sessions_over(c: Claim, kind: str, max: int, within_months: int | None = None) -> Outcome:
    """Holds when the note states more `kind` sessions than `max` (within 12 months, when `within_months` is set):
    a count it names ("the 3rd diagnostic injection"), or prior `kind` injections with their dates plus today's
    when today's is of that kind too (diagnostic: no period, the cap is for good)."""
    r = _read(c)
    if r is None:
        return Outcome(False, [], "")
    over = [(n, span) for n, k, period, span in r.sessions() if k == kind and n > max and (period or not within_months)]
    if over:
        n, span = over[0]
        return Outcome(True, [span], f"the note states {kind} session {n} ({span.text!r}); the cap is {max}")
    if not within_months:
        dated = r.dated_prior_sessions(kind)
        today = 1 if c.facts.purpose in (kind, "diagnostic_and_therapeutic") else 0
        if dated and len(dated) + today > max:
            spans = [s for _, s in dated]
            return Outcome(True, spans, f"the note states {len(dated)} prior {kind} session(s) on different dates "
                                        f"({', '.join(repr(s.text) for s in spans)})" + (" and today's" if today else "")
                                        + f"; the cap is {max}")
    return Outcome(False, [], "")


@check
def lcd_sessions_unclear(c: Claim, diagnostic_max: int, therapeutic_max: int) -> Outcome:
    """Holds when the note states a session count of unnamed kind above the cap for this injection's purpose:
    "the 3rd injection this year" on a diagnostic injection may or may not be the 3rd diagnostic session."""
    r = _read(c)
    if r is None:
        return Outcome(False, [], "")
    # a combined or unstated purpose takes the lower, diagnostic cap: KX treats a combined injection as diagnostic too
    cap = therapeutic_max if c.facts.purpose == "therapeutic" else diagnostic_max
    over = [(n, span) for n, k, _, span in r.sessions() if k is None and n > cap]
    if over:
        n, span = over[0]
        return Outcome(True, [span], f"the note states session {n} ({span.text!r}) without saying how many were "
                                     f"diagnostic or therapeutic; the cap for this injection's kind is {cap}")
    return Outcome(False, [], "")


@check
def lcd_criteria_met(c: Claim, min_pain_months: float = 3, min_tests: int = 3, min_conservative_weeks: float = 4) -> Outcome:
    """All the LCD's clinical coverage criteria at once (for 20552, where whether the LCD applies is disputed)."""
    r = _read(c)
    if r is None:
        return _NO_TEXT
    side = c.facts.side if c.facts.side in ("left", "right") else "unstated"
    criteria = {
        f"pain for at least {min_pain_months:g} months": r.criterion("pain_duration", min_months=min_pain_months),
        "pain over the SI joint below L5": r.criterion("pain_location"),
        "moderate or severe pain": r.criterion("pain_severity"),
        "no radiculopathy": r.criterion("no_radiculopathy"),
        "other causes excluded": r.criterion("other_causes"),
        f"at least {min_tests} named positive provocative tests": r.criterion("provocative_tests", min=min_tests, side=side),
        f"at least {min_conservative_weeks:g} weeks of failed conservative care":
            r.criterion("conservative_care", min_weeks=min_conservative_weeks),
    }
    unmet = [name for name, crit in criteria.items() if not crit.met]
    evidence = [s for crit in criteria.values() for s in crit.evidence]
    return Outcome(not unmet, sorted(set(evidence), key=lambda s: s.start), "unmet: " + "; ".join(unmet) if unmet else "")


# --- drafting: the criteria a dictation gives, in its own words -----------------------------------------------------

# The criteria drafted for --payer medicare, in the order a history states them, with the args the pack uses.
DRAFTED = [
    ("pain_location", {}), ("pain_severity", {}), ("pain_duration", {"min_months": 3}), ("no_radiculopathy", {}),
    ("provocative_tests", {"min": 3}), ("other_causes", {}), ("conservative_care", {"min_weeks": 4}),
    ("conservative_care_continues", {}), ("prior_diagnostic_relief", {"min_percent": 75}),
    ("repeat_relief", {"min_percent": 50}), ("repeat_relief_duration", {"min_months": 3}),
]
_LABEL_BEFORE = re.compile(r"(?:^|(?<=[\s(]))[A-Za-z][\w/'.-]*(?:[ \t]+[\w/'.-]+){0,5}[ \t]*:[ \t]*")
_LEADING_JUNK = re.compile(r"^[\s,;:.)\]-]*(?:(?:and|but|with|also|plus)\b[\s,]*)?", I)


def criteria_statements(ctx: Reading | str) -> list[tuple[str, Span]]:
    """Each LCD criterion the text (a dictation) meets, with the dictated clause that states it, as a span of the
    ORIGINAL text: (criterion id, span), in text order. Only met criteria; never a criterion the text does not give.
    The clause is the text between the clause breaks around the statement's own words (the evidence and what makes
    it evidence, e.g. the pain word a location belongs to), so a long run-on dictation yields its short parts."""
    r = reader(ctx)
    out: list[tuple[str, Span]] = []
    for name, args in DRAFTED:
        crit = r.criterion(name, **args)
        if not crit.met or not crit.at:
            continue
        for a, b in _statement_ranges(r, crit.at):
            span = _tidy(r, a, b)
            if span is not None:
                out.append((f"medicare.lcd.{name}", span))
    return sorted(out, key=lambda x: x[1].start)


def _statement_ranges(r: Reader, ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The statement(s) holding `ranges`: one per sentence, from the first clause start to the last clause end."""
    by_sentence: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for a, b in ranges:
        by_sentence.setdefault(r.sentence_of(a), []).append((a, b))
    out = []
    for (s_lo, s_hi), rs in sorted(by_sentence.items()):
        lo = max(s_lo, min(r.r.clause(a)[0] for a, _ in rs))
        hi = min(s_hi, max(r.r.clause(max(a, b - 1))[1] for a, b in rs))
        line_start = max(r.text.rfind("\n", 0, lo), r.text.rfind(".", 0, lo), r.text.rfind(";", 0, lo)) + 1
        label = _LABEL_BEFORE.search(r.text, line_start, lo)
        if label is not None and label.end() == lo:
            lo = label.start()  # "MRI lumbar spine: no stenosis": the label says what excluded the causes
        lo, hi = _balance(r.text, lo, hi, s_lo, s_hi)
        out.append((lo, hi))
    return out


def _balance(text: str, lo: int, hi: int, s_lo: int, s_hi: int) -> tuple[int, int]:
    """Widen [lo, hi) so its parentheses are balanced (within the sentence)."""
    for _ in range(4):
        chunk = text[lo:hi]
        if chunk.count("(") > chunk.count(")"):
            close = text.find(")", hi, s_hi)
            hi = close + 1 if close >= 0 else hi
        elif chunk.count(")") > chunk.count("("):
            opened = text.rfind("(", s_lo, lo)
            lo = opened if opened >= 0 else lo
        else:
            break
    return lo, hi


def _tidy(r: Reader, lo: int, hi: int) -> Span | None:
    chunk = r.text[lo:hi]
    lead = _LEADING_JUNK.match(chunk)
    lo += lead.end() if lead else 0
    chunk = r.text[lo:hi]
    hi = lo + len(chunk.rstrip(" \t\r\n,;:-"))
    if chunk.count("(") < chunk.count(")") and chunk.rstrip(" ,;.").endswith(")"):
        hi = lo + len(chunk.rstrip(" ,;.")) - 1  # a closing parenthesis of the sentence around it
    return r.span(lo, hi) if hi > lo else None


def statement_lines(dictation: str) -> list[str]:
    """The dictated statements of the criteria, one line each, in the dictation's own words (the Medicare history
    block of a draft): each distinct statement once, a statement inside another left out."""
    spans = sorted({s for _, s in criteria_statements(dictation)}, key=lambda s: (s.start, -s.end))
    kept: list[Span] = []
    for s in spans:
        if kept and s.start < kept[-1].end:
            if s.end > kept[-1].end:  # overlapping statements: one, covering both
                merged = Span(start=kept[-1].start, end=s.end, text=dictation[kept[-1].start : s.end])
                kept[-1] = merged
            continue
        kept.append(s)
    lines = []
    for s in kept:
        t = " ".join(s.text.split())
        t = t[:1].upper() + t[1:]
        lines.append(t if t.endswith((".", "!", "?")) else t + ".")
    return lines
