"""Facts → note text for a validated procedure family, through the family's own template and data.

A family drafts when its folder holds `note.txt.j2` and `family.toml` has `validated = true` and a `[draft]` table
(families/README.md). Nothing here names a family: the procedure wording, which facts get a visible
`[... NEEDED]` placeholder when the dictation lacks them, and the physician questions all come from the family's
data. Every sentence comes from a fact read from the dictation, in the dictation's own words where the fact is a
word (levels, joint, muscles, nerves, the contrast and needle-position statements); a missing fact the family's
codes need becomes a placeholder and a query, never a default value.
"""

from __future__ import annotations

import re
from functools import lru_cache

from jinja2 import Environment, StrictUndefined

from . import boilerplate
from . import family_facts
from .family import Family, by_procedure
from .muscles import spelled_out
from .models import Facts, ValidationReport

_SIDE = {"left": "Left", "right": "Right", "bilateral": "Bilateral"}


def family_for(procedure: str) -> Family | None:
    """The family that drafts `procedure`, or None (SI joint injections draft through render.py)."""
    fam = by_procedure().get(procedure)
    if fam is None or not fam.spec.validated or fam.spec.draft is None:
        return None
    return fam if _template_name(fam) in _available() else None


@lru_cache(maxsize=1)
def _available() -> frozenset[str]:
    return frozenset(_env().list_templates())


def drafts(procedure: str) -> bool:
    return family_for(procedure) is not None


def _template_name(fam: Family) -> str:
    return f"{fam.name}/note.txt.j2"


@lru_cache(maxsize=1)
def _env() -> Environment:
    from .resources import packaged
    from jinja2 import FileSystemLoader

    return Environment(loader=FileSystemLoader(str(packaged("families"))), undefined=StrictUndefined,
                       keep_trailing_newline=True, autoescape=False)


def render_note(facts: Facts, said: dict[str, boilerplate.Statements] | None = None,
                dictation: str | None = None) -> str:
    fam = family_for(facts.procedure)
    if fam is None:
        raise ValueError(f"no family drafts {facts.procedure!r}")
    return _env().get_template(_template_name(fam)).render(**note_view(fam, facts, said or {}, dictation or ""))


def _unique(values: list[str]) -> list[str]:
    out: list[str] = []
    for v in values:
        if v.lower() not in [o.lower() for o in out]:
            out.append(v)
    return out


