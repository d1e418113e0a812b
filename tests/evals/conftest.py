"""Hand-made Facts, reports and Drafts, so the eval's scorers are specified without the drafter in the loop."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from notedraft.evals.dataset import DraftingCase, load_drafting, load_validator
from notedraft.models import Attempt, Diagnosis, Draft, Facts, Finding, Medication, Span, ValidationReport

REPO = Path(__file__).resolve().parents[2]
EVALS = REPO / "evals"


def span(text: str = "x") -> Span:
    return Span(start=0, end=len(text), text=text)


def med(name: str, dose: str | None = None, volume: str | None = None, concentration: str | None = None,
        role: str = "steroid", as_written: str | None = None) -> Medication:
    return Medication(name=name, as_written=as_written or name, dose=dose, volume=volume,
                      concentration=concentration, role=role)


def facts(side="left", guidance="fluoroscopy", purpose="therapeutic", meds=None, dx=("M46.1",),
          confirmation=True, images=False) -> Facts:
    if meds is None:
        meds = [med("triamcinolone", "40 mg"), med("bupivacaine", volume="2 mL", concentration="0.25%",
                                                  role="anesthetic")]
    return Facts(
        procedure="si_joint_injection", side=side, guidance=guidance, purpose=purpose, medications=list(meds),
        diagnoses=[Diagnosis(code=c) for c in dx], needle_confirmation=span("confirmed") if confirmation else None,
        images_recorded=span("images saved") if images else None,
    )


def report(codes, supported=True, suggested=None, note_facts=None, findings=()) -> ValidationReport:
    return ValidationReport(
        supported=supported, codes=list(codes), findings=list(findings), satisfied=[],
        suggested_codes=list(codes if suggested is None and supported else suggested or []),
        facts=note_facts or facts(),
    )


def finding(rule: str, message: str = "m", severity: str = "error", evidence_text: str | None = None) -> Finding:
    return Finding(rule=rule, severity=severity, message=message, fix="fix it",
                   evidence=[span(evidence_text)] if evidence_text else [])


def attempt(purpose="extract", raw=None, prompt_tokens=100, completion_tokens=20, cached=False,
            model="scripted-model", outcome="ok") -> Attempt:
    return Attempt(purpose=purpose, model=model, prompt_version="v1", latency_ms=12.0, prompt_tokens=prompt_tokens,
                   completion_tokens=completion_tokens, outcome=outcome, cached=cached, raw=raw)


def draft(case: DraftingCase | None = None, *, note="PROCEDURE NOTE", codes=("27096-LT",), supported=True,
          refused=None, dictated=None, note_facts=None, findings=(), suggested=None, queries=(), attempts=(),
          raw_findings=(), strategy="template") -> Draft:
    rep = report(codes, supported=supported, suggested=suggested, note_facts=note_facts or dictated,
                 findings=findings)
    kwargs = dict(
        dictation=case.dictation if case else "dictation", note=note, strategy=strategy, facts=dictated or facts(),
        codes=list(codes), report=rep, queries=list(queries), attempts=list(attempts),
        refused=(not supported) if refused is None else refused,
    )
    if raw_findings and "raw_findings" in Draft.model_fields:
        kwargs["raw_findings"] = list(raw_findings)
    return Draft(**kwargs)


def facts_from_gold(case: DraftingCase) -> Facts:
    """The Facts a perfect reader would take from the case's dictation."""
    g = case.gold
    return Facts(
        procedure=g.procedure, side=g.side, guidance=g.guidance, purpose=g.purpose,
        medications=[Medication(name=m.name, as_written=m.as_written, dose=m.dose, volume=m.volume,
                                concentration=m.concentration, role=m.role) for m in g.medications],
        diagnoses=[Diagnosis(code=d.code, text=d.text) for d in g.diagnoses],
        needle_confirmation=span("confirmed") if g.guidance in ("fluoroscopy", "ct", "ultrasound") else None,
        images_recorded=span("images saved") if g.images_recorded else None,
    )


def perfect_draft(dictation: str, codes=None, strategy="template", llm=None, *, cases: dict[str, DraftingCase]):
    """A stand-in for draft() that always does the right thing: what the scorers should score as perfect."""
    case = next(c for c in cases.values() if c.dictation == dictation)
    f = facts_from_gold(case)
    exp = case.expected
    if exp.outcome == "supported":
        return draft(case, note=f"note for {case.id}", codes=exp.codes, supported=True, dictated=f, note_facts=f,
                     strategy=strategy)
    return draft(case, note=f"draft for {case.id}", codes=codes or exp.suggested_codes or [], supported=False,
                 dictated=f, note_facts=f, suggested=exp.suggested_codes, strategy=strategy,
                 queries=[f"question about {t}?" for t in exp.query_topics])


@pytest.fixture(scope="session")
def drafting_cases() -> list[DraftingCase]:
    return load_drafting(EVALS / "drafting.jsonl")


@pytest.fixture(scope="session")
def validator_cases():
    return load_validator(EVALS / "validator.jsonl")


@pytest.fixture(scope="session")
def case_by_id(drafting_cases) -> dict[str, DraftingCase]:
    return {c.id: c for c in drafting_cases}


@pytest.fixture
def mk():
    """The builders above, as one namespace: mk.draft(...), mk.facts(...), mk.med(...)."""
    return SimpleNamespace(span=span, med=med, facts=facts, report=report, finding=finding, attempt=attempt,
                           draft=draft, facts_from_gold=facts_from_gold, perfect_draft=perfect_draft)
