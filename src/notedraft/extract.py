"""Text → Facts. The same deterministic reader serves dictations ("L SIJ inj, fluoro, 40 kenalog") and notes.

Only mentions that are *affirmed* count as facts; negated, planned, historical, declined and consent-discussion
mentions are kept in `Facts.discounted` so a scribe can see why "fluoroscopy" in the text did not count.
"""

from __future__ import annotations

import bisect
import dataclasses
import re

from . import events, family, icd10
from . import lexicon as lx
from .context import Mention, TextContext, contains, read
from .medications import dedupe_medications, dose_conflicts, read_medications, unread_amounts
from .models import Conflict, Diagnosis, Discounted, Event, Fact, Facts, Span
from .muscles import read_muscles

_NON_PROCEDURAL_SECTIONS = ("diagnosis", "history", "plan")


def extract_facts(text: str, reading: TextContext | None = None) -> Facts:
    """The facts of `text`. A text that describes more than one procedure is read once per procedure, each time
    from the parts that belong to it (events.py); the result is the first covered procedure's facts, with every
    procedure's in `Facts.procedures`."""
    ctx = reading if reading is not None else read(text)
    scopes = events.scopes_of(ctx)
    per: dict[str, Facts] = {}
    if len(scopes.families) > 1:
        for name in scopes.families:
            fam = family.by_name()[name]
            facts = _read_facts(ctx.masked(name))
            if facts.procedure != fam.procedure:
                continue  # its mentions did not establish it once read in its own parts (a plan, a title only)
            if _title_only(ctx, scopes, name):
                facts.conflicts.append(_title_conflict(ctx, scopes, name))
            per[fam.procedure] = facts
    if not per:
        facts = _read_facts(ctx)
        _title_names_another(ctx, scopes, {facts.procedure: facts})
        return facts
    _title_names_another(ctx, scopes, per)
    covered = {f.procedure for f in family.families() if f.spec.covered}
    primary = next((p for p in per if p in covered), next(iter(per)))
    facts = per[primary].model_copy()
    if len(per) > 1:
        facts.procedures = per
        facts.medications = _with_other_procedures_drugs(ctx, primary, per)
    facts.events = [e for f in per.values() for e in f.events]
    facts.named_procedures = sorted({p for f in per.values() for p in f.named_procedures} | set(per))
    return facts


def _with_other_procedures_drugs(ctx: TextContext, primary: str, per: dict[str, Facts]) -> list[Medication]:
    """The summary's drug list: its own drugs, and each other procedure's as `use="other_procedure"` with the
    procedure they were given in, so a draft names them rather than drafting them as the injectate."""
    labels = other_procedures(ctx)
    out = list(per[primary].medications)
    for procedure, facts in per.items():
        if procedure == primary:
            continue
        side = f"{facts.side} " if facts.side != "unstated" else ""
        fallback = side + family.procedure_label(procedure)
        for med in facts.medications:
            if not med.injectate or med.span is None:
                continue
            label = next((lab for a, b, lab in labels if a <= med.span.start < b), fallback)
            out.append(med.model_copy(update={"use": "other_procedure", "belongs_to": label}))
    return sorted(out, key=lambda m: m.span.start if m.span else -1)


def _title_names_another(ctx: TextContext, scopes: events.Scopes, per: dict[str, Facts]) -> None:
    """The title names a procedure the text never establishes, above one it does: which was done is a question."""
    for fam in family.families():
        if fam.procedure in per:
            continue
        titled = [a for a in scopes.strong(fam.name) if (_in_title(ctx, a.start) or _in_short_first(ctx, a.start))
                  and ctx.status(a.start, a.end) not in ("negated", "historical", "quoted", "declined")]
        if not titled:
            continue
        for procedure, facts in per.items():
            if procedure != "unstated":
                facts.conflicts.append(_named_not_done(ctx, fam.name, titled[0], facts))


def _title_only(ctx: TextContext, scopes: events.Scopes, name: str) -> bool:
    """Whether the family's procedure is named only in the note's title while its body documents other ones."""
    strong = scopes.strong(name)
    mine = [a for a in scopes.anchors if a.family == name and ctx.section_of(a.start).kind not in events.NON_PROCEDURAL]
    if not strong or not all(_in_title(ctx, a.start) for a in mine):
        return False  # the body names it too (even only as the place the needle went): not the title alone
    return any(not _in_title(ctx, a.start) for a in scopes.anchors if a.strong and a.family != name
               and ctx.section_of(a.start).kind not in events.NON_PROCEDURAL)


def _title_conflict(ctx: TextContext, scopes: events.Scopes, name: str) -> Conflict:
    fam = family.by_name()[name]
    body = next(a for a in scopes.anchors if a.strong and a.family != name and not _in_title(ctx, a.start))
    other = family.by_name()[body.family]
    first = scopes.strong(name)[0]
    return Conflict(
        kind="procedure",
        message=f"The title names a {fam.label}, but the procedure text documents a {other.label} and never "
                f"describes the {fam.label}.",
        question=f"Was a {fam.label} performed today? If so, describe it (guidance, needle placement, drugs).",
        evidence=[ctx.span(first.start, first.end), ctx.span(body.start, body.end)])


def _in_short_first(ctx: TextContext, pos: int) -> bool:
    """A first sentence of at most ten words ("Bilateral SI lateral branch blocks were planned.") heads the text."""
    end = ctx.sentence(0)[1]
    return pos < end < len(ctx.text) and len(ctx.text[:end].split()) <= 10


def _named_not_done(ctx: TextContext, name: str, titled: events.Anchor, facts: Facts) -> Conflict:
    fam = family.by_name()[name]
    done = family.by_procedure().get(facts.procedure)
    label = done.label if done else facts.procedure.replace("_", " ")
    return Conflict(
        kind="procedure",
        message=f"The title names a {fam.label}, but the procedure text documents a {label}.",
        question=f"Which procedure was performed today: the {fam.label} or the {label}?",
        evidence=[ctx.span(titled.start, titled.end)] + ([facts.procedure_span] if facts.procedure_span else []))


def _read_facts(ctx: TextContext) -> Facts:
    facts = Facts()
    _guidance(ctx, facts)
    _procedure(ctx, facts)
    _side(ctx, facts)
    _encounter_not_done(ctx, facts)
    if facts.procedure == "unstated":
        _planned_then_done(ctx, facts)
    mentions = read_medications(ctx, elsewhere=other_procedures(ctx))
    facts.medications = dedupe_medications(mentions)
    facts.conflicts += dose_conflicts(mentions, ctx.original)
    facts.unread_amounts = unread_amounts(ctx, mentions)
    facts.diagnoses = _diagnoses(ctx)
    _purpose(ctx, facts)
    facts.needle_confirmation = _first_affirmed(ctx, lx.NEEDLE_CONFIRMATION, "needle_confirmation", facts)
    facts.contrast = _first_affirmed(ctx, lx.CONTRAST, "contrast", facts)
    if facts.needle_confirmation is None:
        facts.needle_confirmation = _contrast_under_guidance(ctx, facts)
    if facts.needle_confirmation is None:  # only what was not seen is kept: "needle not visualized"
        _first_affirmed(ctx, lx.NEEDLE_VISUALIZATION, "needle_confirmation", facts)
    facts.images_recorded = _first_affirmed(ctx, lx.IMAGES_RECORDED, "images_recorded", facts)
    facts.guidance_description = _first_affirmed(ctx, lx.GUIDANCE_DESCRIPTION, "guidance_description", facts)
    _pain_scores(ctx, facts)
    _complications(ctx, facts)
    facts.levels = _unique_facts(ctx, lx.SPINE_LEVEL, "level")
    facts.muscles = read_muscles(ctx)  # counted as CPT counts them (muscles.py)
    if ctx.search(lx.FACILITY):
        facts.setting = "facility"
    elif ctx.search(lx.OFFICE):
        facts.setting = "office"
    _event_details(facts)
    _per_side_confirmation(ctx, facts)
    return facts


# A side narrated on its own ("Left side first: ... arthrogram ... Right side: ... injected."): a confirmation in
# one side's narration is that side's, and a side narrated without one (and without "identical technique", "the
# same was repeated") has none. A confirmation said of both ("contrast outlined each joint") or in a sentence that
# names both sides is the encounter's.
_SAME_TECHNIQUE = re.compile(r"\b(?:same|identical|similar|similarly|likewise|repeated|mirror\w*)\b", re.IGNORECASE)
_BOTH_SIDES = re.compile(r"\b(?:both|each|bilateral\w*|either|all)\b", re.IGNORECASE)
_SIDE_WORD = re.compile(r"\b(left|right)\b", re.IGNORECASE)


def _per_side_confirmation(ctx: TextContext, facts: Facts) -> None:
    performed = [e for e in facts.events if e.status == "performed"]
    if len(performed) != 2 or facts.needle_confirmation is None:
        return
    text = ctx.text
    anchors = sorted((sp.start, e.side) for e in performed for sp in e.evidence
                     if sp.text[:1].lower() in ("l", "r") and not _in_title(ctx, sp.start))
    owned: dict[str, int] = {"left": 0, "right": 0}
    for m in ctx.finditer(lx.NEEDLE_CONFIRMATION):
        if ctx.status(m.start(), m.end()) != "affirmed":
            continue
        s0, s1 = ctx.sentence(m.start())
        prior = [(p, side) for p, side in anchors if p <= m.start()]
        if _BOTH_SIDES.search(text, s0, s1) or not prior:
            return
        # the whole sentence up to the confirmation, across its semicolons ("On the LEFT, same technique; ...")
        p0 = max(text.rfind(". ", 0, m.start()), text.rfind("\n", 0, m.start())) + 1
        named = _SIDE_WORD.findall(text, min(p0, s0), m.start())
        if len({w.lower() for w in named}) == 1:
            owned[named[0].lower()] += 1  # "On the LEFT, same technique; contrast confirmed ...": its own side
            continue
        pos, side = prior[-1]
        a0 = ctx.sentence(pos)[0]
        if any(a0 <= p <= s1 and other != side for p, other in anchors):
            return  # "needles into the left and right joints; contrast confirmed": not one side's narration
        owned[side] += 1
    for event in performed:
        other = "right" if event.side == "left" else "left"
        if owned[event.side] or not owned[other]:
            continue
        mine = [p for p, side in anchors if side == event.side]
        if not mine:
            return
        start = ctx.sentence(mine[0])[0]
        after = [p for p, side in anchors if side == other and p > mine[0]]
        end = ctx.sentence(after[0])[0] if after else len(text)
        if _SAME_TECHNIQUE.search(text, start, end):
            continue
        event.needle_confirmation = False
        event.confirmation_evidence = []


