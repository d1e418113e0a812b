"""Medicare SI joint LCD coverage facts, read from the note text, and the checks the payer overlay uses.

The multi-MAC "Sacroiliac Joint Injections and Procedures" LCDs (coding-rules.md §2) cover an SI joint injection only
when the record shows: moderate to severe pain over the SI joint below L5, for at least 3 months, without
radiculopathy; other causes not suggested; at least 3 named positive provocative maneuvers; at least 4 weeks of
failed conservative care; for a therapeutic injection a prior diagnostic one with at least 75% relief; for a repeat,
at least 50% relief lasting at least 3 months; and no more sessions than the caps.

FAIL CLOSED: a criterion is met only by a positive statement that the reader can point at. A mention set aside by
the context reader (negated, planned, declined, conditional) never counts; "FABER negative", "will try PT",
"consider provocative testing" and "no relief" meet nothing. History is the one exception to "affirmed only": the
LCD criteria are history by nature (the HPI's "6-month history of buttock pain" reads as historical), so a
historical mention counts as evidence here, never a planned or hypothetical one.

These readers work on `Claim.text` so that the text reader (extract/context/lexicon) stays untouched; they ask
`TextContext.status` where a mention stands. They run only when a rule's `when` reaches them (the Medicare overlay).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from functools import lru_cache

from .checks import Claim, Outcome, check
from .context import TextContext
from .models import Span

I = re.IGNORECASE
EVIDENCE = frozenset({"affirmed", "historical"})  # statuses that can meet a criterion (see the module docstring)

# Physician questions for the overlay's findings, keyed by rule id without the code (queries.py asks them).
QUESTIONS = {
    "medicare.lcd.pain_duration": "How long has the SI joint pain lasted (in weeks, months or years)?",
    "medicare.lcd.pain_location": "Where exactly is the pain: over the SI joint / buttock, below L5, between the iliac crest and the gluteal fold?",
    "medicare.lcd.pain_severity": "How severe is the pain: mild, moderate or severe?",
    "medicare.lcd.no_radiculopathy": "Does the pain radiate down the leg, or is there no radiculopathy?",
    "medicare.lcd.other_causes": "Were other causes (stenosis, disc herniation with radiculopathy, fracture, tumor, infection, hardware) considered and excluded, by exam or imaging?",
    "medicare.lcd.provocative_tests": "Which provocative tests were positive (FABER/Patrick, Gaenslen, thigh thrust, compression, distraction, Yeoman)?",
    "medicare.lcd.conservative_care": "Which conservative treatments were tried, for how many weeks, and did the pain persist despite them?",
    "medicare.lcd.prior_diagnostic_relief": "What percent relief did the prior diagnostic SI joint injection give (and when)?",
    "medicare.lcd.repeat_relief": "What percent relief did the last SI joint injection give, from what baseline on which scale?",
    "medicare.lcd.sessions_diagnostic_cap": "How many diagnostic SI joint sessions (27096/64451) has the patient had, and when?",
    "medicare.lcd.sessions_therapeutic_cap": "How many therapeutic SI joint sessions (27096/64451) in the last 12 months, and when?",
}

# --- words ----------------------------------------------------------------------------------------------------------
_NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                 "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}
_DAYS_PER = {"y": 365, "m": 30, "w": 7, "d": 1}  # a month is 30 days, so "3 months" is exactly the 90-day threshold
DURATION = re.compile(
    r"(?P<n>\d+(?:\.\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|an?)"
    r"(?:\s*(?:-|to)\s*\d+)?\s*[- ]?\s*(?P<unit>years?|yrs?|months?|mos?|weeks?|wks?|days?)\b(?!\s*-?\s*old\b)",  # not an age
    I,
)
_UPPER_BOUND_BEFORE = re.compile(r"(?:less\s+than|fewer\s+than|under|up\s+to|almost|nearly|<|≤)\s*$", I)
_AGO_AFTER = re.compile(r"\s*(?:ago|prior|earlier|before)\b", I)
PAIN = re.compile(r"\bpain\w*|\bache\b|\baching\b|\bsymptoms?\b|\bdiscomfort\b|\bLBP\b", I)
# The pain's duration counts only for pain of this region: "knee pain for 6 months" says nothing about the SI joint.
PAIN_SITE = re.compile(r"\b(?:back|lumbar|lumbosacral|sacr\w*|SIJ?|buttocks?|gluteal|PSIS|LBP)\b", I)
RELIEF = re.compile(r"\b(?:relief|improvement|improved|reduction|better|relieved|decrease[ds]?|benefit)\b", I)
PERCENT = re.compile(r"(?P<n>\d{1,3})(?:\s*(?:-|to)\s*\d{1,3})?\s*(?:%|percent\b)", I)

LOCATION = re.compile(
    r"\bbuttocks?\b|\bgluteal\b|\bPSIS\b|\bposterior\s+superior\s+iliac\s+spines?\b|\bsacral\s+sulcus\b"
    r"|\bbelow\s+(?:the\s+)?L5\b|\bover\s+(?:the\s+)?(?:(?:left|right|bilateral|both)\s+)?(?:SI|SIJ|sacroiliac)(?:\s+joints?)?\b"
    r"|\bFortin\b|\biliac\s+crests?\b[^.;]{0,40}\bgluteal\s+folds?\b|\b(?:SI|SIJ|sacroiliac)\s+(?:joint\s+)?(?:region|area)\b",
    I,
)
# "SI joint pain" names the location too, but not in a heading that only restates the diagnosis or the procedure.
SI_PAIN = re.compile(r"\b(?:SI|SIJ|sacroiliac)\s+(?:joint\s+)?pain\b", I)
_LABEL_SECTION = re.compile(r"diagnos|procedure|indication|impression|assessment", I)
SEVERITY = re.compile(
    r"\b(?:moderate(?:ly)?|severe)(?:\s*(?:to|-)\s*severe)?\s+(?:\w+\s+){0,4}?(?:pain|ache)"
    r"|\bpain\s+(?:\w+\s+){0,3}?(?:is|was|has\s+been|remains|are|were)\s+(?:\w+\s+)?(?:moderate|severe)\b",
    I,
)

RADICULAR = re.compile(
    r"\bradicul\w*|\bsciatica\b|\b(?:radiat|referr)\w*\s+(?:\w+\s+){0,2}?(?:down|into|to)\s+(?:the\s+)?(?:\w+\s+)?(?:leg|thigh|calf|foot|knee)",
    I,
)
NO_RADICULAR = re.compile(
    r"\b(?:no|without|denies|denied|negative\s+for|absence\s+of|free\s+of)\s+(?:\w+\s+){0,3}?"
    r"(?:radicul\w*|radiating|radiation|sciatica|leg\s+pain|pain\s+radiating)"
    r"|\bnon-?radi(?:cular|ating)\b|\b(?:does|did)\s+not\s+radiate\b"
    r"|\bradicul\w*\s+(?:was\s+|is\s+|has\s+been\s+)?(?:ruled\s+out|excluded)\b",
    I,
)
_DOUBT_BEFORE = re.compile(r"\b(?:not|cannot|can't|unable\s+to|could\s+not)\s*(?:\w+\s+){0,2}$", I)

# The LCD's other causes. Not "infection": procedure notes say "no bleeding or infection at the site" about the
# injection, which excludes nothing about the pain.
CAUSE = (
    r"(?:(?:severe|significant|foraminal|spinal|central|canal|lumbar)\s+){0,2}stenosis"
    r"|(?:(?:lumbar|significant)\s+)?(?:disc|disk)\s+(?:herniation|protrusion|extrusion)s?|herniat\w*|HNP"
    r"|(?:compression\s+)?fractures?|tumou?rs?|malignan\w*|pseudo-?arthrosis|hardware(?:\s+(?:pain|failure|loosening))?"
    r"|neurogenic\s+claudication|myelopathy|other\s+(?:causes?|etiolog\w*|pain\s+generators?|sources?)"
    r"|alternative\s+(?:causes?|diagnos\w*|etiolog\w*)|(?:lumbar\s+)?facet\s+(?:arthropathy|pain)"
    r"|hip\s+(?:pathology|arthritis|osteoarthritis)"
)
# One cause or a list of them ("stenosis, disc herniation or fracture"); nothing else may stand between an exclusion
# and what it excludes, so "no complications and severe stenosis" excludes nothing.
_CAUSES = r"(?:" + CAUSE + r")(?:\s*(?:,|\bor\b|\band\b|\bnor\b)\s*(?:" + CAUSE + r"))*"
CAUSE_EXCLUDED = re.compile(
    r"\b(?:no|without|negative\s+for|free\s+of|absence\s+of|ruled\s+out|excluded)\s+"
    r"(?:(?:evidence|signs?|findings?)\s+(?:of|for|suggesting)\s+)?(?:(?:any|definite|obvious|focal|acute)\s+)?" + _CAUSES + r"\b"
    r"|\b" + _CAUSES + r"\s+(?:(?:was|were|has\s+been|have\s+been|is|are)\s+)?"
    r"(?:(?:considered\s+and\s+)?(?:ruled\s+out|excluded)|unlikely|not\s+(?:seen|present|found|suggested|identified|supported))\b",
    I,
)
# A study of the region read as clear: "MRI of the lumbar spine unremarkable", "pelvic x-ray showed no ...".
IMAGING_CLEAR = re.compile(
    r"\b(?:(?:MRI|(?-i:CT)|x-?rays?|radiographs?|imaging)\s+(?:of\s+(?:the\s+)?)?(?:lumbar|lumbosacral|L-?spine|LS\s+spine"
    r"|pelvis|pelvic|sacrum|sacral|SI\s+joints?|hips?)|(?:lumbar|lumbosacral|pelvic|pelvis|sacral|hip)\s+"
    r"(?:spine\s+)?(?:MRI|(?-i:CT)|x-?rays?|radiographs?|imaging))\b[^.;]{0,50}?\b(?:unremarkable|normal(?!\s+saline)"
    r"|negative|(?:showed|shows|demonstrated|revealed)\s+no\b|without\s+(?:acute\s+)?(?:abnormalit\w*|patholog\w*))",
    I,
)
# An ICD-10 title in a diagnosis list ("spondylosis without myelopathy or radiculopathy") is a code's name, not an
# evaluation that excluded a cause or radiculopathy.
_ICD_TITLE = re.compile(r"\bspondylosis\s+without\s+myelopathy(?:\s+or\s+radiculopathy)?", I)
# A cause stated as present: the LCD's list, not "infection" (sterile prep and consent mention it constantly).
CAUSE_PRESENT = re.compile(
    r"\b(?:(?:foraminal|spinal|central|canal|lumbar)\s+)?stenosis\b|\b(?:disc|disk)\s+(?:herniation|protrusion|extrusion)\b"
    r"|\bHNP\b|\bfracture\b|\btumou?r\b|\bpseudo-?arthrosis\b|\bneurogenic\s+claudication\b|\bmyelopathy\b",
    I,
)

TESTS = {
    "FABER": r"\bFABERE?(?:'s)?(?![\w-])|\bPatrick(?:'s)?(?:[- ]FABER)?\b|\bfigure[- ](?:4|four)\b",
    "Gaenslen": r"\bGa?e?nsl[ae]n(?:'s|s)?\b",
    "thigh thrust": r"\bthigh[- ]thrust\b|\bposterior\s+(?:pelvic\s+)?shear\b",
    "compression": r"\b(?:(?:SI|SIJ|sacroiliac|pelvic)\s+)?compression\b",
    "distraction": r"\b(?:(?:SI|SIJ|sacroiliac|pelvic)\s+)?(?:distraction|gapping)\b",
    "Yeoman": r"\bYeoman(?:'s)?\b",
}
TEST = re.compile("|".join(f"(?P<t{i}>{p})" for i, p in enumerate(TESTS.values())), I)
_TEST_NAMES = list(TESTS)
# "compression" and "distraction" alone are ordinary words ("compression fracture"): they count as a test only
# beside another named test, after SI/pelvic, or followed by "test"/"maneuver".
_WEAK = {"compression", "distraction"}
_TEST_WORD_AFTER = re.compile(r"\s*(?:tests?|maneuvers?|manoeuvres?|signs?)\b", I)
_LIST_GLUE = re.compile(r"^(?:\s*(?:tests?|maneuvers?|signs?)?\s*(?:,|/|\band\b|\bor\b|&|\bas\s+well\s+as\b)\s*)+$", I)
_POL = r"(?P<pol>positive|negative|pos\b|neg\b|\(\+\)|\(-\)|\+|-(?![\w]))"
# (used with .match(text, pos): no "^", which would only match at the start of the text)
_POL_AFTER = re.compile(
    r"\s*(?:(?:tests?|maneuvers?|signs?)\s*)?(?:(?:on\s+the\s+)?(?:left|right|bilaterally|bilateral)\s+)?:?\s*"
    r"(?:(?:is|are|was|were)\s+)?(?:(?:all|both|each)\s+)?(?:strongly\s+|clearly\s+)?" + _POL
    + r"|\s*(?:(?:tests?|maneuvers?)\s+)?(?P<repro>(?:reproduc|provok|elicit|recreat)\w*\s+(?:\w+\s+){0,3}?(?:pain|symptoms))",
    I,
)
_NEGATED_POLARITY = re.compile(r"\b(?:no|not|without|never)\s*$", I)  # "no positive FABER"
_POL_BEFORE = re.compile(_POL + r"\s*:?\s*(?:for\s+)?(?:(?:the|a|an)\s+)?(?:(?:left|right|bilateral|L|R)[- ]?(?:sided\s+)?)?$", I)
_UNNAMED_COUNT = re.compile(r"\b\d\s*(?:/|of|out\s+of)\s*\d\s+(?:provocative\s+)?(?:tests?|maneuvers?)\b", I)

THERAPY = re.compile(
    r"\bphysical\s+therapy\b|(?-i:\bPT\b)|\bNSAIDs?\b|\banti-?inflammator\w*|\bibuprofen\b|\bnaproxen\b|\bmeloxicam\b"
    r"|\bcelecoxib\b|\bdiclofenac\b|\bhome\s+exercise(?:\s+program)?\b|(?-i:\bHEP\b)|\bexercise\s+program\b|\bchiropract\w*"
    r"|\bactivity\s+modification\b|\bconservative\s+(?:care|therapy|treatment|management|measures)\b|\bcore\s+strengthening\b"
    r"|\bmuscle\s+relaxants?\b|\bacetaminophen\b|\bTylenol\b|\bSI\s+belt\b|\bstretching\b",
    I,
)
FAILED = re.compile(
    r"\bfailed\b|\bdespite\b|\bwithout\s+(?:significant\s+|lasting\s+|sustained\s+|meaningful\s+)?(?:relief|improvement|benefit|help)\b"
    r"|\bno\s+(?:significant\s+|lasting\s+|sustained\s+|meaningful\s+)?(?:relief|improvement|benefit)\b"
    r"|\b(?:did\s+not|didn't|does\s+not|has\s+not)\s+(?:help|improve|relieve)|\brefractory\b|\bpersist\w*|\bunsuccessful\b"
    r"|\bineffective\b|\bminimal\s+(?:relief|improvement|benefit)\b|\bnot\s+(?:helped|improved|relieved)\b",
    I,
)
# A duration belongs to the therapy when it is attached to it: "6 weeks of PT", "PT for 6 weeks", "PT x 2 months".
_DURATION_THEN_THERAPY = re.compile(r"^\s*(?:of|on)\s+(?:\w+\s+){0,3}?$", I)
_THERAPY_THEN_DURATION = re.compile(
    r"^[^.;]{0,40}?(?:\bfor|\bx|×|\bover|\bthe\s+(?:past|last)|\()\s*(?:(?:at\s+least|more\s+than|over|greater\s+than|>|≥)\s*)?$", I
)
CONTINUES = re.compile(r"\b(?:continu\w*|ongoing|maintain\w*|remain\s+on|keep\s+up)\b", I)
_STOPPED_BEFORE = re.compile(r"\b(?:not|no\s+longer|stop\w*|won't)\s+(?:\w+\s+){0,1}$", I)

DIAGNOSTIC_BLOCK = re.compile(r"\bdiagnostic\s+(?:\w+\s+){0,4}?(?:injections?|blocks?|SIJIs?|inj)\b|\bdx\s+(?:block|inj\w*)", I)
REPEAT = re.compile(
    r"\brepeat\s+(?:\w+\s+){0,4}?(?:injections?|SIJIs?|blocks?|inj)\b"
    r"|\b(?:prior|previous|last|most\s+recent)\s+(?:(?:left|right|bilateral|L|R|SI|SIJ|sacroiliac|joint|therapeutic)\s+){0,4}(?:injections?|SIJIs?|inj)\b",
    I,
)

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


# --- the reading of one note ----------------------------------------------------------------------------------------


@dataclass
class Criterion:
    """One LCD criterion as the note documents it: met or not, the spans that show it, and why (for the message)."""

    met: bool
    evidence: list[Span] = field(default_factory=list)
    detail: str = ""

    def outcome(self) -> Outcome:
        return Outcome(self.met, list(self.evidence), self.detail)


class Reader:
    """The coverage facts of one note. Built once per text (see `reader`); each criterion is read on first use."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.ctx = TextContext(text)
        self._memo: dict[tuple, Criterion] = {}

    def criterion(self, name: str, **args) -> Criterion:
        """`getattr(self, name)(**args)`, computed once: the validator asks the same check for a rule's `when` and
        `require`, again to explain a finding, and again when it works out the suggested codes."""
        key = (name, tuple(sorted(args.items())))
        if key not in self._memo:
            self._memo[key] = getattr(self, name)(**args)
        return self._memo[key]

    # helpers
    def span(self, start: int, end: int) -> Span:
        return Span(start=start, end=end, text=self.text[start:end])

    def counts(self, start: int, end: int) -> bool:
        # "failed PT", "unsuccessful NSAIDs": the failure is what the LCD asks for, not a doubt about the treatment
        return self.ctx.status(start, end, allow=_FAILURE_IS_THE_FACT) in EVIDENCE

    def sentence_of(self, pos: int) -> tuple[int, int]:
        return self.ctx.sentence(pos)

    def durations(self, lo: int, hi: int) -> list[tuple[re.Match[str], int]]:
        """Durations in text[lo:hi] that are lower bounds of a length of time, with their length in days."""
        out = []
        for m in DURATION.finditer(self.text, lo, hi):
            if _UPPER_BOUND_BEFORE.search(self.text, max(lo, m.start() - 15), m.start()):
                continue  # "less than 3 months" is not at least 3 months
            if _AGO_AFTER.match(self.text, m.end()):
                continue  # "4 months ago" dates an event; it is not a duration
            n = m.group("n").lower()
            value = float(_NUMBER_WORDS.get(n, n)) if n in _NUMBER_WORDS or n[0].isdigit() else None
            if value is not None:
                out.append((m, int(value * _DAYS_PER[m.group("unit")[0].lower()])))
        return out

    # criteria --------------------------------------------------------------------------------------------------
    def pain_duration(self, min_months: float) -> Criterion:
        need = min_months * _DAYS_PER["m"]
        shorter: list[Span] = []
        for p in self.ctx.finditer(PAIN):
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
                    return Criterion(True, [self.span(m.start(), m.end()), self.span(p.start(), p.end())])
                shorter.append(self.span(m.start(), m.end()))
        if shorter:
            return Criterion(False, shorter, f"the pain's stated duration ({shorter[0].text!r}) is under {min_months:g} months")
        return Criterion(False, [], "no duration of the back / SI joint pain is stated (e.g. '6-month history of left buttock pain')")

    def pain_location(self) -> Criterion:
        for m in self.ctx.finditer(LOCATION):
            lo, hi = self.sentence_of(m.start())
            if self.counts(m.start(), m.end()) and PAIN.search(self.text, lo, hi):
                return Criterion(True, [self.span(m.start(), m.end())])
        for m in self.ctx.finditer(SI_PAIN):
            section = self.ctx.section(m.start()) or ""
            if self.counts(m.start(), m.end()) and not _LABEL_SECTION.search(section):
                return Criterion(True, [self.span(m.start(), m.end())])
        return Criterion(False, [], "the pain's location (over the SI joint, below L5) is not described outside the diagnosis")

    def pain_severity(self) -> Criterion:
        for m in self.ctx.finditer(SEVERITY):
            if self.counts(m.start(), m.end()):
                return Criterion(True, [self.span(m.start(), m.end())])
        return Criterion(False, [], "the note does not call the pain moderate or severe (a score alone is not mapped: "
                                    "the LCD does not define moderate or severe by number)")

    def no_radiculopathy(self) -> Criterion:
        titles = _Intervals(m.span() for m in self.ctx.finditer(_ICD_TITLE))
        absent = [m for m in self.ctx.finditer(NO_RADICULAR) if self.counts(m.start(), m.end()) and m.start() not in titles
                  and not _DOUBT_BEFORE.search(self.text, max(0, m.start() - 25), m.start())]
        inside = _Intervals((m.start(), m.end()) for m in absent)
        present = [m for m in self.ctx.finditer(RADICULAR) if self.counts(m.start(), m.end()) and m.start() not in inside]
        if present:
            spans = [self.span(m.start(), m.end()) for m in present[:3]]
            return Criterion(False, spans, "the note documents radicular symptoms: " + ", ".join(repr(s.text) for s in spans))
        if absent:
            return Criterion(True, [self.span(absent[0].start(), absent[0].end())])
        return Criterion(False, [], "the note does not state that radiculopathy is absent")

    def other_causes(self) -> Criterion:
        titles = _Intervals(m.span() for m in self.ctx.finditer(_ICD_TITLE))
        excluded = [m for m in self.ctx.finditer(CAUSE_EXCLUDED) if self.counts(m.start(), m.end()) and m.start() not in titles
                    and not _DOUBT_BEFORE.search(self.text, max(0, m.start() - 25), m.start())]
        excluded += [m for m in self.ctx.finditer(IMAGING_CLEAR) if self.counts(m.start(), m.end())]
        covered = _Intervals((m.start(), m.end()) for m in excluded)
        present = [
            m for m in self.ctx.finditer(CAUSE_PRESENT)
            if self.counts(m.start(), m.end()) and m.start() not in covered and m.start() not in titles
        ]
        if present:
            spans = [self.span(m.start(), m.end()) for m in present[:3]]
            return Criterion(False, spans, "the note documents a possible other cause: " + ", ".join(repr(s.text) for s in spans))
        if excluded:
            spans = sorted({self.span(m.start(), m.end()) for m in excluded}, key=lambda s: s.start)
            return Criterion(True, spans[:3])
        return Criterion(False, [], "the note does not say other causes were considered and excluded (exam or imaging)")

    def provocative_tests(self, min: int) -> Criterion:
        positive, negative, unclear = _read_tests(self)
        names = sorted({name for name, _ in positive}, key=_TEST_NAMES.index)
        spans = sorted({s for _, s in positive}, key=lambda s: s.start)
        if len(names) >= min:
            return Criterion(True, spans, ", ".join(names))
        parts = [f"{len(names)} named positive test(s)" + (f" ({', '.join(names)})" if names else "")]
        if negative:
            parts.append("negative: " + ", ".join(sorted({n for n, _ in negative}, key=_TEST_NAMES.index)))
        if unclear:
            parts.append("set aside (no stated result, or not affirmed): " + ", ".join(repr(s.text) for _, s in unclear[:3]))
        count = self.ctx.search(_UNNAMED_COUNT)
        if count:
            parts.append(f"{count.group()!r} does not name the tests")
        evidence = spans + [s for _, s in negative + unclear]
        return Criterion(False, sorted(set(evidence), key=lambda s: s.start), "; ".join(parts))

    def conservative_care(self, min_weeks: float) -> Criterion:
        need = min_weeks * _DAYS_PER["w"]
        why = "no conservative treatment is documented as tried"
        for t in self.ctx.finditer(THERAPY):
            if not self.counts(t.start(), t.end()):
                continue
            lo, hi = self.sentence_of(t.start())
            attached = [(m, days) for m, days in self.durations(lo, hi) if self._duration_of(m, t)]
            failed = [f for f in FAILED.finditer(self.text, lo, hi)
                      if not _DOUBT_BEFORE.search(self.text, max(lo, f.start() - 12), f.start())]
            long_enough = [(m, d) for m, d in attached if d >= need]
            if long_enough and failed:
                m = long_enough[0][0]
                return Criterion(True, sorted([self.span(t.start(), t.end()), self.span(m.start(), m.end()),
                                               self.span(failed[0].start(), failed[0].end())], key=lambda s: s.start))
            if not attached:
                why = f"{t.group()!r} is documented without its duration"
            elif not long_enough:
                why = f"{t.group()!r} lasted {attached[0][0].group()!r}, under {min_weeks:g} weeks"
            else:
                why = f"{t.group()!r} is documented without saying the pain persisted despite it"
        return Criterion(False, [], why)

    def _duration_of(self, m: re.Match[str], t: re.Match[str]) -> bool:
        """Whether duration `m` is how long therapy `t` lasted: "6 weeks of PT", "PT for 6 weeks", or the head of a
        list, "2 months of NSAIDs and PT" (the duration attaches to the list's first therapy)."""
        if m.start() >= t.end():
            return _THERAPY_THEN_DURATION.match(self.text[t.end() : m.start()]) is not None
        if m.end() > t.start():
            return False
        head = THERAPY.search(self.text, m.end(), t.start()) or t  # the first therapy after the duration
        return _DURATION_THEN_THERAPY.match(self.text[m.end() : head.start()]) is not None

    def conservative_care_continues(self) -> Criterion:
        for t in self.ctx.finditer(THERAPY):
            if self.ctx.status(t.start(), t.end()) not in EVIDENCE | {"planned"}:
                continue  # a plan to continue is the statement this asks for; a negated or hypothetical one is not
            lo, hi = self.sentence_of(t.start())
            for c in CONTINUES.finditer(self.text, max(lo, t.start() - 60), min(hi, t.end() + 30)):
                if not _STOPPED_BEFORE.search(self.text, max(lo, c.start() - 20), c.start()):
                    return Criterion(True, sorted([self.span(c.start(), c.end()), self.span(t.start(), t.end())], key=lambda s: s.start))
        return Criterion(False, [], "the note does not say conservative care continues alongside the injection")

    def prior_diagnostic_relief(self, min_percent: int) -> Criterion:
        return self._relief(min_percent, diagnostic=True)

    def _relief(self, min_percent: int, *, diagnostic: bool) -> Criterion:
        """Percent relief of a prior injection: the diagnostic block's (diagnostic=True) or the last one's."""
        anchors = DIAGNOSTIC_BLOCK if diagnostic else REPEAT
        lower: list[Span] = []
        seen_anchor = None
        for a in self.ctx.finditer(anchors):
            if not self.counts(a.start(), a.end()):
                continue
            lo, hi = self.sentence_of(a.start())
            if not diagnostic and DIAGNOSTIC_BLOCK.search(self.text, lo, hi):
                continue  # the diagnostic block's relief is the other criterion
            seen_anchor = seen_anchor or a
            if not RELIEF.search(self.text, lo, hi):
                continue
            for p in PERCENT.finditer(self.text, lo, hi):
                if _UPPER_BOUND_BEFORE.search(self.text, max(lo, p.start() - 15), p.start()):
                    continue
                if int(p.group("n")) >= min_percent:
                    return Criterion(True, [self.span(a.start(), a.end()), self.span(p.start(), p.end())])
                lower.append(self.span(p.start(), p.end()))
        what = "the prior diagnostic injection" if diagnostic else "the prior injection"
        if lower:
            return Criterion(False, lower, f"{what} gave {lower[0].text} relief, under {min_percent}%")
        if seen_anchor:
            return Criterion(False, [self.span(seen_anchor.start(), seen_anchor.end())],
                             f"{what} is mentioned without a percent relief")
        return Criterion(False, [], f"{what} and its percent relief are not documented")

    def repeat_stated(self) -> Criterion:
        for m in self.ctx.finditer(REPEAT):
            if "diagnostic" not in m.group().lower() and self.counts(m.start(), m.end()):
                return Criterion(True, [self.span(m.start(), m.end())], m.group())
        return Criterion(False, [], "no prior SI joint injection is stated")

    def repeat_relief(self, min_percent: int) -> Criterion:
        return self._relief(min_percent, diagnostic=False)

    def repeat_relief_duration(self, min_months: float) -> Criterion:
        need = min_months * _DAYS_PER["m"]
        shorter: list[Span] = []
        for a in self.ctx.finditer(REPEAT):
            if not self.counts(a.start(), a.end()):
                continue
            lo, hi = self.sentence_of(a.start())
            if DIAGNOSTIC_BLOCK.search(self.text, lo, hi) or not RELIEF.search(self.text, lo, hi):
                continue
            for m, days in self.durations(lo, hi):
                if days >= need:
                    return Criterion(True, [self.span(a.start(), a.end()), self.span(m.start(), m.end())])
                shorter.append(self.span(m.start(), m.end()))
        if shorter:
            return Criterion(False, shorter, f"the relief lasted {shorter[0].text!r}, under {min_months:g} months")
        return Criterion(False, [], "how long the last injection's relief lasted is not stated")

    def sessions(self) -> list[tuple[int, str | None, bool, Span]]:
        """(session count including today's, 'diagnostic'/'therapeutic'/None, within 12 months stated, span)."""
        out = []
        for m in self.ctx.finditer(SESSION_ORDINAL):
            # "this is the third injection" is today's session, also when an HPI says it; without "this is", only an
            # affirmed mention counts ("after her second injection" dates an earlier one, it is no count of sessions)
            this = _THIS_IS.search(self.text, max(0, m.start() - 25), m.start())
            if self.ctx.status(m.start(), m.end()) == "affirmed" or (this and self.counts(m.start(), m.end())):
                out.append((_ORDINALS[m.group("ord").lower()], _kind(m.group()), bool(m.group("period")), self.span(*m.span())))
        for m in self.ctx.finditer(SESSION_PRIOR):
            if self.counts(m.start(), m.end()):
                n = m.group("n").lower()
                out.append((int(_NUMBER_WORDS.get(n, n)) + 1, _kind(m.group()), bool(m.group("period")), self.span(*m.span())))
        return out

    def contraindication(self) -> Criterion:
        for m in self.ctx.finditer(CONTRAINDICATION):
            # An allergy is a standing fact (an "Allergies:" heading reads as history); "no contrast allergy" is not one.
            if (self.counts(m.start(), m.end()) and not _RULED_OUT_AFTER.match(self.text, m.end())
                    and not re.search(r"\b(?:no|denies|nkda|not)\b", self.text[max(0, m.start() - 20) : m.start()], I)):
                return Criterion(True, [self.span(m.start(), m.end())])
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


