"""Plausible single-injection amounts, from each product's label, so that "kenalog 4000 mg" is asked about and never
drafted. A bound here is not a clinical recommendation: outside it, the physician is asked to confirm the amount.

Each range is per injection (per side when the dictation says "per side"); a stated total over a bilateral
procedure is compared against the range times the number of sides. Local anaesthetics are checked in mg
(percent × 10 × mL) against the label's maximum single dose, and their percent against the strengths sold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from .models import Medication


@dataclass(frozen=True)
class Range:
    low: Decimal
    high: Decimal
    unit: str  # "mg" (mass) or "mL" (volume, contrast)
    source: str


def _r(low: str, high: str, unit: str, source: str) -> Range:
    return Range(Decimal(low), Decimal(high), unit, source)


# (generic name, salt or None for any) → range of one injection
DOSE: dict[tuple[str, str | None], Range] = {
    ("triamcinolone", "hexacetonide"): _r("2", "20", "mg", "Aristospan (triamcinolone hexacetonide) label: intra-articular "
                                                          "2-20 mg for large joints"),
    ("triamcinolone", None): _r("2.5", "80", "mg", "Kenalog-40 label, intra-articular: 5-15 mg for larger joints, up to "
                                                 "40 mg for larger areas; 80 mg allows two such areas"),
    ("methylprednisolone", None): _r("4", "80", "mg", "Depo-Medrol label, intra-articular: 4-10 mg small, 20-80 mg "
                                                    "large joints"),
    ("betamethasone", None): _r("1.5", "12", "mg", "Celestone Soluspan label, intra-articular: 0.25 mL (1.5 mg) small "
                                                  "joints to 2 mL (12 mg) very large joints"),
    ("dexamethasone", None): _r("0.4", "6", "mg", "dexamethasone sodium phosphate injection label: intra-articular "
                                                "0.4-4 mg, soft tissue 2-6 mg"),
    ("lidocaine", None): _r("0", "300", "mg", "lidocaine HCl injection label: maximum single dose without epinephrine "
                                            "4.5 mg/kg, not to exceed 300 mg"),
    ("bupivacaine", None): _r("0", "175", "mg", "bupivacaine HCl injection label: maximum single dose without "
                                              "epinephrine 175 mg"),
    ("ropivacaine", None): _r("0", "200", "mg", "Naropin label, local infiltration: 5-200 mg (0.5%, 1-40 mL)"),
    ("iohexol", None): _r("0.1", "15", "mL", "Omnipaque label, arthrography: 5-15 mL for a knee; an SI joint holds less"),
    ("iopamidol", None): _r("0.1", "15", "mL", "Isovue-M label, arthrography volumes"),
}
# Percent strengths a local anaesthetic is sold and diluted in.
PERCENT: dict[str, Range] = {
    "lidocaine": _r("0.25", "2", "%", "lidocaine HCl injection label: 0.5%, 1%, 1.5%, 2%"),
    "bupivacaine": _r("0.0625", "0.75", "%", "bupivacaine HCl injection label: 0.25%, 0.5%, 0.75%"),
    "ropivacaine": _r("0.1", "1", "%", "Naropin label: 0.2% to 1%"),
}


def _value(text: str | None, unit: str) -> Decimal | None:
    m = re.fullmatch(rf"(\d*\.?\d+)\s*{re.escape(unit)}", text or "")
    return Decimal(m.group(1)) if m else None


def _fmt(d: Decimal) -> str:
    return format(d.normalize(), "f")


def implausible(med: Medication, sides: int = 1) -> str | None:
    """Why the dictated amount is outside its plausible range, or None. Never a guess at the intended amount."""
    rng = DOSE.get((med.name, med.salt)) or DOSE.get((med.name, None))
    scale = sides if med.basis == "total" and sides > 1 else 1
    pct = _value(med.concentration, "%")
    if med.name in PERCENT and pct is not None:
        p = PERCENT[med.name]
        if not p.low <= pct <= p.high:
            return f"{med.name} {_fmt(pct)}% is outside the strengths it comes in ({_fmt(p.low)}-{_fmt(p.high)}%; {p.source})"
    if rng is None:
        return None
    if rng.unit == "mg":
        amount = _value(med.dose, "mg")
        if amount is None and pct is not None and _value(med.volume, "mL") is not None:
            amount = pct * 10 * _value(med.volume, "mL")  # type: ignore[operator]
        shown = f"{_fmt(amount)} mg" if amount is not None else ""
    else:
        amount = _value(med.volume, "mL")
        shown = f"{_fmt(amount)} mL" if amount is not None else ""
    if amount is None:
        return None
    low, high = rng.low, rng.high * scale
    if low <= amount <= high:
        return None
    per = " in total" if scale > 1 else (" per side" if med.basis == "per_side" else "")
    return (f"{med.name} {shown}{per} is outside the plausible single-injection range "
            f"{_fmt(low)}-{_fmt(high)} {rng.unit} ({rng.source})")
