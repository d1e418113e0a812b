"""The offline drafter writes a note for every validated procedure family (issue 17, deliverable 4).

Per family: a short dictation drafts a note that supports the family's codes (primary and add-on lines), states the
dictated levels/joint/muscles/nerves, guidance and drugs, invents nothing (grounding), and reads back (validate) to
the same codes; a dictation missing a fact the family's codes need drafts a visible placeholder, asks the family's
own question, and is not supported. LLM strategies: the real openai client over HTTP against the scripted server.
"""

from __future__ import annotations

import re

import pytest

from notedraft.drafting import draft
from notedraft.family import by_name
from notedraft.family_render import drafts
from notedraft.grounding import RULE as GROUNDING, ground
from notedraft.llm import LLMClient
from notedraft.validate import validate
from tests.support.fake_openai import json_reply, text

PLACEHOLDER = re.compile(r"\[[A-Z][A-Z -]*NEEDED\]")


def grounding_findings(d) -> list[str]:
    return [f.message for f in d.report.findings if f.rule == GROUNDING]


# family, dictation, the code lines the draft must support, what the note's procedure line must say
SUPPORTED = [
    ("facet", "B/L L4-5 L5-S1 facet inj under fluoro, 0.5 cc 0.5% bupi + 10 mg kenalog each, dx M47.816",
     ["64493-50", "64494-50"], ["Bilateral", "facet joint injection", "L4-5, L5-S1"]),
    ("facet", "rt C6-7 C7-T1 MBB under fluoro, 0.5 cc 0.5% bupi each, dx M47.812",
     ["64490-RT", "64491-RT"], ["Right", "medial branch block", "C6-7, C7-T1"]),
    ("facet", "right L4-5 L5-S1 facet inj under US, 0.5 cc 0.5% bupi each, dx M47.816",
     ["0216T-RT", "0217T-RT"], ["Right", "L4-5, L5-S1"]),
    ("epidural_interlaminar", "Right L5-S1 ILESI under fluoro, contrast confirmed epidural spread, 80 mg depo-medrol, "
     "dx M54.16", ["62323"], ["Right", "epidural injection", "L5-S1"]),
    ("epidural_transforaminal", "Left L4-5 L5-S1 TFESI under fluoro, contrast confirmed, 10mg dexamethasone, "
     "dx M54.17", ["64483-LT", "64484-LT"], ["Left", "transforaminal epidural injection", "L4-5, L5-S1"]),
    ("facet_rfa", "B/L L3-4 L4-5 L5-S1 medial branch RFA under fluoro, 1 cc 2% lido each, dx M47.816",
     ["64635-50", "64636-50", "64636-50"], ["Bilateral", "radiofrequency ablation", "L3-4, L4-5, L5-S1"]),
    ("si_nerve", "left S1-S3 lateral branch block under fluoro, 0.5 cc 0.5% bupi each, dx M46.1",
     ["64451-LT"], ["Left", "lateral branch nerve block", "S1-S3"]),
    ("si_rfa", "right SI RFA lateral branches S1-S3 under fluoro, 1 cc 2% lido each, dx M46.1",
     ["64625-RT"], ["Right", "radiofrequency ablation of the sacral lateral branch"]),
    ("joint", "R knee IA inj under US, needle seen entering joint, image saved, 40 mg kenalog + 4 cc 1% lido, "
     "dx M17.11", ["20611-RT"], ["Right", "knee injection"]),
    ("joint", "left shoulder inj, landmarks, 40 mg kenalog + 4 cc 1% lido, dx M75.02", ["20610-LT"],
     ["Left", "shoulder injection"]),
    ("trigger_point", "TPI trapezius, levator scapulae, rhomboid, 1 cc 1% lido each, dx M79.18", ["20553"],
     ["trigger point injection", "trapezius, levator scapulae, rhomboid"]),
    ("trigger_point", "TPI trapezius and levator scapulae, 1 cc 1% lido each, dx M79.18", ["20552"],
     ["trapezius, levator scapulae"]),
    # muscles as physicians shorten them: three muscles bill 20553, written out in full with their sides
    ("trigger_point", "TPI x3: L trap, L levator scap, R rhomboid, 1cc 1% lido each, no imaging, dx M79.18",
     ["20553"], ["left trapezius, left levator scapulae, right rhomboid"]),
    ("trigger_point", "TPIs to bilat upper traps and L levator, 1 mL 0.5% bupi each, dx M79.18", ["20553"],
     ["bilateral upper trapezius, left levator scapulae"]),
    ("epidural_transforaminal", "L L5-S1 TF ESI under fluoro, contrast confirmed, 10 mg dexa + 1 cc 1% lido, "
     "dx M54.16", ["64483-LT"], ["Left", "transforaminal epidural injection", "L5-S1"]),
    ("facet", "L lumbar MBB L4-5 L5-S1 under fluoro, 0.5cc 0.5% bupi each, dx M47.816", ["64493-LT", "64494-LT"],
     ["Left", "medial branch block", "L4-5, L5-S1"]),
    ("genicular", "left genicular nerve block under fluoro, 1 cc 0.5% bupi each, dx M17.12", ["64454-LT"],
     ["Left", "genicular nerve block"]),
    ("genicular", "right genicular nerve RFA under fluoro, 1 cc 2% lido each, dx M17.11", ["64624-RT"],
     ["Right", "genicular nerve ablation"]),
    ("genicular", "right genicular nerve blocks under US, superomedial, superolateral and inferomedial, 2 mL 0.5% "
     "bupivacaine each, dx M17.11", ["64454-RT"],
     ["Right", "genicular nerve block", "(nerves: superomedial, superolateral, inferomedial)"]),
    ("epidural_interlaminar", "caudal ESI under fluoro, contrast confirmed, 80 mg depo-medrol, dx M48.062", ["62323"],
     ["caudal epidural injection"]),
    ("joint", "right index finger PIP joint inj, 10 mg kenalog + 0.5 cc 1% lido, dx M19.041", ["20600-RT"],
     ["Right index finger PIP joint injection"]),
]


