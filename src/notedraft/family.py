"""Procedure families as data: `families/<name>/family.toml` (shipped as `notedraft/_data/families`).

A family says how the reader finds its procedure in a text (`[detect]`, see families/README.md). The reader, the
validator and the drafter read these objects; none of them names a family.
"""

import os
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from pydantic.version import VERSION as PYDANTIC_VERSION

from .recache import load_toml


def _empty_list() -> list:
    """`default_factory=list`, as a Python function: pydantic asks each factory for its signature when it builds a
    model, and for the builtin `list` inspect parses a text signature with tokenize (~9 ms of a one-shot run)."""
    return []


class Detect(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    names: list[str] = Field(default_factory=_empty_list, description="words that name the procedure by themselves")
    targets: list[str] = Field(default_factory=_empty_list, description="the anatomy acted on; counts with an action")
    actions: list[str] = Field(default_factory=_empty_list, description="what makes a target the procedure")
    context: list[str] = Field(default_factory=_empty_list, description="one of these must stand in the sentence too")
    yields_to: list[str] = Field(default_factory=_empty_list, description="families that take over a shared sentence")
    technique: list[str] = Field(default_factory=_empty_list, description="words that describe only the procedure's "
                                 "technique ('loss of resistance'): they name it when no procedure is named anywhere")
    landmark: bool = Field(default=False, description="the target named with nothing done to it still counts "
                                                       "when no procedure is named")


class Levels(BaseModel):
    """How the family's billed levels and spinal region are read (family_facts.py)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    pattern: str = Field(description="what one billed level looks like, e.g. a facet joint '^[CTLS]\\d+-[CTLS]?\\d+$'")
    key: str = Field(default="as_written", description="'upper': 'L4-5' and 'L4' are one level (a root)")
    regions: dict[str, str] = Field(default_factory=dict, description="region -> regex its level values match")
    region_words: dict[str, list[str]] = Field(default_factory=dict, description="region -> words naming it in "
                                                                                  "the family's procedure sentences")
    technique_words: list[str] = Field(default_factory=_empty_list, description="where the needle goes ('foramen', "
                                       "'facet joint'): when the procedure's own sentences name no level, a level in "
                                       "a technique sentence of its event that names one of these counts")
    nerve_offsets: dict[str, list[int]] = Field(
        default_factory=dict, description="spinal letter of a joint's upper vertebra -> the vertebrae (as offsets "
        "from it) whose nerves supply the joint: a lumbar facet L4-5 is the L3 and L4 medial branches ({L = [-1, 0]}). "
        "A single vertebra named as a nerve of a named joint is that joint's, not a question")
    root_offsets: dict[str, int] = Field(
        default_factory=dict, description="spinal letter -> offset of a level named alone (a nerve root) to the "
        "upper vertebra of the foramen it exits: cervical roots exit above their vertebra, so the C6 root is the C5-6 "
        "foramen ({C = -1}); with key 'upper' the two are then one level")
    spread_words: list[str] = Field(
        default_factory=_empty_list, description="words after which a level is where the contrast went, not a level "
        "injected ('spread along the S1 nerve root'): such a level is neither billed nor a question")


class Sites(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    classes: dict[str, list[str]] = Field(description="size class -> words naming a joint or bursa of that class")


class Query(BaseModel):
    """A question the drafter asks when a fact the family's codes need is missing."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    fact: str
    question: str


class DraftName(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    when: str = Field(description="regex on the dictation's own procedure mention")
    procedure: str = Field(description="the procedure's words when it matches")


class DraftSpec(BaseModel):
    """How the offline drafter writes the family's note (family_render.py, `families/<name>/note.txt.j2`)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    procedure: str = Field(description="the procedure's words on the note's procedure line")
    site_wording: dict[str, str] = Field(default_factory=dict, description="site class -> the procedure's words "
                                                                           "(a genicular block vs an ablation)")
    needs: list[str] = Field(default_factory=_empty_list, description="facts drafted as a visible [... NEEDED] "
                                                               "placeholder when the dictation lacks them: side, "
                                                               "levels, site, muscles, guidance, purpose")
    codes: list[str] = Field(default_factory=_empty_list, description="the family's primary codes in the order the "
                                                               "drafter checks a dictation that supports none")
    named: list[DraftName] = Field(default_factory=_empty_list, description="the procedure's words by what the dictation "
                                                                     "named (an MBB vs a facet joint injection)")
    details: dict[str, list[str]] = Field(default_factory=dict, description="label -> words read in the "
                                                                            "procedure's sentences and written as "
                                                                            "dictated (the genicular nerves)")


class FamilySpec(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    name: str
    procedure: str = Field(description="the procedure id Facts and events carry, e.g. si_joint_injection")
    label: str
    covered: bool = Field(default=False, description="notedraft drafts and validates this family's codes")
    validated: bool = Field(default=False, description="the family's own rule packs (rules/*.toml) validate and "
                                                       "suggest its codes")
    detect: Detect
    levels: Levels | None = None
    sites: Sites | None = None
    queries: list[Query] = Field(default_factory=_empty_list)
    draft: DraftSpec | None = None


@dataclass(frozen=True)
class Family:
    spec: FamilySpec

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def procedure(self) -> str:
        return self.spec.procedure

    @property
    def label(self) -> str:
        return self.spec.label

    @cached_property
    def names(self) -> re.Pattern[str] | None:
        return _union(self.spec.detect.names)

    @cached_property
    def targets(self) -> re.Pattern[str] | None:
        return _union(self.spec.detect.targets)

    @cached_property
    def actions(self) -> re.Pattern[str] | None:
        return _union(self.spec.detect.actions)

    @cached_property
    def technique(self) -> re.Pattern[str] | None:
        return _union(self.spec.detect.technique)

    @cached_property
    def context(self) -> re.Pattern[str] | None:
        return _union(self.spec.detect.context)


def _union(patterns: list[str]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


@lru_cache(maxsize=1)
def families() -> tuple[Family, ...]:
    """Every family, in folder-name order (the order never decides a verdict: see events.py)."""
    from .resources import packaged

    from . import recache

    paths = sorted(packaged("families").glob("*/family.toml"))
    # The command line keeps the validated specs between runs (recache.validated): the same files read by the same
    # code give the same specs, so a one-shot `notedraft validate` builds none of these models (defer_build above).
    st = os.stat(__file__)
    code = (PYDANTIC_VERSION, (__file__, st.st_size, st.st_mtime_ns))
    out = [Family(spec) for spec in recache.validated("families", paths, code, lambda: _read_specs(paths), _MODELS)]
    known = {f.name for f in out}
    for f in out:
        unknown = set(f.spec.detect.yields_to) - known
        if unknown:
            raise ValueError(f"family {f.name}: yields_to names unknown families {sorted(unknown)}")
    return tuple(out)


def _read_specs(paths: list[Path]) -> list[FamilySpec]:
    specs = []
    for path in paths:
        with path.open("rb") as fh:
            spec = FamilySpec.model_validate(load_toml(fh))
        if spec.name != path.parent.name:
            raise ValueError(f"{path}: name {spec.name!r} must be its folder's name")
        specs.append(spec)
    return specs


_MODELS = (FamilySpec, Detect, Levels, Sites, Query, DraftName, DraftSpec)


def by_name() -> dict[str, Family]:
    return {f.name: f for f in families()}


def by_procedure() -> dict[str, Family]:
    return {f.procedure: f for f in families()}


def procedure_label(procedure: str) -> str:
    """A procedure id in words: its family's label ("transforaminal epidural injection")."""
    fam = by_procedure().get(procedure)
    return fam.label if fam else procedure.replace("_", " ")
