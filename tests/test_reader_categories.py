"""Categories of well-documented notes a blind set (written outside the project, in styles of its own) found refused,
each fixed as a category and each with the doubtful twin that must stay refused. One behaviour per test."""

from __future__ import annotations

import pytest

from notedraft.drafting import draft
from notedraft.extract import extract_facts
from notedraft.validate import validate

SI = ("PROCEDURE: {title}\nDIAGNOSIS: {dx}\nPURPOSE: {purpose}\nTECHNIQUE: {technique}\n"
      "MEDICATIONS: 40 mg triamcinolone and 2 mL 0.25% bupivacaine injected.\nCOMPLICATIONS: none.")
TECH = ("Under fluoroscopic guidance a 22-gauge needle was advanced into the {side} sacroiliac joint. Intra-articular "
        "placement was confirmed with contrast.")


def si(title="Left sacroiliac joint injection", dx="Left sacroiliitis (M46.1).", purpose="Diagnostic.",
       technique=TECH.format(side="left")):
    return SI.format(title=title, dx=dx, purpose=purpose, technique=technique)


def supported(text, codes=("27096-LT",), payer=None):
    report = validate(text, list(codes), payer)
    return report.supported, [f.rule for f in report.findings if f.severity == "error"]


def test_ct_fluoroscopy_after_under_ct_is_ct_not_a_second_modality():
    technique = ("A 22G needle was advanced under CT fluoroscopy into the left SIJ; position confirmed on CT with an "
                 "intra-articular arthrogram.")
    ok, errors = supported(si(title="CT-guided left SIJ injection", technique=technique))
    assert ok, errors
    assert extract_facts(si(technique=technique)).guidance == "ct"


@pytest.mark.parametrize("purpose, ok", [
    ("DIAGNOSTIC block (is the left SIJ the pain generator?)", True),
    ("Diagnostic block (are the SI joints the pain source?)", True),
    ("Diagnostic?", False),
    ("Diagnostic (or therapeutic?)", False),
])
def test_a_question_giving_the_blocks_reason_does_not_doubt_its_purpose(purpose, ok):
    assert supported(si(purpose=purpose))[0] is ok


@pytest.mark.parametrize("sentence, ok", [
    ("Fluoroscopy was used; fluoroscopic guidance is not billed separately.", True),
    ("Fluoroscopy was not used.", False),
])
def test_not_billed_separately_is_a_coding_choice_not_a_negation(sentence, ok):
    technique = "A 22-gauge needle was advanced into the left SI joint; contrast confirmed intra-articular spread. "
    text = si(technique=technique + sentence)
    assert supported(text)[0] is ok


@pytest.mark.parametrize("dx, ok", [("Left sacroiliitis (M46.1).", True), ("Sacroiliitis (M46.1).", True),
                                    ("Right sacroiliitis (M46.1).", False)])
def test_a_time_out_names_the_side_when_the_technique_names_none(dx, ok):
    technique = ("Time-out performed: left SIJ, all agree. Under fluoroscopy the needle was advanced into the joint; "
                 "contrast confirmed intra-articular spread.")
    assert supported(si(title="Sacroiliac joint injection", dx=dx, technique=technique))[0] is ok


@pytest.mark.parametrize("confirmation, ok", [
    ("1 mL Omnipaque gave a good arthrogram.", True),
    ("Contrast 0.3 mL Omnipaque 300, IA pattern.", True),
    ("A satisfactory arthrogram was obtained.", True),
    ("No arthrogram was obtained.", False),
])
def test_an_arthrogram_said_otherwise_confirms_the_needle(confirmation, ok):
    technique = "Under fluoroscopy a 22-gauge needle was advanced into the left sacroiliac joint. " + confirmation
    assert supported(si(technique=technique))[0] is ok


def test_a_correction_that_says_the_header_reads_the_wrong_side_supersedes_it():
    text = (si(title="Left sacroiliac joint injection", dx="Right sacroiliitis (M46.1).",
               technique=TECH.format(side="right"))
            + '\nADDENDUM - Correction: the procedure header above incorrectly reads "Left". The procedure was '
              "performed on the RIGHT sacroiliac joint only.")
    assert supported(text, ["27096-RT"])[0]
    assert not supported(text.split("\nADDENDUM")[0], ["27096-RT"])[0]  # without the correction: a conflict


@pytest.mark.parametrize("dx, ok", [
    ("Left sacroiliac joint dysfunction (M53.3).", True),
    ("Sacroiliac joint dysfunction (M53.3), worse on the right than the left.", False),
])
def test_the_target_joint_takes_the_side_of_a_one_sided_indication(dx, ok):
    technique = ("The target SI joint was visualized with fluoroscopy and a 22-gauge needle was advanced into its "
                 "inferior recess. Contrast confirmed intra-articular placement.")
    assert supported(si(title="Sacroiliac joint injection", dx=dx, technique=technique))[0] is ok


MEDICARE = ("HPI: 72M with left low back and buttock pain below L5 for 14 months, no radicular symptoms. MRI without "
            "stenosis, HNP or fracture. Conservative care: PT 12 weeks then home exercise program (continuing) - "
            "inadequate.\nExam: positive FABER (L), Gaenslen ({g}), thigh thrust ({t}), SI compression (L).\n"
            "Purpose today: diagnostic left SIJ injection.\nDx: M46.1 sacroiliitis.\nPain scale: NRS 0-10. "
            "Pre-procedure 7/10.\nProcedure: Under fluoroscopic guidance a 22G needle into the inferior left SIJ. "
            "Omnipaque 240 0.5 mL: intra-articular arthrogram. Injected triamcinolone 40 mg + bupivacaine 0.25% 2 mL. "
            "Images saved.\nPost-procedure NRS 2/10.")


def test_medicare_criteria_in_telegraphic_phrasing():
    ok, errors = supported(MEDICARE.format(g="L", t="L"), ["27096-LT-KX"], "medicare")
    assert ok, errors


def test_a_test_done_on_the_other_side_is_not_counted():
    ok, errors = supported(MEDICARE.format(g="R", t="R"), ["27096-LT-KX"], "medicare")
    assert not ok and "27096.medicare.lcd.provocative_tests" in errors