def note_view(fam: Family, facts: Facts, said: dict[str, boilerplate.Statements], dictation: str) -> dict:
    """The family note's sentences. The shared ones (diagnosis, medications, boilerplate, pain, complications) are
    render.py's, so a family note states a drug or a diagnosis exactly as an SI note does."""
    from .render import _complications, _diagnosis, _distinct_diagnoses, _guidance_sentence, _medication, \
        _other_medication_lines, _pain, boilerplate_sentences

    spec = fam.spec.draft
    needs = set(spec.needs)
    ff = family_facts.read(facts, dictation)

    def affirmed(key: str) -> bool:
        s = said.get(key)
        return bool(s and s.affirmed and not s.opposed)

    # Levels as dictated, only those the family reads as billed today (a level in the history is not drafted).
    billed_spans = {(s.start, s.end) for s in ff.level_evidence}
    levels = _unique([f.value for f in facts.levels if f.span is not None and (f.span.start, f.span.end) in billed_spans])
    if fam.spec.levels is None and dictation:  # levels the family does not bill by ("S1-S3" lateral branches):
        # as dictated, only those in the procedure's own sentences
        mentions, _ = family_facts._mention_sentences(fam, dictation)
        levels = _unique([f.value for f in facts.levels
                          if f.span is not None and any(lo <= f.span.start < hi for lo, hi in mentions)])
    if fam.spec.levels is not None and not levels and (
            "levels" in needs or ("region" in needs and ff.region == "unstated")):
        levels_line = "[LEVELS NEEDED]"
    else:
        levels_line = ", ".join(levels)
    # Region words the dictation used in the procedure's own sentences ("caudal", "cervical"), as written.
    level_texts = {(f.span.start, f.span.end) for f in facts.levels if f.span}
    region_words = _unique([s.text.lower() for s in ff.region_evidence if (s.start, s.end) not in level_texts])
    # Sites (a joint, the genicular block or ablation) in the dictation's own words.
    sites = _unique([s.text for s in sorted(ff.site_evidence, key=lambda s: s.start)]) if ff.site_class != "mixed" else []
    site_line = _site_phrase(ff.site_evidence, dictation) if ff.site_class != "mixed" else ""
    sites = [x for x in sites if not any(x != o and x.lower() in o.lower() for o in sites)]  # "hip" in "hip joint"
    site_line = site_line or ", ".join(sites)
    if fam.spec.sites is not None and not sites and "site" in needs:
        site_line = "[SITE NEEDED]"
    wording = spec.site_wording.get(ff.site_class, spec.procedure) if ff.site_class != "mixed" else spec.procedure
    if ff.site_class not in spec.site_wording and spec.named and dictation:
        # the words the dictation named the procedure with: a medial branch block is not written as a facet injection
        mentions, _ = family_facts._mention_sentences(fam, dictation)
        named = " ".join(dictation[lo:hi] for lo, hi in mentions) or (
            facts.procedure_span.text if facts.procedure_span else "")
        wording = next((n.procedure for n in spec.named if re.search(n.when, named, re.IGNORECASE)), wording)
    wording = wording.replace("{sites}", site_line or "[SITE NEEDED]")
    region_words = [w for w in region_words if w not in wording.lower()]
    details = []
    if spec.details and dictation:
        found = family_facts._words_in_mentions(fam, dictation, spec.details)
        for label in spec.details:
            words = _unique([s.text for s in sorted(found.get(label, []), key=lambda s: s.start)])
            if words:
                details.append(f"{label}: {', '.join(words)}")
    # each muscle as dictated, with its sides ("Left and right upper trapezius"): the note reads back to the count
    muscles = _unique([spelled_out(m.span.text) if m.span else m.value for m in facts.muscles])
    muscles_line = ", ".join(muscles) if muscles else ("[MUSCLES NEEDED]" if "muscles" in needs else "")
    if facts.side in _SIDE:
        side = _SIDE[facts.side]
    else:
        side = "[SIDE NEEDED]" if "side" in needs else ""
    if facts.guidance == "unstated":
        guidance = _guidance_sentence(facts) if "guidance" in needs else None
    else:
        guidance = _guidance_sentence(facts)
    technique = boilerplate_sentences(said, "before") + ([guidance] if guidance else [])
    for event in facts.events:  # what was not done stays not done
        if event.status == "aborted":
            technique.append(f"{event.side.capitalize()} side: not injected (aborted).")
    if facts.needle_confirmation is not None:
        technique.append(f"Needle position as dictated: {facts.needle_confirmation.text}.")
    contrast_drug = [m.span for m in facts.medications if (m.use == "contrast" or m.role == "contrast") and m.span]
    if facts.contrast is not None and not (
            facts.needle_confirmation and facts.needle_confirmation.start <= facts.contrast.start
            < facts.needle_confirmation.end) and not any(
            s.start <= facts.contrast.start < s.end for s in contrast_drug):  # "Contrast: iohexol" says it
        technique.append(f"Contrast as dictated: {facts.contrast.text}.")
    if facts.guidance_description and facts.guidance == "ultrasound" and (
            facts.needle_confirmation is None or facts.guidance_description.text not in facts.needle_confirmation.text):
        technique.append(f"Ultrasound technique as dictated: {facts.guidance_description.text}.")
    if facts.images_recorded and not (said.get("images_saved") and said["images_saved"].opposed):
        technique.append(f"Image documentation as dictated: {facts.images_recorded.text}.")
    technique += boilerplate_sentences(said, "technique")
    purpose = {
        "diagnostic": "Diagnostic.",
        "therapeutic": "Therapeutic.",
        "diagnostic_and_therapeutic": "Diagnostic and therapeutic.",
    }.get(facts.purpose, "[PURPOSE NEEDED]" if "purpose" in needs else "")
    parts = [p for p in (side, " ".join(region_words), wording) if p]
    return {
        "side": side,
        "procedure": wording,
        "procedure_line": " ".join(parts) + (f" ({'; '.join(details)})" if details else ""),
        "region_words": region_words,
        "levels": levels,
        "levels_line": levels_line,
        "sites": sites,
        "site_line": site_line,
        "muscles": muscles,
        "muscles_line": muscles_line,
        "diagnosis_line": "; ".join(_diagnosis(d) for d in _distinct_diagnoses(facts.diagnoses)) or "[DIAGNOSIS NEEDED]",
        "purpose_line": purpose,
        "technique": technique,
        "medications": [_each(_medication(m), m, dictation) for m in facts.medications if m.injectate]
                       or (["[MEDICATIONS NEEDED]"] if "medications" in needs else []),
        "other_medications": _other_medication_lines(facts.medications, lambda line, m: _each(line, m, dictation)),
        "pain_line": _pain(facts),
        "complications_line": _complications(facts, affirmed("no_complications"), said),
        "after": boilerplate_sentences(said, "after"),
    }


_DIGIT = re.compile(r"\b(?:index|middle|ring|small|little|long|great|second|third|fourth|fifth)\s+$", re.IGNORECASE)
_SITE_TAIL = re.compile(r"\s+(?:joints?|bursae?)\b", re.IGNORECASE)


def _site_phrase(spans, dictation: str) -> str:
    """The joint as one dictated phrase ("finger PIP joint", "greater trochanteric bursa"): the text from the first
    to the last site word of one mention, with a "joint"/"bursa" right after it; "" when the words stand apart."""
    spans = sorted(spans, key=lambda s: s.start)
    if not spans or not dictation:
        return ""
    lo, hi = spans[0].start, spans[-1].end
    before = _DIGIT.search(dictation, 0, lo)
    if before and before.end() == lo:
        lo = before.start()
    if hi - lo > 40 or not re.fullmatch(r"[\w\s-]*", dictation[lo:hi]):
        return ""
    tail = _SITE_TAIL.match(dictation, hi)
    return dictation[lo:tail.end() if tail else hi]