def _read_tests(r: Reader) -> tuple[list[tuple[str, Span]], list[tuple[str, Span]], list[tuple[str, Span]]]:
    """Provocative tests with their result: (positive, negative, set aside). A result is read from the words right
    after a list of tests ("FABER, Gaenslen and thigh thrust were positive") or right before it ("positive Gaenslen,
    thigh thrust and compression tests"); both present and disagreeing, or neither, means no result (fail closed)."""
    text = r.text
    mentions = []
    for m in r.ctx.finditer(TEST):
        name = _TEST_NAMES[int(m.lastgroup[1:])]
        mentions.append((name, m))
    starts = [m.start() for _, m in mentions]
    groups: list[list[tuple[str, re.Match[str]]]] = []
    for name, m in mentions:
        if groups and _LIST_GLUE.match(text[groups[-1][-1][1].end() : m.start()] or ","):
            groups[-1].append((name, m))
        else:
            groups.append([(name, m)])
    positive, negative, unclear = [], [], []
    prev_end = 0
    for group in groups:
        first, last = group[0][1], group[-1][1]
        lo, hi = r.sentence_of(first.start())
        others = bisect.bisect_left(starts, hi) - bisect.bisect_left(starts, lo) > len(group)  # other tests in the sentence
        strong = [(n, m) for n, m in group if n not in _WEAK or len(group) > 1 or others
                  or _TEST_WORD_AFTER.match(text, m.end()) or re.match(r"(?:SI|SIJ|sacroiliac|pelvic)\s", m.group(), I)]
        after = _POL_AFTER.match(text, last.end())
        before = _POL_BEFORE.search(text[max(lo, prev_end, first.start() - 40) : first.start()])
        prev_end = last.end()
        results = {_polarity(x) for x in (after, before) if x}
        if before and _NEGATED_POLARITY.search(text[max(lo, first.start() - 60) : first.start() - len(before.group())]):
            results.add("negated")  # fail closed: "no positive FABER" is not a positive FABER
        for name, m in strong:
            span = r.span(m.start(), m.end())
            if not r.counts(m.start(), m.end()) or len(results) != 1:
                unclear.append((name, span))
            elif results == {"positive"}:
                positive.append((name, span))
            else:
                negative.append((name, span))
    return positive, negative, unclear