def test_every_validated_family_drafts():
    validated = [f for f in by_name().values() if f.spec.validated]
    assert validated and all(drafts(f.procedure) for f in validated)
    assert {case[0] for case in SUPPORTED} == {f.name for f in validated}


@pytest.mark.parametrize("family,dictation,codes,says", SUPPORTED, ids=[f"{c[0]}-{'-'.join(c[2])}" for c in SUPPORTED])
def test_a_family_dictation_drafts_a_supported_note(family, dictation, codes, says):
    d = draft(dictation)

    assert d.facts.procedure == by_name()[family].procedure
    assert d.supported and not d.refused, [f.message for f in d.report.errors]
    assert d.codes == codes  # suggested from the family's packs, add-on lines and units included
    assert d.queries == []
    assert not PLACEHOLDER.search(d.note)
    procedure_line = next(line for line in d.note.splitlines() if line.startswith("Procedure:"))
    for words in says:
        assert words in procedure_line, procedure_line
    # nothing invented, read back to the same facts and codes
    assert grounding_findings(d) == [] and ground(d.note, dictation) == []
    again = validate(d.note, d.codes)
    assert again.supported and again.suggested_codes == codes
    assert again.facts.procedure == d.facts.procedure and again.facts.side == d.facts.side
    assert again.facts.guidance == d.facts.guidance


def test_the_facet_example_states_each_drug_as_dictated():
    d = draft("B/L L4-5 L5-S1 facet inj under fluoro, 0.5 cc 0.5% bupi + 10 mg kenalog each, dx M47.816")

    assert "- bupivacaine 0.5 mL of 0.5% each" in d.note
    assert "- triamcinolone acetonide 10 mg each (Kenalog)" in d.note
    assert "The needle was placed under fluoroscopic guidance." in d.note
    assert "M47.816" in d.note
    assert "Purpose" not in d.note and "contrast" not in d.note.lower()  # not dictated: not written