@pytest.mark.parametrize("title, ok", [
    ("EXAM: CT-GUIDED LEFT C6 TRANSFORAMINAL INJECTION", True),
    ("EXAM: tender over the left neck", False),
])
def test_a_radiology_exam_line_names_the_procedure(title, ok):
    text = (f"{title}\nHISTORY: left C6 radiculopathy (M54.12). Therapeutic.\nTECHNIQUE: 25G needle advanced under "
            "CT guidance to the left C5-6 foramen; contrast showed perineural spread. Injected dexamethasone 4 mg.")
    assert supported(text, ["64479-LT"])[0] is ok


def test_a_cervical_root_and_the_foramen_it_exits_are_one_level():
    text = ("PROCEDURE: Left C6 transforaminal epidural steroid injection under CT guidance.\nDIAGNOSIS: Left C6 "
            "radiculopathy (M54.12).\nTECHNIQUE: The needle was advanced to the left C5-6 foramen; contrast showed "
            "perineural spread. Dexamethasone 4 mg injected.")
    ok, errors = supported(text, ["64479-LT"])
    assert ok, errors
    assert not supported(text.replace("C5-6 foramen", "C6-7 foramen"), ["64479-LT"])[0]  # C7's foramen: two levels


def test_run_on_dictation_splits_at_a_pronoun_subject():
    text = ("office procedure no fluoro available so we did this with loss of resistance only the patient has lumbar "
            "stenosis M48.062 at L4-5 for 4 months failed PT she's here for a therapeutic interlaminar epidural at "
            "L4-5 a 20 gauge Tuohy was advanced to the L4-5 interspace and loss of resistance was obtained then 80 mg "
            "triamcinolone 2 cc went in easily no paresthesia tolerated well")
    ok, errors = supported(text, ["62322"])
    assert ok, errors
    assert not supported(text.replace("went in easily", "was drawn up but not injected"), ["62322"])[0]


def test_a_block_before_a_named_rfa_target_plans_the_rfa():
    text = ("PROCEDURE: Right L5 dorsal ramus and S1, S2, S3 lateral branch blocks (nerves of the right SI joint)\n"
            "DIAGNOSIS: right sacroiliac joint pain (M46.1).\nPURPOSE: diagnostic (prognostic block before lateral "
            "branch RFA).\nGUIDANCE: fluoroscopy, AP with caudal tilt.\nTECHNIQUE: needles to the right L5 dorsal "
            "ramus and the lateral margins of the right S1, S2, S3 posterior foramina; contrast without vascular "
            "spread. 0.5% bupivacaine 0.5 mL at each of 4 sites.")
    ok, errors = supported(text, ["64451-RT"])
    assert ok, errors
    assert "si_rfa" not in (extract_facts(text).procedures or {})


# --- a second blind set (60 notes, 119 verdicts) ---------------------------------------------------------------

@pytest.mark.parametrize("technique, ok", [
    ("Under fluoroscopy a 22G needle entered the left SI joint. Isovue 1 mL showed contrast spreading along the "
     "joint line.", True),
    ("Under fluoroscopy a 22G needle entered the left SI joint. Omnipaque 0.5 mL - arthrogram, intra-articular.", True),
    ("Under fluoroscopy a 22G needle entered the left SI joint. Omnipaque 0.5 mL - arthrogram, intra-articular not "
     "achieved.", False),
    ("Under fluoroscopy a 22G needle was placed near the left SI joint. Contrast spreading into soft tissue.", False),
])
def test_contrast_spreading_and_a_listed_arthrogram_confirm_placement(technique, ok):
    assert supported(si(technique=technique))[0] is ok


@pytest.mark.parametrize("left, ok", [
    ("On the LEFT, same technique; contrast confirmed intra-articular spread.", True),
    ("On the LEFT, a needle was advanced; no contrast was given.", False),
])
def test_a_sides_own_sentence_owns_its_confirmation_across_semicolons(left, ok):
    technique = ("Fluoroscopy was used. On the RIGHT, a 22G needle was advanced into the joint; 1 mL Omnipaque showed "
                 "an intra-articular arthrogram. " + left + "\n09:19  triamcinolone 40 mg   Intra-articular   Right SI "
                 "joint\n09:24  triamcinolone 40 mg   Intra-articular   Left SI joint")
    text = si(title="Bilateral sacroiliac joint injections", dx="Bilateral sacroiliitis (M46.1).", technique=technique)
    assert supported(text, ["27096-50"])[0] is ok


@pytest.mark.parametrize("why, ok", [
    ("CT was chosen because the fusion hardware obscures the joints on fluoroscopy.", True),
    ("Fluoroscopy was also used to check the needle.", False),
])
def test_a_modality_that_would_obscure_the_joint_is_a_reason_not_a_second_guidance(why, ok):
    technique = ("Under CT guidance a 22G needle was advanced into the left SI joint; CT confirmed the tip within the "
                 "joint with contrast. " + why)
    assert supported(si(title="CT-guided left SIJ injection", technique=technique))[0] is ok


@pytest.mark.parametrize("purpose_line, ok", [
    ("Indication: left sacroiliitis. Planned diagnostic and therapeutic injection of the left SI joint.", True),
    ("The injection today was intended to be therapeutic.", True),
    ("A diagnostic injection may be considered next time.", False),
])
def test_a_purpose_is_an_intention(purpose_line, ok):
    assert supported(si(purpose="", technique=TECH.format(side="left") + " " + purpose_line))[0] is ok


@pytest.mark.parametrize("addendum, ok", [
    ("ADDENDUM: The side in the heading was entered in error from the template. The injection was performed on "
     "the LEFT side only. The right SI joint was not injected.", True),
    ("ADDENDUM: The right SI joint was not injected.", False),  # no error said: the conflict stands
])
def test_an_addendum_that_says_an_error_was_made_and_denies_the_other_side_supersedes_it(addendum, ok):
    text = si(title="Right sacroiliac joint injection", dx="Sacroiliitis (M46.1).",
              technique="Under fluoroscopy a needle was advanced into the joint; contrast confirmed intra-articular "
                        "spread.") + "\n\n" + addendum
    assert supported(text)[0] is ok


@pytest.mark.parametrize("title, ok", [("Consultation and Procedure Report", True), ("Consultation", False)])
def test_a_consult_title_that_names_the_procedure_heads_a_procedure_note(title, ok):
    text = (title + "\n\nSeen for left buttock pain; diagnosis left sacroiliitis (M46.1). The intent was therapeutic.\n\n"
            "Procedure: Using fluoroscopic guidance a 22G needle was advanced into the left sacroiliac joint; contrast "
            "confirmed intra-articular placement. I then injected 40 mg Depo-Medrol and 2 mL 0.25% bupivacaine.")
    assert supported(text)[0] is ok