def _event_details(facts: Facts) -> None:
    """Each event carries the encounter's guidance, procedure and confirmation: the text states them once for the
    encounter ("under fluoroscopy; contrast confirmed intra-articular spread on both sides"); per-side wording that
    contradicts them is a conflict or an aborted/periarticular status, read above."""
    for event in facts.events:
        event.procedure = facts.procedure
        event.guidance = facts.guidance
        event.needle_confirmation = facts.needle_confirmation is not None
        event.confirmation_evidence = [facts.needle_confirmation] if facts.needle_confirmation else []


def span_of(ctx: TextContext, start: int, end: int) -> Span:
    return ctx.span(start, end)


def _discount(facts: Facts, m: Mention, ctx: TextContext) -> None:
    facts.discounted.append(Discounted(kind=m.kind, reason=m.status, span=ctx.span(m.start, m.end)))  # type: ignore[arg-type]


# --- guidance ---------------------------------------------------------------------------------------------------


# Imaging used only to find the joint or mark the skin does not guide the needle.
_LOCALIZATION_ONLY = re.compile(
    r"\b(?:mark\w*|scout\w*|pre-?scan\w*|pre-?procedur\w*\s+scan|estimat\w*\s+(?:the\s+)?depth|depth|localiz\w*"
    r"\s+(?:the\s+)?(?:skin|entry)|skin\s+entry|survey)\b", re.IGNORECASE)
_NEGATIVE_STATUSES = ("negated", "unchecked")


# A noun right after the modality word is the subject the clause speaks of ("ultrasound images", "fluoroscopy time").
_OWN_SUBJECT = re.compile(r"[\s-]*(?:guided\s+)?(?:images?|views?|films?|stills?|clips?|cine|time|dose|record\w*|report"
                          r"|printer|storage|archiv\w*)\b", re.IGNORECASE)


def _says_not_used(ctx: TextContext, m: Mention) -> bool:
    """Whether a mention says the modality itself was not used: an unchecked box, a negative field, "without
    fluoroscopy", "fluoroscopy was not used" — not a "not" that belongs to another verb of the clause."""
    if m.status == "unchecked":
        return True
    if m.status != "negated":
        return False
    field = ctx.field_at(m.start)
    if field is not None and field.negative and m.start < field.label_end:
        return True
    c_start, c_end = ctx.clause(m.start)
    before, after = ctx.text[c_start : m.start], ctx.text[m.end : max(c_end, m.end)]
    if _OWN_SUBJECT.match(after):
        return False  # "Ultrasound images were not saved": the negation is the images', not the guidance's
    return lx.NEGATION_PASS_THROUGH is not None and (
        _negated_by_determiner(before) or contains(lx.NEGATION_AFTER, after, at_start=True)
        or bool(re.match(r"\W*(?:\w+\s+){0,3}?(?:was|were|is|are)?\s*(?:not|never|n't)\b|\W*(?:\w+\s+){0,2}?(?:wasn'?t|weren'?t)\b",
                         after, re.IGNORECASE))
        or bool(re.search(r"\b(?:did\s+not|didn'?t|do\s+not|don'?t|was\s+not|wasn'?t|not)\s+(?:use|utilize|employ|need|perform|done)\w*"
                          r"(?:\s+(?:the\s+)?(?:use\s+of\s+)?)?\s*$|\bnot\s+(?:done\s+)?(?:under|with|using)\s*$", before, re.IGNORECASE)))


_CORRECTION = re.compile(r"\b(?:correct(?:ion|ed)|amend(?:ed|ment)|addend(?:um|a)|erratum|late\s+entry"
                         r"|should\s+(?:have\s+)?read|entered\s+in\s+error|documented\s+in\s+error)\b", re.IGNORECASE)
_PARAGRAPH = re.compile(r"\n[ \t]*\n")


def _in_correction(ctx: TextContext, pos: int) -> bool:
    """Whether `pos` stands in a correction of the record: a section named so, or a paragraph that opens with one."""
    sec = ctx.section_of(pos)
    if sec.name and _CORRECTION.search(sec.name):
        return True
    # the last paragraph break that ends at or before `pos`; the breaks are found once per reading (a search from
    # the start for every mention made a long text quadratic)
    ends = ctx.__dict__.get("_paragraph_ends")
    if ends is None:
        ends = ctx._paragraph_ends = [m.end() for m in _PARAGRAPH.finditer(ctx.text)]
    i = bisect.bisect_right(ends, pos)
    para = ends[i - 1] if i else 0
    if _CORRECTION.search(ctx.text, para, min(pos, para + 80)) is not None:
        return True
    # a line that opens with one: "ADDENDUM (same day, performing physician): correction - ..."
    line = max(ctx.text.rfind("\n", 0, pos), ctx.text.rfind("\r", 0, pos)) + 1
    return line > para and _CORRECTION.match(ctx.text, line + len(ctx.text[line:pos]) - len(ctx.text[line:pos].lstrip())) is not None


def _superseded_by_correction(ctx: TextContext, facts: Facts, affirmed: dict, negative: dict) -> None:
    """A later correction that denies a modality supersedes the statements of it it corrects ("Correction: this
    injection was performed under ultrasound guidance; fluoroscopy was not used"): the record as amended holds,
    and the superseded statements are kept as set aside. Only a correction after every statement it denies."""
    for kind in list(negative):
        denials = [d for d in negative[kind] if _in_correction(ctx, d.start)]
        stated = affirmed.get(kind, [])
        before = [a for a in stated if not _in_correction(ctx, a.start)]
        if not denials or not before:
            continue
        # the correction's own mentions of the modality speak of it to deny it ("the fluoroscopy sentence was
        # carried in from the wrong template")
        if max(a.start for a in before) < min(d.start for d in denials):
            for a in affirmed.pop(kind):
                _discount(facts, dataclasses.replace(a, status="doubted"), ctx)
            negative.pop(kind)


def _no_imaging_said(ctx: TextContext, m: re.Match[str]) -> bool:
    status = ctx.status(m.start(), m.end())
    if status == "negated":  # "Imaging: none" is a negative field whose negation is the statement itself
        field = ctx.field_at(m.start())
        if field is not None and m.end() > field.label_end:
            if field.negative:
                return True
            box = ctx.box_at(m.end() - 1)  # "Guidance: [ ] CT [X] None (landmarks)": the checked item says it
            return box is not None and box.checked
        row = ctx.row_at(m.start())  # "| Guidance | None (palpation) |": the row's label and its negative value
        return row is not None and _GUIDANCE_ROW.match(ctx.text, row[0], row[1]) is not None
    return status == "affirmed"


# A table row whose first cell is the guidance and whose second says none: "| Guidance | None (palpation) |"
_GUIDANCE_ROW = re.compile(r"[ \t|]*(?:needle\s+)?(?:imaging|image\s+guidance|guidance)(?:\s+used)?[ \t]*(?:\t|\|)[ \t|]*"
                           r"(?:none|no|n/a)\b[^|\t\r\n]*(?:[|\t][ \t|]*)?$", re.IGNORECASE)


def _negated_by_determiner(before: str) -> bool:
    from .reading import _negated_before

    return _negated_before(before)


_CT_RIGHT_BEFORE = re.compile(r"\bCT[- ]?$", re.IGNORECASE)


