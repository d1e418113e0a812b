"""What the deterministic reader takes from clinical text: guidance, side, procedure, drugs, diagnoses, purpose.

Every case is a sentence a physician or a transcriptionist writes; the facts are what a coder would read from it.
"""

from __future__ import annotations

import pytest

from notedraft.extract import extract_facts

SI = "Left SI joint injection."
DRUGS = "40 mg Kenalog and 2 mL of 0.25% bupivacaine."


def guidance(text: str) -> str:
    return extract_facts(text).guidance


def side(text: str) -> str:
    return extract_facts(text).side


# --- guidance: what was used, and what was only mentioned ----------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Under fluoroscopic guidance the needle was advanced into the joint.", "fluoroscopy"),
        ("L SIJ inj, fluoro, IA confirmed w contrast.", "fluoroscopy"),
        ("Needle placed using the C-arm.", "fluoroscopy"),
        ("C arm used for AP and oblique views.", "fluoroscopy"),
        ("Needle placement under image intensifier control.", "fluoroscopy"),
        ("CT-guided injection of the left SI joint.", "ct"),
        ("The needle was advanced under CT guidance.", "ct"),
        ("R SIJ inj, US guided, in-plane approach.", "ultrasound"),
        ("Using a curvilinear probe, the needle was advanced in-plane.", "ultrasound"),
        ("Under real-time ultrasound guidance the needle was placed.", "ultrasound"),
        ("Landmark technique.", "none"),
        ("The joint was injected by palpation.", "none"),
        ("A 22-gauge needle was advanced into the joint.", "unstated"),
    ],
)
def test_guidance_modality_and_its_abbreviations(text, expected):
    assert guidance(f"{SI} {text} {DRUGS}") == expected


def test_us_the_pronoun_is_not_ultrasound_and_ct_inside_words_is_not_ct():
    text = f"{SI} The patient will call us with questions. Fact: the injection was done by palpation."
    assert guidance(text) == "none"


@pytest.mark.parametrize(
    "text",
    [
        "Fluoroscopy was not used.",
        "Fluoro not used.",
        "Performed without fluoroscopy.",
        "No imaging.",
        "No imaging guidance was used.",
        "Without image guidance.",
        "We did not use fluoroscopy.",
        "Not done under fluoroscopy.",
        "Neither fluoroscopy nor ultrasound was used.",
        "Performed without the use of fluoroscopy.",
        "Fluoroscopy: none.",
        "Imaging: none.",
        "Fluoroscopy unavailable today; landmark technique.",
    ],
)
def test_negated_guidance_means_no_imaging(text):
    facts = extract_facts(f"{SI} {text} {DRUGS}")
    assert facts.guidance == "none"
    assert all(d.reason != "affirmed" for d in facts.discounted)


@pytest.mark.parametrize(
    "text",
    [
        "The needle was advanced without difficulty under fluoroscopic guidance.",
        "Performed without sedation under fluoroscopy.",
        "No paresthesias were noted with fluoroscopic guidance.",
        "No complications. Fluoroscopy confirmed intra-articular placement.",
        "Approximately 1 mL of non-ionic contrast was injected under fluoroscopy.",
    ],
)
def test_a_negation_of_something_else_does_not_negate_the_guidance(text):
    assert guidance(f"{SI} {text}") == "fluoroscopy"


@pytest.mark.parametrize(
    "text, reason",
    [
        ("Will schedule a fluoroscopically guided injection.", "planned"),
        ("The patient is a candidate for a fluoroscopically guided SI joint injection.", "planned"),
        ("Plan: repeat injection under fluoroscopy in 3 months.", "planned"),
        ("The patient declined fluoroscopy.", "declined"),
        ("Fluoroscopy was declined.", "declined"),
        ("Fluoroscopy was deferred.", "declined"),
        ("Previous SI injection under fluoroscopy 3 months ago.", "historical"),
        ("She had a fluoroscopically guided injection last year.", "historical"),
        ("History of SI joint injection under fluoroscopy with good relief.", "historical"),
        ("Risks of fluoroscopy, including radiation exposure, were discussed.", "conditional"),
    ],
)
def test_planned_declined_historical_or_consent_guidance_does_not_count(text, reason):
    facts = extract_facts(f"{SI} The injection was performed by palpation. {DRUGS} {text}")
    assert facts.guidance == "none"
    assert any(d.kind == "fluoroscopy" and d.reason == reason for d in facts.discounted), facts.discounted