@pytest.mark.parametrize("room, ok", [("no other fluoroscopy room was available", True),
                                      ("fluoroscopy was then used", False)])
def test_no_other_room_available_is_no_use_of_it(room, ok):
    technique = ("The C-arm was out of service and " + room + ". No fluoroscopy, CT or ultrasound guided the needle. "
                 "A 22G needle was advanced into the left SI joint by palpation.")
    assert supported(si(technique=technique), ["20552-LT"])[0] is ok


def test_a_soap_objective_line_is_the_exam_not_the_procedure():
    text = ("S: Right buttock pain for 6 months.\n\nO: Tender right sulcus, thigh thrust positive. No imaging yet.\n\n"
            "A: Right SI joint pain, M53.3. Diagnostic block today.\n\n"
            "P: Diagnostic right SI joint injection performed.\n - Fluoroscopic guidance, oblique view.\n"
            " - 22G needle into the inferior right SI joint; contrast showed intra-articular spread.\n"
            " - Injected 2 mL 0.5% bupivacaine + 20 mg triamcinolone.\n")
    assert supported(text, ["27096-RT"])[0] is True
    assert supported(text.replace("O: ", "").replace("Fluoroscopic guidance", "No imaging"), ["27096-RT"])[0] is False


def test_a_key_pipe_value_export_reads_as_fields():
    text = ("EXPORT|PROC_NOTE|v1\nPROC_NAME|Sacroiliac joint injection\nLATERALITY|L (left)\nGUIDANCE|Fluoroscopy\n"
            "DX_1|M46.1|Sacroiliitis, not elsewhere classified\nINTENT|Therapeutic\n"
            "NARRATIVE|Prone. Under fluoroscopy a 22G needle was advanced into the left SIJ; contrast showed an "
            "intra-articular arthrogram. Triamcinolone 40 mg and bupivacaine 0.25% 2 mL injected.\nCOMPLICATIONS|None\n")
    assert supported(text)[0] is True
    assert supported(text.replace("Fluoroscopy\n", "None\n").replace("Under fluoroscopy a", "A"))[0] is False


@pytest.mark.parametrize("line, dose", [
    ("I injected 0.5 mL (20 mg) of methylprednisolone 40 mg/mL.", "20 mg"),
    ("Injected 1 mL (40 mg) methylprednisolone and 2 mL 0.25% ropivacaine.", "40 mg"),
    ("Injected methylprednisolone 40 mg/mL.", None),  # a strength, not a dose
])
def test_a_volume_with_its_dose_in_parentheses_before_the_drug_is_the_dose(line, dose):
    meds = {m.name: m.dose for m in extract_facts(si(technique=TECH.format(side="left") + " " + line)).medications}
    assert meds["methylprednisolone"] == dose


def test_a_numbered_items_label_heads_the_lettered_items_under_it():
    text = si(technique=TECH.format(side="left")) + (
        "\n7. Injection history:\n   a. 08/06 - diagnostic left SIJ block with lidocaine: 85% relief.\n")
    assert supported(text)[0] is True  # the history's lidocaine is no undosed drug of today
    assert supported(text.replace("7. Injection history:", "7. Today:"))[0] is False


@pytest.mark.parametrize("other_causes, ok", [
    ("MRI shows no central or foraminal stenosis, no disc herniation, no fracture, infection or tumor.", True),
    ("MRI shows no central stenosis but foraminal stenosis on the left.", False),
])
def test_a_negation_reaches_through_an_or_list_of_adjectives(other_causes, ok):
    text = MEDICARE_SI.format(other_causes=other_causes)
    assert supported(text, ["27096-LT-KX"], "medicare")[0] is ok


@pytest.mark.parametrize("care, ok", [
    ("Conservative care: PT 10 weeks + HEP (continuing), NSAIDs; failed to relieve pain.", True),
    ("Conservative care: none tried.", False),
])
def test_therapy_that_failed_to_relieve_pain_was_tried(care, ok):
    text = MEDICARE_SI.format(other_causes="MRI: no stenosis, disc herniation, fracture, infection or tumor.")
    text = text.replace("Physical therapy for 8 weeks and NSAIDs failed; home exercises continue.", care)
    assert supported(text, ["27096-LT-KX"], "medicare")[0] is ok


MEDICARE_SI = (
    "PROCEDURE: Left sacroiliac joint injection under fluoroscopic guidance.\n"
    "HISTORY: Moderate to severe left low back pain over the left SI joint, below L5, between the iliac crest and the "
    "gluteal fold, for 6 months. No radiculopathy. {other_causes} FABER, Gaenslen and thigh thrust positive on the "
    "left. Physical therapy for 8 weeks and NSAIDs failed; home exercises continue.\n"
    "DIAGNOSIS: Left sacroiliitis (M46.1).\nPURPOSE: Diagnostic.\n"
    "TECHNIQUE: Pre-procedure NRS 7/10. Under fluoroscopic guidance a 22-gauge needle was advanced into the left SI "
    "joint; contrast confirmed intra-articular spread. AP and oblique images saved. 2 mL 0.25% bupivacaine and 40 mg "
    "triamcinolone injected. Post-procedure NRS 1/10.\nCOMPLICATIONS: none.")


@pytest.mark.parametrize("dx, ok", [
    ("Radiculopathy, lumbar region (M54.16) - left L5 and S1 distribution", True),
    ("Radiculopathy, lumbar region (M54.16) - left L3-4 level", False),
])
def test_a_dermatomal_distribution_is_not_a_level_injected(dx, ok):
    text = ("Procedure Orders\n  TRANSFORAMINAL EPIDURAL LUMBAR/SACRAL, LEFT, FLUORO (L4-5, L5-S1)     Completed\n\n"
            f"Diagnoses\n  1. Lumbar foraminal stenosis (M48.061)\n  2. {dx}\n\n"
            "Indication\n  Left leg pain for 4 months, MRI: left L4-5 and L5-S1 foraminal stenosis. Therapeutic.\n\n"
            "Procedure Narrative\n  Prone. Fluoroscopy used for all needle placement. A 22G needle to the left L4-5 "
            "foramen; contrast showed epidural spread, no vascular flow. A 22G needle to the left L5-S1 foramen; "
            "contrast outlined the L5 root with epidural spread. Dexamethasone 4 mg and 1 mL 1% lidocaine at each "
            "level.\n")
    assert supported(text, ["64483-LT", "64484-LT"])[0] is ok


