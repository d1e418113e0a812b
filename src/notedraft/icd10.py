"""The ICD-10-CM codes notedraft knows by name, and the non-billable parents it must flag.

Titles and billability were checked against the CMS ICD-10-CM April 2026 release (see
../shared/reference/coding-rules.md §3). An unknown code is neither accepted nor flagged: billable is None.
"""

from __future__ import annotations

BILLABLE: dict[str, str] = {
    "M46.1": "Sacroiliitis, not elsewhere classified",
    "M53.3": "Sacrococcygeal disorders, not elsewhere classified",
    "M53.2X8": "Spinal instabilities, sacral and sacrococcygeal region",
    "M53.88": "Other specified dorsopathies, sacral and sacrococcygeal region",
    "M47.818": "Spondylosis without myelopathy or radiculopathy, sacral and sacrococcygeal region",
    "M43.28": "Fusion of spine, sacral and sacrococcygeal region",
    "M45.8": "Ankylosing spondylitis, sacral and sacrococcygeal region",
    "S33.6XXA": "Sprain of sacroiliac joint, initial encounter",
    "M99.04": "Segmental and somatic dysfunction of sacral region",
    "M79.18": "Myalgia, other site",
    "M54.50": "Low back pain, unspecified",
    "M54.51": "Vertebrogenic low back pain",
    "M54.59": "Other low back pain",
}

# Parent codes that cannot go on a claim, with the children to choose from.
NON_BILLABLE: dict[str, tuple[str, str]] = {
    "M54.5": ("Low back pain", "M54.50, M54.51 or M54.59"),
    "S33.6": ("Sprain of sacroiliac joint", "a code with its 7th character, e.g. S33.6XXA"),
    "M53.2": ("Spinal instabilities", "a region code such as M53.2X8"),
    "M47.81": ("Spondylosis without myelopathy or radiculopathy", "a region code such as M47.818"),
    "M43.2": ("Fusion of spine", "a region code such as M43.28"),
}


# Code families coding-rules.md §3 names by prefix only ("M25.5- (pain in joint) ... M25.55- is the hip"): their title,
# not their leaves, which the reference does not list, so billable stays None. The packs decide what a family supports
# (rules/_si_diagnosis.toml: hip pain does not support an SI joint injection).
FAMILIES: dict[str, str] = {
    "M25.55": "Pain in hip",
}


def title(code: str) -> str | None:
    if code in BILLABLE:
        return BILLABLE[code]
    if code in NON_BILLABLE:
        return NON_BILLABLE[code][0]
    return next((name for prefix, name in FAMILIES.items() if code.startswith(prefix)), None)


def billable_children(code: str) -> str | None:
    """For a non-billable parent, the codes to choose from instead."""
    return NON_BILLABLE[code][1] if code in NON_BILLABLE else None


def billable(code: str) -> bool | None:
    if code in BILLABLE:
        return True
    if code in NON_BILLABLE:
        return False
    return None