def test_history_of_fluoroscopy_and_todays_fluoroscopy():
    text = "Previous SI injection under fluoroscopy 3 months ago. Today the right SI joint was injected under fluoroscopy."
    facts = extract_facts(text)
    assert facts.guidance == "fluoroscopy"
    assert [s.start for s in facts.guidance_spans] == [text.rindex("fluoroscopy")]


def test_present_encounter_overrides_a_past_tense_verb():
    facts = extract_facts("Today the patient underwent a right SI joint injection under fluoroscopy.")
    assert (facts.procedure, facts.guidance, facts.side) == ("si_joint_injection", "fluoroscopy", "right")


def test_fluoroscopy_outranks_an_ultrasound_scout():
    text = f"{SI} Ultrasound was used to mark the skin; the needle was then advanced under fluoroscopy."
    assert guidance(text) == "fluoroscopy"


# --- side: the procedure's own side, not the sides in history or anatomy ------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Left sacroiliac joint injection.", "left"),
        ("L SIJ inj, fluoro.", "left"),
        ("R SI joint injection under fluoroscopy.", "right"),
        ("Lt SI joint injection under fluoroscopy.", "left"),
        ("rt SIJ injection under CT guidance.", "right"),
        ("Bilateral sacroiliac joint injections.", "bilateral"),
        ("bilat SIJ inj under fluoro.", "bilateral"),
        ("b/l SI joint injections, C-arm.", "bilateral"),
        ("The needle was placed into the left SI joint and then the right SI joint.", "bilateral"),
        ("Sacroiliac joint injection under fluoroscopy.", "unstated"),
    ],
)
def test_side_and_its_abbreviations(text, expected):
    assert side(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Prior left injection gave 2 weeks of relief. Today a right SI joint injection was done under fluoroscopy.",
        "History: left SI joint injection in March. Procedure: right SI joint injection under fluoroscopy.",
        "The patient had a left SI joint injection 3 months ago. Right SI joint injection under fluoroscopy today.",
        "HISTORY OF PRESENT ILLNESS:,  She had a left SI joint injection with relief.,PROCEDURE:,  Right sacroiliac joint injection under fluoroscopy.",
        "Right SI joint injection under fluoroscopy. The left side will be injected in two weeks.",
        "Right SI joint injection under fluoroscopy. Left side was not injected.",
        "Left greater than right buttock pain. Right SI joint injection under fluoroscopy.",
        "Right SI joint injection under fluoroscopy with the patient in the left lateral decubitus position.",
    ],
)
def test_sides_in_history_plans_and_anatomy_are_not_the_procedures_side(text):
    assert side(text) == "right"


def test_the_historical_side_is_kept_as_discounted_evidence():
    facts = extract_facts("Prior left injection 3 months ago. Right SI joint injection under fluoroscopy.")
    assert any(d.kind == "side:left" and d.reason == "historical" for d in facts.discounted)


def test_side_spans_point_at_the_words():
    text = "Bilateral SI joint injections under fluoroscopy."
    facts = extract_facts(text)
    assert [text[s.start : s.end] for s in facts.side_spans] == ["Bilateral"]


# --- procedure: an intra-articular SI joint injection, told apart from SI nerve blocks and ablation ---------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Left sacroiliac joint injection under fluoroscopy.", "si_joint_injection"),
        ("Right intra-articular SIJ injection, IA confirmed.", "si_joint_injection"),
        ("Left SI joint lateral branch block under fluoroscopy (S1-S3 lateral branches).", "si_nerve_block"),
        ("Bilateral L5 dorsal ramus and S1, S2, S3 lateral branch blocks for sacroiliac joint pain.", "si_nerve_block"),
        ("Right sacroiliac joint radiofrequency ablation of the lateral branches.", "si_rfa"),
        ("Right SI joint RFA under fluoro.", "si_rfa"),
        ("Trigger point injections in the trapezius.", "trigger_point_injection"),
        ("Left L5-S1 transforaminal epidural steroid injection.", "epidural_transforaminal"),
    ],
)
def test_procedure(text, expected):
    assert extract_facts(text).procedure == expected