def test_a_block_to_assess_candidacy_for_rfa_plans_the_rfa():
    text = ("RIGHT LUMBAR MEDIAL BRANCH BLOCKS - L4-5 AND L5-S1 FACET JOINTS\n\nIndication: axial right low back pain "
            "for a year, facet arthropathy on MRI. Diagnosis: lumbar spondylosis, M47.816. Purpose: diagnostic medial "
            "branch block, to assess candidacy for radiofrequency ablation.\n\nProcedure: Prone. Fluoroscopy used to "
            "obtain an oblique view of each target. 22G needles placed under fluoroscopic guidance to:\n"
            "  - right L3 medial branch\n  - right L4 medial branch\n  - right L5 dorsal ramus (sacral ala groove)\n"
            "Position confirmed in AP and oblique views; contrast at each needle showed no vascular uptake. 0.5 mL of "
            "0.5% bupivacaine was injected at each site.\n")
    assert supported(text, ["64493-RT", "64494-RT"])[0] is True
    assert supported(text.replace("Fluoroscopy used to obtain an oblique view of each target. ", "").replace(
        " under fluoroscopic guidance", ""), ["64493-RT", "64494-RT"])[0] is False


@pytest.mark.parametrize("pad", ["", "  ", "\t"])
def test_an_indented_first_line_is_still_a_heading(pad):
    text = pad + ("Left SIJ: under fluoroscopy a 22 g needle entered the joint; contrast outlined it; 40 mg "
                  "triamcinolone and 1 mL 0.5% bupivacaine injected.\r\nRight SIJ: same technique, intra-articular "
                  "contrast spread confirmed; 40 mg triamcinolone and 1 mL 0.5% bupivacaine injected.\r\n"
                  "Dx M46.1 bilateral sacroiliitis. Therapeutic.\r\n")
    assert supported(text, ["27096-50"])[0] is True


def test_a_lower_case_plan_heading_plans_what_it_holds():
    text = ("Left SI joint injection under fluoroscopy; contrast outlined the joint. Triamcinolone 40 mg with 2 mL "
            "0.25% bupivacaine injected. Dx M46.1. Therapeutic.\nplan: repeat injection in 3 months if relief wanes; "
            "consider radiofrequency ablation of the lateral branches.")
    assert supported(text)[0] is True


# --- a third blind set (61 notes, 114 verdicts) ---------------------------------------------------------------------

NO_PURPOSE = ("PROCEDURE: Left sacroiliac joint injection\nDIAGNOSIS: Left sacroiliitis (M46.1).\n{where}\n"
              "TECHNIQUE: " + TECH.format(side="left") + "\nMEDICATIONS: 40 mg triamcinolone and 2 mL 0.25% "
              "bupivacaine injected.\nCOMPLICATIONS: none.")


@pytest.mark.parametrize("where, ok", [
    ("PLAN: therapeutic left SI joint injection today under fluoroscopy.", True),
    ("Plan discussed: therapeutic left SI joint injection today.", True),
    ("PLAN: therapeutic left SI joint injection next month if the pain persists.", False),
    ("PLAN: consider a therapeutic left SI joint injection today.", False),
    ("Plan today: left SI joint injection, therapeutic.", True),
    ("Plan next visit: left SI joint injection, therapeutic.", False),
    ("INDICATION: Injection requested for diagnostic purposes.", True),
    ("HISTORY: Therapeutic injection requested by rheumatology.", True),
    ("HISTORY: A therapeutic injection in 2023 helped for a month.", False),
])
def test_a_purpose_in_the_plan_for_today_or_in_a_referral_is_the_purpose_of_the_injection_done(where, ok):
    assert supported(NO_PURPOSE.format(where=where))[0] is ok


def test_an_empty_field_does_not_take_the_next_lines_words():
    text = si(dx="***").replace("DIAGNOSIS: ***", "INDICATION: ***\n")
    ok, errors = supported(text)
    assert not ok and "27096.diagnosis.documented" in errors


@pytest.mark.parametrize("line, dose", [
    ("Injected Kenalog 40 mg/mL x 1 mL and bupivacaine 0.25% x 3 mL.", "40 mg"),
    ("A solution of 1 mL of\nmethylprednisolone acetate (Depo-Medrol) 80 mg/mL, mixed with 2 mL of\n0.5% ropivacaine, "
     "was injected.", "80 mg"),
    ("A solution of 1 mL of\r\nDepo-Medrol 80 mg/mL and 2 mL of\r\n0.5% ropivacaine was injected.", "80 mg"),
])
def test_a_volume_after_x_or_across_a_wrapped_line_is_the_drugs_volume(line, dose):
    text = SI.format(title="Left sacroiliac joint injection", dx="Left sacroiliitis (M46.1).", purpose="Diagnostic.",
                     technique=TECH.format(side="left")).replace(
        "MEDICATIONS: 40 mg triamcinolone and 2 mL 0.25% bupivacaine injected.", "MEDICATIONS: " + line)
    report = validate(text, ["27096-LT"])
    assert report.supported, [f.message for f in report.errors]
    steroid = next(m for m in report.facts.medications if m.role == "steroid")
    assert steroid.dose == dose and all(m.volume for m in report.facts.medications)


def test_a_volume_count_after_x_is_not_read_as_a_volume():
    text = si().replace("40 mg triamcinolone and 2 mL 0.25% bupivacaine injected.",
                        "triamcinolone x 2 and 0.25% bupivacaine injected.")
    ok, errors = supported(text)
    assert not ok and "27096.medications.dosed" in errors


@pytest.mark.parametrize("position, side, ok", [
    ("Positioned lying on her right side, left side up, with a wedge.", "left", True),
    ("The patient was placed on the right side.", "left", True),
    ("Positioned lying on her left side, right side up.", "right", False),  # the title's left, the joint's right
])
def test_the_side_a_patient_lies_on_is_no_side_injected(position, side, ok):
    technique = position + " " + TECH.format(side=side)
    assert supported(si(technique=technique))[0] is ok