def _guidance(ctx: TextContext, facts: Facts) -> None:
    mentions: list[Mention] = []
    ct_spans = [m.span() for m in ctx.finditer(lx.GUIDANCE_TERMS["ct"])]
    mentions += [ctx.mention("ct", m) for m in ctx.finditer(lx.GUIDANCE_TERMS["ct"])]
    # "CT fluoroscopy" is CT: its "fluoro" is not a second modality
    mentions += [ctx.mention("fluoroscopy", m) for m in ctx.finditer(lx.GUIDANCE_TERMS["fluoroscopy"])
                 if not any(a <= m.start() < b for a, b in ct_spans)
                 and not _CT_RIGHT_BEFORE.search(ctx.text, max(0, m.start() - 4), m.start())]  # "under CT fluoroscopy"
    mentions += [ctx.mention("ultrasound", m) for m in lx.ultrasound_mentions(ctx.text, ctx.finditer)]
    affirmed: dict[str, list[Mention]] = {}
    negative: dict[str, list[Mention]] = {}
    marked_only: set[int] = set()
    for m in sorted(mentions, key=lambda m: m.start):
        if m.status == "affirmed":
            c_start, c_end = ctx.clause(m.start)
            if _LOCALIZATION_ONLY.search(ctx.text, c_start, c_end):
                _discount(facts, dataclasses.replace(m, status="doubted"), ctx)  # imaging that only marked the skin
                marked_only.add(m.start)
                continue
            affirmed.setdefault(m.kind, []).append(m)
        else:
            _discount(facts, m, ctx)
            if _says_not_used(ctx, m):
                negative.setdefault(m.kind, []).append(m)
    _superseded_by_correction(ctx, facts, affirmed, negative)
    # "No imaging", "Imaging: none": the negation is what it says, not a doubt about it.
    no_imaging = [m for m in ctx.finditer(lx.NO_IMAGING) if _no_imaging_said(ctx, m)
                  and not any(a <= m.start() < b for a, b in (ctx.sentence(x.start) for x in mentions
                                                               if x.status == "affirmed" and x.start not in marked_only))]
    if affirmed:  # "located by palpation" beside fluoroscopy finds an artery; only words about imaging contradict it
        no_imaging = [m for m in no_imaging if re.search(r"imag|landmark", m.group(), re.IGNORECASE)]
    kinds = sorted(affirmed, key=lambda k: affirmed[k][0].start)
    if no_imaging:
        kinds.append("none")
    spans = {k: [ctx.span(m.start, m.end) for m in v] for k, v in affirmed.items()}
    spans["none"] = [ctx.span(m.start(), m.end()) for m in no_imaging]
    if len(kinds) > 1:  # never a priority order: two modalities guiding one needle is a question, not a tie
        names = " and ".join("no imaging" if k == "none" else k for k in kinds)
        facts.conflicts.append(Conflict(
            kind="guidance",
            message=f"The text establishes more than one guidance for the needle: {names}.",
            question=f"Which guided the needle: {names.replace(' and ', ' or ')}? If one only marked the skin or "
                     "estimated depth, say so.",
            evidence=sorted((s for k in kinds for s in spans[k][:2]), key=lambda s: s.start)))
        return
    if not kinds and any(m.status == "negated" for ms in negative.values() for m in ms):
        # "without fluoroscopy", "fluoroscopy was not used": the text says the needle was not imaged that way
        said = sorted((m for ms in negative.values() for m in ms if m.status == "negated"), key=lambda m: m.start)
        facts.guidance, facts.guidance_spans = "none", [ctx.span(m.start, m.end) for m in said]
        return
    if kinds:
        kind = kinds[0]
        if kind in negative:  # "fluoroscopy was not used" and "under fluoroscopy" in one note
            facts.conflicts.append(Conflict(
                kind="checkbox" if any(m.status == "unchecked" for m in negative[kind]) else "guidance",
                message=f"The text both states and denies {kind}: {negative[kind][0].text!r} is {negative[kind][0].status}.",
                question=f"Was {kind} used to guide the needle?",
                evidence=sorted(spans[kind][:1] + [ctx.span(negative[kind][0].start, negative[kind][0].end)],
                                key=lambda s: s.start)))
            return
        facts.guidance = kind  # type: ignore[assignment]
        facts.guidance_spans = spans[kind]


# --- procedure --------------------------------------------------------------------------------------------------


def _procedure(ctx: TextContext, facts: Facts) -> None:
    """The procedure the text documents, from the families' words (families/*/family.toml): a mention that names
    the procedure (or its target with an action or a drug beside it) in a part of the text about today's
    procedure, affirmed. A target named with nothing done to it ("the needle was moved to the inferior third of
    the SI joint") counts only when nothing else is named."""
    diagnosis_phrases = ctx.finditer(lx.DIAGNOSIS_TERMS)
    phrase_starts = [m.start() for m in diagnosis_phrases]

    def procedural(a: events.Anchor) -> bool:
        i = bisect.bisect_right(phrase_starts, a.start) - 1  # inside a diagnosis phrase ("sacroiliac joint pain")?
        if i >= 0 and a.start < diagnosis_phrases[i].end():
            return False
        if ctx.section_kind(a.start) in _NON_PROCEDURAL_SECTIONS:
            return False
        return ctx.status(a.start, a.end) == "affirmed"

    anchors = events.scopes_of(ctx).anchors
    strong = [a for a in anchors if (a.strong or _drug_beside(ctx, a)) and procedural(a)]
    chosen = strong
    if not chosen:
        # the joint named only where the needle went counts when nothing else is named ("the needle was moved
        # to the inferior third of the SI joint"); named in an exam finding ("SI joint provocative tests
        # negative") it is no procedure
        chosen = [a for a in anchors if procedural(a) and _weak_counts(ctx, a) and not _exam_finding(ctx, a)]
    if not chosen:
        return
    by_family = family.by_name()
    first = min(chosen, key=lambda a: a.start)
    kinds = {by_family[a.family].procedure for a in chosen}
    facts.named_procedures = sorted(kinds)
    if len(kinds) > 1:
        # Two procedures established in text that could not be told apart (one sentence naming both with nothing
        # to split them by): a question, never a choice by position.
        named = sorted(kinds)
        facts.conflicts.append(Conflict(
            kind="procedure",
            message="The text names more than one procedure for the same statements: "
                    + ", ".join(k.replace("_", " ") for k in named) + ".",
            question="Which procedure was performed today, and which statements belong to which?",
            evidence=[ctx.span(first.start, first.end)] + [ctx.span(a.start, a.end) for a in chosen
                                                          if by_family[a.family].procedure != by_family[first.family].procedure][:1]))
        return
    facts.procedure = by_family[first.family].procedure  # type: ignore[assignment]
    facts.procedure_span = ctx.span(first.start, first.end)


def _planned_then_done(ctx: TextContext, facts: Facts) -> None:
    """"Bilateral SIJ injections planned. Right: fluoro, contrast IA, 20 mg kenalog ... Left: not injected": the
    plan names the procedure and the text says it was done on a side, so it is that procedure, on that side."""
    if not facts.performed_sides() or facts.conflicts:
        return
    for a in events.scopes_of(ctx).anchors:
        if (a.strong and ctx.section_kind(a.start) not in _NON_PROCEDURAL_SECTIONS
                and ctx.status(a.start, a.end) == "planned" and ctx.local_status(a.start, a.end) == "planned"):
            facts.procedure = family.by_name()[a.family].procedure
            facts.procedure_span = ctx.span(a.start, a.end)
            facts.named_procedures = sorted(set(facts.named_procedures) | {facts.procedure})
            return


def _drug_beside(ctx: TextContext, a: events.Anchor) -> bool:
    """A target with a drug in its sentence is the procedure, for a family whose target is its site ("40 mg
    Kenalog into the left SI joint"); contrast is not such a drug ("iohexol without epidural spread")."""
    if not family.by_name()[a.family].spec.detect.landmark:
        return False
    s_start, s_end = ctx.sentence(a.start)
    return any(lx.DRUGS[m.group("drug").lower()][1] not in ("contrast", "sedative")
               for m in lx.DRUG_PATTERN.finditer(ctx.text, max(s_start, a.start - 240), min(s_end, a.end + 240)))


_EXAM_FINDING = re.compile(r"\b(?:provocative|tests?|tender\w*|exam\w*|maneuvers?|FABER|Patrick|Gaenslen|thrust|"
                           r"compression|distraction|Yeoman|Fortin|palpat\w*\s+tender\w*)\b", re.IGNORECASE)


def _exam_finding(ctx: TextContext, a: events.Anchor) -> bool:
    """"Sacroiliac joint provocative tests negative bilaterally": the joint named in an exam finding, no procedure."""
    s_start, s_end = ctx.sentence(a.start)
    return _EXAM_FINDING.search(ctx.text, max(s_start, a.start - 240), min(s_end, a.end + 240)) is not None


def _weak_counts(ctx: TextContext, a: events.Anchor) -> bool:
    # a target named as a landmark counts only for a family that says so (the joint is its procedure's site)
    return family.by_name()[a.family].spec.detect.landmark


# --- side ---------------------------------------------------------------------------------------------------------


_COMPARED_BEFORE = re.compile(r"(?:greater|worse|more)\s+than\s*$", re.IGNORECASE)
_COMPARED_AFTER = re.compile(r"\s*(?:greater|worse|more)\s+than\b", re.IGNORECASE)


# A side names the procedure's side only when it stands next to what was acted on ("left SI joint", "the joint on
# the right", "L SIJ", "bilateral injections"), never from any side word ("at a right angle", "pulses 2/4 bilateral").
_STRUCTURE = re.compile(
    r"\b(?:SIJ?s?|S\.I\.|sacro-?ill?iac|sacral|joints?|jt|knees?|hips?|shoulders?|elbows?|wrists?|ankles?|fingers?"
    r"|toes?|thumbs?|PIP|DIP|MCP|MTP|facets?|foramen|foramina|neuroforam\w*"
    r"|nerves?|genicular|roots?|rami|ramus|branch\w*|inj\w*|block\w*|[CTLS]\d(?:\s*-\s*[CTLS]?\d)?|insert\w*|catheter|interspace"
    r"|lamina|paramedian|transforaminal|epidural|ESI|TFESI|medial|lateral\s+branch|sympathetic|stellate|ganglion"
    r"|trigger\s+points?|TPIs?|muscles?|trapezius|paraspinal\w*|notch|bursa|acromioclavicular|AC|glenohumeral"
    r"|piriformis|SI|procedures?|sided)\b",
    re.IGNORECASE,
)
# "the left side" counts only with something done to it: "the left side was injected", "repeated on the right side".
_SIDE_ACTION = re.compile(r"\bsides?\b[^.;]{0,60}?\b(?:inj\w*|block\w*|needle|placed|performed|repeated|done|treated"
                          r"|carried\s+out|advanced|insert\w*|approach\w*|accessed|entered|aborted|attempted|completed|cancel+ed|deferred|declined|skipped|omitted"
                          r"|not\s+performed)\b"
                          r"|\b(?:inj\w*|block\w*|needle|placed|performed|repeated|done|treated|carried\s+out|advanced"
                          r"|insert\w*|approach\w*|accessed|entered|aborted|attempted|completed|cancel+ed)\b[^.;]{0,60}?\bsides?\b", re.IGNORECASE)
# "The same was repeated on the left (side)": the procedure acted on that side.
_REPEATED_ON = re.compile(r"\b(?:repeated|performed|done|carried\s+out)\s+(?:again\s+)?on\s+the\s*$", re.IGNORECASE)
# Site marking and the time-out name the side meant.
_SITE_MARKING = re.compile(r"\b(?:sides?|sites?)\s+(?:was\s+|were\s+)?(?:marked|verified)\b|\bmarked\s+(?:the\s+)?(?:side|site)\b"
                           r"|\bsite[- ]mark\w*|\btime-?\s?out\b|\buniversal\s+protocol\b", re.IGNORECASE)