@pytest.mark.parametrize(
    "text",
    [
        "Right SI joint injection under fluoroscopy. Prior radiofrequency ablation of the SI joint 2 years ago gave relief.",
        "Right SI joint injection under fluoroscopy. If this helps, we will consider lateral branch radiofrequency ablation.",
        "Diagnosis: sacroiliac joint pain. Procedure: right SI joint injection under fluoroscopy.",
    ],
)
def test_ablation_or_blocks_in_history_plans_or_diagnosis_do_not_change_the_procedure(text):
    assert extract_facts(text).procedure == "si_joint_injection"


# --- medications: generic names, roles, doses as written -------------------------------------------------------


@pytest.mark.parametrize(
    "written, generic, role",
    [
        ("Kenalog", "triamcinolone", "steroid"),
        ("Depo-Medrol", "methylprednisolone", "steroid"),
        ("Celestone", "betamethasone", "steroid"),
        ("Decadron", "dexamethasone", "steroid"),
        ("Marcaine", "bupivacaine", "anesthetic"),
        ("Sensorcaine", "bupivacaine", "anesthetic"),
        ("Naropin", "ropivacaine", "anesthetic"),
        ("Xylocaine", "lidocaine", "anesthetic"),
        ("Omnipaque", "iohexol", "contrast"),
        ("Isovue", "iopamidol", "contrast"),
    ],
)
def test_brand_names_normalise_to_generics_and_contrast_is_not_a_drug(written, generic, role):
    (med,) = extract_facts(f"{SI} Injected 2 mL of {written}.").medications
    assert (med.name, med.as_written, med.role) == (generic, written, role)


@pytest.mark.parametrize(
    "text, doses",
    [
        ("40 mg triamcinolone and 2 mL of 0.25% bupivacaine.", {"triamcinolone": "40 mg", "bupivacaine": "2 mL of 0.25%"}),
        ("40 kenalog + 2cc 0.25% bupi.", {"triamcinolone": "40 mg", "bupivacaine": "2 mL of 0.25%"}),
        ("Depo-Medrol 80 mg, 3 cc 1% Xylocaine.", {"methylprednisolone": "80 mg", "lidocaine": "3 mL of 1%"}),
        ("Decadron 10 mg, Naropin 0.2% 3 mL. Sensorcaine 0.5% 1 mL.", {"dexamethasone": "10 mg", "ropivacaine": "3 mL of 0.2%", "bupivacaine": "1 mL of 0.5%"}),
        ("Depo-Medrol 40 mg/mL, 1 mL.", {"methylprednisolone": "1 mL of 40 mg/mL"}),
        ("1% lidocaine, 2 mL per site.", {"lidocaine": "2 mL of 1%"}),
        ("Kenalog 40 mg\nLidocaine 1% 2 mL", {"triamcinolone": "40 mg", "lidocaine": "2 mL of 1%"}),
        ("triamcinolone 40 mg, lidocaine 1%.", {"triamcinolone": "40 mg", "lidocaine": None}),
    ],
)
def test_each_drug_gets_its_own_dose_as_written(text, doses):
    facts = extract_facts(f"{SI} {text}")
    assert {m.name: m.dose_text() for m in facts.medications} == doses


def test_a_dose_never_crosses_into_the_next_sentence():
    facts = extract_facts(f"{SI} Lidocaine was used for the skin. 40 mg Kenalog was injected.")
    doses = {m.name: m.dose_text() for m in facts.medications}
    assert doses == {"lidocaine": None, "triamcinolone": "40 mg"}


@pytest.mark.parametrize(
    "text",
    [
        "The patient has an allergy to lidocaine.",
        "Allergic to lidocaine.",
        "No lidocaine was used.",
        "ALLERGIES:, Lidocaine.,PROCEDURE:, Left SI joint injection.",
    ],
)
def test_drugs_in_allergies_or_negated_are_not_given(text):
    facts = extract_facts(f"{text} {SI} 40 mg Kenalog was injected.")
    assert [m.name for m in facts.medications] == ["triamcinolone"]


def test_medication_spans_stay_inside_their_sentence():
    text = f"{SI} Injected 40 mg Kenalog. Then 2 mL of 0.25% Marcaine."
    spans = [m.span.text for m in extract_facts(text).medications]
    assert spans == ["Injected 40 mg Kenalog", "2 mL of 0.25% Marcaine"]


# --- diagnoses ----------------------------------------------------------------------------------------------------


def test_m54_5_is_flagged_non_billable_and_m46_1_is_billable():
    dx = {d.code: d.billable for d in extract_facts("Dx: M54.5, M46.1.").diagnoses if d.code}
    assert dx == {"M54.5": False, "M46.1": True}