def test_a_dotted_leader_log_reads_as_fields():
    log = ("PROCEDURE LOG\nProcedure ........ Left sacroiliac joint injection\nSide ............. Left\n"
           "Diagnosis ........ Left sacroiliitis, M46.1\nPurpose .......... Diagnostic\n"
           "Fluoroscopy ...... Not used (tube fault)\nUltrasound ....... Not used\n"
           "Technique ........ Landmark: left PSIS palpated, needle advanced into the left SI joint\n"
           "Injectate ........ Triamcinolone 40 mg + bupivacaine 0.25% 2 mL\n")
    ok, errors = supported(log, ["20552-LT"])
    assert ok, errors
    assert extract_facts(log).guidance == "none"
    assert not supported(log.replace("Not used (tube fault)", "Used, AP and oblique"), ["20552-LT"])[0]


@pytest.mark.parametrize("talk", [
    "I talked with Mr. Benally about a fluoroscopically guided injection at the hospital versus one here today.",
    "We spoke at length about fluoroscopic guidance at the hospital; he chose the office.",
])
def test_a_talk_about_another_modality_is_no_use_of_it(talk):
    technique = talk + " Landmark technique: the left PSIS was palpated and the needle advanced into the left SI joint."
    ok, errors = supported(si(technique=technique), ["20552-LT"])
    assert ok, errors


def test_what_a_consent_agrees_to_is_not_what_was_done():
    technique = ("I consent to a fluoroscopically guided left sacroiliac joint injection. The fluoroscopy suite was "
                 "booked, so the injection was done by landmarks: the needle was advanced into the left SI joint.")
    ok, errors = supported(si(technique=technique), ["20552-LT"])
    assert ok, errors
    consent_only = "I consent to a fluoroscopically guided left sacroiliac joint injection. The needle was placed."
    assert not supported(si(technique=consent_only))[0]


def test_an_si_joint_injection_billed_as_20552_names_its_side_on_the_line():
    landmark = si(technique="Landmark technique: the needle was advanced into the left SI joint.")
    assert supported(landmark, ["20552-LT"])[0]
    ok, errors = supported(landmark, ["20552"])
    assert not ok and "20552.si.side_modifier" in errors


MRI_CLEAR = "MRI: no stenosis, disc herniation, fracture, infection or tumor."


def test_the_medicare_note_of_these_tests_is_supported_as_written():
    assert supported(MEDICARE_SI.format(other_causes=MRI_CLEAR), ["27096-LT-KX"], "medicare")[0]


@pytest.mark.parametrize("duration, ok", [
    ("\n- Duration: 6 months (onset 05/2026).\n", True),
    ("\n  Duration:       14 months\n", True),
    ("\n- Duration: 6 weeks.\n", False),
    ("\n- Duration: ***\n", False),
])
def test_a_criteria_lists_duration_field_is_the_pains_duration(duration, ok):
    text = MEDICARE_SI.format(other_causes=MRI_CLEAR).replace(", for 6 months.", "." + duration)
    assert supported(text, ["27096-LT-KX"], "medicare")[0] is ok


@pytest.mark.parametrize("scores, ok", [
    ("PAIN (NRS 0-10)\n  Pre-procedure: 7\n  30 minutes post: 1  (86% relief)\n", True),
    ("Pain score (0-10)\n| Pre | 7 |\n| Post | 2 |\n", True),
    ("Vitals\n  Pre-procedure: 128\n  Post: 122\n", False),  # no pain scale named: a blood pressure, not a pain score
])
def test_a_pain_tables_rows_are_the_scores_before_and_after(scores, ok):
    text = MEDICARE_SI.format(other_causes=MRI_CLEAR).replace("Pre-procedure NRS 7/10. ", "").replace(
        " Post-procedure NRS 1/10.", "") + "\n" + scores
    assert supported(text, ["27096-LT-KX"], "medicare")[0] is ok


LETTER = ("Dear Dr. Okafor,\n\nThank you for referring Ms. Lindqvist for her left low back pain. My impression is left "
          "sacroiliitis (M46.1).\n\n{today} a diagnostic left sacroiliac joint injection. I performed the injection under "
          "fluoroscopic guidance; contrast confirmed intra-articular spread. I then injected 3 mL of 0.5% ropivacaine.\n\n"
          "Sincerely,\nA. Brandt, MD")


@pytest.mark.parametrize("today, ok", [
    ("We went ahead today with", True),
    ("We proceeded today with", True),
    ("I would recommend", False),
])
def test_a_letter_that_says_the_injection_was_done_today_documents_it(today, ok):
    assert supported(LETTER.format(today=today))[0] is ok


def test_a_procedure_notes_reason_for_consult_field_does_not_make_it_a_consult():
    text = ("INPATIENT PAIN SERVICE - PROCEDURE NOTE\nReason for consult: left sacroiliac joint pain.\n"
            + si().split("\n", 1)[1])
    assert supported(text)[0]


@pytest.mark.parametrize("why, ok", [
    ("On a trial fluoroscopic view the left SI joint lines could not be resolved, so the injection was performed "
     "under CT guidance.", True),
    ("The needle could not be advanced into the left SI joint, so the procedure was aborted.", False),
])
def test_what_could_not_be_seen_on_one_imaging_is_no_side_aborted(why, ok):
    technique = why + (" A 22-gauge needle was advanced under CT into the left SI joint; CT confirmed the tip within the joint "
                       "with contrast.")
    assert supported(si(title="Sacroiliac joint injection, CT-guided", technique=technique))[0] is ok


def test_a_dotted_leader_row_of_a_drug_with_its_strength_reads_as_its_field():
    text = si().replace("MEDICATIONS: 40 mg triamcinolone and 2 mL 0.25% bupivacaine injected.",
                        "Injectate:\n    Triamcinolone ............ 40 mg\n    Bupivacaine 0.5% ......... 2 mL")
    ok, errors = supported(text)
    assert ok, errors


@pytest.mark.parametrize("wrapped, ok", [
    ("The skin was anesthetized with\n2 mL of 1%\nlidocaine. Injected 40 mg triamcinolone and 2 mL of 0.25%\n"
     "bupivacaine.", True),
    ("The skin was anesthetized with lidocaine. Injected 40 mg triamcinolone and\nbupivacaine.", False),
])
def test_a_prose_line_that_ends_in_an_amount_runs_on_into_its_drug(wrapped, ok):
    text = si().replace("MEDICATIONS: 40 mg triamcinolone and 2 mL 0.25% bupivacaine injected.", "MEDICATIONS: " + wrapped)
    assert supported(text)[0] is ok


