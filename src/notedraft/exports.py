"""Exports a practice can use: printable plain text and a FHIR R4 Bundle of a signed note.

Pure functions over the plain-dict record the editor builds (draft id, status, encounter, note, code lines, facts,
signature, addenda); nothing here imports the web layer, and nothing here reads a clock or a random source, so the
same record always exports to the same bytes (re-export is stable; golden tests can pin it).

`export_text(record)` is for printing or turning into PDF. `fhir_bundle(record)` builds FHIR R4 (4.0.1) JSON and
refuses an unsigned note. Every clinical statement in either export comes from the record (the signed note and
the facts read from it); an element the record does not carry (patient name, NPI, payer name) is left out, never
guessed.

FHIR modelling choices, and why:

- **Bundle.type "collection"**, not "document". A document Bundle is itself the attested artifact: it needs a
  Composition whose sections restate the note, and it is immutable as a whole. notedraft's signed artifact is the
  note text, which belongs in a DocumentReference (content = attachment); a Composition would be a second copy
  of the same signed note that could drift from it, and every addendum would force a new document. A collection
  carries the DocumentReference for the signed note, one DocumentReference per addendum (relatesTo "appends"),
  and the Patient, Practitioner, Encounter, Location, Procedure and Coverage they refer to; the signed
  DocumentReference stays byte-identical however many addenda follow.
- **One Procedure per code line.** A CodeableConcept's codings are alternative codes for one concept, so two
  claim lines (20552-LT and 76942) cannot share one Procedure.code. Each Procedure.code holds exactly one coding:
  CPT codes in http://www.ama-assn.org/go/cpt, HCPCS Level II codes (G0260) in CMS's HCPCS system, because G0260
  is not a CPT code.
- **Modifiers as an extension** on Procedure.code (`MODIFIER_EXTENSION`, one valueCoding per modifier, in claim
  order), not as extra codings: a modifier (-50, -LT) is not an alternative code for the procedure, and
  "27096-50" is not a code in any code system. CPT modifiers (50) use the CPT system, HCPCS Level II modifiers
  (LT, RT, KX...) the HCPCS system. CodeableConcept.text keeps the claim line as written and the pack's title
  ("27096-50: Sacroiliac joint injection with image guidance (fluoroscopy or CT)"). FHIR R4 core has no element
  for procedure-code modifiers (only Claim.item.modifier), hence a notedraft extension.
- **Laterality** on Procedure.bodySite: SNOMED CT "Sacroiliac joint structure" (39723000) with HL7 mCODE's
  published R4 laterality-qualifier extension (its context includes Procedure.bodySite) holding SNOMED CT
  Left 7771000, Right 24028007 or Right and left 51440002. The side comes from the signed note's facts; the
  claim's side modifiers must agree with it, or the export is refused rather than sending contradictory data.
  Only an SI joint procedure gets the SI joint body site (20552 for trigger points is a muscle procedure).
- **Place of service** as an Encounter.location pointing at a Location of mode "kind" (a class of location, not
  an address the record does not have) typed with the CMS place-of-service code: 11 Office, 24 Ambulatory
  Surgical Center, 22 On Campus-Outpatient Hospital (the record's "hospital_outpatient"; an off-campus
  department would be 19, which the record cannot tell apart).
- **Ids** are urn:uuid values made with uuid5 in one fixed namespace: resources of this draft from the draft id
  (DocumentReference, Procedure per line, addendum by position, Coverage), shared things from their own keys
  (Patient from the MRN, Practitioner from the account id, Encounter and Location from the encounter id), so
  exporting two drafts of one patient yields the same Patient id and a receiving system can merge them.

Validation (`validate_fhir`) uses the maintained `fhir.resources` (8.x, pydantic 2) and its R4-line models,
`fhir.resources.R4B` (FHIR 4.3.0, the technical-correction release of R4). R4 4.0.1 models exist only in the
unmaintained 6.4.0, written for pydantic 1, which notedraft cannot import without rewriting its imports; the
resources used here (Bundle, DocumentReference, Procedure, Patient, Practitioner, Encounter, Location, Coverage)
carry the same elements in 4.0.1 and 4.3.0 for everything this module writes. fhir.resources checks structure,
cardinality, data types and required elements; it does not check FHIRPath invariants or terminology bindings,
so tests check those codes themselves. fhir.resources is an optional extra (`pip install 'notedraft[practice]'`);
this module imports it only inside `validate_fhir`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import date, datetime
from typing import Any

from .rulepack import load_packs

__all__ = ["ExportError", "export_text", "fhir_bundle", "fhir_json", "validate_fhir"]


class ExportError(ValueError):
    """A record that cannot be exported as asked: one line a user can act on."""


# --- vocabulary ---------------------------------------------------------------------------------------------------

PLACES = {
    # record value → (words a practice reads, CMS place-of-service code, its CMS name)
    "office": ("Office", "11", "Office"),
    "asc": ("Ambulatory surgical center (ASC)", "24", "Ambulatory Surgical Center"),
    "hospital_outpatient": ("Hospital outpatient department", "22", "On Campus-Outpatient Hospital"),
}
PAYERS = {"none": "None (self-pay)", "medicare": "Medicare", "commercial": "Commercial insurance"}
STATUSES = {"draft", "submitted", "signed", "voided"}

# Short words for the modifiers the rule packs allow; anything else is printed as its code alone.
MODIFIER_WORDS = {"LT": "left side", "RT": "right side", "50": "bilateral procedure",
                  "KX": "requirements of the payer's policy met"}
SIDE_MODIFIERS = {"LT": "left", "RT": "right", "50": "bilateral"}

CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
NPI = "http://hl7.org/fhir/sid/us-npi"
POS = "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
SOPT = "https://nahdo.org/sopt"
LATERALITY_EXTENSION = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-laterality-qualifier"
# notedraft's own extension: a claim line's modifiers on Procedure.code (R4 core has no element for them).
MODIFIER_EXTENSION = "https://notedraft.invalid/fhir/StructureDefinition/procedure-code-modifier"
# notedraft's own extension on Procedure: whether the signed note supports this code line (validate()'s verdict,
# "supported" or "not-supported") and how many findings the physician overrode at signing. A line billed over
# overridden documentation errors is never presented as supported; Procedure.note says so in words too.
DOCUMENTATION_EXTENSION = "https://notedraft.invalid/fhir/StructureDefinition/documentation-verdict"

SI_JOINT = {"system": SNOMED, "code": "39723000", "display": "Sacroiliac joint structure"}
LATERALITY = {
    "left": {"system": SNOMED, "code": "7771000", "display": "Left"},
    "right": {"system": SNOMED, "code": "24028007", "display": "Right"},
    "bilateral": {"system": SNOMED, "code": "51440002", "display": "Right and left"},
}
PROCEDURE_NOTE = {"system": LOINC, "code": "28570-0", "display": "Procedure note"}
# Source of Payment Typology, the payer-type code system US Core uses for Coverage.type.
PAYER_TYPES = {"medicare": {"system": SOPT, "code": "1", "display": "MEDICARE"},
               "commercial": {"system": SOPT, "code": "5", "display": "PRIVATE HEALTH INSURANCE"}}
SI_CODES = {"27096", "G0260"}  # codes that are an SI joint injection whatever the facts say

# One fixed namespace for every id notedraft exports: uuid5 of it and a key is the same on every machine.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://notedraft.invalid/fhir")
RULE = "=" * 72


# --- reading the record -------------------------------------------------------------------------------------------


def _get(mapping: Any, key: str, where: str) -> Any:
    if not isinstance(mapping, dict) or key not in mapping:
        raise ExportError(f"the record has no {where}{key!r}")
    return mapping[key]


def _text(value: Any, what: str, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise ExportError(f"{what} must be non-empty text; got {value!r}")
    return value


def _date(value: Any, what: str) -> str:
    _text(value, what)
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ExportError(f"{what} must be a date YYYY-MM-DD; got {value!r}") from None
    return value


def _instant(value: Any, what: str) -> str:
    """An ISO timestamp with a time zone, kept as written (FHIR `instant` needs the zone)."""
    _text(value, what)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ExportError(f"{what} must be an ISO timestamp such as 2026-11-28T15:04:05+00:00; got {value!r}") from None
    if parsed.tzinfo is None:
        raise ExportError(f"{what} must carry a time zone (e.g. +00:00); got {value!r}")
    return value


def _user(value: Any, what: str) -> dict:
    if not isinstance(value, dict):
        raise ExportError(f"{what} must be a user with id, username and display_name; got {value!r}")
    _get(value, "id", f"{what} ")
    _text(_get(value, "username", f"{what} "), f"{what} username")
    return value


def _who(user: dict) -> str:
    name = user.get("display_name") or user["username"]
    return f"{name} ({user['username']})" if name != user["username"] else name


def _signed(record: dict) -> bool:
    """Signed means status "signed" and a signature; one without the other is a broken record, not a guess."""
    status = _get(record, "status", "")
    if status not in STATUSES:
        raise ExportError(f"unknown status {status!r}: expected one of {', '.join(sorted(STATUSES))}")
    signature = record.get("signature")
    if status == "signed" and not signature:
        raise ExportError("the record is marked signed but carries no signature")
    if status != "signed" and signature:
        raise ExportError(f"the record carries a signature but its status is {status!r}")
    return status == "signed"


def _code_lines(record: dict) -> list[tuple[str, tuple[str, ...]]]:
    from .codes import CodeError, parse_code_line

    raws = _get(record, "codes", "")
    if not isinstance(raws, list):
        raise ExportError(f"codes must be a list of code lines; got {raws!r}")
    lines = []
    for raw in raws:
        try:
            line = parse_code_line(raw if isinstance(raw, str) else repr(raw))
        except CodeError as exc:
            raise ExportError(f"code line: {exc}") from None
        lines.append((line.code, line.modifiers))
    return lines


def _encounter(record: dict) -> dict:
    enc = _get(record, "encounter", "")
    _text(_get(enc, "mrn", "encounter "), "the patient MRN")
    _date(_get(enc, "date_of_service", "encounter "), "the date of service")
    _user(_get(enc, "physician", "encounter "), "the rendering physician")
    if _get(enc, "place_of_service", "encounter ") not in PLACES:
        raise ExportError(f"unknown place of service {enc['place_of_service']!r}: expected {', '.join(PLACES)}")
    if _get(enc, "payer", "encounter ") not in PAYERS:
        raise ExportError(f"unknown payer {enc['payer']!r}: expected {', '.join(PAYERS)}")
    return enc


def _line_text(code: str, mods: tuple[str, ...]) -> str:
    return "-".join((code, *mods))


# --- plain text ---------------------------------------------------------------------------------------------------


def export_text(record: dict) -> str:
    """The printable note: header, code lines, the note as written, the signature block or an UNSIGNED banner,
    then each addendum, dated and attributed, after the signed text (never merged into it)."""
    signed = _signed(record)
    enc = _encounter(record)
    lines = _code_lines(record)
    note = _text(_get(record, "note", ""), "the note")
    packs = load_packs()
    physician = enc["physician"]
    place, pos, _ = PLACES[enc["place_of_service"]]

    out: list[str] = []
    if record.get("status") == "voided":
        v = record.get("voided") or {}
        out += [f"VOIDED — created in error, not for billing ({v.get('reason', 'no reason recorded')})", RULE]
    if signed:
        out += ["PROCEDURE NOTE — SIGNED", RULE]
    else:
        # An unsigned draft says so before anything else, so a printed page cannot pass for a billable note.
        out += ["UNSIGNED DRAFT — not for billing", RULE, "PROCEDURE NOTE — DRAFT", RULE]
    npi = physician.get("npi")
    if enc.get("patient_name"):
        out.append(f"Patient:              {enc['patient_name']}"
                   + (f" (date of birth {enc['patient_dob']})" if enc.get("patient_dob") else ""))
    out += [
        f"Patient (MRN):        {enc['mrn']}",
        f"Date of service:      {enc['date_of_service']}",
        f"Rendering physician:  {physician.get('display_name') or physician['username']}"
        + (f" (NPI {npi})" if npi else ""),
        f"Place of service:     {place} (POS {pos})",
        f"Payer:                {PAYERS[enc['payer']]}",
        f"Draft:                {_get(record, 'draft_id', '')} ({record['status']})",
        "",
        "CODE LINES",
    ]
    if not lines:
        out.append("  (none)")
    line_verdicts = _line_verdicts(record, lines)
    for code, mods in lines:
        words = packs[code].title
        mod_words = [f"-{m} {MODIFIER_WORDS[m]}" if m in MODIFIER_WORDS else f"-{m}" for m in mods]
        out.append(f"  {_line_text(code, mods):<12} {words}" + (f"; {', '.join(mod_words)}" if mod_words else ""))
        verdict = line_verdicts.get(_line_text(code, mods))
        if verdict:
            out.append(f"  {'':<12} Documentation: {verdict['words']}")
    out += ["", "NOTE", RULE, note.rstrip("\n"), RULE, ""]

    if signed:
        out += _signature_block(record["signature"])
    else:
        out += ["UNSIGNED DRAFT — not for billing: no physician has signed this note.", ""]

    addenda = record.get("addenda") or []
    for n, addendum in enumerate(addenda, 1):
        author = _user(_get(addendum, "author", f"addendum {n} "), f"addendum {n} author")
        when = _instant(_get(addendum, "created_at", f"addendum {n} "), f"addendum {n} time")
        text = _text(_get(addendum, "text", f"addendum {n} "), f"addendum {n} text")
        out += [f"ADDENDUM {n} — {when}, by {_who(author)}", RULE, text.rstrip("\n"), RULE, ""]
    return "\n".join(out).rstrip("\n") + "\n"


def _signature_block(signature: dict) -> list[str]:
    signer = _user(_get(signature, "signer", "signature "), "the signer")
    when = _instant(_get(signature, "signed_at", "signature "), "the signing time")
    attestation = _text(_get(signature, "attestation", "signature "), "the attestation")
    out = ["SIGNATURE",
           f"Electronically signed by {_who(signer)} at {when}"
           + (f" (revision {signature['revision']})" if signature.get("revision") is not None else "") + ".",
           f"Attestation: {attestation}"]
    overrides = signature.get("overrides") or []
    if overrides:
        out.append("Findings overridden by the physician at signing:")
        for o in overrides:
            out.append(f"  - {_get(o, 'rule', 'override ')}: {o.get('message') or ''}".rstrip())
            out.append(f"    Reason: {_text(_get(o, 'reason', 'override '), 'an override reason')}")
    else:
        out.append("Findings overridden at signing: none.")
    return out + [""]


def _line_verdicts(record: dict, lines: list[tuple[str, tuple[str, ...]]]) -> dict[str, dict]:
    """Each line's verdict from the record (the editor's verdicts.py); a signed record that carries overrides but no
    verdicts is labelled as overridden, never left to read as supported."""
    given = {v.get("line"): v for v in record.get("verdicts") or [] if isinstance(v, dict)}
    overrides = ((record.get("signature") or {}).get("overrides")) or []
    out = {}
    for code, mods in lines:
        text = _line_text(code, mods)
        if text in given:
            out[text] = given[text]
        elif overrides:
            out[text] = {"line": text, "verdict": "not_supported", "overridden": len(overrides),
                         "words": f"signed with {len(overrides)} overridden finding(s); verdict not recorded"}
    return out


def _signed_text(record: dict) -> str:
    """The signed rendering (no addenda): what the signed DocumentReference carries, so addenda never change it."""
    return export_text({**record, "addenda": []})


# --- FHIR R4 ------------------------------------------------------------------------------------------------------


def _uuid(*key: object) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(str(k) for k in key)))


def _ref(uid: str, display: str | None = None) -> dict:
    ref = {"reference": f"urn:uuid:{uid}"}
    if display:
        ref["display"] = display
    return ref


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _sha1(text: str) -> str:
    return base64.b64encode(hashlib.sha1(text.encode("utf-8")).digest()).decode("ascii")


def _side(record: dict, lines: list[tuple[str, tuple[str, ...]]]) -> str | None:
    """The side from the signed note's facts; the claim's side modifiers must agree (or there must be none)."""
    facts = record.get("facts") or {}
    side = facts.get("side") if facts.get("side") in LATERALITY else None
    claimed = {SIDE_MODIFIERS[m] for _, mods in lines for m in mods if m in SIDE_MODIFIERS}
    if len(claimed) > 1:
        raise ExportError(f"the code lines claim more than one side ({', '.join(sorted(claimed))})")
    if side and claimed and claimed != {side}:
        raise ExportError(f"the note documents the {side} side but the code lines claim {claimed.pop()}")
    return side or (claimed.pop() if claimed else None)


def _is_si(code: str, facts: dict) -> bool:
    return code in SI_CODES or facts.get("procedure") == "si_joint_injection"


def _practitioner(user: dict) -> dict:
    res: dict = {"resourceType": "Practitioner", "id": _uuid("practitioner", user["id"]),
                 "identifier": [{"system": "urn:notedraft:user", "value": str(user["username"])}],
                 "name": [{"text": user.get("display_name") or user["username"]}]}
    if user.get("npi"):
        res["identifier"].insert(0, {"system": NPI, "value": str(user["npi"])})
    return res


def _modifier_coding(mod: str) -> dict:
    # -50 is a CPT modifier; LT, RT, KX and the other letter modifiers are HCPCS Level II.
    return {"system": CPT if mod.isdigit() else HCPCS, "code": mod}


def fhir_bundle(record: dict, mrn_system: str | None = None) -> dict:
    """A FHIR R4 `collection` Bundle of a signed note (see the module docstring for the modelling).

    `mrn_system`: the practice's identifier system for MRNs (a URI), when it has one; without it the MRN is
    typed as a medical record number (v2 0203 "MR") with no system, since the record does not name one.
    Raises ExportError for an unsigned note or a record that cannot be exported faithfully."""
    if not _signed(record):
        raise ExportError(
            f"draft {record.get('draft_id')} is {record.get('status')!r}, not signed: FHIR export is for signed notes only"
        )
    enc = _encounter(record)
    lines = _code_lines(record)
    if not lines:
        raise ExportError("the signed note has no code lines to export as procedures")
    draft_id = _get(record, "draft_id", "")
    signature = record["signature"]
    signer = _user(_get(signature, "signer", "signature "), "the signer")
    signed_at = _instant(_get(signature, "signed_at", "signature "), "the signing time")
    facts = record.get("facts") or {}
    physician = enc["physician"]
    dos = enc["date_of_service"]

    patient_id = _uuid("patient", mrn_system or "", enc["mrn"])
    mrn: dict = {"use": "usual", "type": {"coding": [{"system": V2_0203, "code": "MR",
                                                      "display": "Medical record number"}]}, "value": enc["mrn"]}
    if mrn_system:
        mrn["system"] = mrn_system
    patient = {"resourceType": "Patient", "id": patient_id, "identifier": [mrn]}
    if enc.get("patient_name"):
        patient["name"] = [{"text": enc["patient_name"]}]
    if enc.get("patient_dob"):
        patient["birthDate"] = _date(enc["patient_dob"], "the date of birth")

    practitioners = {physician["id"]: _practitioner(physician)}
    if signer["id"] not in practitioners:
        practitioners[signer["id"]] = _practitioner(signer)
    phys_ref = _ref(practitioners[physician["id"]]["id"], physician.get("display_name") or physician["username"])
    signer_ref = _ref(practitioners[signer["id"]]["id"], signer.get("display_name") or signer["username"])

    place, pos, pos_name = PLACES[enc["place_of_service"]]
    location = {"resourceType": "Location", "id": _uuid("location", enc.get("id"), enc["place_of_service"]),
                "mode": "kind", "name": place,
                "type": [{"coding": [{"system": POS, "code": pos, "display": pos_name}], "text": place}]}
    encounter_id = _uuid("encounter", enc.get("id") if enc.get("id") is not None else f"draft-{draft_id}")
    encounter = {
        "resourceType": "Encounter", "id": encounter_id, "status": "finished",
        "class": {"system": ACT_CODE, "code": "AMB", "display": "ambulatory"},
        "subject": _ref(patient_id),
        "participant": [{"type": [{"coding": [{"system": PARTICIPATION, "code": "PPRF",
                                               "display": "primary performer"}]}],
                         "individual": phys_ref}],
        "period": {"start": dos, "end": dos},
        "location": [{"location": _ref(location["id"], place)}],
    }
    if enc.get("id") is not None:
        encounter["identifier"] = [{"system": "urn:notedraft:encounter", "value": str(enc["id"])}]

    side = _side(record, lines)
    reasons = [{"coding": [{"system": ICD10CM, "code": d["code"]}], **({"text": d["text"]} if d.get("text") else {})}
               for d in facts.get("diagnoses") or [] if isinstance(d, dict) and d.get("code")]
    packs = load_packs()
    procedures = []
    line_verdicts = _line_verdicts(record, lines)
    for n, (code, mods) in enumerate(lines):
        text = _line_text(code, mods)
        # No Coding.display: the pack titles are notedraft's words, not the code system's descriptors (a
        # validator checks display against the code system); the words go in the text after the claim line.
        concept: dict = {"coding": [{"system": HCPCS if code[0].isalpha() else CPT, "code": code}],
                         "text": f"{text}: {packs[code].title}"}
        if mods:
            concept["extension"] = [{"url": MODIFIER_EXTENSION, "valueCoding": _modifier_coding(m)} for m in mods]
        proc: dict = {
            "resourceType": "Procedure", "id": _uuid("draft", draft_id, "procedure", n, text),
            "status": "completed", "code": concept, "subject": _ref(patient_id),
            "encounter": _ref(encounter_id), "performedDateTime": dos,
            "performer": [{"actor": phys_ref}],
            "location": _ref(location["id"], place),
        }
        if _is_si(code, facts):
            site: dict = {"coding": [dict(SI_JOINT)], "text": "Sacroiliac joint"}
            if side:
                site["extension"] = [{"url": LATERALITY_EXTENSION,
                                      "valueCodeableConcept": {"coding": [dict(LATERALITY[side])]}}]
                site["text"] = f"{side.capitalize()} sacroiliac joint" if side != "bilateral" else "Both sacroiliac joints"
            proc["bodySite"] = [site]
        if reasons:
            proc["reasonCode"] = reasons
        verdict = line_verdicts.get(text)
        if verdict:
            extension = [{"url": "verdict", "valueCode": "supported" if verdict["verdict"] == "supported"
                          else "not-supported"}]
            if verdict.get("overridden"):
                extension.append({"url": "overridden", "valueInteger": int(verdict["overridden"])})
            proc["extension"] = [{"url": DOCUMENTATION_EXTENSION, "extension": extension}]
            if verdict["verdict"] != "supported" or verdict.get("overridden"):
                proc["note"] = [{"text": f"{text}: {verdict['words']}."}]
        procedures.append(proc)

    signed_text = _signed_text(record)
    signed_doc_id = _uuid("draft", draft_id, "signed-note")
    signed_doc = {
        "resourceType": "DocumentReference", "id": signed_doc_id,
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{signed_doc_id}"}],
        "status": "current", "docStatus": "final",
        "type": {"coding": [dict(PROCEDURE_NOTE)]},
        "subject": _ref(patient_id), "date": signed_at,
        "author": [phys_ref], "authenticator": signer_ref,
        "description": "Signed procedure note",
        "content": [{"attachment": {"contentType": "text/plain; charset=utf-8",
                                    "data": _b64(signed_text), "hash": _sha1(signed_text),
                                    "title": f"Procedure note, draft {draft_id}, signed", "creation": signed_at}}],
        "context": {"encounter": [_ref(encounter_id)], "period": {"start": dos, "end": dos},
                    "related": [_ref(p["id"]) for p in procedures]},
    }

    addenda_docs = []
    for n, addendum in enumerate(record.get("addenda") or [], 1):
        author = _user(_get(addendum, "author", f"addendum {n} "), f"addendum {n} author")
        when = _instant(_get(addendum, "created_at", f"addendum {n} "), f"addendum {n} time")
        text = _text(_get(addendum, "text", f"addendum {n} "), f"addendum {n} text")
        if author["id"] not in practitioners:
            practitioners[author["id"]] = _practitioner(author)
        doc_id = _uuid("draft", draft_id, "addendum", n)
        addenda_docs.append({
            "resourceType": "DocumentReference", "id": doc_id,
            "identifier": [{"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{doc_id}"}],
            "status": "current", "docStatus": "final",
            "type": {"coding": [dict(PROCEDURE_NOTE)], "text": "Addendum to procedure note"},
            "subject": _ref(patient_id), "date": when,
            "author": [_ref(practitioners[author["id"]]["id"], author.get("display_name") or author["username"])],
            "description": f"Addendum {n} to the signed procedure note",
            "relatesTo": [{"code": "appends", "target": _ref(signed_doc_id)}],
            "content": [{"attachment": {"contentType": "text/plain; charset=utf-8",
                                        "data": _b64(text), "hash": _sha1(text),
                                        "title": f"Addendum {n}", "creation": when}}],
            "context": {"encounter": [_ref(encounter_id)]},
        })

    resources = [signed_doc, *addenda_docs, patient, *practitioners.values(), encounter, location, *procedures]
    if enc["payer"] != "none":
        coverage_type = PAYER_TYPES[enc["payer"]]
        resources.append({
            "resourceType": "Coverage", "id": _uuid("draft", draft_id, "coverage", enc["payer"]),
            "status": "active", "type": {"coding": [dict(coverage_type)], "text": PAYERS[enc["payer"]]},
            "beneficiary": _ref(patient_id),
            # The record names the kind of payer, not the plan: the payor is that kind, by display only.
            "payor": [{"display": PAYERS[enc["payer"]]}],
        })

    # The Bundle's time is the latest signed event in it, not the export time: the same record, the same bytes.
    timestamp = max([signed_at, *[d["date"] for d in addenda_docs]], key=lambda t: datetime.fromisoformat(t))
    bundle_id = _uuid("draft", draft_id, "bundle")
    return {
        "resourceType": "Bundle", "id": bundle_id,
        "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{bundle_id}"},
        "type": "collection", "timestamp": timestamp,
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources],
    }


def fhir_json(record: dict, mrn_system: str | None = None) -> str:
    """The Bundle as JSON text, keys in a fixed order so re-export is byte-identical."""
    return json.dumps(fhir_bundle(record, mrn_system), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# --- validation against the FHIR R4 models ------------------------------------------------------------------------

R4B_VERSION = "4.3.0"


def validate_fhir(bundle: dict) -> Any:
    """Parse `bundle` with the maintained fhir.resources' R4-line models (`fhir.resources.R4B`, FHIR 4.3.0);
    returns the parsed Bundle.

    Raises ExportError with the library's first complaint when the bundle is not valid, or when fhir.resources is
    missing or too old to carry the R4B models (install it with `pip install 'notedraft[practice]'`)."""
    try:
        import fhir.resources.R4B as r4b
        from fhir.resources.R4B.bundle import Bundle
    except ImportError:
        raise ExportError("FHIR validation needs fhir.resources 8 or newer: pip install 'notedraft[practice]'") from None
    if getattr(r4b, "__fhir_version__", R4B_VERSION) != R4B_VERSION:
        raise ExportError(f"fhir.resources' R4B models are FHIR {r4b.__fhir_version__}, not {R4B_VERSION}")
    try:
        return Bundle.model_validate(bundle)
    except Exception as exc:  # pydantic ValidationError; its text names the path of every problem
        first = str(exc).strip().splitlines()
        raise ExportError(f"not valid FHIR: {' '.join(first[:3])}") from None