# "then repeated on the": under a title naming both sides, the side a repeat names is the second one.
_REPEAT_OF_OTHER = re.compile(r"\b(?:then\s+)?repeated\s+(?:again\s+)?on\s+the\s*$", re.IGNORECASE)
# What may follow the side in "repeated on the right (side)": nothing more about where.
_REPEATED_SIDE_END = re.compile(r"(?:\s+sides?\b|(?=\s*(?:[.;]|$)))", re.IGNORECASE)
_SIDE_UP = re.compile(r"\s+side\s+(?:up|down)\b", re.IGNORECASE)
_SIDE_AFTER = re.compile(r"\s+side\b", re.IGNORECASE)
_LYING_ON = re.compile(r"\b(?:lying|lie|lay|laid|lies|positioned|placed|turned|rolled)\s+(?:\w+\s+){0,2}?on\s+"
                       r"(?:his|her|their|the)\s+$", re.IGNORECASE)
_NOT_A_SIDE = re.compile(r"\s*(?:angle\w*|away|now|after|here|there|renal|kidney|lung|breast|eye|ear|ventric\w*"
                         r"|atri\w*|heart|carotid|radial|pedal|pulses?|upper|lower|hand\w*|arm|leg|foot|feet)\b",
                         re.IGNORECASE)
# What did not happen to a side: "the right side was aborted", "unable to enter the left joint", "nothing was injected
# on the right", "periarticular spread only".
_ABORTED = re.compile(r"\b(?:abort\w*|abandon\w*|cancel\w*|terminat\w*|stopped|deferred|declined|skipped|omitted|not\s+(?:performed|injected|done|completed)"
                      r"|before\s+any\s+(?:needle|injection|medication)"
                      r"|unable|could\s+not|couldn't|nothing\s+(?:was\s+)?injected|no\s+(?:medication|injectate|injection)"
                      r"|not\s+(?:be\s+)?(?:entered|accessed|reached)|unsuccessful\w*"
                      # "failed PT / conservative care" is history, not a side that failed today
                      r"|fail\w*(?!\s+(?:PT|physical|conservative|therapy|treatment|NSAIDs?|medications?|meds|injections?|chiro\w*)\b))\b",
                      re.IGNORECASE)
# "the left SI joint lines could not be resolved, so the injection was performed under CT guidance": what could not
# be seen on one imaging, and the injection done after all, is no side aborted
_NOT_SEEN = re.compile(r"(?:could\s+not|couldn't|unable\s+to)\s+(?:be\s+)?(?:resolv|seen|see\b|visuali[sz]|identif|delineat|defin"
                       r"|outlin|profil)", re.IGNORECASE)
_DONE_INSTEAD = re.compile(r"\b(?:so|and|then|therefore|thus|instead)\b[^.;]{0,40}\b(?:was|were)\s+(?:then\s+|instead\s+)?"
                           r"(?:performed|done|completed|injected|carried\s+out)\b", re.IGNORECASE)
_NOTHING_YET = re.compile(r"\bbefore\s+any\s+(?:needle|injection|medication|drug)\b|\bno\s+needle\s+was\s+(?:inserted|placed|advanced)\b",
                          re.IGNORECASE)
_PERIARTICULAR = re.compile(r"\bperi-?articular\b|\bextra-?articular\b|\bno\s+intra-?articular\s+(?:filling|spread|flow)"
                            r"|\b(?:not|n't)\s+(?:be\s+)?(?:confirm\w*|achiev\w*|obtain\w*)[^.;]{0,30}intra-?articular", re.IGNORECASE)


_DX_AFTER_SIDE = re.compile(
    r"\s*(?:(?:SIJ?|S\.I\.|sacro-?ill?iac|SI\s+(?:jt|joint))\s+)?(?:joint\s+|jt\s+)?(?:sacroiliitis|dysfunction|pain|arthropathy"
    r"|syndrome|arthritis|sprain|strain)\b", re.IGNORECASE)
_SIDE_OF_DIAGNOSIS = re.compile(r"\s*(?:SIJ?|S\.I\.|sacro-?iliac|sacroiliitis|SI\s+(?:jt|joint))", re.IGNORECASE)


# (a bulleted field too: "• Side: left", "- Laterality: right")
_SIDE_FIELD = re.compile(r"(?:^|[\r\n])[ \t]*(?:[•·▪◦‣*-][ \t]*)?(?:side|laterality|site)\s*[:=]", re.IGNORECASE)


def _side_line(ctx: TextContext, pos: int) -> bool:
    """Whether `pos` stands on a "Side: (x) Left ( ) Right" line: a declaration of the procedure's side."""
    line_start = max(ctx.text.rfind("\n", 0, pos), ctx.text.rfind("\r", 0, pos)) + 1
    return bool(_SIDE_FIELD.match(ctx.text, max(0, line_start - 1) if line_start else 0)) and \
        ctx.text[line_start:pos].count(":") >= 1 and bool(_SIDE_FIELD.match("\n" + ctx.text[line_start:pos]))


_SIDE_AS_LABEL = re.compile(r"[ \t]*(?:side|SIJ|SI\s+joint|sacroiliac\s+joint|joint)?[ \t]*:", re.IGNORECASE)
_SIDE_LABEL_VALUE = re.compile(r"\b(?:fluoro\w*|ultrasound|sonograph\w*|CT|contrast|needle|inject\w*|inj|IA|intra-?articular"
                               r"|arthrogra\w*|\d+\s*(?:mg|mL|cc))\b", re.IGNORECASE)
# "On the right, ...", and each side of a chain: "On the left and then the right, ..."
_SIDE_LEAD = re.compile(r"\s*(?:\d+[.)]\s*)?(?:(?:then|next|first|and)\s+)?(?:on|to|at|for|in)\s+the\s+"
                        r"(?:(?:left|right)\s*(?:,\s*(?:and\s+)?(?:then\s+)?|(?:and\s+)?then\s+|and\s+)"
                        r"(?:(?:on|to|at|in)\s+)?(?:the\s+)?)*", re.IGNORECASE)
_SIDE_LEAD_ACTION = re.compile(r"\b(?:needle|inject\w*|advanced|placed|entered|performed|repeated|accessed|cannulated)\b",
                               re.IGNORECASE)


def _side_is_structural(ctx: TextContext, m: re.Match[str]) -> bool:
    text = ctx.text
    if _side_line(ctx, m.start()):
        return True
    if _NOT_A_SIDE.match(text, m.end()) or contains(lx.SIDE_NOT_PROCEDURAL, text[m.end() : m.end() + 30].lstrip(), at_start=True):
        return False
    if _SIDE_UP.match(text, m.end()) or (_SIDE_AFTER.match(text, m.end())
                                         and _LYING_ON.search(text, max(0, m.start() - 40), m.start())):
        return False  # "lying on her right side, left side up": how the patient lay, not the side injected
    before = text[max(0, m.start() - 20) : m.start()]
    if contains(_COMPARED_BEFORE, before) or contains(_COMPARED_AFTER, text[m.end() : m.end() + 30], at_start=True):
        return False
    if contains(lx.SIDE_AFTER_CONTRAST, text[max(0, m.start() - 60) : m.start()]) and not re.match(
            r"\s+(?:SIJ?|S\.I\.|sacro-?iliac|joint|jt)\b", text[m.end() : m.end() + 20], re.IGNORECASE):
        return False  # "bilateral spread", "flowing to the right" — but "spread within the right joint" names the joint
    # "On the right, a 22-gauge needle was advanced ...": a side that leads its sentence names the side acted on
    s_start, s_end = ctx.sentence(m.start())
    # "Right: fluoro, contrast IA, 20 mg kenalog": a side as the label of what was done to it
    label = _SIDE_AS_LABEL.match(text, m.end())
    if label and _SIDE_LABEL_VALUE.search(text, label.end(), min(len(text), label.end() + 160)):
        return True
    if _SIDE_LEAD.fullmatch(text, s_start, m.start()) and _SIDE_LEAD_ACTION.search(text, m.end(), min(s_end, m.end() + 160)):
        return True
    if _REPEATED_ON.search(text, max(s_start, m.start() - 60), m.start()) and _REPEATED_SIDE_END.match(text, m.end()):
        return True  # "The same was repeated on the right.": the procedure, again, on that side
    # the thing acted on stands within a few words, in the same clause
    c_start, c_end = ctx.clause(m.start())
    s_start, s_end = ctx.sentence(m.start())
    lo = max(s_start, m.start() - 60)
    hi = min(s_end, m.end() + 60)
    window = text[lo : m.start()] + " " + text[m.end() : hi]
    return (contains(_STRUCTURE, window) or contains(_SIDE_ACTION, text[s_start:s_end])
            or any(contains(t, window) for t in _family_targets()))


_TARGETS: tuple[re.Pattern[str], ...] | None = None


def _family_targets() -> tuple[re.Pattern[str], ...]:
    """The anatomy every procedure family acts on (families/*/family.toml): "Right wrist injection" names a side of
    a structure as much as "right knee" does."""
    global _TARGETS
    if _TARGETS is None:
        _TARGETS = tuple(t for f in family.families() if (t := f.targets) is not None)
    return _TARGETS


def _done_today_in_impression(ctx: TextContext, m: re.Match[str]) -> bool:
    """A side in an impression/assessment sentence that affirms the procedure on that side was done today
    ("Therapeutic left SI joint injection performed today"): affirmed, next to what was acted on."""
    if ctx.section_of(m.start()).kind != "diagnosis" or ctx.status(m.start(), m.end()) != "affirmed":
        return False
    s_start, s_end = ctx.sentence(m.start())
    return (_DONE_TODAY.search(ctx.text, s_start, s_end) is not None
            and _PROCEDURE_WORD.search(ctx.text, s_start, s_end) is not None and _side_is_structural(ctx, m))