@pytest.mark.parametrize(
    "text, words",
    [
        ("Diagnosis: sacroiliitis (M46.1).", "sacroiliitis"),
        ("Dx: low back pain M54.50 and sacroiliitis.", "low back pain"),
        ("Diagnosis: M46.1 sacroiliitis, right.", "sacroiliitis"),
    ],
)
def test_a_labelled_diagnosis_keeps_its_words_without_cutting_a_code(text, words):
    texts = [d.text for d in extract_facts(text).diagnoses if d.code is None]
    assert texts[0] == words


def test_a_diagnosis_in_history_is_not_todays_code():
    facts = extract_facts("History of M54.5 five years ago. Diagnosis: M46.1.")
    assert [d.code for d in facts.diagnoses if d.code] == ["M46.1"]


# --- purpose, confirmation, images, pain, complications ----------------------------------------------------------


@pytest.mark.parametrize(
    "text, purpose",
    [
        ("This was a diagnostic injection.", "diagnostic"),
        ("Therapeutic injection.", "therapeutic"),
        ("Diagnostic and therapeutic.", "diagnostic_and_therapeutic"),
        ("dx + therapeutic", "diagnostic_and_therapeutic"),
        ("", "unstated"),
    ],
)
def test_purpose(text, purpose):
    assert extract_facts(f"{SI} {text}").purpose == purpose


@pytest.mark.parametrize(
    "text, confirmed",
    [
        ("IA confirmed w contrast.", True),
        ("Contrast outlined the joint.", True),
        ("Intra-articular needle placement was confirmed.", True),
        ("The needle tip was visualized entering the joint.", True),
        ("The needle was advanced.", False),
    ],
)
def test_needle_confirmation(text, confirmed):
    assert (extract_facts(f"{SI} Under fluoroscopy. {text}").needle_confirmation is not None) is confirmed


@pytest.mark.parametrize(
    "text, recorded",
    [
        ("Images were saved to PACS.", True),
        ("Permanent images were recorded.", True),
        ("Ultrasound images were archived.", True),
        ("Images were not saved.", False),
        ("Real-time images were viewed.", False),
    ],
)
def test_permanently_recorded_images(text, recorded):
    assert (extract_facts(f"{SI} Under ultrasound. {text}").images_recorded is not None) is recorded


def test_pain_scores_and_complications():
    facts = extract_facts(f"{SI} Pre-procedure pain 7/10, post-procedure pain 2/10. No complications.")
    assert (facts.pain_pre.value, facts.pain_post.value) == ("7/10", "2/10")
    assert facts.complications.value == "none"


def test_mtsamples_sections_run_together_with_commas():
    text = (
        "PREOPERATIVE DIAGNOSIS:,  Sacroiliitis.,PROCEDURE:,  Informed consent was obtained.  Left sacroiliac joint "
        "injection under fluoroscopic guidance.  Contrast outlined the joint.,MEDICATIONS:,  Kenalog 40 mg and 2 cc "
        "0.25% Marcaine.,PURPOSE:,  Therapeutic.,COMPLICATIONS:,  None."
    )
    facts = extract_facts(text)
    assert (facts.procedure, facts.guidance, facts.side, facts.purpose) == (
        "si_joint_injection", "fluoroscopy", "left", "therapeutic"
    )
    assert {m.name: m.dose_text() for m in facts.medications} == {"triamcinolone": "40 mg", "bupivacaine": "2 mL of 0.25%"}
    assert facts.diagnoses and facts.needle_confirmation and facts.complications


def test_every_span_is_the_text_it_claims():
    text = (
        "PROCEDURE:,  Bilateral SI joint injections under fluoro with C-arm. IA confirmed w contrast. "
        "Images saved to PACS. 40 kenalog + 2cc 0.25% bupi each side. dx M54.5, sacroiliitis. Pain 8/10 -> 2/10."
    )
    facts = extract_facts(text)
    spans = [*facts.guidance_spans, *facts.side_spans, *(d.span for d in facts.discounted)]
    spans += [s for s in (facts.procedure_span, facts.needle_confirmation, facts.contrast, facts.images_recorded,
                          facts.purpose_span) if s]
    spans += [m.span for m in facts.medications if m.span] + [d.span for d in facts.diagnoses if d.span]
    assert len(spans) > 8
    for span in spans:
        assert text[span.start : span.end] == span.text
