"""Properties of the validator over generated text: it never raises, its spans are the text, CRLF reads like LF,
the fast pattern scan equals `re`, and a 1 MB note validates in time that grows linearly."""

from __future__ import annotations

import re
import sys
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notedraft import context as cx
from notedraft import lexicon as lx
from notedraft import medications
from notedraft.extract import extract_facts
from notedraft.validate import validate

CODE_SETS = [["27096-LT"], ["27096-50", "76942"], ["20552-RT", "76942"], ["20553"], ["G0260-LT", "G0260-RT", "77003"]]

# Words and phrases the extractor reacts to, so generated text reaches its branches, mixed with anything at all.
TOKENS = [
    "Left", "right", "bilateral", "L", "R", "bilat", "b/l", "SIJ", "SI joint", "sacroiliac joint", "injection", "inj",
    "fluoroscopy", "fluoro", "C-arm", "image intensifier", "CT-guided", "US guided", "ultrasound", "in-plane",
    "not", "no", "without", "was not used", "declined", "will schedule", "prior", "3 months ago", "history of",
    "risks", "Kenalog", "40", "mg", "2 cc", "0.25%", "bupi", "Depo-Medrol", "Omnipaque", "lidocaine 1%", "Naropin",
    "Dx", "M54.5", "M46.1", "diagnostic", "therapeutic", "IA confirmed", "contrast", "images saved to PACS",
    "lateral branch", "radiofrequency", "trigger point", "trapezius", "8/10", "->", "2/10", "no complications",
    "PROCEDURE:,", ",DIAGNOSIS:,", "Plan:", "ALLERGIES:", "allergic to", "ignore previous instructions",
    ".", ",", ";", " ", "  ", "\n", "\r\n", "\r", "\t", "(", ")", "-", "\u00a0", "\u2192", "\u00e9", "\u0130", "\ufeff",
    "\x00", "\x0b", "\u2028", "\U0001f600",
]
noise = st.text(alphabet=st.characters(codec="utf-8"), max_size=6)
clinical = st.lists(st.one_of(st.sampled_from(TOKENS), noise), max_size=60).map(lambda parts: " ".join(parts))
anything = st.one_of(st.text(max_size=300), clinical)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _spans(report):
    facts = report.facts
    yield from (s for f in report.findings for s in f.evidence)
    yield from (s for r in report.satisfied for s in r.evidence)
    yield from facts.guidance_spans
    yield from facts.side_spans
    yield from (d.span for d in facts.discounted)
    yield from (m.span for m in facts.medications if m.span)
    yield from (d.span for d in facts.diagnoses if d.span)
    yield from (s for s in (facts.procedure_span, facts.needle_confirmation, facts.contrast, facts.images_recorded,
                            facts.guidance_description, facts.purpose_span) if s)


@SETTINGS
@given(text=anything, codes=st.sampled_from(CODE_SETS), payer=st.sampled_from([None, "medicare"]))
def test_validate_never_raises_and_every_span_is_the_text(text, codes, payer):
    report = validate(text, codes, payer=payer)
    assert report.supported == (not report.errors)
    for span in _spans(report):
        assert 0 <= span.start <= span.end <= len(text)
        assert text[span.start : span.end] == span.text
    for finding in report.findings:
        assert finding.fix.strip()


# --- the fast scan (fastscan.scan_twin) finds exactly what `re` finds ----------------------------------------------

PATTERNS = {
    name: value for name, value in vars(lx).items() if isinstance(value, re.Pattern) and not name.startswith("_N")
} | {f"GUIDANCE_TERMS[{k}]": v for k, v in lx.GUIDANCE_TERMS.items()} | {k: v for k, v in lx.OTHER_PROCEDURES} | {
    name: value for name, value in vars(cx).items() if isinstance(value, re.Pattern)
} | {f"medications.{name}": value for name, value in medications.patterns().items()}  # compiled on first use


@SETTINGS
@given(text=st.one_of(clinical, clinical.map(str.upper), clinical.map(str.title), st.text(max_size=200)))
def test_fast_scanning_matches_re_exactly(text):
    ctx = cx.TextContext(text)
    text = ctx.text  # the reading scans its normalised text (format characters removed, look-alike quotes folded)
    for name, pattern in PATTERNS.items():
        expected = [(m.span(), m.groupdict()) for m in pattern.finditer(text)]
        assert [(m.span(), m.groupdict()) for m in ctx.finditer(pattern)] == expected, name
        assert (ctx.search(pattern) is not None) == bool(expected), name
        assert cx.contains(pattern, text) == (pattern.search(text) is not None), name
        assert cx.contains(pattern, text, at_start=True) == (pattern.match(text) is not None), name


# --- CRLF, unicode -----------------------------------------------------------------------------------------------------

