"""Scorers: each one declares the metrics it produces, scores one sample, and says why a sample failed.

A scorer is a pure function of a logged sample (the case row and what `draft()` or `validate()` returned), so a
log can be scored again without any model (`rescore`). Per-sample values are numbers or None ("does not apply");
the runner aggregates them per strategy × model as each Metric says:

- rate:  mean of 0/1 values over the samples it applies to
- mean:  mean of the values (per draft)
- sum:   total over the samples (counts such as invented facts)
- ratio: Σ numerator / Σ denominator of two per-sample counters (micro-averaged precision, recall, capture)

Only `deterministic` metrics may gate CI; latency and cache hits never do.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Literal

from ..models import Draft, Facts, ValidationReport
from .dataset import DraftingCase, GoldFacts, ValidatorCase

Kind = Literal["rate", "mean", "sum", "ratio"]


@dataclass(frozen=True)
class Metric:
    name: str
    description: str
    kind: Kind
    better: Literal["higher", "lower"]
    deterministic: bool = True
    numerator: str | None = None  # ratio metrics: the per-sample counters they divide
    denominator: str | None = None
    unit: str = ""


@dataclass
class Score:
    """What one scorer says about one sample."""

    values: dict[str, float | None] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class DraftingSample:
    case: DraftingCase
    draft: Draft | None
    error: str | None = None
    wall_ms: float = 0.0


@dataclass
class ValidatorSample:
    case: ValidatorCase
    report: ValidationReport | None
    error: str | None = None
    wall_ms: float = 0.0


# =================================================================================================================
# Code lines
# =================================================================================================================
_SIDE_MODS = {"LT", "RT", "50"}


def parse_line(line: str) -> tuple[str, str | None, frozenset[str]]:
    """'27096-LT' → ('27096', 'LT', {}); other modifiers (KX, 26...) are kept apart and ignored by matching."""
    parts = [p for p in line.strip().upper().replace(" ", "").split("-") if p]
    code, mods = (parts[0] if parts else ""), parts[1:]
    side = next((m for m in mods if m in _SIDE_MODS), None)
    return code, side, frozenset(m for m in mods if m not in _SIDE_MODS)


def line_matches(expected: str, actual: str) -> bool:
    """Same code and same laterality; a unilateral expectation also accepts the line with no side modifier
    (a unilateral 27096 or 20552 without -LT/-RT is accepted). Bilateral must be -50 on one line."""
    e_code, e_side, _ = parse_line(expected)
    a_code, a_side, _ = parse_line(actual)
    if e_code != a_code:
        return False
    if e_side == a_side:
        return True
    return e_side in ("LT", "RT") and a_side is None


def lines_match(expected: list[str], actual: list[str]) -> bool:
    """The two lists name the same code lines (order-free, one-to-one, lenient as `line_matches`)."""
    if len(expected) != len(actual):
        return False
    remaining = list(actual)
    for e in expected:
        hit = next((a for a in remaining if line_matches(e, a)), None)
        if hit is None:
            return False
        remaining.remove(hit)
    return True


def unsupported_lines(claimed: list[str], supportable: list[str]) -> list[str]:
    """Claimed lines that no supportable line matches."""
    return [c for c in claimed if not any(line_matches(s, c) for s in supportable)]


# =================================================================================================================
# Amounts and facts
# =================================================================================================================
_AMOUNT = re.compile(
    r"(?P<n>\d*\.?\d+)\s*(?P<unit>mg\s*/\s*(?:ml|cc)|mcg|mg|milligrams?|ml|cc|milliliters?|millilitres?|%|units?)?",
    re.IGNORECASE,
)
_UNIT = {"cc": "ml", "milliliter": "ml", "milliliters": "ml", "millilitre": "ml", "millilitres": "ml",
         "milligram": "mg", "milligrams": "mg", "unit": "units"}


def amounts(*texts: str | None) -> list[tuple[Decimal, str | None]]:
    """Every number in the texts with its unit, normalised: '2cc', '0.25 %', '40 MG' → (2,'ml'), (0.25,'%'), (40,'mg')."""
    out = []
    for text in texts:
        for m in _AMOUNT.finditer(text or ""):
            try:
                n = Decimal(m.group("n")).normalize()
            except InvalidOperation:
                continue
            unit = m.group("unit")
            if unit:
                unit = re.sub(r"\s+", "", unit.lower()).replace("cc", "ml")
                unit = _UNIT.get(unit, unit)
            out.append((n, unit))
    return out


def _num(n: Decimal) -> str:
    return format(n, "f")


def amounts_match(gold: list[tuple[Decimal, str | None]], pred: list[tuple[Decimal, str | None]]) -> bool:
    """Same numbers one-to-one; units must agree where both sides state one ('40 kenalog' matches '40 mg')."""
    if len(gold) != len(pred) or not gold:
        return False
    remaining = list(pred)
    for n, unit in gold:
        hit = next((p for p in remaining if p[0] == n and (p[1] == unit or p[1] is None or unit is None)), None)
        if hit is None:
            return False
        remaining.remove(hit)
    return True


def _norm_code(code: str | None) -> str | None:
    if not code:
        return None
    c = code.strip().upper().replace(" ", "")
    if "." not in c and len(c) > 3:
        c = c[:3] + "." + c[3:]
    return c


@dataclass(frozen=True)
class FactSet:
    """The scoreable facts of a draft, a note or a gold row, kind by kind."""

    drugs: dict[str, list[tuple[Decimal, str | None]]]  # generic name → amounts ([] when undosed)
    side: str | None
    guidance: str | None
    diagnosis_codes: frozenset[str]
    diagnosis_texts: tuple[str, ...]
    purpose: str | None
    images_recorded: bool
    # A procedure family's facts; None: not labelled (gold) or not scored.
    procedure: str | None = None
    levels: frozenset[str] | None = None
    muscles: frozenset[str] | None = None


def _drug_name(name: str) -> str:
    return name.strip().lower()


def facts_from_gold(gold: GoldFacts) -> FactSet:
    drugs = {}
    for m in gold.medications:
        if m.role in ("contrast", "sedative") or m.use in ("other_procedure", "contrast", "sedation"):
            continue  # another procedure's drug, contrast and sedation are not the SI injectate
        drugs[_drug_name(m.name)] = amounts(m.dose, m.volume, m.concentration)
    codes = frozenset(c for c in (_norm_code(d.code) for d in gold.diagnoses) if c)
    texts = tuple(d.text.lower() for d in gold.diagnoses if d.text and not d.code)
    return FactSet(
        drugs=drugs,
        side=None if gold.side == "unstated" else gold.side,
        guidance=None if gold.guidance == "unstated" else gold.guidance,
        diagnosis_codes=codes,
        diagnosis_texts=texts,
        purpose=None if gold.purpose == "unstated" else gold.purpose,
        images_recorded=gold.images_recorded,
        procedure=gold.procedure if is_family(gold) else None,
        levels=frozenset(norm_level(v) for v in gold.levels) if gold.levels is not None else None,
        muscles=frozenset(norm_muscle(v) for v in gold.muscles) if gold.muscles is not None else None,
    )


def is_family(gold: GoldFacts) -> bool:
    """A case of a procedure family other than the SI joint injection (issue 17's family dictations)."""
    return gold.procedure not in ("si_joint_injection", "unstated")


def norm_level(value: str) -> str:
    """"L4-L5", "L4-5", "l4 - 5" and "L4/5" are one level."""
    v = re.sub(r"\s+", "", value).upper().replace("/", "-").replace("–", "-")
    m = re.match(r"^([CTLS])(\d+)(?:-([CTLS])?(\d+))?$", v)
    if not m:
        return v
    return f"{m.group(1)}{m.group(2)}" + (f"-{m.group(3) or m.group(1)}{m.group(4)}" if m.group(4) else "")


def norm_muscle(value: str) -> str:
    """The muscle's name: "Right trapezius" is "trapezius" (the reader's value carries the side it counts by)."""
    from ..muscles import name

    return re.sub(r"\s+", " ", name(value).lower()).removesuffix("s")


def facts_from_model(facts: Facts) -> FactSet:
    drugs: dict[str, list] = {}
    for m in facts.medications:
        if m.role in ("contrast", "sedative") or m.use in ("other_procedure", "contrast", "sedation"):
            continue
        found = amounts(m.dose, m.volume, m.concentration)
        name = _drug_name(m.name)
        # The same drug twice (skin and joint): keep the reading with the most amounts.
        if name not in drugs or len(found) > len(drugs[name]):
            drugs[name] = found
    codes = frozenset(c for c in (_norm_code(d.code) for d in facts.diagnoses) if c)
    texts = tuple(d.text.lower() for d in facts.diagnoses if d.text and not d.code)
    return FactSet(
        drugs=drugs,
        side=None if facts.side == "unstated" else facts.side,
        guidance=None if facts.guidance == "unstated" else facts.guidance,
        diagnosis_codes=codes,
        diagnosis_texts=texts,
        purpose=None if facts.purpose == "unstated" else facts.purpose,
        images_recorded=facts.images_recorded is not None,
        procedure=None if facts.procedure == "unstated" else facts.procedure,
        levels=frozenset(norm_level(f.value) for f in facts.levels),
        muscles=frozenset(norm_muscle(f.value) for f in facts.muscles),
    )


def _text_dx_match(gold: str, pred_texts: tuple[str, ...], pred_all: list[str]) -> bool:
    g = gold.lower()
    return any(g in p or p in g for p in (*pred_texts, *pred_all) if p)


FACT_KINDS = ("drug", "dose", "side", "guidance", "diagnosis")


def compare_facts(gold: FactSet, pred: FactSet, pred_dx_texts: list[str] | None = None) -> dict[str, dict[str, int]]:
    """Per kind: true positives, false positives (stated but not gold), false negatives (gold but not stated)."""
    out = {k: {"tp": 0, "fp": 0, "fn": 0} for k in FACT_KINDS}
    for name in set(gold.drugs) | set(pred.drugs):
        g, p = name in gold.drugs, name in pred.drugs
        out["drug"]["tp" if g and p else "fp" if p else "fn"] += 1
        g_amt, p_amt = gold.drugs.get(name) or [], pred.drugs.get(name) or []
        if g_amt and p_amt:
            if amounts_match(g_amt, p_amt):
                out["dose"]["tp"] += 1
            else:
                out["dose"]["fp"] += 1
                out["dose"]["fn"] += 1
        elif g_amt:
            out["dose"]["fn"] += 1
        elif p_amt:
            out["dose"]["fp"] += 1  # a dose the dictation never gave
    for kind in ("side", "guidance"):
        g, p = getattr(gold, kind), getattr(pred, kind)
        if g and p:
            if g == p:
                out[kind]["tp"] += 1
            else:
                out[kind]["fp"] += 1
                out[kind]["fn"] += 1
        elif g:
            out[kind]["fn"] += 1
        elif p:
            out[kind]["fp"] += 1
    for code in gold.diagnosis_codes | pred.diagnosis_codes:
        g, p = code in gold.diagnosis_codes, code in pred.diagnosis_codes
        out["diagnosis"]["tp" if g and p else "fp" if p else "fn"] += 1
    all_pred = list(pred_dx_texts or [])
    for text in gold.diagnosis_texts:
        out["diagnosis"]["tp" if _text_dx_match(text, pred.diagnosis_texts, all_pred) else "fn"] += 1
    return out


def invented_facts(gold: FactSet, pred: FactSet) -> list[str]:
    """What a text states that the gold facts do not: the independent check on unsupported content."""
    found = []
    for name, p_amt in pred.drugs.items():
        if name not in gold.drugs:
            found.append(f"drug {name} not dictated")
        elif p_amt and not amounts_match(gold.drugs[name], p_amt):
            shown = ", ".join(f"{_num(n)}{' ' + u if u else ''}" for n, u in p_amt)
            found.append(f"dose of {name} ({shown}) not dictated")
    if pred.side and pred.side != gold.side:
        found.append(f"side {pred.side} (dictated: {gold.side or 'unstated'})")
    if pred.guidance and pred.guidance != gold.guidance:
        found.append(f"guidance {pred.guidance} (dictated: {gold.guidance or 'unstated'})")
    for code in sorted(pred.diagnosis_codes - gold.diagnosis_codes):
        found.append(f"diagnosis code {code} not dictated")
    if pred.images_recorded and not gold.images_recorded:
        found.append("recorded images not dictated")
    if pred.purpose and gold.purpose and pred.purpose != gold.purpose and not (
        gold.purpose == "diagnostic_and_therapeutic" and pred.purpose in ("diagnostic", "therapeutic")
    ):
        found.append(f"purpose {pred.purpose} (dictated: {gold.purpose})")
    # A family case's own facts, where the gold labels them: another procedure, a level or a muscle not dictated.
    if gold.procedure and pred.procedure and pred.procedure != gold.procedure:
        found.append(f"procedure {pred.procedure} (dictated: {gold.procedure})")
    if gold.levels is not None and pred.levels:
        found += [f"level {v} not dictated" for v in sorted(pred.levels - gold.levels)]
    if gold.muscles is not None and pred.muscles:
        found += [f"muscle {v} not dictated" for v in sorted(pred.muscles - gold.muscles)]
    return found


# =================================================================================================================
# Scorers
# =================================================================================================================
class Scorer:
    name: str = ""
    applies_to: Literal["drafting", "validator"] = "drafting"
    metrics: tuple[Metric, ...] = ()

    def score(self, sample) -> Score:  # pragma: no cover - interface
        raise NotImplementedError


def _refused(draft: Draft) -> bool:
    """What the CLI's exit 1 means: refused, or the draft does not support its code lines."""
    return not draft.supported


class CodeSupportScorer(Scorer):
    name = "code_support"
    metrics = (
        Metric("code_support_correct", "cases expected supported whose final draft supports exactly the expected "
               "code lines", "rate", "higher"),
        Metric("false_supported", "drafts that claim support for a code line the dictation does not support",
               "sum", "lower"),
        # deterministic: the drafter turns LLM transport failures into attempts and fallbacks, so draft() raising
        # is always a bug; gating it also keeps a crash from passing the safety gates with no draft to check
        Metric("draft_errors", "samples where draft() raised instead of returning a Draft", "sum", "lower"),
    )

    def score(self, s: DraftingSample) -> Score:
        out = Score()
        exp = s.case.expected
        out.values["draft_errors"] = 1.0 if s.draft is None else 0.0
        if s.draft is None:
            out.values["code_support_correct"] = 0.0 if exp.outcome == "supported" else None
            out.values["false_supported"] = 0.0
            out.failures.append(f"draft() raised: {s.error}")
            return out
        d = s.draft
        supportable = exp.codes if exp.outcome == "supported" else exp.suggested_codes
        claimed_bad = unsupported_lines(d.codes, supportable) if d.supported else []
        out.values["false_supported"] = float(bool(d.supported and (exp.outcome == "refused" or claimed_bad)))
        if out.values["false_supported"]:
            if claimed_bad:
                out.failures.append(f"FALSE SUPPORTED: draft claims {claimed_bad} but the dictation supports "
                                    f"{supportable or 'no code line'}")
            else:
                out.failures.append(f"FALSE SUPPORTED: draft claims {d.codes} supported, but this dictation must be "
                                    f"refused ({', '.join(s.case.tags) or 'see why'})")
        if exp.outcome == "supported":
            ok = d.supported and lines_match(exp.codes, d.codes)
            out.values["code_support_correct"] = float(ok)
            if not ok:
                if not d.supported:
                    errs = "; ".join(f"{f.rule}: {f.message}" for f in d.report.errors[:4]) or "refused"
                    out.failures.append(f"expected {exp.codes} supported; draft not supported ({errs})")
                else:
                    out.failures.append(f"expected code lines {exp.codes}; draft carries {d.codes}")
        else:
            out.values["code_support_correct"] = None
        return out


TOPIC_PATTERNS: dict[str, re.Pattern[str]] = {
    "dose": re.compile(r"\bdos(?:e|es|age|ing)\b|\bmg\b|\bamount\b|\bhow\s+much\b|\bvolume\b|\bml\b", re.I),
    "diagnosis": re.compile(r"diagnos|\bdx\b|\bICD|indication|medical\s+necessity", re.I),
    "purpose": re.compile(r"purpose|diagnostic|therapeutic", re.I),
    "side": re.compile(r"\bside\b|\bleft\b|\bright\b|bilateral|lateralit", re.I),
    "guidance": re.compile(r"guidance|imaging|fluoro|ultrasound|\bCT\b|landmark|modality", re.I),
    "confirmation": re.compile(r"confirm|verif|intra-?articular|needle\s+(?:placement|position|tip)", re.I),
    "images": re.compile(r"image|record|saved|PACS|76942", re.I),
    "levels": re.compile(r"\blevels?\b|interspace|foramen|foramina|\b[CTL]\d", re.I),
    "muscles": re.compile(r"muscle", re.I),
    "site": re.compile(r"\bjoint\b|\bbursa\b|\bknee\b|\bshoulder\b|\bhip\b", re.I),
    "technique": re.compile(r"\bblock|\bablat", re.I),
    "procedure": re.compile(r"procedure|performed", re.I),
}


class RefusalScorer(Scorer):
    name = "refusal"
    metrics = (
        Metric("refusal_correct", "cases expected refused that were refused with the right supported code lines",
               "rate", "higher"),
        Metric("refusal_detected", "cases expected refused that were refused (whatever the suggestion)",
               "rate", "higher"),
        Metric("query_topic_coverage", "expected physician-query topics (dose, diagnosis, ...) some query names",
               "ratio", "higher", numerator="_topics_hit", denominator="_topics"),
    )

    def score(self, s: DraftingSample) -> Score:
        out = Score()
        exp = s.case.expected
        if exp.outcome != "refused":
            out.values.update(refusal_correct=None, refusal_detected=None, _topics_hit=None, _topics=None)
            return out
        topics = list(exp.query_topics)
        out.values["_topics"] = float(len(topics))
        if s.draft is None:
            out.values.update(refusal_correct=0.0, refusal_detected=0.0, _topics_hit=0.0)
            return out
        d = s.draft
        refused = _refused(d)
        suggested = list(d.report.suggested_codes)
        right = refused and lines_match(exp.suggested_codes, suggested)
        out.values["refusal_detected"] = float(refused)
        out.values["refusal_correct"] = float(right)
        if not refused:
            out.failures.append(f"expected a refusal (supported lines {exp.suggested_codes}); draft supports {d.codes}")
        elif not right:
            out.failures.append(f"refused, but suggested {suggested}; expected {exp.suggested_codes}")
        hits = []
        for t in topics:
            hit = any(TOPIC_PATTERNS[t].search(q) for q in d.queries)
            hits.append(hit)
            if not hit:
                out.details.setdefault("missing_topics", []).append(t)
        out.values["_topics_hit"] = float(sum(hits))
        return out


ELEMENTS = ("diagnosis", "purpose", "side", "medications", "guidance", "needle_confirmation", "images_recorded")


def required_elements(gold: GoldFacts) -> list[str]:
    """The documentation elements a note for this dictation must carry (seed guide must-haves + 76942). A family
    case: the elements its gold labels (its codes need no purpose or needle confirmation), plus its levels,
    muscles and site class."""
    if is_family(gold):
        req = [e for e, has in (("procedure", True), ("diagnosis", bool(gold.diagnoses)),
                                ("purpose", gold.purpose != "unstated"), ("side", gold.side != "unstated"),
                                ("medications", bool(facts_from_gold(gold).drugs)),
                                ("guidance", gold.guidance != "unstated"), ("levels", bool(gold.levels)),
                                ("muscles", bool(gold.muscles)), ("site_class", bool(gold.site_class)),
                                ("images_recorded", gold.images_recorded)) if has]
        return req
    req = ["diagnosis", "purpose", "side", "medications", "guidance"]
    if gold.guidance in ("fluoroscopy", "ct", "ultrasound"):
        req.append("needle_confirmation")
    if gold.images_recorded:
        req.append("images_recorded")
    return req


def element_captured(element: str, gold: GoldFacts, note: Facts, note_text: str = "") -> bool:
    """Does the final note state this element as the dictation gave it? Read back by the validator's extractor;
    a dictated ICD-10 code also counts when it stands verbatim in the note text."""
    g, p = facts_from_gold(gold), facts_from_model(note)
    if element == "diagnosis":
        if not (g.diagnosis_codes or g.diagnosis_texts):
            return False
        texts = [d.text.lower() for d in note.diagnoses if d.text]
        verbatim = {c for c in g.diagnosis_codes if re.search(rf"(?<![\w.]){re.escape(c)}(?![\w])", note_text)}
        return bool(g.diagnosis_codes & (p.diagnosis_codes | verbatim)) or any(
            _text_dx_match(t, p.diagnosis_texts, texts) for t in g.diagnosis_texts
        )
    if element == "purpose":
        return g.purpose is not None and p.purpose == g.purpose
    if element == "side":
        return g.side is not None and p.side == g.side
    if element == "guidance":
        return g.guidance is not None and p.guidance == g.guidance
    if element == "medications":
        return bool(g.drugs) and all(
            name in p.drugs and amounts_match(amt, p.drugs[name]) for name, amt in g.drugs.items()
        )
    if element == "needle_confirmation":
        return note.needle_confirmation is not None
    if element == "procedure":
        return note.procedure == gold.procedure
    if element == "levels":
        return p.levels == g.levels
    if element == "muscles":
        return p.muscles == g.muscles
    if element == "site_class":
        from ..family_facts import read

        return read(note, note_text).site_class == gold.site_class
    if element == "images_recorded":
        return note.images_recorded is not None
    raise ValueError(element)


class RequiredElementsScorer(Scorer):
    name = "elements"
    metrics = (
        Metric("required_element_capture", "required documentation elements (diagnosis, purpose, side, every drug "
               "with its dose, guidance, needle confirmation, recorded images for 76942) the final note states, "
               "on cases expected supported", "ratio", "higher", numerator="_elements_hit",
               denominator="_elements"),
    )

    def score(self, s: DraftingSample) -> Score:
        out = Score()
        if s.case.expected.outcome != "supported":
            out.values.update(_elements_hit=None, _elements=None)
            return out
        req = required_elements(s.case.gold)
        out.values["_elements"] = float(len(req))
        if s.draft is None:
            out.values["_elements_hit"] = 0.0
            out.details["elements"] = {e: False for e in req}
            return out
        per = {e: element_captured(e, s.case.gold, s.draft.report.facts, s.draft.note) for e in req}
        out.details["elements"] = per
        out.values["_elements_hit"] = float(sum(per.values()))
        missing = [e for e, ok in per.items() if not ok]
        if missing:
            out.failures.append(f"final note misses required elements: {', '.join(missing)}")
        return out


class GroundingScorer(Scorer):
    """Unsupported facts, two ways: the drafter's own grounding findings, and an independent comparison of what the
    final note (or a raw LLM reply) states against the hand-written gold facts."""

    name = "grounding"
    metrics = (
        Metric("unsupported_facts_final", "grounding.* findings (facts not linked to the dictation) in final drafts",
               "sum", "lower"),
        Metric("drafts_with_unsupported", "final drafts with at least one grounding.* finding", "rate", "lower"),
        Metric("unsupported_facts_raw", "grounding.* findings the drafter raised on raw LLM output (draft."
               "raw_findings) before dropping those facts", "sum", "lower"),
        Metric("invented_facts_final", "facts the final note states that the gold facts do not (independent "
               "check: drug, dose, side, guidance, diagnosis code, recorded images, purpose)", "sum", "lower"),
        Metric("invented_facts_raw", "the same count over raw LLM replies (extraction JSON or composed notes), "
               "before notedraft's grounding", "sum", "lower"),
        Metric("raw_replies_with_invented", "raw LLM replies that state at least one invented fact", "ratio",
               "lower", numerator="_raw_bad", denominator="_raw"),
    )

    def score(self, s: DraftingSample) -> Score:
        out = Score()
        if s.draft is None:
            out.values.update(unsupported_facts_final=None, drafts_with_unsupported=None, invented_facts_final=None,
                              invented_facts_raw=None, unsupported_facts_raw=None, _raw_bad=None, _raw=None)
            return out
        d = s.draft
        raw_grounding = [f for f in getattr(d, "raw_findings", None) or [] if f.rule.startswith("grounding.")]
        out.values["unsupported_facts_raw"] = float(len(raw_grounding)) if d.attempts else None
        if raw_grounding:
            out.details["unsupported_raw"] = [f.message for f in raw_grounding]
        grounding = [f for f in d.report.findings if f.rule.startswith("grounding.")]
        out.values["unsupported_facts_final"] = float(len(grounding))
        out.values["drafts_with_unsupported"] = float(bool(grounding))
        for f in grounding:
            out.failures.append(f"UNSUPPORTED in final draft: {f.rule}: {f.message}")
        gold = facts_from_gold(s.case.gold)
        invented = invented_facts(gold, facts_from_model(d.report.facts)) if d.note.strip() else []
        out.values["invented_facts_final"] = float(len(invented))
        out.details["invented_final"] = invented
        for item in invented:
            out.failures.append(f"INVENTED in final note: {item}")
        raw_total, raw_bad, raw_count = 0, 0, 0
        raw_details = []
        for i, a in enumerate(d.attempts):
            facts = raw_facts(a.purpose, a.raw)
            if facts is None:
                continue
            raw_count += 1
            inv = invented_facts(gold, facts)
            raw_total += len(inv)
            raw_bad += bool(inv)
            if inv:
                raw_details.append({"attempt": i, "purpose": a.purpose, "invented": inv})
        out.values["invented_facts_raw"] = float(raw_total) if raw_count else None
        out.values["_raw_bad"] = float(raw_bad) if raw_count else None
        out.values["_raw"] = float(raw_count) if raw_count else None
        out.details["invented_raw"] = raw_details
        return out


def raw_facts(purpose: str, raw: str | None) -> FactSet | None:
    """The facts a raw LLM reply states: an extraction reply is read as the llm-extract JSON contract (side,
    guidance, purpose, images_recorded, medications [{name, dose}], diagnoses [{code, text}]); a composed note is
    read by the same extractor the validator uses. None when the reply states nothing readable."""
    if not raw or not raw.strip():
        return None
    text = raw.strip()
    if purpose == "extract":
        fenced = re.match(r"^```(?:json)?\s*\n(.*?)\n?```$", text, re.S)
        if fenced:
            text = fenced.group(1)
        try:
            data = json.loads(text)
        except ValueError:
            return None  # invalid JSON states nothing scoreable; the attempt's outcome already says "invalid"
        return facts_from_extraction(data) if isinstance(data, dict) else None
    from ..extract import extract_facts

    return facts_from_model(extract_facts(text))


def facts_from_extraction(data: dict) -> FactSet:
    """FactSet from an llm-extract reply, tolerant of missing or odd fields (a small model's JSON)."""
    from ..lexicon import DRUGS

    def scalar(name: str) -> str | None:
        v = data.get(name)
        return v if isinstance(v, str) and v not in ("", "unstated") else None

    drugs: dict[str, list] = {}
    for m in data.get("medications") or []:
        if not isinstance(m, dict) or not isinstance(m.get("name"), str) or not m["name"].strip():
            continue
        written = m["name"].strip().lower()
        generic, role = DRUGS.get(written, (written, "other"))
        if role == "contrast":
            continue
        dose = m.get("dose") if isinstance(m.get("dose"), str) else None
        drugs[generic] = amounts(dose)
    codes, texts = set(), []
    for d in data.get("diagnoses") or []:
        if not isinstance(d, dict):
            continue
        code = _norm_code(d.get("code")) if isinstance(d.get("code"), str) else None
        if code:
            codes.add(code)
        elif isinstance(d.get("text"), str) and d["text"].strip():
            texts.append(d["text"].strip().lower())
    return FactSet(
        drugs=drugs, side=scalar("side"), guidance=scalar("guidance"), diagnosis_codes=frozenset(codes),
        diagnosis_texts=tuple(texts), purpose=scalar("purpose"), images_recorded=data.get("images_recorded") is True,
    )


class FactScorer(Scorer):
    """Precision and recall of the facts the drafter read from the dictation (draft.facts) against gold."""

    name = "facts"

    def __init__(self) -> None:
        metrics = [
            Metric("fact_precision", "facts read from the dictation that are gold (all kinds, micro-averaged)",
                   "ratio", "higher", numerator="_tp", denominator="_tp_fp"),
            Metric("fact_recall", "gold facts read from the dictation (all kinds, micro-averaged)", "ratio", "higher",
                   numerator="_tp", denominator="_tp_fn"),
        ]
        for k in FACT_KINDS:
            metrics.append(Metric(f"{k}_precision", f"{k} facts read that are gold", "ratio", "higher",
                                  numerator=f"_{k}_tp", denominator=f"_{k}_tp_fp"))
            metrics.append(Metric(f"{k}_recall", f"gold {k} facts read", "ratio", "higher",
                                  numerator=f"_{k}_tp", denominator=f"_{k}_tp_fn"))
        self.metrics = tuple(metrics)

    def score(self, s: DraftingSample) -> Score:
        out = Score()
        gold = facts_from_gold(s.case.gold)
        if s.draft is None:
            pred = FactSet({}, None, None, frozenset(), (), None, False)
            texts: list[str] = []
        else:
            pred = facts_from_model(s.draft.facts)
            texts = [d.text.lower() for d in s.draft.facts.diagnoses if d.text]
        counts = compare_facts(gold, pred, texts)
        tp = fp = fn = 0
        for k, c in counts.items():
            out.values[f"_{k}_tp"] = float(c["tp"])
            out.values[f"_{k}_tp_fp"] = float(c["tp"] + c["fp"])
            out.values[f"_{k}_tp_fn"] = float(c["tp"] + c["fn"])
            tp, fp, fn = tp + c["tp"], fp + c["fp"], fn + c["fn"]
        out.values.update(_tp=float(tp), _tp_fp=float(tp + fp), _tp_fn=float(tp + fn))
        out.details["facts"] = counts
        return out


# =================================================================================================================
# Fidelity: fact tuples, attribute by attribute (issue 9 part 2)
# =================================================================================================================
# A medication fact: (drug, salt, dose, concentration, volume, per side/total, use). The draft's tuples are read
# back from its final note (or a raw LLM reply) by the same extractor the validator uses.
MED_ATTRS = ("drug", "salt", "dose", "concentration", "volume", "basis", "use")
FIDELITY_KINDS = MED_ATTRS + ("event", "guidance", "purpose", "other_procedure")


def _norm_amount(text: str | None) -> str | None:
    found = amounts(text)
    if not found:
        return None
    n, unit = found[0]
    unit = {"ml": "mL", "mg/ml": "mg/mL"}.get(unit or "", unit or "")
    return f"{_num(n)}{unit}" if unit == "%" else f"{_num(n)} {unit}".strip()


def _derived_dose(dose: str | None, conc: str | None, volume: str | None) -> str | None:
    if dose or not (conc and volume and conc.endswith("mg/mL") and volume.endswith("mL")):
        return dose
    return f"{_num(Decimal(conc.split()[0]) * Decimal(volume.split()[0]))} mg"  # strength × volume, as stated


def gold_med_tuples(gold: GoldFacts) -> list[tuple]:
    from ..lexicon import BRAND_SALT

    out = []
    for m in gold.medications:
        salt = m.salt or BRAND_SALT.get(re.sub(r"-\d+$", "", m.as_written.lower()))
        use = m.use or {"contrast": "contrast", "sedative": "sedation"}.get(m.role, "injectate")
        conc, vol = _norm_amount(m.concentration), _norm_amount(m.volume)
        out.append((m.name.lower(), salt, _derived_dose(_norm_amount(m.dose), conc, vol), conc, vol, m.basis, use))
    return out


def model_med_tuples(facts: Facts) -> list[tuple]:
    out = []
    for m in facts.medications:
        name, salt, dose, conc, vol, basis, use = m.fact()
        conc, vol = _norm_amount(conc), _norm_amount(vol)
        out.append((name, salt, _derived_dose(_norm_amount(dose), conc, vol), conc, vol, basis, use))
    return list(dict.fromkeys(out))


def _gold_events(gold: GoldFacts) -> set[tuple[str, str]]:
    if gold.events is not None:
        return {(e.side, e.status) for e in gold.events}
    sides = {"left": ["left"], "right": ["right"], "bilateral": ["left", "right"]}.get(gold.side, [])
    return {(s, "performed") for s in sides}


def compare_fidelity(gold: GoldFacts, meds: list[tuple], events: set[tuple[str, str]], guidance: str | None,
                     purpose: str | None, named: list[str]) -> dict[str, Any]:
    """Per attribute tp/fp/fn, plus misattributed values (a value another gold fact owns: the anaesthetic's volume
    given to the steroid, a second procedure's drug listed as injectate) and invented values (in no gold fact)."""
    counts = {k: {"tp": 0, "fp": 0, "fn": 0} for k in FIDELITY_KINDS}
    misattributed: list[str] = []
    invented: list[str] = []
    all_gold = gold_med_tuples(gold)
    elsewhere = [g for g in all_gold if g[6] == "other_procedure"]
    gold_meds = [g for g in all_gold if g[6] != "other_procedure"]
    unmatched = list(gold_meds)
    for p in meds:
        same = [g for g in unmatched if g[0] == p[0]]
        if not same:
            owner = next((g for g in elsewhere if g[0] == p[0]), None)
            if owner is not None:
                misattributed.append(f"{p[0]} listed as {p[6]}; dictated for another procedure")
            else:
                invented.append(f"drug {p[0]} not dictated")
            for k in range(len(MED_ATTRS)):
                counts[MED_ATTRS[k]]["fp"] += p[k] is not None
            continue
        g = max(same, key=lambda g: sum(a == b for a, b in zip(p, g)))
        unmatched.remove(g)
        for k, attr in enumerate(MED_ATTRS):
            gv, pv = g[k], p[k]
            if gv is not None and pv == gv:
                counts[attr]["tp"] += 1
                continue
            if gv is not None:
                counts[attr]["fn"] += 1
            if pv is None:
                continue
            counts[attr]["fp"] += 1
            owners = [o[0] for o in all_gold if o is not g and o[k] == pv]
            if owners:
                misattributed.append(f"{p[0]} {attr} {pv} (dictated for {owners[0]})")
            else:
                invented.append(f"{p[0]} {attr} {pv} (dictated: {gv or 'none'})")
    for g in unmatched:
        for k, attr in enumerate(MED_ATTRS):
            counts[attr]["fn"] += g[k] is not None
    text = " ".join(named).lower()
    for g in elsewhere:  # recall: the draft names the second procedure's drug with it
        hit = g[0] in text
        counts["drug"]["tp" if hit else "fn"] += 1
    g_events = _gold_events(gold)
    counts["event"]["tp"] += len(g_events & events)
    counts["event"]["fn"] += len(g_events - events)
    counts["event"]["fp"] += len(events - g_events)
    invented += [f"{side} side {status} (not dictated)" for side, status in sorted(events - g_events)]
    for kind, g_val, p_val in (("guidance", gold.guidance, guidance), ("purpose", gold.purpose, purpose)):
        g_val = None if g_val == "unstated" else g_val
        if g_val and p_val == g_val:
            counts[kind]["tp"] += 1
            continue
        if g_val:
            counts[kind]["fn"] += 1
        if p_val:
            counts[kind]["fp"] += 1
            partial = kind == "purpose" and g_val == "diagnostic_and_therapeutic"
            if not partial:
                invented.append(f"{kind} {p_val} (dictated: {g_val or 'unstated'})")
    for proc in gold.other_procedures:
        # named when some note says "also dictated" with the procedure's side and level words
        words = [w for w in re.findall(r"\b(?:left|right|bilateral|[CTLS]\d(?:-[CTLS]?\d)?)\b", proc, re.I)]
        hit = any("also dictated" in n.lower() and all(w.lower() in n.lower() for w in words) for n in named)
        counts["other_procedure"]["tp" if hit else "fn"] += 1
    return {"counts": counts, "misattributed": misattributed, "invented": invented}


def raw_fidelity_inputs(purpose: str, raw: str | None):
    """(meds, events, guidance, purpose) a raw LLM reply states, or None: a composed note is read by the extractor;
    an extraction reply by its JSON contract (medications [{name, dose}])."""
    if not raw or not raw.strip():
        return None
    text = raw.strip()
    if purpose != "extract":
        from ..extract import extract_facts

        f = extract_facts(text)
        return (model_med_tuples(f), {(e.side, e.status) for e in f.events if e.side != "unsided"},
                None if f.guidance == "unstated" else f.guidance, None if f.purpose == "unstated" else f.purpose)
    fenced = re.match(r"^```(?:json)?\s*\n(.*?)\n?```$", text, re.S)
    try:
        data = json.loads(fenced.group(1) if fenced else text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    from ..medications import amounts as _amounts
    from ..lexicon import DRUG_PATTERN, DRUGS

    meds = []
    for m in data.get("medications") or []:
        if not isinstance(m, dict) or not isinstance(m.get("name"), str):
            continue
        named = DRUG_PATTERN.search(m["name"])
        generic, role = DRUGS[named.group("drug").lower()] if named else (m["name"].strip().lower(), "other")
        dose, conc, vol = _amounts("", " " + (m.get("dose") or "") if isinstance(m.get("dose"), str) else "", role)
        use = {"contrast": "contrast", "sedative": "sedation"}.get(role, "injectate")
        conc, vol = _norm_amount(conc), _norm_amount(vol)
        meds.append((generic, None, _derived_dose(_norm_amount(dose), conc, vol), conc, vol, None, use))
    side = data.get("side")
    events = {(s, "performed") for s in {"left": ["left"], "right": ["right"], "bilateral": ["left", "right"]}.get(side, [])}
    g = data.get("guidance") if data.get("guidance") not in (None, "", "unstated") else None
    p = data.get("purpose") if data.get("purpose") not in (None, "", "unstated") else None
    return meds, events, g, p


class FidelityScorer(Scorer):
    """Fact tuples of the final draft (and of raw LLM replies, where there are any) against the gold tuples:
    precision and recall per attribute, with misattributed and invented values counted apart."""

    name = "fidelity"

    def __init__(self) -> None:
        metrics = [
            Metric("fidelity_precision", "attributes of drafted fact tuples that equal the gold tuple's (micro)",
                   "ratio", "higher", numerator="_fid_tp", denominator="_fid_tp_fp"),
            Metric("fidelity_recall", "gold tuple attributes the final draft states (micro)", "ratio", "higher",
                   numerator="_fid_tp", denominator="_fid_tp_fn"),
            Metric("misattributed_tuples_final", "values in the final note that belong to another dictated fact "
                   "(another drug's volume, another procedure's drug)", "sum", "lower"),
            Metric("invented_tuples_final", "values in the final note that no dictated fact has", "sum", "lower"),
            Metric("misattributed_tuples_raw", "misattributed values in raw LLM replies, before grounding", "sum",
                   "lower"),
            Metric("invented_tuples_raw", "invented values in raw LLM replies, before grounding", "sum", "lower"),
        ]
        for k in FIDELITY_KINDS:
            metrics.append(Metric(f"fidelity_{k}_precision", f"drafted {k} values equal to gold", "ratio", "higher",
                                  numerator=f"_fid_{k}_tp", denominator=f"_fid_{k}_tp_fp"))
            metrics.append(Metric(f"fidelity_{k}_recall", f"gold {k} values the final draft states", "ratio",
                                  "higher", numerator=f"_fid_{k}_tp", denominator=f"_fid_{k}_tp_fn"))
        self.metrics = tuple(metrics)

    def score(self, s: DraftingSample) -> Score:
        out = Score()
        keys = ["misattributed_tuples_final", "invented_tuples_final", "misattributed_tuples_raw",
                "invented_tuples_raw", "_fid_tp", "_fid_tp_fp", "_fid_tp_fn"]
        keys += [f"_fid_{k}_{x}" for k in FIDELITY_KINDS for x in ("tp", "tp_fp", "tp_fn")]
        if s.draft is None:
            out.values.update({k: None for k in keys})
            return out
        d = s.draft
        gold = s.case.gold
        if d.note.strip():
            f = d.report.facts
            meds = model_med_tuples(f)
            events = {(e.side, e.status) for e in f.events if e.side != "unsided"}
            guidance = None if f.guidance == "unstated" else f.guidance
            purpose = None if f.purpose == "unstated" else f.purpose
        else:  # a one-line refusal states nothing
            meds, events, guidance, purpose = [], set(), None, None
        named = list(d.notes) + [x.message for x in d.report.findings]
        result = compare_fidelity(gold, meds, events, guidance, purpose, named)
        tp = fp = fn = 0
        for k, c in result["counts"].items():
            out.values[f"_fid_{k}_tp"] = float(c["tp"])
            out.values[f"_fid_{k}_tp_fp"] = float(c["tp"] + c["fp"])
            out.values[f"_fid_{k}_tp_fn"] = float(c["tp"] + c["fn"])
            tp, fp, fn = tp + c["tp"], fp + c["fp"], fn + c["fn"]
        out.values.update(_fid_tp=float(tp), _fid_tp_fp=float(tp + fp), _fid_tp_fn=float(tp + fn))
        out.values["misattributed_tuples_final"] = float(len(result["misattributed"]))
        out.values["invented_tuples_final"] = float(len(result["invented"]))
        out.details["fidelity_final"] = {k: result[k] for k in ("misattributed", "invented")}
        for item in result["misattributed"]:
            out.failures.append(f"MISATTRIBUTED in final note: {item}")
        for item in result["invented"]:
            out.failures.append(f"INVENTED tuple value in final note: {item}")
        raw_mis = raw_inv = 0
        raw_seen = 0
        raw_details = []
        for i, a in enumerate(d.attempts):
            parsed = raw_fidelity_inputs(a.purpose, a.raw)
            if parsed is None:
                continue
            raw_seen += 1
            r = compare_fidelity(gold, *parsed, [])
            raw_mis += len(r["misattributed"])
            raw_inv += len(r["invented"])
            if r["misattributed"] or r["invented"]:
                raw_details.append({"attempt": i, "purpose": a.purpose, "misattributed": r["misattributed"],
                                    "invented": r["invented"]})
        out.values["misattributed_tuples_raw"] = float(raw_mis) if raw_seen else None
        out.values["invented_tuples_raw"] = float(raw_inv) if raw_seen else None
        out.details["fidelity_raw"] = raw_details
        return out


# --- cost ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Price:
    input_per_mtok: float
    output_per_mtok: float


class PriceTable:
    """USD per million tokens by model name (fnmatch patterns; first match wins; '*' is the fallback)."""

    def __init__(self, prices: dict[str, Price] | None = None):
        self.prices = dict(prices or {})

    @classmethod
    def load(cls, path: str | Path | None) -> PriceTable:
        if path is None or not Path(path).is_file():
            return cls()
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        prices = {
            name: Price(float(v.get("input", 0)), float(v.get("output", 0)))
            for name, v in (data.get("models") or {}).items()
        }
        return cls(prices)

    def lookup(self, model: str | None) -> Price | None:
        if not model:
            return None
        if model in self.prices:
            return self.prices[model]
        for pattern, price in self.prices.items():
            if pattern != "*" and fnmatchcase(model, pattern):
                return price
        return self.prices.get("*")

    def cost(self, model: str | None, prompt_tokens: int, completion_tokens: int) -> float | None:
        price = self.lookup(model)
        if price is None:
            return None
        return (prompt_tokens * price.input_per_mtok + completion_tokens * price.output_per_mtok) / 1_000_000

    def as_dict(self) -> dict:
        return {k: {"input": v.input_per_mtok, "output": v.output_per_mtok} for k, v in self.prices.items()}


class CostScorer(Scorer):
    name = "cost"
    metrics = (
        Metric("llm_calls", "LLM calls per draft (cached replies included)", "mean", "lower"),
        Metric("prompt_tokens", "prompt tokens per draft", "mean", "lower"),
        Metric("completion_tokens", "completion tokens per draft", "mean", "lower"),
        Metric("cost_usd", "list-price cost per draft from the price table (what the calls cost uncached)", "mean",
               "lower"),
        Metric("cache_hit_rate", "LLM calls answered from the response cache", "ratio", "higher",
               deterministic=False, numerator="_cached_calls", denominator="_calls"),
        Metric("latency_ms", "wall time of draft() per case", "mean", "lower", deterministic=False, unit="ms"),
        Metric("llm_latency_ms", "time spent in LLM calls per draft", "mean", "lower", deterministic=False,
               unit="ms"),
    )

    def __init__(self, prices: PriceTable | None = None):
        self.prices = prices or PriceTable()

    def score(self, s: DraftingSample) -> Score:
        out = Score()
        out.values["latency_ms"] = s.wall_ms
        if s.draft is None:
            out.values.update(llm_calls=None, prompt_tokens=None, completion_tokens=None, cost_usd=None,
                              _cached_calls=None, _calls=None, llm_latency_ms=None)
            return out
        atts = s.draft.attempts
        pt = sum(a.prompt_tokens or 0 for a in atts)
        ct = sum(a.completion_tokens or 0 for a in atts)
        out.values["llm_calls"] = float(len(atts))
        out.values["prompt_tokens"] = float(pt)
        out.values["completion_tokens"] = float(ct)
        out.values["llm_latency_ms"] = float(sum(a.latency_ms for a in atts))
        out.values["_calls"] = float(len(atts)) if atts else None
        out.values["_cached_calls"] = float(sum(a.cached for a in atts)) if atts else None
        if not atts:
            out.values["cost_usd"] = 0.0
        else:
            costs = [self.prices.cost(a.model, a.prompt_tokens or 0, a.completion_tokens or 0) for a in atts]
            out.values["cost_usd"] = None if any(c is None for c in costs) else float(sum(costs))
        return out


class ValidatorScorer(Scorer):
    name = "validator"
    applies_to = "validator"
    metrics = (
        Metric("verdict_accuracy", "notes whose supported/unsupported verdict is the expected one", "rate",
               "higher"),
        Metric("false_supported", "notes the validator calls supported that are not", "sum", "lower"),
        Metric("false_rejected", "notes the validator rejects that support their codes", "sum", "lower"),
        Metric("suggested_codes_correct", "notes whose suggested code lines are the expected ones", "rate",
               "higher"),
        Metric("guidance_accuracy", "notes whose guidance fact is the expected (labelled) one", "rate", "higher"),
        Metric("side_accuracy", "notes whose side fact is the expected (labelled) one", "rate", "higher"),
        Metric("errors", "notes on which validate() raised", "sum", "lower"),
    )

    def score(self, s: ValidatorSample) -> Score:
        out = Score()
        exp = s.case.expected
        if s.report is None:
            out.values.update(verdict_accuracy=0.0, false_supported=0.0, false_rejected=0.0, errors=1.0,
                              suggested_codes_correct=0.0 if exp.suggested_codes is not None else None,
                              guidance_accuracy=0.0 if exp.guidance else None,
                              side_accuracy=0.0 if exp.side else None)
            out.failures.append(f"validate() raised: {s.error}")
            return out
        r = s.report
        out.values["errors"] = 0.0
        out.values["verdict_accuracy"] = float(r.supported == exp.supported)
        out.values["false_supported"] = float(r.supported and not exp.supported)
        out.values["false_rejected"] = float(exp.supported and not r.supported)
        if r.supported != exp.supported:
            why = "; ".join(f"{f.rule}: {f.message}" for f in r.errors[:4])
            label = "FALSE SUPPORTED" if r.supported else "false rejection"
            out.failures.append(f"{label}: expected supported={exp.supported} for {s.case.codes}" +
                                (f" ({why})" if why else ""))
        if exp.suggested_codes is not None:
            ok = lines_match(exp.suggested_codes, list(r.suggested_codes))
            out.values["suggested_codes_correct"] = float(ok)
            if not ok:
                out.failures.append(f"suggested {r.suggested_codes}; expected {exp.suggested_codes}")
        else:
            out.values["suggested_codes_correct"] = None
        for kind in ("guidance", "side"):
            want = getattr(exp, kind)
            if want is None:
                out.values[f"{kind}_accuracy"] = None
                continue
            got = getattr(r.facts, kind)
            out.values[f"{kind}_accuracy"] = float(got == want)
            if got != want:
                out.failures.append(f"{kind} read as {got}; labelled {want}")
        return out


def drafting_scorers(prices: PriceTable | None = None) -> list[Scorer]:
    return [CodeSupportScorer(), RefusalScorer(), RequiredElementsScorer(), GroundingScorer(), FactScorer(),
            FidelityScorer(), CostScorer(prices)]


def validator_scorers() -> list[Scorer]:
    return [ValidatorScorer()]


def all_metrics(scorers: list[Scorer]) -> dict[str, Metric]:
    out: dict[str, Metric] = {}
    for sc in scorers:
        for m in sc.metrics:
            out[m.name] = m
    return out
