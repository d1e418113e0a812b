"""Plausible single-injection amounts, from each product's label (data: lexicon/dose_ranges.toml), in two tiers:

- outside the label range ("dexamethasone 10 mg", label 0.4-6 mg): a warning that names its source; the note
  documents the amount as dictated (`medication.dose_outside_label`);
- implausible by a wide margin (at least `margin` times the top of the range, or below the bottom by that factor:
  a tenfold slip, "kenalog 4000 mg", or a unit that cannot be right, "40 g", "40 mcg"): an error, never drafted,
  and the physician is asked what was injected (`medication.dose_implausible`).

A bound here is not a clinical recommendation. Each range is per injection (per side when the dictation says "per
side"); a stated total over a bilateral procedure is compared against the range times the number of sides. Local
anaesthetics are checked in mg (percent × 10 × mL) against the label's maximum single dose, and their percent
against the strengths sold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Literal

from .models import Medication
from .recache import load_toml

DATA = Path(__file__).parent / "lexicon" / "dose_ranges.toml"


@dataclass(frozen=True)
class Range:
    low: Decimal
    high: Decimal
    unit: str  # "mg" (mass), "mL" (volume, contrast) or "%"
    source: str
    implausible_below: Decimal = Decimal(0)
    implausible_above: Decimal | None = None


@dataclass(frozen=True)
class Assessment:
    """Why an amount is off: `tier` "outside_label" (a warning) or "implausible" (an error and a question)."""

    tier: Literal["outside_label", "implausible"]
    message: str
    source: str
    amount: str  # the amount compared, as the note would state it ("10 mg", "400 mg in total", "5%")
    range: str  # "0.4-6 mg"


def _d(x) -> Decimal:
    return Decimal(str(x))


@cache
def _tables() -> tuple[dict[tuple[str, str | None], Range], dict[str, Range], Decimal]:
    with open(DATA, "rb") as fh:
        data = load_toml(fh)
    margin = _d(data["plausibility"]["margin"])

    def rng(entry: dict, unit: str) -> Range:
        low, high = _d(entry["low"]), _d(entry["high"])
        below = _d(entry["implausible_below"]) if "implausible_below" in entry else low / margin
        above = _d(entry["implausible_above"]) if "implausible_above" in entry else high * margin
        return Range(low, high, unit, entry["source"], below, above)

    dose = {(e["drug"], e.get("salt")): rng(e, e["unit"]) for e in data["dose"]}
    percent = {e["drug"]: rng(e, "%") for e in data["percent"]}
    return dose, percent, margin


def __getattr__(name: str):
    if name == "DOSE":
        return _tables()[0]
    if name == "PERCENT":
        return _tables()[1]
    if name == "MARGIN":
        return _tables()[2]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_TO_MG = {"mg": Decimal(1), "mcg": Decimal("0.001"), "g": Decimal(1000)}


def _value(text: str | None, unit: str) -> Decimal | None:
    m = re.fullmatch(rf"(\d*\.?\d+)\s*{re.escape(unit)}", text or "")
    return Decimal(m.group(1)) if m else None


def _mass_mg(text: str | None) -> tuple[Decimal, str] | None:
    """A mass dose in mg, and as written: "40 mg", "40 g" (40000 mg), "40 mcg" (0.04 mg)."""
    m = re.fullmatch(r"(\d*\.?\d+)\s*(mg|mcg|g)", text or "")
    return (Decimal(m.group(1)) * _TO_MG[m.group(2)], f"{m.group(1)} {m.group(2)}") if m else None


def _fmt(d: Decimal) -> str:
    return format(d.normalize(), "f")


def _tier(amount: Decimal, low: Decimal, high: Decimal, r: Range, scale: Decimal) -> str | None:
    if low <= amount <= high:
        return None
    above = r.implausible_above * scale if r.implausible_above is not None else None
    if (above is not None and amount >= above) or (r.implausible_below > 0 and amount <= r.implausible_below * scale):
        return "implausible"
    return "outside_label"


def assess(med: Medication, sides: int = 1) -> Assessment | None:
    """How far the dictated amount is from its label range, or None when within it (or no range is known): the
    worse of the percent and the amount. Never a guess at the intended amount."""
    found = [a for a in (_percent(med), _amount(med, sides)) if a is not None]
    return next((a for a in found if a.tier == "implausible"), found[0] if found else None)


def _percent(med: Medication) -> Assessment | None:
    pct = _value(med.concentration, "%")
    p = _tables()[1].get(med.name)
    if p is None or pct is None:
        return None
    tier = _tier(pct, p.low, p.high, p, Decimal(1))
    if tier is None:
        return None
    far = "far " if tier == "implausible" else ""
    bounds = f"{_fmt(p.low)}-{_fmt(p.high)}%"
    return Assessment(tier, f"{med.name} {_fmt(pct)}% is {far}outside the strengths it comes in ({bounds}; {p.source})",
                      p.source, f"{_fmt(pct)}%", bounds)


def _amount(med: Medication, sides: int) -> Assessment | None:
    dose_table = _tables()[0]
    r = dose_table.get((med.name, med.salt)) or dose_table.get((med.name, None))
    if r is None:
        return None
    scale = Decimal(sides) if med.basis == "total" and sides > 1 else Decimal(1)
    amount: Decimal | None = None
    shown = ""
    if r.unit == "mg":
        mass = _mass_mg(med.dose)
        pct, vol = _value(med.concentration, "%"), _value(med.volume, "mL")
        if mass:
            amount, shown = mass
            if not shown.endswith(" mg"):  # "40 g" is compared as 40000 mg
                shown = f"{shown} ({_fmt(amount)} mg)"
        elif pct is not None and vol is not None:
            amount = pct * 10 * vol
            shown = f"{_fmt(amount)} mg"
    else:
        amount = _value(med.volume, "mL")
        shown = f"{_fmt(amount)} mL" if amount is not None else ""
    if amount is None:
        return None
    low, high = r.low, r.high * scale
    tier = _tier(amount, low, high, r, scale)
    if tier is None:
        return None
    per = " in total" if scale > 1 else (" per side" if med.basis == "per_side" else "")
    bounds = f"{_fmt(low)}-{_fmt(high)} {r.unit}"
    if tier == "implausible":
        message = (f"{med.name} {shown}{per} is far outside the plausible single-injection range {bounds} "
                   f"({r.source}): {_fmt(_tables()[2])} times or more off, a slip of the amount or its unit")
    else:
        message = f"{med.name} {shown}{per} is outside the label's single-injection range {bounds} ({r.source})"
    return Assessment(tier, message, r.source, f"{shown}{per}", bounds)


def outside_label(med: Medication, sides: int = 1) -> str | None:
    """Why the amount is outside its label range (either tier), or None."""
    a = assess(med, sides)
    return a.message if a else None


def implausible(med: Medication, sides: int = 1) -> str | None:
    """Why the amount is implausible by a wide margin (the error tier), or None."""
    a = assess(med, sides)
    return a.message if a and a.tier == "implausible" else None