@pytest.mark.parametrize("contrast, ok", [
    ("One half mL of Omnipaque 240 was injected and showed contrast within the joint on AP and oblique views.", True),
    ("Contrast was seen within the left SI joint.", True),
    ("Contrast was not seen within the joint.", False),
])
def test_contrast_seen_within_the_joint_confirms_the_needle(contrast, ok):
    technique = "Under fluoroscopic guidance a 22-gauge needle was advanced into the left sacroiliac joint. " + contrast
    assert supported(si(technique=technique))[0] is ok


@pytest.mark.parametrize("title, ok", [
    ("Sports & Spine Clinic - Follow-up visit with procedure", True),
    ("Office visit and injection", True),
    ("Follow-up visit", False),
])
def test_a_visit_title_that_names_a_procedure_too_heads_a_procedure_note(title, ok):
    # a visit note documents a procedure only when it says one was done today, or its title names one
    assert supported(title + "\n" + si())[0] is ok


@pytest.mark.parametrize("prior, ok", [
    ("Prior: bilateral diagnostic SI joint injections 05/18/2026 with 80% relief. First therapeutic session today.", True),
    ("Prior: diagnostic left SI joint block 05/18/2026 with 80% relief. First therapeutic\ninjection of the last 12 "
     "months.", True),
    ("Prior: left therapeutic SI joint injection 05/18/2026 with 80% relief.", False),  # a repeat: how long it lasted?
])
def test_a_first_therapeutic_session_after_diagnostic_blocks_is_no_repeat(prior, ok):
    text = MEDICARE_SI.format(other_causes=MRI_CLEAR).replace("PURPOSE: Diagnostic.", "PURPOSE: Therapeutic.\n" + prior)
    assert supported(text, ["27096-LT"], "medicare")[0] is ok


# --- a fourth blind set (55 notes, 105 verdicts) --------------------------------------------------------------------

def test_a_needle_walked_into_the_joint_is_a_thing_done():
    technique = ("After consent the skin was numbed, and under fluoroscopic guidance a 22 gauge needle was walked into "
                 "the inferior aspect of the left SI joint, where contrast gave an arthrogram confirming intra-articular "
                 "position.")
    ok, errors = supported(si(technique=technique))
    assert ok, errors


@pytest.mark.parametrize("purpose, ok", [
    ("Therapeutic (diagnostic fluoroscopic block 12/2025: 80% relief)", True),
    ("Therapeutic (fluoroscopic block today)", False),  # fluoroscopy today and ultrasound: two guidances
])
def test_a_month_and_year_dates_an_earlier_event(purpose, ok):
    technique = ("Under real-time ultrasound guidance, in plane, the needle tip was seen entering the left SI joint. "
                 "Still images were saved to PACS.")
    assert supported(si(purpose=purpose, technique=technique), ["20552-LT", "76942"])[0] is ok


@pytest.mark.parametrize("narrative, ok", [
    ("The right SI joint region was scanned with a curvilinear probe and an image saved to PACS. The needle was "
     "inserted and the drugs injected.", False),  # the probe scanned the pelvis; nothing says how it guided the needle
    ("Under ultrasound the needle was advanced in plane to the curvilinear probe into the left SI joint, the tip seen "
     "entering the joint. An image was saved to PACS.", True),
])
def test_a_probe_describes_guidance_only_with_the_needle_it_guided(narrative, ok):
    assert supported(si(technique=narrative), ["20552-LT", "76942"])[0] is ok


def test_needle_position_confirmed_after_a_long_description_is_a_confirmation():
    technique = ("Under fluoroscopic guidance the needle was advanced; needle tip position between the sacral and iliac "
                 "cortices at the inferior left SI joint confirmed on AP and oblique fluoroscopic views.")
    assert supported(si(technique=technique))[0]


SESSIONS = ("SI joint injection sessions in the past 12 months (all left, therapeutic, fluoroscopic):\n"
            "  04/10/2025 - NRS 8 -> 3, 60% relief for 3 months\n  07/15/2025 - NRS 8 -> 3, 60% relief for 3 months\n"
            "{more}")


@pytest.mark.parametrize("more, ok", [
    ("  10/14/2025 - NRS 8 -> 3, 60% relief for 3 months\n  01/13/2026 - NRS 8 -> 4, 50% relief\n", False),
    ("", True),
])
def test_a_dated_list_of_this_years_sessions_counts_them(more, ok):
    from notedraft.coverage import Reader

    sessions = Reader(SESSIONS.format(more=more)).sessions()
    assert [(n, kind) for n, kind, _, _ in sessions] == [(5 if more else 3, "therapeutic")]
    findings = validate(MEDICARE_SI.format(other_causes=MRI_CLEAR).replace("PURPOSE: Diagnostic.", "PURPOSE: Therapeutic.")
                        + "\n" + SESSIONS.format(more=more), ["27096-LT"], "medicare").findings
    assert any(f.rule == "27096.medicare.lcd.sessions_therapeutic_cap" for f in findings) is not ok


@pytest.mark.parametrize("allergy, ok", [
    ("She has an iodinated contrast allergy (anaphylaxis), so no contrast was used.", True),
    ("No contrast was used.", False),
])
def test_medicare_contrast_is_excused_only_by_an_allergy_or_pregnancy(allergy, ok):
    text = MEDICARE_SI.format(other_causes=MRI_CLEAR).replace("contrast confirmed intra-articular spread",
                                                              "the needle tip was confirmed within the joint")
    text = text.replace("COMPLICATIONS:", allergy + "\nCOMPLICATIONS:")
    assert supported(text, ["27096-LT-KX"], "medicare")[0] is ok


@pytest.mark.parametrize("finding, ok", [
    ("Neuro: strength 5/5 L2-S1 bilaterally; reflexes symmetric.", True),
    ("Gait: non-antalgic.\nLumbar ROM: extension painful on the right.", True),
])
def test_an_exams_sub_headings_are_the_exam(finding, ok):
    text = si().replace("TECHNIQUE:", "PHYSICAL EXAM:\n" + finding + "\nTECHNIQUE:")
    assert supported(text)[0] is ok