_IN_ERROR = re.compile(r"\b(?:error|erroneous\w*|mistake\w*|typo|incorrect\w*|wrong\w*|mis-?(?:typed|dictated|transcribed))\b",
                       re.IGNORECASE)


def _superseded_side(ctx: TextContext, facts: Facts, found: dict, mentioned: dict) -> None:
    """A later correction of the side supersedes the side it corrects ("Addendum: correction - the injection was on
    the LEFT side; 'Right' in the procedure line was a transcription error"): the correction affirms one side as
    done, says in so many words that the other side's mention was an error, and every statement of that other
    side stands before it. Then the other side's statements are set aside; anything less stays a conflict."""
    text = ctx.text

    def denial(pos: int) -> bool:  # "'Right' in the procedure line was a transcription error", "the header
        s_start, s_end = ctx.sentence(pos)  # above incorrectly reads 'Left'"
        return _IN_ERROR.search(text, s_start, s_end) is not None

    in_corr = {s: [sp for sp in found[s] if _in_correction(ctx, sp[0]) and not denial(sp[0])]
               for s in ("left", "right", "bilateral")}
    kept = {s for s, spans in in_corr.items() if spans}
    if len(kept) != 1 or kept == {"bilateral"}:
        return
    (side,) = kept
    other = "right" if side == "left" else "left"
    # the other side named as the error, or denied ("The right SI joint was not injected") in a correction that
    # says an error was made ("The side in the heading was entered in error")
    says_error = any(_in_correction(ctx, m.start()) for m in _IN_ERROR.finditer(text))
    denials = [m.start() for m in ctx.finditer(lx.SIDE_WORDS)
               if m.lastgroup == other and _in_correction(ctx, m.start())
               and (denial(m.start()) or (says_error and ctx.status(m.start(), m.end()) == "negated"))]
    if not denials or any(_IN_ERROR.search(text, *ctx.sentence(a)) for a, _ in in_corr[side]):
        return
    first = min(denials + [a for a, _ in in_corr[side]])
    stated = [sp for sp in found[other] + mentioned[other] if not _in_correction(ctx, sp[0])]
    if any(a >= first for a, _ in stated) or any(a >= first for a, _ in found["bilateral"]):
        return
    for a, b in found[other]:
        facts.discounted.append(Discounted(kind=f"side:{other}", reason="doubted", span=ctx.span(a, b)))
    found[other] = []
    mentioned[other] = []


def _side(ctx: TextContext, facts: Facts) -> None:
    found: dict[str, list[tuple[int, int]]] = {"left": [], "right": [], "bilateral": []}
    not_done: dict[str, list[tuple[int, int, str]]] = {"left": [], "right": []}
    mentioned: dict[str, list[tuple[int, int]]] = {"left": [], "right": []}
    dx_sides: dict[str, list[tuple[int, int]]] = {"left": [], "right": []}
    summary: dict[str, list[tuple[int, int]]] = {"left": [], "right": [], "bilateral": []}
    repeats: set[tuple[int, int]] = set()  # "then repeated on the left side"
    marked: dict[str, list[tuple[int, int]]] = {"left": [], "right": []}  # the side a time-out or site marking names
    text = ctx.text
    matches = [(m, m.lastgroup) for m in ctx.finditer(lx.SIDE_WORDS)]
    matches += [(m, "left" if m.group("letter").upper() == "L" else "right") for m in lx.SIDE_LETTER.finditer(text)]
    elsewhere = other_procedures(ctx)  # "also right knee injection": that side is the other procedure's
    for m, side in sorted(matches, key=lambda x: x[0].start()):
        if any(a <= m.start() < b for a, b, _ in elsewhere):
            continue
        mention = ctx.mention(f"side:{side}", m)
        structural = ctx.section_kind(m.start()) not in _NON_PROCEDURAL_SECTIONS and _side_is_structural(ctx, m)
        c_start, c_end = ctx.sentence(m.start())
        if side in not_done and mention.status == "affirmed":  # "left extra-articular spread" is not "structural"
            # "right periarticular spread only": affirmed words that say the side was not intra-articular
            k_start, k_end = _side_clause(text, m.start(), m.end(), c_start, c_end)
            if _PERIARTICULAR.search(text, k_start, k_end):
                not_done[side].append((k_start, k_end, "periarticular"))
            elif _NOTHING_YET.search(text, c_start, c_end):
                # "While the right side was being prepared and before any needle was placed on the right, ..."
                not_done[side].append((c_start, c_end, "aborted"))
        if side in not_done and structural and mention.status in ("negated", "doubted", "declined"):
            sentence = text[c_start:c_end]
            if _PERIARTICULAR.search(sentence):
                not_done[side].append((c_start, c_end, "periarticular"))
            elif (aborted := _ABORTED.search(sentence)) and not _DONE_INSTEAD.search(sentence, aborted.end()) \
                    and not _NOT_SEEN.match(sentence, aborted.start()):
                not_done[side].append((c_start, c_end, "aborted"))
        if structural and mention.status in ("doubted", "affirmed", "conditional") and side != "bilateral":
            mentioned[side].append((m.start(), m.end()))  # named as acted on, even in a doubtful clause
        if side != "bilateral" and mention.status in ("affirmed", "doubted", "planned") and (
                _DX_AFTER_SIDE.match(text, m.end()) or (ctx.section_kind(m.start()) == "diagnosis"
                                                        and _SIDE_OF_DIAGNOSIS.match(text, m.end()))):
            dx_sides[side].append((m.start(), m.end()))
        if mention.status != "affirmed":
            _discount(facts, mention, ctx)
            continue
        if side != "bilateral" and _SITE_MARKING.search(text, *_side_clause(text, m.start(), m.end(), c_start, c_end)):
            # "the right side was marked and confirmed at time-out": the side meant, not a side acted on; a body
            # that injects the other one is a question (wrong-site), never a second side
            if not _IN_ERROR.search(text, c_start, c_end):  # "Time-out listed the right side in error": neither
                mentioned[side].append((m.start(), m.end()))
                marked[side].append((m.start(), m.end()))
            continue
        if structural:
            # "This was then repeated on the left side" names the left side; the side done first is the one the
            # text names (never inferred: "performed on the right side" and a repeat on the same side say no other)
            found[side].append((m.start(), m.end()))
            if side != "bilateral" and _REPEATED_SIDE_END.match(text, m.end()) and _REPEAT_OF_OTHER.search(
                    text, max(ctx.sentence(m.start())[0], m.start() - 60), m.start()):
                repeats.add((m.start(), m.end()))
        elif _done_today_in_impression(ctx, m):
            summary[side].append((m.start(), m.end()))
    # "IMPRESSION: ... Therapeutic left sacroiliac joint injection performed today": an impression that says what
    # was done today names its side. It states the side when the procedure text names none; when both name one and
    # they differ, that is a question, never a choice (and never a "bilateral" made of the two).
    said = _expand({s for s, spans in summary.items() if spans})
    if said:
        named = _expand({s for s, spans in found.items() if spans})
        if named and named != said:
            facts.conflicts.append(Conflict(
                kind="side",
                message=f"The procedure text documents {'/'.join(sorted(named))} but the impression says "
                        f"{'/'.join(sorted(said))} was done.",
                question="Which side was injected: left, right, or bilateral?",
                evidence=[ctx.span(a, b) for d in (found, summary) for s in d for a, b in d[s][:1]]))
            return
        if not named:
            for s_, spans in summary.items():
                found[s_] += spans
    _superseded_side(ctx, facts, found, mentioned)
    # The title and the procedure text each name the side; when both do and they differ, that is a conflict
    # ("Left SI joint injection" above a body that injects the right joint), never a choice.
    facts.named_sides = sorted(_expand({s for s, spans in found.items() if spans}))
    title = {s for s, spans in found.items() for a, _ in spans if _in_title(ctx, a)}
    # A side the body says was not injected ("Left side: periarticular placement", "left aborted") is not a side the
    # body documents as done: it cannot contradict a title that names only the other side.
    body = {s for s, spans in found.items() for a, _ in spans if not _in_title(ctx, a)
            and not any(lo <= a < hi for lo, hi, _ in not_done.get(s, ()))}
    if _expand(title) == {"left", "right"} and len(body) == 1 and all(
            sp in repeats for s in body for sp in found[s] if not _in_title(ctx, sp[0])):
        # "Bilateral ... block" above "This was then repeated on the left side": the repeat is the second side
        body = {"left", "right"}
    if title and body and _expand(title) != _expand(body):
        facts.conflicts.append(Conflict(
            kind="side",
            message=f"The title names {'/'.join(sorted(_expand(title)))} but the procedure text documents "
                    f"{'/'.join(sorted(_expand(body)))}.",
            question="Which side was injected: left, right, or bilateral?",
            evidence=[ctx.span(a, b) for s in found for a, b in found[s][:1]]))
        return
    sides = _expand({s for s, spans in found.items() if spans})
    if sides == {"left", "right"} and not found["bilateral"]:
        # "Left SIJ injection, fluoro, contrast IA in the right SI joint": one side injected, the other named only
        # where the contrast went: not two injections, a question
        def only_checked_there(a: int, b: int) -> bool:
            clause = _side_clause(text, a, b, *ctx.sentence(a))
            return bool(_CHECK_WORDS.search(text, *clause)) and not _INJECTED_WORDS.search(text, *clause)

        only_checked = [s for s in ("left", "right") if found[s] and all(only_checked_there(a, b) for a, b in found[s])]
        if len(only_checked) == 1:
            facts.conflicts.append(Conflict(
                kind="side",
                message=f"The procedure names one side but the {only_checked[0]} side only where placement was "
                        "checked (contrast or confirmation).",
                question="Which side was injected: left, right, or bilateral?",
                evidence=[ctx.span(a, b) for s_ in ("left", "right") for a, b in found[s_][:1]]))
            return
    if not sides and len([s for s in marked if marked[s]]) == 1:
        # "Timeout 1436 - L SIJ - all agree" above a technique that names no side: the time-out verified the side
        # the procedure was done on; it stands as the side when nothing in the text names another
        (only,) = [s for s in marked if marked[s]]
        other = "right" if only == "left" else "left"
        if not (mentioned[other] or dx_sides[other] or found["bilateral"]):
            found[only] += marked[only]
            sides = {only}
    if not sides and len([s for s in dx_sides if dx_sides[s]]) == 1:
        # "consistent with left sacroiliac joint dysfunction" above "The target SI joint was visualized...": the
        # procedure names its joint by the indication's one side
        (only,) = [s for s in dx_sides if dx_sides[s]]
        other = "right" if only == "left" else "left"
        anaphor = next((m for m in _TARGET_JOINT.finditer(text) if ctx.section_kind(m.start()) not in
                        _NON_PROCEDURAL_SECTIONS and ctx.status(m.start(), m.end()) == "affirmed"), None)
        if anaphor is not None and not (mentioned[other] or dx_sides[other] or found["bilateral"]):
            found[only] += dx_sides[only][:1] + [anaphor.span()]
            sides = {only}
    # A body that names the other side as acted on (even in a clause read as doubtful: "the transducer held over the
    # left joint") or a one-sided diagnosis of the other side ("R SIJ inj. Dx: L SI jt dysfunction") is a question.
    others = {s for s in ("left", "right") if s not in sides and (mentioned[s] or dx_sides[s])
              and not any(a <= x < b for x, _ in mentioned[s] + dx_sides[s] for a, b, _ in not_done[s])}
    if sides and others and sides != {"left", "right"}:
        spans = sorted([(a, b) for s in sides for a, b in found[s] + found["bilateral"]][:1]
                       + [(a, b) for s in others for a, b in (mentioned[s] + dx_sides[s])[:1]])
        facts.conflicts.append(Conflict(
            kind="side",
            message=f"The note documents the {'/'.join(sorted(sides))} side but also names the "
                    f"{'/'.join(sorted(others))} side for this procedure or its diagnosis.",
            question="Which side was injected, and which side does the diagnosis concern?",
            evidence=[ctx.span(a, b) for a, b in spans]))
        return
    spans_of = {"left": found["left"] + found["bilateral"], "right": found["right"] + found["bilateral"]}
    for side in ("left", "right"):
        if side not in sides and not not_done[side]:
            continue
        status = not_done[side][0][2] if not_done[side] else "performed"
        facts.events.append(Event(
            procedure="unstated", side=side, status=status,  # type: ignore[arg-type]
            evidence=[ctx.span(a, b) for a, b in sorted(spans_of[side])],
            status_evidence=[ctx.span(a, b) for a, b, _ in not_done[side]]))
    performed = facts.performed_sides()
    all_spans = sorted(found["bilateral"] + found["left"] + found["right"])
    if performed == {"left", "right"}:
        facts.side, facts.side_spans = "bilateral", [ctx.span(a, b) for a, b in all_spans]
    elif performed:
        (side,) = performed
        facts.side, facts.side_spans = side, [ctx.span(a, b) for a, b in sorted(spans_of[side])]  # type: ignore[assignment]