# family, dictation, the placeholder the note shows, words the family's question asks
MISSING = [
    ("facet", "B/L facet inj under fluoro, 0.5 cc 0.5% bupi each, dx M47.816", "[LEVELS NEEDED]", "facet levels"),
    ("facet", "L4-5 L5-S1 facet inj under fluoro, 0.5 cc 0.5% bupi each, dx M47.816", "[SIDE NEEDED]", "Which side"),
    ("facet", "right L4-5 facet inj, 0.5 cc 0.5% bupi, dx M47.816", "[GUIDANCE NEEDED]", "fluoroscopy or CT"),
    ("epidural_interlaminar", "ILESI under fluoro, contrast confirmed, 80 mg depo-medrol, dx M54.16",
     "[LEVELS NEEDED]", "which level"),
    ("epidural_transforaminal", "L5-S1 TFESI under fluoro, contrast confirmed, 10mg dexamethasone, dx M54.17",
     "[SIDE NEEDED]", "Which side"),
    ("epidural_transforaminal", "left TFESI under fluoro, contrast confirmed, 10mg dexamethasone, dx M54.17",
     "[LEVELS NEEDED]", "transforaminal level"),
    ("facet_rfa", "right medial branch RFA under fluoro, 1 cc 2% lido each, dx M47.816", "[LEVELS NEEDED]",
     "levels were ablated"),
    ("si_nerve", "S1-S3 lateral branch block under fluoro, 0.5 cc 0.5% bupi each, dx M46.1", "[SIDE NEEDED]",
     "Which side"),
    ("si_rfa", "left SI RFA lateral branches S1-S3, 1 cc 2% lido each, dx M46.1", "[GUIDANCE NEEDED]",
     "fluoroscopy or CT"),
    ("joint", "right inj into the joint, 40 mg kenalog, dx M17.11", None, None),
    ("joint", "knee inj under US, needle seen entering joint, image saved, 40 mg kenalog, dx M17.11",
     "[SIDE NEEDED]", "Which side"),
    ("trigger_point", "trigger point inj 1 cc 1% lido, dx M79.18", "[MUSCLES NEEDED]", "Which muscles"),
    ("genicular", "left genicular nerve inj under fluoro, 1 cc 0.5% bupi, dx M17.12", "[BLOCK OR ABLATION NEEDED]",
     "blocked (64454) or ablated"),
    ("genicular", "genicular nerve block under fluoro, 1 cc 0.5% bupi each, dx M17.12", "[SIDE NEEDED]",
     "Which knee"),
]


@pytest.mark.parametrize("family,dictation,placeholder,asks", [m for m in MISSING if m[2]],
                         ids=[f"{m[0]}-{m[2]}" for m in MISSING if m[2]])
def test_a_missing_fact_is_a_placeholder_and_the_familys_question(family, dictation, placeholder, asks):
    d = draft(dictation)

    assert d.facts.procedure == by_name()[family].procedure
    assert placeholder in d.note
    assert not d.supported and d.refused
    assert any(asks.lower() in q.lower() for q in d.queries), d.queries
    assert grounding_findings(d) == []


@pytest.mark.parametrize("dictation,codes,supports", [
    ("right L4-5 facet inj under fluoro, 1 cc 0.5% bupi, dx M47.816", ["64494-RT"], ["64493-RT"]),  # add-on alone
    ("right L4-5 facet inj under fluoro, 1 cc 0.5% bupi, dx M47.816", ["64490-RT"], ["64493-RT"]),  # wrong region
    ("right L4-5 L5-S1 facet inj under US, 1 cc 0.5% bupi each, dx M47.816", ["64493-RT", "64494-RT"],
     ["0216T-RT", "0217T-RT"]),  # ultrasound is the Category III family
    ("TPI trapezius, levator scapulae, rhomboid, 1 cc 1% lido each, dx M79.18", ["20552"], ["20553"]),
    ("R knee inj under US, needle seen entering joint, image saved, 40 mg kenalog, dx M17.11",
     ["20611-RT", "76942"], ["20611-RT"]),
    ("right knee inj under US, 40 mg kenalog, dx M17.11", ["20611-RT"], []),  # no saved image: nothing to bill
])
def test_an_unsupported_asked_for_code_is_refused_naming_the_code_the_dictation_supports(dictation, codes, supports):
    d = draft(dictation, codes)

    assert not d.supported and d.codes == codes
    assert d.report.suggested_codes == supports
    assert grounding_findings(d) == []


def test_a_saved_image_missing_for_20611_is_asked():
    d = draft("right knee inj under US, 40 mg kenalog, dx M17.11", ["20611-RT"])

    assert any("permanently recorded" in q for q in d.queries)


def test_imaging_that_only_marked_the_skin_is_not_guidance():
    d = draft("right L5-S1 ILESI, fluoro used only to mark the skin, 80 mg depo-medrol, dx M54.16")

    assert "fluoroscopic" not in d.note.lower()
    assert d.codes == ["62322"] and d.supported  # the code without imaging guidance


def test_a_negated_guidance_is_written_as_not_used_and_the_imaging_code_is_not_supported():
    d = draft("right L5 TFESI, no fluoro, 10mg dexamethasone, dx M54.17")

    assert "Fluoroscopic guidance was not used." in d.note
    assert not d.supported and d.report.suggested_codes == []
    assert any("fluoroscopy or CT" in q for q in d.queries)


def test_a_planned_procedure_is_not_drafted():
    d = draft("plan: right L4-5 L5-S1 facet inj under fluoro next week, 0.5 cc 0.5% bupi each")

    assert not d.supported and d.codes == []
    assert "facet" not in d.note.lower()