_EACH = re.compile(r"\beach\b(?!\s+side)", re.IGNORECASE)
_PER_SITE_SAID = re.compile(r"\bper\s+(?:site|level|nerve|joint)\b", re.IGNORECASE)
_PER_SIDE_SAID = re.compile(r"\bper\s+side\b|\beach\s+side\b|/\s*side\b", re.IGNORECASE)


def _each(line: str, m, dictation: str) -> str:
    """"0.5 cc bupi each" at two facet levels is the amount at each level (and side): the reader files it as
    per side, and the note says "each", the dictation's own word, which reads back to the same fact."""
    if m.basis == "per_side" and dictation and not _PER_SIDE_SAID.search(dictation):
        if _EACH.search(dictation):
            return line.replace(" per side", " each", 1)
        if _PER_SITE_SAID.search(dictation):  # "half mL bupivacaine per site": at each level or nerve
            return line.replace(" per side", " per site", 1)
    return line


# --- the code the draft is checked against when the dictation supports none ------------------------------------


def intended_lines(facts: Facts, dictation: str | None) -> list[str]:
    """With no code given and none supported: the family's primary code whose suggestion conditions the facts
    meet best (ties: the family's first), so the findings and queries name exactly what is missing."""
    from .checks import Claim
    from .models import CodeLine
    from .rulepack import load_packs
    from .validate import _holds, lines_for

    fam = family_for(facts.procedure)
    if fam is None:
        return []
    packs = [p for p in load_packs().values() if p.kind == "primary" and facts.procedure in (p.procedures or [])]
    if not packs:
        return []
    fam_order = fam.spec.draft.codes if fam.spec.draft and fam.spec.draft.codes else []

    def score(pack) -> tuple:
        probe = Claim(facts=facts, line=CodeLine(code=pack.code), lines=[], payer=None, text=dictation)
        best = max((sum(_holds(c, probe).ok for c in s.when) - len(s.when) for s in pack.suggest), default=-99)
        order = fam_order.index(pack.code) if pack.code in fam_order else len(fam_order)
        return (best, -order)

    pack = max(packs, key=score)
    lines = lines_for(pack, facts, dictation)
    if not lines:  # no level documented: the primary once, with the side's modifier, so the side is checked too
        from .validate import MODIFIER_FOR_SIDE

        mod = MODIFIER_FOR_SIDE.get(facts.side)
        lines = [CodeLine(code=pack.code, modifiers=(mod,) if mod and mod in pack.modifiers and
                          pack.laterality != "none" and (not pack.laterality_procedures
                                                         or facts.procedure in pack.laterality_procedures) else ())]
    return [str(x) for x in lines]


# --- the family's questions -------------------------------------------------------------------------------------


# A placeholder the family's note shows → the rule ids whose question asks for that fact.
_PLACEHOLDER_FACTS = {
    "[SIDE NEEDED]": ("side.stated",),
    "[LEVELS NEEDED]": ("levels.named",),
    "[GUIDANCE NEEDED]": ("guidance.fluoro_or_ct", "guidance.ultrasound", "guidance.stated"),
    "[MUSCLES NEEDED]": ("trigger_point.muscles", "muscles.three_or_more"),
    "[SITE NEEDED]": ("site.size_class",),
    "[BLOCK OR ABLATION NEEDED]": ("technique.matches",),
    "[DIAGNOSIS NEEDED]": ("diagnosis.documented",),
    "[PURPOSE NEEDED]": ("purpose.stated",),
    "[MEDICATIONS NEEDED]": ("injectate.documented", "medications.documented"),
}


def queries(facts: Facts, report: ValidationReport) -> tuple[list[str], ValidationReport]:
    """The family's own question for each error finding its data names (`[[queries]]` in family.toml: `fact` is
    the rule id after the code, e.g. "levels.named"), in finding order, and each placeholder the note shows; and
    the report without the findings asked about, for the generic questions (queries.py) of the rest."""
    fam = family_for(facts.procedure)
    if fam is None:
        return [], report
    from .queries import QUESTIONS

    asked = {q.fact: q.question for q in fam.spec.queries}
    out: list[str] = []
    rest = []
    for f in report.findings:
        if f.severity != "error":
            rest.append(f)
            continue
        code, _, key = f.rule.partition(".")
        if not (code[:1].isdigit() or code[:1] == "G"):
            key = f.rule
        keys = [key]
        if f.rule == "note.placeholder" and f.evidence:
            keys = list(_PLACEHOLDER_FACTS.get(f.evidence[0].text, ()))
        q = next((asked[k] for k in keys if k in asked), None)
        if q is None and f.rule == "note.placeholder":
            q = next((QUESTIONS[k] for k in keys if k in QUESTIONS), None)
        if q is None:
            rest.append(f)
        elif q not in out:
            out.append(q)
    return out, report.model_copy(update={"findings": rest})