def _polarity(m: re.Match[str]) -> str:
    if m.groupdict().get("repro"):
        return "positive"
    return "positive" if m.group("pol").lower() in ("positive", "pos", "(+)", "+") else "negative"


@lru_cache(maxsize=16)
def reader(text: str) -> Reader:
    """One Reader per note text: the overlay's checks share it (the validator asks them per rule and per line)."""
    return Reader(text)


def _read(c: Claim) -> Reader | None:
    return reader(c.text) if c.text else None


_FAILURE_IS_THE_FACT = re.compile(r"fail\w*|unsuccessful\w*", re.IGNORECASE)
_NO_TEXT = Outcome(False, [], "the note text is not available")  # fail closed: no text, no evidence


def _criterion(name: str):
    """A check that reads one criterion (a method of Reader) with the rule's args."""

    def run(c: Claim, **args) -> Outcome:
        r = _read(c)
        return r.criterion(name, **args).outcome() if r else _NO_TEXT

    run.__name__ = f"lcd_{name}"
    run.__doc__ = f"Medicare SI LCD: Reader.{name} (see coverage.py)."
    return check(run)


for _name in ("pain_duration", "pain_location", "pain_severity", "no_radiculopathy", "other_causes", "provocative_tests",
              "conservative_care", "conservative_care_continues", "prior_diagnostic_relief", "repeat_stated",
              "repeat_relief", "repeat_relief_duration", "contraindication"):
    _criterion(_name)