@pytest.mark.parametrize("heading, ok", [("CLINICAL HISTORY", True), ("REASON FOR EXAM", True), ("PAST HISTORY", False)])
def test_a_radiology_reports_clinical_history_is_the_indication(heading, ok):
    text = si(dx="").replace("DIAGNOSIS: \n", f"{heading}: left SI joint arthropathy (M47.818) on pelvic MRI.\n")
    assert supported(text)[0] is ok


def test_a_drugs_numbered_fields_give_its_amounts():
    text = si().replace("MEDICATIONS: 40 mg triamcinolone and 2 mL 0.25% bupivacaine injected.",
                        "Medication 1: Methylprednisolone acetate (Depo-Medrol) 40 mg/mL\nMedication 1 Volume: 1 mL\n"
                        "Medication 2: Bupivacaine 0.25%\nMedication 2 Volume: 2 mL")
    report = validate(text, ["27096-LT"])
    assert report.supported, [f.message for f in report.errors]
    assert [(m.name, m.volume) for m in report.facts.medications] == [("methylprednisolone", "1 mL"), ("bupivacaine", "2 mL")]
    unfilled = text.replace("Medication 2 Volume: 2 mL", "Medication 2 Volume:")
    assert not supported(unfilled)[0]


@pytest.mark.parametrize("other_causes, ok", [
    ("Lumbar MRI 09/2025: mild spondylosis without central or foraminal stenosis or disc herniation; no fracture.", True),
    ("Lumbar MRI 09/2025: mild spondylosis with foraminal stenosis and a disc herniation; no fracture.", False),
])
def test_a_negation_reaches_through_an_or_list_of_two_word_items(other_causes, ok):
    assert supported(MEDICARE_SI.format(other_causes=other_causes), ["27096-LT-KX"], "medicare")[0] is ok


@pytest.mark.parametrize("care, ok", [
    ("CONSERVATIVE CARE: 10 weeks PT (completed 11/2025) and NSAIDs; home exercise program continues.", True),
    ("CONSERVATIVE CARE: 2 weeks PT and NSAIDs; home exercise program continues.", False),
])
def test_a_telegraphic_duration_before_the_therapy_is_its_course(care, ok):
    text = MEDICARE_SI.format(other_causes=MRI_CLEAR).replace(
        " Physical therapy for 8 weeks and NSAIDs failed; home exercises continue.", "") + "\n" + care
    assert supported(text, ["27096-LT-KX"], "medicare")[0] is ok


@pytest.mark.parametrize("equipment, ok", [
    ("C-arm down today, so the injection was done by palpation: the needle was advanced into the left SI joint.", True),
    ("The fluoroscope was down today; by palpation the needle was advanced into the left SI joint.", True),
    ("The C-arm was brought down to the table and the needle was advanced into the left SI joint.", False),
])
def test_equipment_down_today_is_not_used_and_palpation_is_the_guidance(equipment, ok):
    ok_20552, errors = supported(si(technique=equipment), ["20552-LT"])
    assert ok_20552 is ok, errors


def test_real_time_us_in_plane_is_ultrasound_guidance_described():
    technique = ("Real-time US in plane, needle tip seen entering the left SI joint cleft; images saved to PACS.")
    ok, errors = supported(si(technique=technique), ["20552-LT", "76942"])
    assert ok, errors
    assert extract_facts(si(technique=technique)).guidance == "ultrasound"


@pytest.mark.parametrize("sentence, word, status", [
    ("Other causes (radiculopathy, stenosis, disc herniation) not supported by exam or imaging.", "radiculopathy", "negated"),
    ("Drugs (Kenalog, bupivacaine) were drawn up but not injected.", "Kenalog", "negated"),
    ("Injected Kenalog (40 mg, 1 mL) under fluoroscopy.", "Kenalog", "affirmed"),
])
def test_what_follows_a_parenthesised_list_is_said_of_every_item(sentence, word, status):
    from notedraft.reading import read

    r = read(sentence)
    i = sentence.index(word)
    assert r.status(i, i + len(word)) == status


def test_a_persons_circumstances_are_no_doubt_about_the_history():
    from notedraft.reading import read

    text = "HISTORY: 68 year old retired postal worker with 5 months of left low back pain below L5."
    i = text.index("5 months")
    assert read(text).status(i, i + 8) == "historical"  # a history's fact, not a doubted one


# --- a fifth blind set (43 notes, 82 verdicts) ----------------------------------------------------------------------

WRAPPED = ("PROCEDURE NOTE\nDiagnosis: Right sacroiliitis (M46.1)\nPurpose: therapeutic.\n\n"
           "The patient was placed prone and the right buttock prepped and\ndraped. A 22-gauge spinal needle was "
           "advanced to the inferior right\nsacroiliac joint and 40 mg of triamcinolone with 2 mL of 0.5%\n"
           "bupivacaine was injected. Needle withdrawn; bandage.\n\n{tail}\n")


@pytest.mark.parametrize("tail", [
    "Plan: Reassess in 4 weeks. If relief is incomplete, repeat the\nright SI joint injection under fluoroscopic "
    "guidance with contrast\nto confirm intra-articular spread.",
    "Her previous right SI joint injection in 2025 was done under\nfluoroscopic guidance with contrast, confirming "
    "intra-articular spread.",
])
def test_a_sentence_wrapped_over_lines_keeps_its_doubt(tail):
    ok, errors = supported(WRAPPED.format(tail=tail), ["27096-RT"])
    assert not ok and "27096.guidance.fluoroscopy_or_ct" in errors


def test_short_dictated_lines_stay_items_of_their_own():
    from notedraft.reading import read

    text = "R SIJ inj\nno US\nfluoro, contrast IA\n40 kenalog + 2cc 0.25% bupi"
    i = text.index("fluoro")
    assert read(text).status(i, i + 6) == "affirmed"


@pytest.mark.parametrize("meds, ok", [
    ("1 mL of Depo-Medrol and 2 mL of bupivacaine were injected.", False),  # 40 or 80 mg/mL; 0.25% or 0.5%
    ("1 mL of Depo-Medrol 40 mg/mL and 2 mL of 0.25% bupivacaine were injected.", True),
    ("0.5 mL of Celestone and 2 mL of 0.25% bupivacaine were injected.", True),  # sold as 6 mg/mL only
])
def test_a_volume_without_its_strength_is_no_dose(meds, ok):
    text = si().replace("MEDICATIONS: 40 mg triamcinolone and 2 mL 0.25% bupivacaine injected.", "MEDICATIONS: " + meds)
    ok_, errors = supported(text)
    assert ok_ is ok, errors