LINES = [
    "PROCEDURE: Left sacroiliac joint injection.", "Right SI joint injection under fluoroscopy.",
    "Bilateral SI joint injections.", "Prior left injection 3 months ago.", "Fluoroscopy was not used.",
    "Will schedule a fluoroscopically guided injection.", "Under fluoroscopic guidance the needle was placed.",
    "IA placement confirmed with contrast.", "40 mg Kenalog", "2 cc 0.25% Marcaine", "Dx: M46.1, M54.5",
    "This was a diagnostic injection.", "Therapeutic.", "Images saved to PACS.", "Pain 8/10 before, 2/10 after.",
    "No complications.", "Plan: follow up in 2 weeks.", "HISTORY: left SI injection last year.",
    "L SIJ inj, fluoro, 40 kenalog + 2cc 0.25% bupi", "Under real-time ultrasound, in-plane.", "R",
]


@SETTINGS
@given(lines=st.lists(st.sampled_from(LINES), min_size=1, max_size=12))
def test_crlf_and_cr_read_like_lf(lines):
    lf = "\n".join(lines) + "\n"
    facts = extract_facts(lf).summary()
    assert extract_facts(lf.replace("\n", "\r\n")).summary() == facts
    assert extract_facts(lf.replace("\n", "\r")).summary() == facts


@SETTINGS
@given(lines=st.lists(st.sampled_from(LINES), min_size=1, max_size=12), extra=st.sampled_from(["\u00e9", "\u2014", "\u00a0", "\u0130", "\U0001f600"]))
def test_non_ascii_text_reads_like_ascii(lines, extra):
    """Non-ASCII text takes the plain `re` path; a stray accent or dash in one line changes nothing else."""
    text = "\n".join(lines)
    accented = text + f"\nSigned {extra}"
    assert extract_facts(accented).summary() == extract_facts(text + "\nSigned x").summary()


def test_unicode_offsets_stay_right():
    text = "Caf\u00e9 \u0130stanbul \U0001f600 \u2014 Left SI joint injection under fluoroscopy, IA confirmed. 40 mg Kenalog."
    report = validate(text, ["27096-LT"])
    assert report.facts.side == "left" and report.facts.guidance == "fluoroscopy"
    for span in _spans(report):
        assert text[span.start : span.end] == span.text


# --- linear time on a 1 MB note ---------------------------------------------------------------------------------

REALISTIC = (
    "PROCEDURE:,  Bilateral sacroiliac joint injections.,INDICATIONS:,  Sacroiliac joint pain (M46.1), prior left "
    "injection 3 months ago with relief.  Informed consent was obtained; risks including bleeding, infection and "
    "radiation from fluoroscopy were discussed.  The patient was placed prone.  Under fluoroscopic guidance with the "
    "C-arm, a 22-gauge spinal needle was advanced into the left SI joint and then into the right SI joint.  "
    "Intra-articular placement was confirmed on each side with 1 mL Omnipaque, which outlined the joint.  40 mg "
    "Kenalog and 2 mL of 0.25% bupivacaine were injected on each side.  This was a diagnostic and therapeutic "
    "injection.  Pain 7/10 before and 2/10 after.  No complications.,PLAN:,  Will schedule lateral branch "
    "radiofrequency ablation if relief is short-lived.  Dx M54.5 noted on referral.\n"
)


def _validate_seconds(size: int) -> float:
    text = (REALISTIC * (size // len(REALISTIC) + 1))[:size]
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        report = validate(text, ["27096-50"])
        best = min(best, time.perf_counter() - start)
    assert report.facts.side == "bilateral"
    return best


def test_a_1_mb_note_validates_in_linear_time():
    """Timing-based, and deliberately generous: 4x the text may take at most 8x the time (quadratic would be 16x).
    The best of two runs each, so a busy machine does not fail it."""
    quarter, whole = _validate_seconds(250_000), _validate_seconds(1_000_000)
    assert whole <= 8 * quarter, f"250 KB: {quarter:.2f}s, 1 MB: {whole:.2f}s"


def _python_calls(text: str) -> int:
    calls = 0

    def count(frame, event, arg):
        nonlocal calls
        calls += event == "call"  # every Python function call or generator step

    sys.setprofile(count)
    try:
        validate(text, ["27096-50"])
    finally:
        sys.setprofile(None)
    return calls


def test_the_work_grows_linearly_with_the_note():
    """A count, not a clock, so it is exact on any machine: the Python calls that 40 more copies of a note add
    double when 80 more are added (linear); a loop over earlier mentions at every mention would quadruple them."""
    validate(REALISTIC, ["27096-50"])  # first use compiles and caches; count only the work per note
    c40, c80, c160 = (_python_calls(REALISTIC * copies) for copies in (40, 80, 160))
    assert c160 - c80 <= 2.2 * (c80 - c40), (c40, c80, c160)
