"""The nouns of notedraft: Facts read from text, the ValidationReport on a note, and the Draft.

Every fact carries the span of text it was read from, so a verdict can always point at its evidence.
These models are also the contract with an LLM (llm-extract returns `ExtractedFacts`) and the JSON the CLI prints.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


def _empty_list() -> list:
    """`default_factory=list`, as a Python function: pydantic asks each factory for its signature when it builds a
    model, and for the builtin `list` inspect parses a text signature with tokenize (~9 ms of a one-shot run)."""
    return []


Guidance = Literal["fluoroscopy", "ct", "ultrasound", "none", "unstated"]
Side = Literal["left", "right", "bilateral", "unstated"]
# A procedure id: a family's `procedure` (families/*/family.toml), or "unstated".
Procedure = str
Purpose = Literal["diagnostic", "therapeutic", "diagnostic_and_therapeutic", "unstated"]
Severity = Literal["error", "warning"]


class Span(BaseModel):
    """A half-open character range [start, end) of the text a fact was read from."""

    model_config = ConfigDict(frozen=True)
    start: int
    end: int
    text: str


class Medication(BaseModel):
    name: str = Field(description="generic name, lower case, e.g. triamcinolone")
    as_written: str = Field(description="the name as the text wrote it, e.g. Kenalog")
    dose: str | None = Field(default=None, description="amount as written, e.g. '40 mg'")
    concentration: str | None = Field(default=None, description="e.g. '0.25%'")
    volume: str | None = Field(default=None, description="e.g. '2 mL'")
    role: Literal["steroid", "anesthetic", "contrast", "sedative", "other"] = "other"
    span: Span | None = None
    # Fidelity fields (all optional, so older JSON still loads): what the text says beyond name and amount.
    salt: str | None = Field(default=None, description="salt or formulation: acetonide, hexacetonide, acetate")
    product: str | None = Field(default=None, description="product name carrying a strength, e.g. 'Kenalog-40'")
    computed_dose: bool = Field(default=False, description="dose = stated strength (mg/mL) x stated volume")
    basis: Literal["per_side", "total"] | None = Field(default=None, description="'20 mg per side' vs '40 mg total'")
    use: Literal["injectate", "skin_local", "contrast", "sedation", "other_procedure"] | None = Field(
        default=None, description="what the drug was for; None is read as the injectate")
    belongs_to: str | None = Field(default=None, description="use=other_procedure: the procedure it was given in")
    ambiguous_amount: str | None = Field(default=None, description="an amount that may be this drug's or a neighbour's")
    label_strength: str | None = Field(default=None, description="the one strength the named product is sold in "
                                       "(lexicon/drugs.toml), e.g. '6 mg/mL' for Celestone Soluspan; never written")

    @property
    def injectate(self) -> bool:
        return self.role != "contrast" and self.use in (None, "injectate")

    def fact(self) -> tuple:
        """The fact tuple grounding and the fidelity eval compare attribute by attribute."""
        use = self.use or {"contrast": "contrast", "sedative": "sedation"}.get(self.role, "injectate")
        return (self.name, self.salt, self.dose, self.concentration, self.volume, self.basis, use)

    @property
    def dosed(self) -> bool:
        """A drug is dosed when the text gives an amount: mg, or a volume with its concentration. A volume alone
        ("1 mL of Depo-Medrol", "2 mL of bupivacaine") does not say how much drug: the products come in several
        strengths. A product sold in one strength only says it by its name ("0.5 mL of Celestone")."""
        return bool(self.dose or (self.volume and (self.concentration or self.label_strength)))

    def dose_text(self) -> str | None:
        """The amount as one phrase: '40 mg', '2 mL of 0.25%', '40 mg in 1 mL'; None when undosed."""
        volume = f"{self.volume} of {self.concentration}" if self.volume and self.concentration else self.volume
        parts = [p for p in (None if self.computed_dose else self.dose, volume) if p]  # as written, not computed
        return " in ".join(parts) if parts else None


class Diagnosis(BaseModel):
    code: str | None = None
    text: str | None = None
    billable: bool | None = Field(default=None, description="False for a known non-billable parent such as M54.5")
    span: Span | None = None


class Fact(BaseModel):
    """One scalar fact with the span that supports it (None when the text does not state it)."""

    value: str
    span: Span | None = None


class Conflict(BaseModel):
    """Two established statements that cannot both be true (fluoroscopy and ultrasound both guiding the needle,
    a header side and a body side). Never resolved by a priority order: the verdict is not supported and the
    physician is asked."""

    kind: Literal["guidance", "side", "dose", "checkbox", "procedure"]
    message: str
    question: str
    evidence: list[Span] = Field(default_factory=_empty_list)


EventStatus = Literal["performed", "aborted", "periarticular"]


class Event(BaseModel):
    """One site and side acted on today, with what the text establishes about it."""

    procedure: str
    side: Literal["left", "right", "unsided"]
    status: EventStatus = "performed"
    guidance: Guidance = "unstated"
    needle_confirmation: bool = False
    evidence: list[Span] = Field(default_factory=_empty_list, description="the side and procedure statements")
    status_evidence: list[Span] = Field(default_factory=_empty_list, description="what made it aborted or periarticular")
    confirmation_evidence: list[Span] = Field(default_factory=_empty_list)


class Facts(BaseModel):
    """What a dictation or a note documents: an encounter (diagnoses, purpose, pain scores, payer facts) and its
    procedure events. `side`, `guidance` and `procedure` are kept (derived from the events) for the JSON contract."""

    procedure: Procedure = "unstated"
    procedure_span: Span | None = None
    side: Side = "unstated"
    side_spans: list[Span] = Field(default_factory=_empty_list)
    guidance: Guidance = "unstated"
    guidance_spans: list[Span] = Field(default_factory=_empty_list)
    needle_confirmation: Span | None = None
    contrast: Span | None = None
    images_recorded: Span | None = None
    guidance_description: Span | None = None
    medications: list[Medication] = Field(default_factory=_empty_list)
    diagnoses: list[Diagnosis] = Field(default_factory=_empty_list)
    purpose: Purpose = "unstated"
    purpose_span: Span | None = None
    pain_pre: Fact | None = None
    pain_post: Fact | None = None
    complications: Fact | None = None
    levels: list[Fact] = Field(default_factory=_empty_list)
    muscles: list[Fact] = Field(default_factory=_empty_list)
    setting: Literal["facility", "office", "unstated"] = "unstated"
    # Amounts ("40 mg TA") that no drug in the lexicon claims: the drafter asks instead of dropping them.
    unread_amounts: list[Span] = Field(default_factory=_empty_list)
    # Mentions that were read but do not count, kept so a scribe sees why ("fluoroscopy was not used").
    discounted: list["Discounted"] = Field(default_factory=_empty_list)
    events: list[Event] = Field(default_factory=_empty_list)
    named_sides: list[str] = Field(default_factory=_empty_list, description="every side the text names as acted on today")
    not_done: list[Span] = Field(default_factory=_empty_list, description="statements that the procedure was not done today")
    named_procedures: list[str] = Field(default_factory=_empty_list, description="every SI procedure the text names as done")
    conflicts: list[Conflict] = Field(default_factory=_empty_list)
    # A text that describes more than one procedure: each one's facts, read from the parts that belong to it
    # (events.py), by procedure id. Empty when the text describes one procedure (the fields above are its facts).
    procedures: dict[str, "Facts"] = Field(default_factory=dict)

    def for_procedure(self, procedure: str) -> "Facts":
        """The facts of one procedure of the text: itself when the text describes one procedure or this one."""
        if not self.procedures:
            return self
        return self.procedures.get(procedure, self)

    def performed_sides(self) -> set[str]:
        return {e.side for e in self.events if e.status == "performed" and e.side != "unsided"}

    def summary(self) -> dict:
        """The compact shape the CLI and API print under `facts`."""
        return {
            "procedure": self.procedure,
            "guidance": self.guidance,
            "side": self.side,
            "purpose": self.purpose,
            "medications": [
                {"name": m.name, "as_written": m.as_written, "dose": m.dose_text(), "role": m.role}
                for m in self.medications
            ],
            "diagnoses": [{"code": d.code, "text": d.text, "billable": d.billable} for d in self.diagnoses],
            "needle_confirmation": self.needle_confirmation is not None,
            "contrast": self.contrast is not None,
            "images_recorded": self.images_recorded is not None,
            "levels": [f.value for f in self.levels],
            "muscles": [f.value for f in self.muscles],
            "pain_pre": self.pain_pre.value if self.pain_pre else None,
            "pain_post": self.pain_post.value if self.pain_post else None,
            "complications": self.complications.value if self.complications else None,
            "events": [
                {"procedure": e.procedure, "side": e.side, "status": e.status, "guidance": e.guidance,
                 "needle_confirmation": e.needle_confirmation}
                for e in self.events
            ],
            "conflicts": [{"kind": c.kind, "message": c.message, "question": c.question} for c in self.conflicts],
            "not_done": [s.text for s in self.not_done],
        }


class Discounted(BaseModel):
    """A mention the extractor read and set aside, with the reason: negated, planned, historical, declined."""

    kind: str
    reason: Literal["negated", "planned", "historical", "declined", "conditional", "quoted", "unchecked", "doubted", "instruction"]
    span: Span


Facts.model_rebuild()


class CodeLine(BaseModel):
    """One billing line: a CPT/HCPCS code and its modifiers, e.g. 27096-50 or 20552-LT."""

    model_config = ConfigDict(frozen=True)
    code: str
    modifiers: tuple[str, ...] = ()

    def __str__(self) -> str:
        return "-".join((self.code, *self.modifiers))


class Finding(BaseModel):
    rule: str
    severity: Severity
    message: str
    fix: str
    code: str | None = Field(default=None, description="the code line the finding is about")
    source: str | None = None
    evidence: list[Span] = Field(default_factory=_empty_list)


class Requirement(BaseModel):
    """A requirement of a code line that the note satisfies, with the text that satisfies it."""

    rule: str
    code: str
    description: str
    evidence: list[Span] = Field(default_factory=_empty_list)


class ValidationReport(BaseModel):
    supported: bool
    codes: list[str]
    findings: list[Finding]
    satisfied: list[Requirement]
    suggested_codes: list[str]
    facts: Facts

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def as_json(self) -> dict:
        return {
            "supported": self.supported,
            "codes": self.codes,
            "findings": [f.model_dump() for f in self.findings],
            "satisfied": [r.model_dump() for r in self.satisfied],
            "suggested_codes": self.suggested_codes,
            "facts": self.facts.summary(),
        }


class Attempt(BaseModel):
    """One call to an LLM, recorded whatever its outcome: the eval harness and the audit trail read these."""

    model_config = ConfigDict(defer_build=True)  # built on first use: `notedraft validate` never makes one

    purpose: Literal["extract", "compose", "repair"]
    model: str
    base_url: str | None = None
    prompt_version: str
    latency_ms: float
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    # malformed: the answer was not a chat completion (HTML, cut-off or invalid JSON, empty, missing fields);
    # oversize: past the byte cap or max_tokens; timeout: no whole reply within the call's deadline.
    # Added after "error", so logs written before them still load.
    outcome: Literal["ok", "invalid", "refused", "truncated", "error", "malformed", "oversize", "timeout"]
    error: str | None = None
    transport_retries: int = 0
    finish_reason: str | None = None
    cached: bool = False
    raw: str | None = Field(default=None, description="the model's text, kept so logs can be re-scored")


class Draft(BaseModel):
    """A drafted note, the facts behind it, the code lines, the physician queries and every LLM attempt."""

    model_config = ConfigDict(defer_build=True)  # built on first use: `notedraft validate` never makes one

    dictation: str
    note: str
    strategy: str
    model: str | None = None
    facts: Facts
    codes: list[str]
    report: ValidationReport
    queries: list[str] = Field(default_factory=_empty_list)
    attempts: list[Attempt] = Field(default_factory=_empty_list)
    refused: bool = False
    notes: list[str] = Field(default_factory=_empty_list, description="what the tool did and why, e.g. a fallback")
    raw_findings: list[Finding] = Field(
        default_factory=_empty_list, description="grounding findings on the raw LLM output, before notedraft dropped them"
    )

    @property
    def supported(self) -> bool:
        return self.report.supported and not self.refused

    def as_json(self) -> dict:
        report = self.report.as_json()
        return {
            "note": self.note,
            "codes": self.codes,
            "supported": self.supported,
            "refused": self.refused,
            "findings": report["findings"],
            "suggested_codes": report["suggested_codes"],
            "facts": report["facts"],
            "queries": self.queries,
            "attempts": [a.model_dump(exclude={"raw"}) for a in self.attempts],
            "strategy": self.strategy,
            "model": self.model,
            "notes": self.notes,
            "raw_findings": [f.model_dump() for f in self.raw_findings],
        }