def test_a_drug_wrapped_onto_the_next_line_keeps_its_amounts():
    text = si().replace("MEDICATIONS: 40 mg triamcinolone and 2 mL 0.25% bupivacaine injected.",
                        "MEDICATIONS: after contrast confirmed the position, we injected 80 mg\nDepo-Medrol plus 3 mL "
                        "of 0.25% bupivacaine, and a mixture of 1 mL triamcinolone acetonide\n40 mg/mL (40 mg).")
    ok, errors = supported(text)
    assert ok, errors


@pytest.mark.parametrize("tests, ok", [
    ("  Imaging excludes stenosis, herniation, fracture, tumor, infection or hardware. Positive provocative\n"
     "  maneuvers on the left: FABER, Gaenslen, SI compression, thigh\n  thrust.", True),
    ("Positive on the left today: FABER, Gaenslen, thigh thrust and SI distraction.", True),
    ("Tested on the left today: FABER, Gaenslen, thigh thrust and SI distraction.", False),  # no result stated
])
def test_provocative_tests_under_a_wrapped_or_dated_heading(tests, ok):
    from notedraft.coverage import Reader

    assert Reader(tests).provocative_tests(3, side="left").met is ok


@pytest.mark.parametrize("verb", ["produced a clear arthrogram confined to the joint", "was deposited within the joint"])
def test_more_past_tense_verbs_of_a_thing_done(verb):
    technique = ("Under fluoroscopy a 22 g needle was guided into the left SI joint. Omnipaque 180, 1 mL, " + verb + ".")
    if "deposited" in verb:
        technique += " Contrast outlined the joint."
    ok, errors = supported(si(technique=technique))
    assert ok, errors


def test_a_slash_separated_list_of_drugs_keeps_each_drugs_amounts_and_use():
    text = si().replace("MEDICATIONS: 40 mg triamcinolone and 2 mL 0.25% bupivacaine injected.",
                        "Meds given: Depo-Medrol 80 mg / lidocaine 1% 2 mL (skin) / bupivacaine 0.25% 2 mL (joint) / "
                        "Omnipaque 240 1 mL")
    report = validate(text, ["27096-LT"])
    assert report.supported, [f.message for f in report.errors]
    got = {m.name: (m.dose or m.volume, m.use) for m in report.facts.medications}
    assert got == {"methylprednisolone": ("80 mg", "injectate"), "lidocaine": ("2 mL", "skin_local"),
                   "bupivacaine": ("2 mL", "injectate"), "iohexol": ("1 mL", "contrast")}
    # a strength is still a strength: "40 mg / 1 mL" is 40 mg in 1 mL, not a list
    strength = validate(si().replace("40 mg triamcinolone", "triamcinolone 40 mg / 1 mL"), ["27096-LT"])
    assert [(m.dose, m.volume) for m in strength.facts.medications if m.role == "steroid"] == [("40 mg", "1 mL")]


def test_what_voice_recognition_writes_for_the_words():
    d = draft("right sacred iliac joint injection under flora scope, AP and oblique, 0.5 mL Omni pack showed arthrogram "
              "in the joint, Kenny log 40 mg with 2 mL 0.25 percent bupivacaine, dx M46.1, therapeutic")
    assert d.supported and d.codes == ["27096-RT"], [f.message for f in d.report.errors]
    assert "triamcinolone acetonide 40 mg" in d.note and "fluoroscopic" in d.note


# --- a sixth blind set (44 notes, 82 verdicts; measured before any change, then its one false supported fixed) ------

@pytest.mark.parametrize("heading, ok", [("PAST PROCEDURAL HISTORY", False), ("Past procedural history", False),
                                         ("PROCEDURES TODAY", True)])
def test_a_heading_alone_on_its_line_without_a_colon_opens_its_section(heading, ok):
    # the only fluoroscopy is under the heading: in a history it is an earlier injection's
    text = (f"{heading}\n- 06/2025: left SI joint injection under fluoroscopic guidance with contrast, confirming "
            "intra-articular spread.\n\nPROCEDURE\nLeft sacroiliac joint injection. Purpose: diagnostic. Diagnosis: "
            "left sacroiliitis (M46.1). A 22-gauge needle was advanced into the left SI joint. 40 mg triamcinolone "
            "and 2 mL of 0.25% bupivacaine were injected.")
    assert supported(text)[0] is ok


@pytest.mark.parametrize("sedation, ok", [
    ("  08:41  midazolam 2 mg IV\n  08:43  fentanyl 50 mcg IV\n  08:55  midazolam 1 mg IV\n"
     "Total: midazolam 3 mg IV, fentanyl 50 mcg IV.", True),  # doses given in steps and their total
    ("  08:41  midazolam 2 mg IV\n  08:55  midazolam 1 mg IV\nTotal: midazolam 5 mg IV.", False),
])
def test_doses_given_in_steps_agree_with_their_total(sedation, ok):
    text = si().replace("COMPLICATIONS:", "SEDATION:\n" + sedation + "\nCOMPLICATIONS:")
    ok_, errors = supported(text)
    assert ok_ is ok, errors


@pytest.mark.parametrize("default, ok", [
    ("Imaging guidance: Fluoroscopy   <default value from order set>", True),
    ("Imaging guidance: Fluoroscopy", False),  # fluoroscopy stated, and landmarks: two guidances
])
def test_a_template_default_is_no_statement(default, ok):
    technique = default + "\nNo imaging was used; the needle was placed by palpated landmarks into the left SI joint."
    assert supported(si(technique=technique), ["20552-LT"])[0] is ok


@pytest.mark.parametrize("right, ok", [
    ("While the right side was being prepared and before any needle was placed on the right, the patient had a "
     "vasovagal episode; the right-sided injection was abandoned.", True),
    ("The right side was then prepared and injected the same way.", False),  # both sides done: 27096-LT is wrong
])
def test_a_side_stopped_before_any_needle_was_not_done(right, ok):
    text = si(title="Left sacroiliac joint injection (bilateral planned)").replace("COMPLICATIONS:", right + "\nCOMPLICATIONS:")
    assert supported(text)[0] is ok
