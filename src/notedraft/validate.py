"""The validator: a pure function of (note text, code lines, payer) → ValidationReport. No I/O, no LLM, no clock.

It interprets rule packs; it knows no code by number. Every satisfied requirement carries its evidence spans and
every unmet one a finding with a fix; the report also lists the code lines the documentation does support.
"""

from __future__ import annotations

import re

from .checks import CHECKS, Claim, LineIndex, Outcome, SIDE_OF_MODIFIER
from .codes import check_claim_size, duplicate_line_findings, parse_code_line
from .extract import extract_facts
from .models import CodeLine, Facts, Finding, Requirement, Span, ValidationReport
from .rulepack import CodePack, Condition, load_packs

MODIFIER_FOR_SIDE = {side: mod for mod, side in SIDE_OF_MODIFIER.items()}


def validate(
    note_text: str,
    codes: list[str] | list[CodeLine],
    payer: str | None = None,
    *,
    facts: Facts | None = None,
    setting: str | None = None,
) -> ValidationReport:
    """`setting`: where the claim says the procedure happened ("office" or "facility"), from the encounter's place
    of service. It stands in for a note that names no setting; a note that names another one is a conflict."""
    check_claim_size(len(codes))  # CodeError past 50 lines: the cost of a claim stays bounded
    lines = [c if isinstance(c, CodeLine) else parse_code_line(c) for c in codes]
    facts = facts if facts is not None else extract_facts(note_text)
    setting_findings = []
    if setting is not None and setting != facts.setting:
        if facts.setting == "unstated":
            facts = facts.model_copy(update={"setting": setting})  # a copy: extracted facts may be shared
        else:
            setting_findings.append(Finding(
                rule="claim.setting_conflict", severity="error",
                message=f"The encounter's place of service is {setting}, but the note reads as {facts.setting}.",
                fix="Correct the encounter's place of service or the note; the physician says which holds."))
    findings, satisfied = evaluate(facts, lines, payer, note_text)
    findings = (claim_findings(lines) + setting_findings + conflict_findings(facts) + placeholder_findings(note_text)
                + findings)
    if not lines:
        findings.append(
            Finding(rule="claim.no_codes", severity="error", message="No code line was given to validate.",
                    fix="Name the code lines to check, e.g. 27096-LT; see suggested_codes for what the note supports.")
        )
    return ValidationReport(
        supported=not any(f.severity == "error" for f in findings),
        codes=[str(line) for line in lines],
        findings=findings,
        satisfied=satisfied,
        suggested_codes=[str(line) for line in suggest(facts, payer, note_text)],
        facts=facts,
    )


_PLACEHOLDER = re.compile(r"\[[A-Z][A-Z -]*NEEDED\]")


def placeholder_findings(text: str) -> list[Finding]:
    """A drafter's "[DOSE NEEDED]" left in the text: the note is not finished, whatever else it documents."""
    return [
        Finding(rule="note.placeholder", severity="error", message=f"The note still has a placeholder: {m.group()}.",
                fix="Fill it from the physician's answer, or remove the statement it stands in.",
                evidence=[Span(start=m.start(), end=m.end(), text=m.group())], source="notedraft")
        for m in _PLACEHOLDER.finditer(text)
    ]


def conflict_findings(facts: Facts) -> list[Finding]:
    """Each conflict in the text is an error on the whole claim: two established statements that cannot both hold
    are a question for the physician, never a tie the validator breaks."""
    return [
        Finding(rule=f"conflict.{c.kind}", severity="error", message=c.message, fix=c.question, evidence=c.evidence,
                source="notedraft: a fact is documented only by unambiguous, positive evidence")
        for c in facts.conflicts
    ]


def claim_findings(lines: list[CodeLine]) -> list[Finding]:
    """The claim as a whole: a line twice, a code with and without a side modifier, a professional and a facility
    code for the same service."""
    out: list[Finding] = duplicate_line_findings(lines)  # the same line twice bills one service twice
    by_code: dict[str, set[tuple[str, ...]]] = {}
    for line in lines:
        by_code.setdefault(line.code, set()).add(tuple(m for m in line.modifiers if m in SIDE_OF_MODIFIER))
    for code, variants in by_code.items():
        if () in variants and len(variants) > 1:
            out.append(Finding(rule="claim.modifier_mismatch", severity="error", code=code,
                               message=f"{code} is on the claim both with and without a side modifier.",
                               fix=f"Keep one line for {code}, with the modifier that names the side documented.",
                               source="Seed guide, 'Using Modifiers Incorrectly (or Not at All)' [project seed]"))
    codes = {line.code for line in lines}
    packs = load_packs()
    facility = sorted(c for c in codes if c in packs and getattr(packs[c], "setting", None) == "facility")
    professional = sorted(c for c in codes if c in packs and getattr(packs[c], "setting", None) != "facility"
                          and packs[c].kind == "primary")
    if "G0260" in codes:
        facility = sorted(set(facility) | {"G0260"})
        professional = [c for c in professional if c != "G0260"]
    if facility and professional:
        first = next(str(line) for line in lines if line.code in facility)
        out.append(Finding(rule="claim.professional_and_facility", severity="error", code=first,
                           message=f"A professional code ({', '.join(professional)}) and a facility code "
                                   f"({', '.join(facility)}) are on one claim.",
                           fix="Bill the physician's code on the professional claim and the facility code on the facility claim.",
                           source="CMS MLN text on G0260 [B]"))
    return out


