"""Eval datasets: one pydantic schema per JSONL row, and the loaders.

- `evals/drafting.jsonl`: a dictation, the code lines asked for (or none), gold facts and the expected outcome.
- `evals/validator.jsonl`: a short note, code lines and the expected verdict.
- `../shared/realnotes/` (read at run time, never copied): every usable real note becomes a validator case whose
  expected guidance and side are the labels of its `index.json`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..models import Guidance, Procedure, Purpose, Side

Path_ = Literal["fluoroscopy", "ct", "us_recorded", "us_unrecorded", "landmark", "unstated"]
Topic = Literal["dose", "diagnosis", "purpose", "side", "guidance", "confirmation", "images", "levels", "muscles",
                "site", "technique", "procedure"]
Style = Literal["terse", "abbreviated", "run-on", "typos", "formal"]

PATHS: tuple[str, ...] = ("fluoroscopy", "ct", "us_recorded", "us_unrecorded", "landmark")
SIDES: tuple[str, ...] = ("left", "right", "bilateral")
PATH_GUIDANCE: dict[str, str] = {
    "fluoroscopy": "fluoroscopy",
    "ct": "ct",
    "us_recorded": "ultrasound",
    "us_unrecorded": "ultrasound",
    "landmark": "none",
    "unstated": "unstated",
}


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GoldMedication(_Row):
    name: str = Field(description="generic name, lower case")
    as_written: str
    dose: str | None = Field(default=None, description="mass as written, e.g. '40 mg'")
    concentration: str | None = None
    volume: str | None = None
    role: Literal["steroid", "anesthetic", "contrast", "sedative", "other"] = "other"
    # Fidelity attributes (issue 9 part 2), all optional so older rows still load. None: not dictated (salt: the
    # label salt of a brand as_written, e.g. kenalog → acetonide, is what the dictation states).
    salt: str | None = None
    basis: Literal["per_side", "total"] | None = Field(default=None, description="'20 mg per side' / '40 mg total'")
    use: Literal["injectate", "skin_local", "contrast", "sedation", "other_procedure"] | None = Field(
        default=None, description="None: injectate (contrast for a contrast agent)")
    belongs_to: str | None = Field(default=None, description="use=other_procedure: that procedure, e.g. 'L4-5 TFESI'")

    @property
    def dosed(self) -> bool:
        return bool(self.dose or self.volume)


class GoldDiagnosis(_Row):
    code: str | None = None
    text: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> GoldDiagnosis:
        if not (self.code or self.text):
            raise ValueError("a gold diagnosis needs a code or a text")
        return self


class GoldEvent(_Row):
    side: Literal["left", "right"]
    status: Literal["performed", "aborted", "periarticular"] = "performed"


class GoldFacts(_Row):
    """What the dictation states, written by hand: the truth a draft is scored against."""

    procedure: Procedure = "si_joint_injection"
    side: Side
    guidance: Guidance
    images_recorded: bool = False
    purpose: Purpose
    medications: list[GoldMedication] = Field(default_factory=list)
    diagnoses: list[GoldDiagnosis] = Field(default_factory=list)
    # Fidelity (optional): per-side status when a side was not injected, and procedures the dictation also names.
    events: list[GoldEvent] | None = Field(default=None, description="None: every side of `side` performed")
    other_procedures: list[str] = Field(default_factory=list, description="e.g. 'left L4-5 TFESI'")
    # A procedure family's own facts (optional; None: not labelled, not scored). Levels as written ("L4-5",
    # "L5-S1", "L5"), muscles as written, and the family's site class ("major", "intermediate", "small" for a
    # joint; "block" or "ablation" for genicular nerves), each as the dictation states them for today.
    levels: list[str] | None = None
    muscles: list[str] | None = None
    site_class: str | None = None


class Expected(_Row):
    outcome: Literal["supported", "refused"]
    codes: list[str] = Field(default_factory=list, description="supported: the code lines the final draft carries")
    suggested_codes: list[str] = Field(
        default_factory=list, description="refused: the code lines the dictation does support (may be empty)"
    )
    query_topics: list[Topic] = Field(default_factory=list, description="refused: what the physician must be asked")

    @model_validator(mode="after")
    def _shape(self) -> Expected:
        if self.outcome == "supported" and not self.codes:
            raise ValueError("a supported case names the code lines its draft must carry")
        if self.outcome == "refused" and self.codes:
            raise ValueError("a refused case lists supported lines under suggested_codes, not codes")
        return self


class DraftingCase(_Row):
    id: str
    dictation: str = Field(min_length=1)
    codes: list[str] | None = Field(description="code lines asked for; None lets the drafter suggest them")
    path: Path_
    side: Side
    style: list[Style] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    gold: GoldFacts
    expected: Expected
    why: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> DraftingCase:
        if self.gold.side != self.side:
            raise ValueError(f"{self.id}: gold side {self.gold.side} != row side {self.side}")
        if self.gold.guidance != PATH_GUIDANCE[self.path]:
            raise ValueError(f"{self.id}: gold guidance {self.gold.guidance} does not match path {self.path}")
        if self.gold.images_recorded != (self.path == "us_recorded"):
            raise ValueError(f"{self.id}: images_recorded must be true exactly on the us_recorded path")
        return self


class ValidatorExpected(_Row):
    supported: bool
    suggested_codes: list[str] | None = Field(default=None, description="None: not asserted")
    guidance: Guidance | None = None
    side: Side | None = None


class ValidatorCase(_Row):
    id: str
    note: str
    codes: list[str] = Field(min_length=1)
    payer: str | None = None
    expected: ValidatorExpected
    tags: list[str] = Field(default_factory=list)
    why: str = ""
    source: Literal["hand", "realnote"] = "hand"


class Datasets(BaseModel):
    drafting: list[DraftingCase] = Field(default_factory=list)
    validator: list[ValidatorCase] = Field(default_factory=list)
    realnotes_dir: str | None = None
    skipped_realnotes: list[str] = Field(default_factory=list, description="files left out, with the reason")

    @property
    def size(self) -> int:
        return len(self.drafting) + len(self.validator)


class DatasetError(ValueError):
    pass


def _read_jsonl(path: Path, model: type[BaseModel]) -> list:
    rows = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip() or line.lstrip().startswith("//"):
                continue
            try:
                rows.append(model.model_validate_json(line))
            except ValueError as exc:
                raise DatasetError(f"{path}:{n}: {exc}") from exc
    ids = [r.id for r in rows]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise DatasetError(f"{path}: duplicate ids {dupes}")
    return rows


def load_drafting(path: str | os.PathLike) -> list[DraftingCase]:
    return _read_jsonl(Path(path), DraftingCase)


def load_validator(path: str | os.PathLike) -> list[ValidatorCase]:
    return _read_jsonl(Path(path), ValidatorCase)


def stratified_sample(cases: list[DraftingCase], n: int) -> list[DraftingCase]:
    """A deterministic, representative subset of n cases (for slow arms such as a CPU-bound local LLM).

    Cases are grouped by what they test — supported cases by path × side, refused cases by their first tag — and
    the groups are visited round-robin in a fixed order, taking each group's cases in id order, so the first 15
    picks cover every path × side and the next ones every refusal kind. The result keeps the dataset's order.
    """
    if n >= len(cases):
        return list(cases)
    groups: dict[str, list[DraftingCase]] = {}
    for c in cases:
        key = (f"supported:{c.path}:{c.side}" if c.expected.outcome == "supported"
               else f"refused:{c.tags[0] if c.tags else 'untagged'}")
        groups.setdefault(key, []).append(c)
    for g in groups.values():
        g.sort(key=lambda c: c.id)
    order = sorted(groups, key=lambda k: (not k.startswith("supported"), k))
    picked: set[str] = set()
    depth = 0
    while len(picked) < n:
        for key in order:
            if depth < len(groups[key]) and len(picked) < n:
                picked.add(groups[key][depth].id)
        depth += 1
    return [c for c in cases if c.id in picked]


# --- real notes --------------------------------------------------------------------------------------------------
UNUSABLE_FLAGS = ("truncated", "empty")
REALNOTE_CODES = ["27096"]


def _unusable(entry: dict, text: str | None) -> str | None:
    for flag in entry.get("flags") or []:
        low = flag.lower()
        if any(word in low for word in UNUSABLE_FLAGS):
            return flag
    if text is None:
        return "file missing"
    if not text.strip():
        return "empty text"
    return None


def load_realnotes(directory: str | os.PathLike | None) -> tuple[list[ValidatorCase], list[str]]:
    """Every usable real note as a validator case; (cases, skipped-with-reason). Nothing when the folder is absent.

    Each case asks for 27096: none of these notes documents an SI joint
    injection together with a diagnosis, so 27096 must never be supported — a false "supported" here is a real
    validator bug. The labelled guidance and side are what the validator's facts must agree with.
    """
    if directory is None:
        return [], []
    root = Path(directory)
    index = root / "index.json"
    if not index.is_file():
        return [], []
    entries = json.loads(index.read_text(encoding="utf-8"))
    cases, skipped = [], []
    for entry in entries:
        path = root / entry["file"]
        text = path.read_text(encoding="utf-8") if path.is_file() else None
        reason = _unusable(entry, text)
        if reason:
            skipped.append(f"{entry['file']}: {reason}")
            continue
        cases.append(
            ValidatorCase(
                id=f"realnote:{Path(entry['file']).stem}",
                note=text,
                codes=list(REALNOTE_CODES),
                expected=ValidatorExpected(supported=False, guidance=entry["guidance"], side=entry["side"]),
                tags=["realnote", entry.get("procedure_category") or "uncategorised"],
                why=(entry.get("cpt_judgement") or "")[:300],
                source="realnote",
            )
        )
    return cases, skipped


# --- where things live -------------------------------------------------------------------------------------------
def repo_root() -> Path:
    """The checkout this package runs from (src layout: src/notedraft/evals/ → three levels up)."""
    return Path(__file__).resolve().parents[3]


def default_evals_dir() -> Path:
    """$NOTEDRAFT_EVALS_DIR, else the datasets shipped inside the package (the checkout's evals/ in an editable
    install, through the `_data/evals` symlink): never the current directory, so a wheel behaves like a checkout."""
    env = os.environ.get("NOTEDRAFT_EVALS_DIR")
    if env:
        return Path(env)
    from ..resources import packaged

    return packaged("evals")


def default_realnotes_dir() -> Path | None:
    env = os.environ.get("NOTEDRAFT_REALNOTES")
    if env:
        return Path(env)
    for base in (repo_root(), Path.cwd()):
        candidate = base.parent / "shared" / "realnotes"
        if (candidate / "index.json").is_file():
            return candidate
    return None


def load_datasets(
    evals_dir: str | os.PathLike | None = None,
    realnotes_dir: str | os.PathLike | None | Literal["default"] = "default",
    *,
    include: tuple[str, ...] = ("drafting", "validator", "realnotes"),
) -> Datasets:
    base = Path(evals_dir) if evals_dir else default_evals_dir()
    drafting: list[DraftingCase] = []
    if "drafting" in include:  # drafting.jsonl, then drafting_*.jsonl (e.g. the fidelity set), ids unique across all
        for path in [base / "drafting.jsonl", *sorted(base.glob("drafting_*.jsonl"))]:
            drafting += load_drafting(path) if path.is_file() else []
        ids = [c.id for c in drafting]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise DatasetError(f"{base}: duplicate drafting ids across files {dupes}")
    validator: list[ValidatorCase] = []
    if "validator" in include:  # validator.jsonl, then validator_*.jsonl (e.g. the procedure families' notes)
        for path in [base / "validator.jsonl", *sorted(base.glob("validator_*.jsonl"))]:
            validator += load_validator(path) if path.is_file() else []
    real_dir = default_realnotes_dir() if realnotes_dir == "default" else realnotes_dir
    real, skipped = load_realnotes(real_dir) if "realnotes" in include else ([], [])
    return Datasets(
        drafting=drafting,
        validator=validator + real,
        realnotes_dir=str(real_dir) if real else None,
        skipped_realnotes=skipped,
    )