_CHECK_WORDS = re.compile(r"\b(?:contrast|dye|IA|intra-?articular|arthrogra\w*|spread|flow|confirm\w*)\b", re.IGNORECASE)
_INJECTED_WORDS = re.compile(r"\b(?:inj\w*|block\w*|procedure|steroid|kenalog|triamcinolone|depo|bupi\w*|lido\w*|mg)\b",
                             re.IGNORECASE)


_TARGET_JOINT = re.compile(r"\bthe\s+(?:target(?:ed)?|affected|symptomatic|painful|involved|index|indicated)\s+"
                           r"(?:SI\b|SIJ\b|sacro-?iliac\b)", re.IGNORECASE)


def _side_clause(text: str, start: int, end: int, lo: int, hi: int) -> tuple[int, int]:
    """The comma/semicolon clause of a side word [start, end) inside its sentence [lo, hi)."""
    # the nearest comma or semicolon before it (rfind stops there: a long list of sides stays linear)
    before = max(text.rfind(",", lo, start), text.rfind(";", lo, start))
    after = re.search(r"[,;]", text[end:hi])
    return (before + 1 if before >= 0 else lo), (end + after.start()) if after else hi


def _expand(sides: set[str]) -> set[str]:
    return {"left", "right"} if "bilateral" in sides or {"left", "right"} <= sides else set(sides)


# The whole procedure not done: "The procedure was aborted before injection", "Injection not performed: ...",
# "Procedure cancelled; the needle was never placed", "Aborted before injection."
_ENCOUNTER_ABORT = re.compile(
    r"\b(?:abort\w*|cancel+\w*|terminated|discontinued|withdrew\s+consent|stopped\s+before"
    r"|not\s+(?:be\s+)?(?:performed|completed|done|injected|administered|given)|(?:nothing|none|neither)\s+(?:of\s+(?:it|them|these)\s+)?(?:was\s+|were\s+)?(?:injected|given)"
    r"|never\s+(?:placed|injected|performed|started)|no\s+(?:medications?|injectate|drugs?)\s+(?:was|were)\s+(?:injected|given|administered)"
    r"|not\s+yet\s+(?:been\s+)?(?:performed|done)|nothing\s+(?:was\s+)?(?:performed|done|injected|lesioned)"
    r"|no\s+(?:procedures?|injections?)\s+(?:(?:was|were)\s+(?:performed|done)|today))\b",
    re.IGNORECASE)
# The whole encounter said not to be the procedure's by a phrase that names no procedure word itself.
_NO_PROCEDURE = re.compile(r"^(?:nothing|no\s+(?:procedures?|injections?)|not\s+yet)\b", re.IGNORECASE)
_PROCEDURE_WORD = re.compile(r"\b(?:procedure|inject\w*|inj|block|needle|medication\w*|abort\w*)\b", re.IGNORECASE)
# A consult, letter or visit note documents no procedure unless a sentence says it was done today.
_CONSULT = re.compile(
    r"\b(?:consult(?:ation)?(?:\s+note)?|dear\s+dr|letter|progress\s+note|office\s+visit|clinic\s+visit|follow[- ]?up\s+visit"
    r"|new\s+patient\s+visit|history\s+and\s+physical|H&P|recommendation|not\s+performed\s+today|referral)\b",
    re.IGNORECASE)
_PROCEDURE_NOTE_TITLE = re.compile(r"^[^\n]{0,60}\b(?:procedure|operative)\s+(?:note|report|record)\b", re.IGNORECASE | re.MULTILINE)
_PROCEDURE_TITLE = re.compile(r"\b(?:and|&|with|/|\+)\s+(?:an?\s+)?(?:(?:procedures?|injections?)\b(?:\s+(?:note|report|record)\b)?"
                              r"|operative\s+(?:note|report|record)\b)", re.IGNORECASE)
_DONE_TODAY = re.compile(
    r"\b(?:performed|injected|administered|completed|done|carried\s+out|placed|given)\b[^.;]{0,80}\b(?:today|this\s+(?:visit|date|day)"
    r"|in\s+(?:the\s+|our\s+)?(?:office|clinic|procedure\s+room|(?:CT|fluoroscopy|fluoro|procedure)\s+suite))\b"
    r"|\b(?:today|this\s+visit)\b[^.;]{0,80}\b(?:performed|injected|administered|we\s+(?:injected|performed))\b"
    r"|\b(?:went|go|going)\s+ahead\s+today\b|\bproceeded\s+today\b", re.IGNORECASE)


def _encounter_not_done(ctx: TextContext, facts: Facts) -> None:
    """What makes the whole encounter document no procedure: an abort or cancellation of the procedure itself, or a
    consult/letter/visit note with no sentence that says the procedure was done today."""
    text = ctx.text
    for m in ctx.finditer(_ENCOUNTER_ABORT):
        kind = ctx.section_of(m.start()).kind
        if kind in ("plan", "history", "consent", "exam"):
            continue
        s_start, s_end = ctx.sentence(m.start())
        sentence = text[s_start:s_end]
        if not (_PROCEDURE_WORD.search(sentence) or _NO_PROCEDURE.match(m.group(0))) or lx.SIDE_WORDS.search(
                sentence) or lx.SIDE_LETTER.search(sentence):
            continue  # a side named: that side's event says it (see _side)
        if re.search(r"\b(?:no|without)\s+(?:complications?|difficulty|problems?)\b", sentence, re.IGNORECASE) and \
                not re.search(r"abort|cancel|never|withdrew", sentence, re.IGNORECASE):
            continue
        facts.not_done.append(ctx.span(s_start, s_end))
    head = text[:300]
    said = re.search(r"\bnot\s+(?:performed|done)\s+today\b|\(\s*(?:[^()]{0,40},\s*)?not\s+today\s*\)", head,
                     re.IGNORECASE)
    if said:  # "Recommendation (not performed today): ..." heads the whole document
        facts.not_done.append(ctx.span(said.start(), said.end()))
    consult = _CONSULT.search(head)
    if consult and _PROCEDURE_NOTE_TITLE.search(text, 0, consult.start()):
        consult = None  # "INPATIENT PAIN SERVICE - PROCEDURE NOTE ... Reason for consult:": a procedure note's field
    if consult:  # "Consultation and Procedure Report": a title that names the procedure too heads a procedure note
        line_end = text.find("\n", consult.end())
        title = text[text.rfind("\n", 0, consult.start()) + 1 : line_end if line_end >= 0 else len(text)]
        if _PROCEDURE_TITLE.search(title):
            consult = None
    if consult and ctx.status(consult.start(), consult.end()) != "quoted":
        done = [m for m in ctx.finditer(_DONE_TODAY) if ctx.local_status(m.start(), m.end()) == "affirmed"]
        if not done:
            facts.not_done.append(ctx.span(consult.start(), consult.end()))
    if facts.not_done:
        for event in facts.events:
            if event.status == "performed":
                event.status = "aborted"
                event.status_evidence = event.status_evidence + facts.not_done[:1]
        performed = facts.performed_sides()
        if not performed:
            facts.side, facts.side_spans = "unstated", []


