"""Rule packs: one TOML file per code in `notedraft/rules/`, validated by these pydantic models.

A rule is data: when its `when` conditions hold for a code line, each `require` condition must hold too, or the
rule fires with its message and fix. A rule with no `require` fires whenever `when` holds (a prohibition or a
caution). Conditions name checks from `notedraft.checks`; adding a code means a new pack, not new code.
Files whose name starts with "_" are shared rule sets that packs `include`.
"""

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.version import VERSION as PYDANTIC_VERSION

from .recache import load_toml


def _empty_list() -> list:
    """`default_factory=list`, as a Python function: pydantic asks each factory for its signature when it builds a
    model, and for the builtin `list` inspect parses a text signature with tokenize (~9 ms of a one-shot run)."""
    return []


RULES_DIR = Path(__file__).parent / "rules"


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    check: str
    args: dict[str, Any] = Field(default_factory=dict)
    negate: bool = False

    @model_validator(mode="after")
    def _known_check(self) -> "Condition":
        from .checks import CHECKS

        if self.check not in CHECKS:
            raise ValueError(f"unknown check {self.check!r}; known: {', '.join(sorted(CHECKS))}")
        return self


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    id: str
    severity: Literal["error", "warning"]
    requirement: str = Field(description="what the note must show, in a coder's words")
    message: str = Field(description="why the rule fired; may use {detail}")
    fix: str
    source: str
    when: list[Condition] = Field(default_factory=_empty_list)
    require: list[Condition] = Field(default_factory=_empty_list)


class Position(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    claim: str
    source: str


class Disagreement(BaseModel):
    """Sources that disagree; the pack records every position and the validator warns, naming the alternative."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    topic: str
    positions: list[Position]


class Include(BaseModel):
    """A shared rule set pulled into a pack, applying only when its own `when` holds too."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    set: str
    when: list[Condition] = Field(default_factory=_empty_list)


class Suggestion(BaseModel):
    """One reading of the facts under which the code is suggested (a pack may have several: 20552 for an
    SI joint injection without fluoroscopy, or for trigger points in one or two muscles)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    when: list[Condition]


class CodePack(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    code: str
    title: str
    descriptor: str
    kind: Literal["primary", "add_on", "guidance_add_on", "deleted"]
    modifiers: list[str] = Field(default_factory=_empty_list, description="modifiers this code may carry")
    laterality: Literal["side_modifiers", "none"] = "none"
    laterality_procedures: list[str] = Field(
        default_factory=_empty_list, description="with side_modifiers: the procedures whose suggested lines carry the "
        "side's modifier (empty: every procedure the code bills)")
    include: list[Include] = Field(default_factory=_empty_list)
    suggest: list[Suggestion] = Field(default_factory=_empty_list, description="facts under which to suggest this code")
    rules: list[Rule] = Field(default_factory=_empty_list)
    disagreements: list[Disagreement] = Field(default_factory=_empty_list)
    sources: list[str] = Field(default_factory=_empty_list)
    # Family packs (families/<name>/rules/*.toml): the procedure whose facts a line of this code is read against in
    # a note that documents several, and the levels a line bills (see family_facts.py).
    family: str | None = Field(default=None, description="the family folder the pack belongs to")
    procedures: list[str] = Field(default_factory=_empty_list, description="the procedures a line of this code bills")
    levels_from: int = Field(default=0, description="per-level codes: the first level ordinal the code bills (1 = "
                                                   "the primary level, 2 = the second...); 0 = not per level")
    levels_to: int = Field(default=0, description="the last level ordinal the code bills (inclusive)")
    max_units: int = Field(default=1, description="the most lines of this code one side/claim carries")
    guidance_add_ons: list[str] = Field(default_factory=_empty_list, description="guidance codes this code takes separately")


class RuleSet(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    name: str
    description: str
    rules: list[Rule]
    disagreements: list[Disagreement] = Field(default_factory=_empty_list)  # added to every pack that includes the set


def _read(path: Path) -> dict:
    with path.open("rb") as fh:
        return load_toml(fh)


def _family_pack_files() -> list[Path]:
    """Each family's own packs: `families/<name>/rules/*.toml` (a family is one folder)."""
    from .resources import packaged

    return sorted(packaged("families").glob("*/rules/[!_]*.toml"))


@lru_cache(maxsize=1)
def load_packs(directory: Path = RULES_DIR) -> dict[str, CodePack]:
    shared_files = sorted(directory.glob("_*.toml"))
    family_files = _family_pack_files() if directory == RULES_DIR else []
    pack_files = sorted(directory.glob("[!_]*.toml")) + family_files
    from . import recache
    from .checks import CHECKS  # what a Condition's validator accepts (lcd_ checks always are)

    # The command line keeps the validated packs between runs (recache.validated): the same files read by the same
    # code give the same packs, so a one-shot `notedraft validate` builds none of these models (defer_build above).
    code = (PYDANTIC_VERSION, _stat(Path(__file__)), tuple(sorted(k for k in dict.keys(CHECKS) if not k.startswith("lcd_"))))
    return recache.validated(f"packs {directory}", shared_files + pack_files, code,
                             lambda: _build_packs(shared_files, pack_files, family_files), _MODELS)


def _stat(path: Path) -> tuple:
    st = path.stat()
    return (str(path), st.st_size, st.st_mtime_ns)


def _build_packs(shared_files: list[Path], pack_files: list[Path], family_files: list[Path]) -> dict[str, CodePack]:
    shared = {p.stem[1:]: RuleSet.model_validate(_read(p)) for p in shared_files}
    packs: dict[str, CodePack] = {}
    for path in pack_files:
        pack = CodePack.model_validate(_read(path))
        if path in family_files:
            pack.family = path.parent.parent.name
        if pack.code in packs:
            raise ValueError(f"{path}: code {pack.code} has a pack already")
        included: list[Rule] = []
        for inc in pack.include:
            if inc.set not in shared:
                raise ValueError(f"{path.name}: includes unknown rule set {inc.set!r}")
            included += [
                r.model_copy(update={"id": f"{pack.code}.{r.id}", "when": inc.when + r.when}) for r in shared[inc.set].rules
            ]
            pack.disagreements = pack.disagreements + shared[inc.set].disagreements
        pack.rules = included + [r.model_copy(update={"id": f"{pack.code}.{r.id}"}) for r in pack.rules]
        if path.stem != pack.code:
            raise ValueError(f"{path.name}: file name must be the code ({pack.code})")
        ids = [r.id for r in pack.rules]
        if len(ids) != len(set(ids)):
            raise ValueError(f"{path.name}: duplicate rule ids")
        packs[pack.code] = pack
    return packs


_MODELS = (CodePack, RuleSet, Rule, Condition, Include, Suggestion, Disagreement, Position)