def test_a_family_draft_names_no_side_level_or_drug_the_dictation_lacks():
    dictation = "right L5-S1 ILESI under fluoro, contrast confirmed, 80 mg depo-medrol, dx M54.16"
    d = draft(dictation)

    assert "Left" not in d.note and "L4" not in d.note and "lidocaine" not in d.note
    assert set(re.findall(r"\d+(?:\.\d+)?", d.note)) <= set(re.findall(r"\d+(?:\.\d+)?", dictation))


# --- LLM strategies, through the real openai client and the scripted server ------------------------------------------

FACET = "B/L L4-5 L5-S1 facet inj under fluoro, 0.5 cc 0.5% bupi + 10 mg kenalog each, dx M47.816"
FACET_FACTS = {
    "procedure": "facet_injection", "side": "bilateral", "guidance": "fluoroscopy",
    "needle_placement_confirmed": False, "images_recorded": False, "purpose": "unstated",
    "medications": [{"name": "bupivacaine", "dose": "0.5 mL 0.5%"}, {"name": "kenalog", "dose": "10 mg"}],
    "diagnoses": [{"code": "M47.816"}], "levels": ["L4-5", "L5-S1"], "muscles": [], "sites": [],
}
FACET_NOTE = """Procedure: Bilateral facet joint injection at L4-5, L5-S1.
Diagnosis: M47.816.
Purpose:
Technique: The needle was placed under fluoroscopic guidance at each level.
Medications injected: bupivacaine 0.5 mL of 0.5% each; triamcinolone 10 mg each (Kenalog).
"""


def client(server) -> LLMClient:
    return LLMClient(server.llm_config())


def test_llm_extract_drafts_a_family_note_from_grounded_facts(fake_openai):
    fake_openai.script(json_reply(FACET_FACTS))

    d = draft(FACET, strategy="llm-extract", llm=client(fake_openai))

    assert d.supported and d.codes == ["64493-50", "64494-50"] and d.raw_findings == []
    assert d.note == draft(FACET).note
    [request] = fake_openai.requests
    schema = request["response_format"]["json_schema"]["schema"]
    assert "facet_injection" in schema["properties"]["procedure"]["enum"]
    assert {"levels", "muscles", "sites"} <= set(schema["properties"])
    system = request["messages"][0]["content"]
    assert "facet" in system and "epidural" in system


def test_llm_extract_drops_a_level_and_a_procedure_the_dictation_does_not_state(fake_openai):
    fake_openai.script(json_reply(dict(FACET_FACTS, levels=["L3-4", "L4-5", "L5-S1"], procedure="facet_rfa")))

    d = draft(FACET, strategy="llm-extract", llm=client(fake_openai))

    raw = [f.message for f in d.raw_findings]
    assert "unsupported: level L3-4" in raw and "unsupported: procedure facet rfa" in raw
    assert "L3-4" not in d.note and "ablation" not in d.note
    assert d.supported and d.codes == ["64493-50", "64494-50"]


def test_llm_compose_writes_a_family_note_that_validates(fake_openai):
    fake_openai.script(text(FACET_NOTE))

    d = draft(FACET, strategy="llm-compose", llm=client(fake_openai))

    assert d.note == FACET_NOTE, d.notes
    assert d.supported and d.codes == ["64493-50", "64494-50"]
    assert grounding_findings(d) == [] and validate(d.note, d.codes).supported
    user = fake_openai.requests[0]["messages"][1]["content"]
    assert "facet joint injection or medial branch block" in user and "SI joint" not in user
    assert "L4-5" in user


def test_llm_compose_an_invented_level_is_re_asked_then_dropped(fake_openai):
    invented = FACET_NOTE.replace("L4-5, L5-S1", "L3-4, L4-5, L5-S1")
    fake_openai.script(text(invented), text(invented), text(invented))

    d = draft(FACET, strategy="llm-compose", llm=client(fake_openai))

    assert "L3-4" not in d.note and d.note == draft(FACET).note  # the template draft
    assert any("level L3-4" in f.message for f in d.raw_findings)
    assert any("fell back to the template draft" in n for n in d.notes)
    assert grounding_findings(d) == []


def test_a_second_procedure_the_family_note_does_not_cover_is_said_not_dropped():
    d = draft("right knee inj 40 mg kenalog, landmark guided. TPI trapezius and rhomboid 1 cc 1% lido each. "
              "dx M17.11, M79.18")

    assert d.codes == ["20610-RT"] and "lidocaine" not in d.note  # the trigger points' drug is not the knee's
    assert "also dictated: trigger point injection, not drafted" in d.notes
    assert any(f.rule == "draft.other_procedure_not_drafted" for f in d.report.findings if f.severity == "warning")