def _first_procedure_section(ctx: TextContext) -> int:
    for i, sec in enumerate(ctx.sections):
        if sec.name and sec.name.lower().startswith(("procedure", "operation", "title")):
            return i
    return -1


def _side_title(ctx: TextContext, pos: int) -> bool:
    return _in_title(ctx, pos)


def _in_title(ctx: TextContext, pos: int) -> bool:
    """Whether `pos` declares the procedure's side: the text before any heading, the first line of a Procedure
    field, a "Side:" field or checkbox line, or (in a note without headings) a short first sentence with no verb
    ("Bilateral SI joint injection.")."""
    sec = ctx.section_of(pos)
    if sec.kind == "header" or _side_line(ctx, pos):
        return True
    if sec.name is None and sec.start == 0:
        s_start, s_end = ctx.sentence(pos)
        first = ctx.text[s_start:s_end]
        if s_start == 0 and s_end < len(ctx.text) and len(first.split()) <= 8 and not ctx.has_verb(first) \
                and "," not in first:
            return True
    i = _first_procedure_section(ctx)
    if i < 0 or ctx.sections[i] is not sec:
        return False
    first_break = ctx.text.find(".", sec.start + len(sec.name or "") + 2)
    return pos < (first_break if first_break >= 0 else sec.end)


# --- medications: read by notedraft.medications (drugs and units are data); the second procedure is read here ---

# A second procedure in the same dictation: named in the draft's findings, its drugs kept with it.
_SECOND_PROCEDURES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\bTFESIs?\b|\btransforaminal\b", re.IGNORECASE), "transforaminal epidural steroid injection"),
    (re.compile(r"\bILESIs?\b|\binter-?laminar\b", re.IGNORECASE), "interlaminar epidural steroid injection"),
    (re.compile(r"\bcaudal\b", re.IGNORECASE), "caudal epidural steroid injection"),
    (re.compile(r"\bESIs?\b|\bepidural\b", re.IGNORECASE), "epidural steroid injection"),
    (re.compile(r"\bmedial\s+branch\s+blocks?\b|\bMBBs?\b", re.IGNORECASE), "medial branch block"),
    (re.compile(r"\bfacet\b", re.IGNORECASE), "facet joint injection"),
    (re.compile(r"\btrigger[- ]?points?\b|\bTPIs?\b", re.IGNORECASE), "trigger point injection"),
    (re.compile(r"\bknee\b", re.IGNORECASE), "knee injection"),
    (re.compile(r"\bhip\s+(?:joint|inj\w*)\b", re.IGNORECASE), "hip joint injection"),
    (re.compile(r"\bpiriformis\b", re.IGNORECASE), "piriformis injection"),
    (re.compile(r"\b(?:greater\s+)?trochanteric\s+bursa\b", re.IGNORECASE), "trochanteric bursa injection"),
]


def other_procedures(ctx: TextContext | str) -> list[tuple[int, int, str]]:
    """Procedures other than the SI joint injection performed today, as (start, end, label) of the text that
    describes each: its sentence when the sentence does not name the SI joint, else its comma-separated clause.
    Only when the text is an SI joint dictation; historical, planned and negated mentions do not count."""
    if isinstance(ctx, str):
        ctx = read(ctx)
    text = ctx.text
    if not ctx.finditer(lx.SI_JOINT):
        return []
    out: list[tuple[int, int, str]] = []
    for pattern, name in _SECOND_PROCEDURES:
        for m in ctx.finditer(pattern):
            if any(a <= m.start() < b for a, b, _ in out) or ctx.status(m.start(), m.end()) != "affirmed":
                continue
            start, end = ctx.sentence(m.start())
            if lx.SI_JOINT.search(text, start, end):
                cuts = [c.end() for c in re.finditer(r"[,;]", text[start : m.start()])]
                start = start + (cuts[-1] if cuts else 0)
                nxt = re.search(r"[,;]", text[m.end() : end])
                end = m.end() + nxt.start() if nxt else end
                if lx.SI_JOINT.search(text, start, end):
                    continue
            clause = text[start:end]
            side = re.search(r"\b(left|right|bilateral)\b|\b([LR])\b(?=\s*[CTLS]\d)", clause, re.IGNORECASE)
            side_word = ((side.group(1) or {"L": "left", "R": "right"}[side.group(2)]).lower() + " ") if side else ""
            levels = [re.sub(r"\s+", "", lv.group("level")) for lv in lx.SPINE_LEVEL.finditer(clause)]
            level = (" ".join(dict.fromkeys(levels)) + " ") if levels else ""
            out.append((start, end, f"{side_word}{level}{name}"))
    return sorted(out)


# --- diagnoses, purpose, other facts -----------------------------------------------------------------------------

_DX_TEXT_END = re.compile(r"\.(?!\d)|[;,\r\n]")  # not the full stop inside a code such as M46.1
# A visible placeholder the drafter leaves for a missing fact ("[DIAGNOSIS NEEDED]"): never a fact itself.
_PLACEHOLDER = re.compile(r"\[[A-Z][A-Z -]*NEEDED\]")


_BLANK_LINE = re.compile(r"\n[ \t]*\r?\n")
_NEXT_LABEL = re.compile(r"[A-Z][A-Za-z /&()-]{1,40}:")


def _diagnoses(ctx: TextContext) -> list[Diagnosis]:
    text = ctx.text
    out: list[Diagnosis] = []
    seen: set[str] = set()
    for m in lx.ICD10.finditer(text):
        code = m.group("code").upper()
        if code in seen or not _diagnosis_stated(ctx, m.start(), m.end()):
            continue
        seen.add(code)
        out.append(Diagnosis(code=code, text=icd10.title(code), billable=icd10.billable(code), span=span_of(ctx, *m.span())))
    placeholders = list(_PLACEHOLDER.finditer(text))
    placeholder_starts = [p.start() for p in placeholders]

    def in_placeholder(pos: int) -> bool:
        i = bisect.bisect_right(placeholder_starts, pos) - 1
        return i >= 0 and pos < placeholders[i].end()

    for m in ctx.finditer(lx.DIAGNOSIS_LABEL):
        if in_placeholder(m.start()):
            continue
        rest = text[m.end() : m.end() + 120]
        if "\n" in m.group() and (_BLANK_LINE.search(m.group()) or _NEXT_LABEL.match(rest)):
            continue  # "Indication: ***" (blanked) then "Technique: ...": an empty field, not the next line's words
        if re.match(r"\s*(?:\+|&|/|and\s+ther)", rest, re.IGNORECASE):
            continue  # "dx + therapeutic" states the purpose, not a diagnosis
        end = _DX_TEXT_END.search(rest)
        phrase = rest[: end.start()] if end else rest
        phrase = _dx_words(phrase)
        if re.fullmatch(r"(?:(?:diagnostic|therapeutic|dx|tx|and|or|/|&|\+|both|purpose|injection|block)\W*)+", phrase, re.IGNORECASE):
            continue  # "Indication: diagnostic and therapeutic" states the purpose, not a diagnosis
        if len(phrase) >= 4 and phrase.lower() not in seen and re.search(r"[a-z]{3}", phrase, re.IGNORECASE):
            start = m.end() + rest.index(phrase)
            if _PLACEHOLDER.search(phrase) or ctx.in_instruction(start):
                continue  # a drafter's "[DIAGNOSIS NEEDED]", or words of an instruction to the tool, are not a diagnosis
            if (ctx.doubt_in(start, start + len(phrase)) != "affirmed" or not _diagnosis_stated(ctx, start, start + len(phrase))
                    or re.match(r"\s*(?:_|n/?a|none|deferred|pending|tbd|unknown|to\s+be\b|see\b|same\b)", phrase, re.IGNORECASE)):
                continue  # "Diagnosis: deferred", "Dx: pending workup", "Rule out ..."
            seen.add(phrase.lower())
            out.append(Diagnosis(text=phrase, span=span_of(ctx, start, start + len(phrase))))
    for m in ctx.finditer(lx.DIAGNOSIS_TERMS):
        if not _diagnosis_stated(ctx, m.start(), m.end()):
            continue
        if any(d.span and d.span.start <= m.start() < d.span.end for d in out) or m.group(0).lower() in seen:
            continue
        seen.add(m.group(0).lower())
        out.append(Diagnosis(text=m.group(0), span=span_of(ctx, *m.span())))
    return out


def _diagnosis_stated(ctx: TextContext, start: int, end: int) -> bool:
    """A diagnosis counts when its own clause states it (not "ruled out", "possible", "?", a negative field) and it is
    not history; an Assessment/Plan section still states a diagnosis."""
    status = ctx.status(start, end)
    return status == "affirmed" or (status == "planned" and ctx.local_status(start, end) == "affirmed"
                                     and ctx.section_of(start).kind == "plan")


def _dx_words(segment: str) -> str:
    """The words of a labelled diagnosis without its ICD-10 codes: the first run between codes that has a word.
    Always a substring of the segment, so its span can be found ("sacroiliitis (M46.1)" → "sacroiliitis")."""
    pos = 0
    for code in [*lx.ICD10.finditer(segment), None]:
        piece = segment[pos : code.start() if code else len(segment)].strip(" ,:-()")
        piece = re.sub(r"^(?:is|was|are|of|=)\s+", "", piece, flags=re.IGNORECASE)  # "Diagnosis is sacroiliitis"
        if re.search(r"[a-z]{3}", piece, re.IGNORECASE):
            return piece
        pos = code.end() if code else pos
    return ""