def _holds(cond: Condition, claim: Claim) -> Outcome:
    outcome = CHECKS[cond.check](claim, **cond.args)
    return Outcome(not outcome.ok, outcome.evidence, outcome.detail) if cond.negate else outcome


def evaluate(
    facts: Facts, lines: list[CodeLine], payer: str | None, text: str | None = None
) -> tuple[list[Finding], list[Requirement]]:
    packs = load_packs()
    findings: list[Finding] = []
    satisfied: list[Requirement] = []
    index = LineIndex.of(lines)  # once per claim, so that line-vs-line checks stay O(1) per line
    for line in lines:
        pack = packs[line.code]
        line_facts = facts_for_line(facts, pack, lines)
        claim = Claim(facts=line_facts, line=line, lines=lines, payer=payer, text=text, index=index)
        findings += _modifier_findings(pack, line)
        if line_facts is not facts:  # the other procedure's own conflicts are this line's
            findings += [f.model_copy(update={"code": str(line)}) for f in conflict_findings(line_facts)]
        for rule in pack.rules:
            if not all(_holds(c, claim).ok for c in rule.when):
                continue
            outcomes = [_holds(c, claim) for c in rule.require]
            failed = [o for o in outcomes if not o.ok]
            if rule.require and not failed:
                evidence = _unique([s for o in outcomes for s in o.evidence])
                if not evidence:  # met by the claim itself (a modifier): show the text that made it required
                    evidence = _unique([s for c in rule.when for s in _holds(c, claim).evidence])
                satisfied.append(Requirement(rule=rule.id, code=str(line), description=rule.requirement, evidence=evidence))
                continue
            # A requirement that failed explains itself; a prohibition is explained by its last (most specific) condition.
            shown = failed or [_holds(c, claim) for c in rule.when]
            detail = "; ".join(o.detail for o in (failed or shown[-1:]) if o.detail)
            findings.append(
                Finding(
                    rule=rule.id,
                    severity=rule.severity,
                    message=rule.message.format(detail=detail, line=line),
                    fix=rule.fix.format(detail=detail, line=line),
                    code=str(line),
                    source=rule.source,
                    evidence=_unique([s for o in shown for s in o.evidence]),
                )
            )
    return findings, satisfied


def _modifier_findings(pack: CodePack, line: CodeLine) -> list[Finding]:
    out = []
    for mod in line.modifiers:
        if mod not in pack.modifiers:
            allowed = ", ".join(f"-{m}" for m in pack.modifiers) or "none"
            out.append(
                Finding(
                    rule=f"{pack.code}.modifiers.allowed",
                    severity="error",
                    message=f"-{mod} is not a modifier {pack.code} takes here (allowed: {allowed}).",
                    fix=f"Remove -{mod} from {line}.",
                    code=str(line),
                    source="rule pack " + pack.code,
                )
            )
    return out


def _unique(spans: list[Span]) -> list[Span]:
    seen: dict[tuple[int, int], Span] = {}
    for s in spans:
        seen.setdefault((s.start, s.end), s)
    return sorted(seen.values(), key=lambda s: s.start)


def suggest(facts: Facts, payer: str | None = None, text: str | None = None) -> list[CodeLine]:
    """The code lines this documentation supports: candidates from each pack's `suggest_when`, kept only when the
    whole set of candidates validates without errors (an add-on survives only if its primary does). `text` is the
    note, for the checks that read it (the Medicare LCD overlay, coverage.py); without it those checks fail closed."""
    packs = load_packs()
    candidates: list[CodeLine] = []
    if facts.conflicts:
        return []  # a line is suggested only when its evidence is unambiguous
    for pack in packs.values():
        for pfacts in _suggestion_facts(facts, pack):
            opens = _suggested_for(pack)
            if opens is not None and pfacts.procedure not in opens:
                continue  # every suggestion of the pack asks for another procedure: no probe to build
            probe = Claim(facts=pfacts, line=CodeLine(code=pack.code), lines=[], payer=payer, text=text)
            if any(all(_holds(c, probe).ok for c in s.when) for s in pack.suggest):
                if not any(x.code == pack.code for x in candidates):
                    candidates += lines_for(pack, pfacts, text)
    candidates = [_with_required_modifiers(packs[c.code], c, candidates, facts_for_line(facts, packs[c.code], candidates),
                                           payer, text) for c in candidates]
    while candidates:
        failing = _failing_lines(facts, candidates, payer, text)
        addons = {f for f in failing if packs[f.split("-")[0]].kind in ("add_on", "guidance_add_on")}
        if addons and addons != failing:  # a failing add-on goes first: it may be all that fails its primary
            failing = addons
        kept = [c for c in candidates if str(c) not in failing]
        if kept == candidates:
            break
        candidates = kept
    return candidates