@check
def lcd_sessions_over(c: Claim, kind: str, max: int, within_months: int | None = None) -> Outcome:
    """Holds when the note states more `kind` sessions than `max` (within 12 months, when `within_months` is set).
    Only counts the note names as of that kind ("the 3rd diagnostic injection") are compared with the cap."""
    r = _read(c)
    if r is None:
        return Outcome(False, [], "")
    over = [(n, span) for n, k, period, span in r.sessions() if k == kind and n > max and (period or not within_months)]
    if over:
        n, span = over[0]
        return Outcome(True, [span], f"the note states {kind} session {n} ({span.text!r}); the cap is {max}")
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
    criteria = {
        f"pain for at least {min_pain_months:g} months": r.criterion("pain_duration", min_months=min_pain_months),
        "pain over the SI joint below L5": r.criterion("pain_location"),
        "moderate or severe pain": r.criterion("pain_severity"),
        "no radiculopathy": r.criterion("no_radiculopathy"),
        "other causes excluded": r.criterion("other_causes"),
        f"at least {min_tests} named positive provocative tests": r.criterion("provocative_tests", min=min_tests),
        f"at least {min_conservative_weeks:g} weeks of failed conservative care":
            r.criterion("conservative_care", min_weeks=min_conservative_weeks),
    }
    unmet = [name for name, crit in criteria.items() if not crit.met]
    evidence = [s for crit in criteria.values() for s in crit.evidence]
    return Outcome(not unmet, sorted(set(evidence), key=lambda s: s.start), "unmet: " + "; ".join(unmet) if unmet else "")