# The purpose of an injection that was referred or requested is the purpose of the injection done: "Therapeutic
# steroid injection requested by rheumatology", "Referred for a diagnostic left SI joint injection". Only words of a
# referral, and only for a purpose word that names the injection it qualifies.
# A purpose is an intention: "planned diagnostic injections", "the injection today was intended to be therapeutic",
# "referred for a diagnostic block" state it; the same words doubt any other fact.
_REFERRAL = re.compile(r"request\w*|referr\w*|refer|ordered|planned|intend\w*|intent\w*|meant", re.IGNORECASE)
_PURPOSE_OF_INJECTION = re.compile(r"\s+(?:[\w-]+\s+){0,5}?(?:injections?|inj\b|blocks?)", re.IGNORECASE)
_INJECTION_INTENDED = re.compile(r"\b(?:injections?|blocks?)\s+(?:\w+\s+){0,2}(?:was|were|is|are)\s+"
                                 r"(?:intended|meant|planned)\s+(?:to\s+be|as(?:\s+an?)?)\s+$"
                                 # "Injection requested for diagnostic purposes"
                                 r"|\b(?:injections?|blocks?)\s+(?:(?:was|were|is|are)\s+)?(?:requested|ordered|referred|done|"
                                 r"performed|given)\s+for\s+(?:an?\s+|both\s+)?$", re.IGNORECASE)


_INJECTION_BEFORE = re.compile(r"\b(?:injections?|inj|blocks?)\b", re.IGNORECASE)
_TODAY = re.compile(r"\b(?:today|this\s+(?:visit|session|morning|afternoon))\b", re.IGNORECASE)


def _purpose_stated(ctx: TextContext, m: re.Match[str], facts: Facts) -> bool:
    if ctx.status(m.start(), m.end()) == "affirmed":
        return True
    if facts.procedure == "unstated":
        return False
    names_injection = _PURPOSE_OF_INJECTION.match(ctx.text, m.end()) is not None
    section = ctx.section_of(m.start())
    kind = section.kind
    s_start, s_end = ctx.sentence(m.start())
    if kind == "plan" and (names_injection or _INJECTION_BEFORE.search(ctx.text, s_start, m.start())):
        # "Plan: therapeutic left SI joint injection today", "Plan today: left SI joint injection, therapeutic": the
        # purpose of the injection this note then documents, only for today's ("... next month" plans another one),
        # said in the sentence or its heading, and only when an injection was done
        today = _TODAY.search(ctx.text, s_start, s_end) or _TODAY.search(ctx.text, section.start, section.start + 20)
        return (today is not None and _done_today(facts)
                and ctx.local_status(m.start(), m.end(), allow=_REFERRAL) == "affirmed")
    if not names_injection:
        return (kind != "plan" and _INJECTION_INTENDED.search(ctx.text, max(0, m.start() - 60), m.start()) is not None
                and ctx.status(m.start(), m.end(), allow=_REFERRAL) == "affirmed")
    if kind == "history":
        # "Therapeutic injection requested by rheumatology" in the history: the referral's purpose is the purpose
        # of the injection done
        return (_REFERRAL.search(ctx.text, s_start, s_end) is not None and _done_today(facts)
                and ctx.local_status(m.start(), m.end(), allow=_REFERRAL) == "affirmed")
    return ctx.status(m.start(), m.end(), allow=_REFERRAL) == "affirmed"


def _done_today(facts: Facts) -> bool:
    return bool(facts.events) and all(e.status == "performed" for e in facts.events) and not facts.not_done


def _purpose(ctx: TextContext, facts: Facts) -> None:
    # only the first stated mention of each purpose is used: the others are not read (a long note names it often)
    diagnostic = next((m for m in ctx.finditer(lx.PURPOSE_DIAGNOSTIC) if _purpose_stated(ctx, m, facts)), None)
    therapeutic = next((m for m in ctx.finditer(lx.PURPOSE_THERAPEUTIC) if _purpose_stated(ctx, m, facts)), None)
    if diagnostic and therapeutic:
        facts.purpose = "diagnostic_and_therapeutic"
        first = min(diagnostic.start(), therapeutic.start())
        last = max(diagnostic.end(), therapeutic.end())
        facts.purpose_span = span_of(ctx, first, last) if last - first < 60 else span_of(ctx, *diagnostic.span())
    elif diagnostic:
        facts.purpose, facts.purpose_span = "diagnostic", span_of(ctx, *diagnostic.span())
    elif therapeutic:
        facts.purpose, facts.purpose_span = "therapeutic", span_of(ctx, *therapeutic.span())


# A phrase that negates itself: "images were not saved", "placement could not be verified", "images not retained".
_INNER_NEGATION = re.compile(r"\b(?:not|never|no|without|w/o|unable|unsuccessful(?:ly)?)\b|n't\b", re.IGNORECASE)


_PLACEMENT_DOUBT = re.compile(r"\b(?:vascular|intravascular|venous|arterial|peri-?articular|extra-?articular|epidural"
                              r"|soft\s+tissue|uptake|runoff|run-off)\b", re.IGNORECASE)


def _contrast_under_guidance(ctx: TextContext, facts: Facts) -> Span | None:
    """"Left SI joint injection under fluoro with contrast": contrast injected under fluoroscopy or CT is the
    arthrogram 27096 includes, the way placement is confirmed (seed guide, arthrography). Counted only when the
    contrast is affirmed in the same sentence as the guidance, nothing says placement was not confirmed, and the
    contrast showed nothing outside the joint."""
    if facts.guidance not in ("fluoroscopy", "ct") or facts.contrast is None:
        return None
    if any(d.kind == "needle_confirmation" for d in facts.discounted) or facts.not_done:
        return None
    if any(e.status != "performed" for e in facts.events):
        return None
    for g in facts.guidance_spans:
        s_start, s_end = ctx.sentence(_normalised(ctx, g.start))
        for m in ctx.finditer(lx.CONTRAST):
            if s_start <= m.start() < s_end and ctx.status(m.start(), m.end()) == "affirmed":
                if _PLACEMENT_DOUBT.search(ctx.text, s_start, s_end):
                    return None
                return ctx.span(min(m.start(), _normalised(ctx, g.start)), max(m.end(), _normalised(ctx, g.end)))
    return None


def _normalised(ctx: TextContext, raw: int) -> int:
    """A raw-text offset (a Span's) in the normalised text the reader scans."""
    index = ctx._index
    if index is None:
        return raw
    return bisect.bisect_left(index, raw)


def _first_affirmed(ctx: TextContext, pattern: re.Pattern[str], kind: str, facts: Facts) -> Span | None:
    for m in ctx.scan(pattern):
        mention = ctx.mention(kind, m)
        if mention.status == "affirmed" and _INNER_NEGATION.search(mention.text):
            mention = dataclasses.replace(mention, status="negated")  # "images were not saved"
        if mention.status == "affirmed":
            return ctx.span(mention.start, mention.end)
        _discount(facts, mention, ctx)
    return None


# A pain table's rows without "/10": "PAIN (NRS 0-10)\n  Pre-procedure: 7\n  30 minutes post: 1", read only under a
# heading or beside words that name the pain scale
_SCORE_ROW = re.compile(r"(?im)^[ \t|*-]*(?:[\w-]+[ \t]+){0,3}?(?:pre|post)[\w-]*(?:[ \t]+[\w-]+){0,2}[ \t]*[:|=][ \t]*"
                        r"(?P<score>\d{1,2})(?![.\d/]|[ \t]*(?:%|mg|mcg|ml|cc|min|mm|hours?|hrs?|days?|weeks?|months?))\b")
_SCALE = re.compile(r"\b(?:NRS|VAS|NPRS|pain\s+(?:score|scale|rating)|numeric\s+(?:pain\s+)?rating|0\s*-\s*10)\b", re.IGNORECASE)


def _pain_scores(ctx: TextContext, facts: Facts) -> None:
    scores = list(lx.PAIN_SCORE.finditer(ctx.text))
    if len(scores) < 2:
        rows = [m for m in _SCORE_ROW.finditer(ctx.text)
                if _SCALE.search(ctx.text, max(0, m.start() - 200), m.start()) and ctx.status(m.start(), m.end()) == "affirmed"]
        if len(rows) >= 2:
            scores = sorted(scores + rows, key=lambda m: m.start())
    for i, m in enumerate(scores):
        before = ctx.text[max(0, m.start("score") - 30) : m.start("score")]
        fact = Fact(value=f"{m.group('score')}/10", span=span_of(ctx, *m.span()))
        pre = re.search(r"pre[\w-]*\W*$", before, re.IGNORECASE)
        post = lx.PAIN_POST.search(before) and not pre
        if pre and facts.pain_post is None and m.re is _SCORE_ROW:
            facts.pain_pre = fact  # a table's "Pre-procedure: 7" is the score before, whatever the history said
        elif post and facts.pain_pre is not None and facts.pain_post is None:
            facts.pain_post = fact
        elif facts.pain_pre is None and not (post and i > 0):
            facts.pain_pre = fact
        elif facts.pain_post is None:
            facts.pain_post = fact


def _complications(ctx: TextContext, facts: Facts) -> None:
    m = ctx.search(lx.COMPLICATIONS_NONE)
    if m:
        facts.complications = Fact(value="none", span=span_of(ctx, *m.span()))
        return
    for m in ctx.scan(lx.COMPLICATION_EVENT):
        if ctx.status(m.start(), m.end()) == "affirmed":
            facts.complications = Fact(value=m.group(0), span=span_of(ctx, *m.span()))
            return


def _unique_facts(ctx: TextContext, pattern: re.Pattern[str], kind: str) -> list[Fact]:
    out: dict[str, Fact] = {}
    for m in ctx.finditer(pattern):
        value = re.sub(r"\s+", " ", m.group(kind)).strip()
        key = value.lower().rstrip("s")
        if key not in out and ctx.status(m.start(), m.end()) == "affirmed":
            out[key] = Fact(value=value, span=span_of(ctx, *m.span(kind)))
    return list(out.values())