_SUGGESTED_FOR: dict[int, tuple[frozenset[str] | None, CodePack]] = {}


def _suggested_for(pack: CodePack) -> frozenset[str] | None:
    """The procedures a pack's suggestions can hold for: when each `suggest` entry asks `procedure_is`, the union
    of what they ask (procedure_is fails for any other procedure); None when one entry does not ask."""
    known = _SUGGESTED_FOR.get(id(pack))
    if known is None:
        asked: set[str] = set()
        for s in pack.suggest:
            named = [c for c in s.when if c.check == "procedure_is" and not c.negate]
            if not named:
                asked = None
                break
            asked |= set(named[0].args["any"])
        known = _SUGGESTED_FOR[id(pack)] = (frozenset(asked) if asked is not None else None, pack)
    return known[0]


def _failing_lines(facts: Facts, lines: list[CodeLine], payer: str | None, text: str | None = None) -> set[str]:
    """The lines `evaluate` would give an error, without composing the findings (suggest only needs which)."""
    packs = load_packs()
    failing: set[str] = set()
    for line in lines:
        pack = packs[line.code]
        if any(mod not in pack.modifiers for mod in line.modifiers):
            failing.add(str(line))
            continue
        line_facts = facts_for_line(facts, pack, lines)
        if line_facts is not facts and line_facts.conflicts:
            failing.add(str(line))
            continue
        claim = Claim(facts=line_facts, line=line, lines=lines, payer=payer, text=text)
        for rule in pack.rules:
            if rule.severity != "error" or not all(_holds(c, claim).ok for c in rule.when):
                continue
            if not rule.require or not all(_holds(c, claim).ok for c in rule.require):
                failing.add(str(line))
                break
    return failing


def _with_required_modifiers(
    pack: CodePack, line: CodeLine, lines: list[CodeLine], facts: Facts, payer: str | None, text: str | None = None
) -> CodeLine:
    """Add the modifiers an error rule of the pack demands for these facts (e.g. a payer's KX on a diagnostic
    injection), so a suggestion is a line that validates, not one that fails for a missing modifier."""
    claim = Claim(facts=facts, line=line, lines=lines, payer=payer, text=text)
    extra: list[str] = []
    for rule in pack.rules:
        if rule.severity != "error" or not all(_holds(c, claim).ok for c in rule.when):
            continue
        for cond in rule.require:
            if cond.check == "has_modifier" and not cond.negate and not _holds(cond, claim).ok:
                extra += [m for m in cond.args.get("any", [])[:1] if m in pack.modifiers and m not in line.modifiers]
    return CodeLine(code=line.code, modifiers=line.modifiers + tuple(dict.fromkeys(extra))) if extra else line


def lines_for(pack: CodePack, facts: Facts, text: str | None = None) -> list[CodeLine]:
    units = level_units(pack, facts, text)
    if pack.laterality == "none" or facts.side == "unstated" or (
            pack.laterality_procedures and facts.procedure not in pack.laterality_procedures):
        return [CodeLine(code=pack.code)] * units
    modifier = MODIFIER_FOR_SIDE[facts.side]
    if modifier not in pack.modifiers:  # e.g. an ASC facility code: two lines, never -50
        return [CodeLine(code=pack.code, modifiers=("RT",)), CodeLine(code=pack.code, modifiers=("LT",))] * units
    return [CodeLine(code=pack.code, modifiers=(modifier,))] * units


def level_units(pack: CodePack, facts: Facts, text: str | None = None) -> int:
    """How many lines of a per-level code the documented levels bill (1 for a code that is not per level)."""
    if not pack.levels_from:
        return 1
    from .family_facts import read

    n = len(read(facts, text).levels)
    return max(0, min(min(n, pack.levels_to) - pack.levels_from + 1, pack.max_units))


def facts_for_line(facts: Facts, pack: CodePack, lines: list[CodeLine]) -> Facts:
    """The facts a line is read against: in a note that documents several procedures, those of the procedure the
    line's code bills (a trigger point line reads the trigger points, not the SI joint beside them). A code that
    bills several of the note's procedures reads the one no other line on the claim bills alone."""
    if not facts.procedures or not pack.procedures:
        return facts
    mine = [p for p in pack.procedures if p in facts.procedures]
    if len(mine) == 1:
        return facts.procedures[mine[0]]
    if not mine:
        return facts
    packs = load_packs()
    claimed = {packs[x.code].procedures[0] for x in lines
               if x.code != pack.code and x.code in packs and len(packs[x.code].procedures) == 1}
    rest = [p for p in mine if p not in claimed]
    return facts.procedures[rest[0]] if len(rest) == 1 else facts


def _suggestion_facts(facts: Facts, pack: CodePack) -> list[Facts]:
    if not facts.procedures or not pack.procedures:
        return [facts]
    return [f for p, f in facts.procedures.items() if p in pack.procedures and not f.conflicts]
