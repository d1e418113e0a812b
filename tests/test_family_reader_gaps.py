"""Reader gaps found in family notes and dictations, by category, each with its fail-closed counterpart."""

from notedraft import family_facts
from notedraft.drafting import draft
from notedraft.extract import extract_facts
from notedraft.validate import validate


def _meds(text):
    return {(m.name, m.dose or m.volume) for m in extract_facts(text).medications}


# --- drugs ------------------------------------------------------------------------------------------------------

def test_dex_is_dexamethasone_and_depo_is_depo_medrol():
    assert ("dexamethasone", "10 mg") in _meds("L L5 TFESI fluoro, contrast, 10 mg dex, dx M54.17")
    assert ("methylprednisolone", "80 mg") in _meds("caudal ESI under fluoro, 80 mg depo, dx M48.062")


def test_depo_of_another_depot_product_is_never_depo_medrol():
    assert _meds("pt on depo-provera 150 mg, L SIJ inj under fluoro, 40 mg kenalog, dx M46.1") == {
        ("triamcinolone", "40 mg")}
    d = draft("L SIJ inj under fluoro, contrast confirmed IA, 40 mg Depo-Testosterone, dx M46.1, therapeutic")
    assert d.refused and "methylprednisolone" not in d.note


def test_dex_in_mcg_is_never_drafted_as_a_steroid_dose():
    # dexmedetomidine is dosed in micrograms: a "dex" in mcg is an implausible dexamethasone dose, a question
    d = draft("left L5 TFESI under fluoro, contrast, sedation with dex 20 mcg, dx M54.17")
    assert d.refused
    assert "dexmedetomidine" in {m.name for m in extract_facts("Precedex 20 mcg IV, left knee injection").medications}


def test_ns_diluent_amount_is_explained_but_is_no_injectate():
    d = draft("caudal ESI under fluoro, contrast confirmed epidural spread, 80 mg depo-medrol + 10 cc NS, dx M48.062")
    assert not [f for f in d.report.findings if f.rule == "dictation.unrecognized_amount"]
    assert not _meds("caudal ESI under fluoro, 10 cc NS, dx M48.062")  # saline alone documents no drug


# --- sides, procedure names, guidance ---------------------------------------------------------------------------

def test_side_before_wrist_ia_injection():
    assert extract_facts("right wrist IA inj, 20 mg kenalog + 1 cc 1% lido, dx M19.031").side == "right"
    # pain that reaches the wrist is not the side of the procedure
    assert extract_facts("knee injection, 40 mg kenalog; pain radiates to the right wrist").side == "unstated"


def test_mb_rfa_is_a_medial_branch_ablation():
    f = extract_facts("right L4-5 L5-S1 MB RFA under fluoro, 1 cc 2% lido each level, dx M47.816")
    assert f.procedure == "facet_rfa"
    assert extract_facts("right L4-5 RFA under fluoro, dx M47.816").procedure != "facet_rfa"


def test_a_bare_landmarks_item_is_no_imaging():
    assert extract_facts("left knee inj, landmarks, 40 mg kenalog, dx M17.12").guidance == "none"
    # landmarks the imaging showed are not a technique without imaging
    assert extract_facts("left knee inj, bony landmarks were identified under fluoroscopy, 40 mg kenalog").guidance \
        == "fluoroscopy"
    assert extract_facts("left knee inj under fluoroscopy, bony landmarks, 40 mg kenalog").guidance == "fluoroscopy"


def test_a_today_word_ends_a_history_cue_in_a_run_on_sentence():
    t = ("pt w/ R knee OA s/p TKA, relief from diagnostic genicular blocks, did right genicular RFA today under "
         "fluoroscopy, 1 cc 2% lido at each, dx M17.11")
    f = extract_facts(t)
    assert f.side == "right" and f.guidance == "fluoroscopy" and f.procedure == "genicular_nerve"
    # a procedure of the history stays history
    f = extract_facts("pt s/p right genicular RFA under fluoroscopy last year, seen today for follow up")
    assert f.side == "unstated" and f.guidance == "unstated"


# --- levels -----------------------------------------------------------------------------------------------------

_TF = ("Dx: lumbar radiculopathy (M54.16), L4-5 foraminal stenosis on MRI.\n"
       "P: Left L4-5 TFESI performed today, therapeutic. Fluoroscopy: needle to the left L4-5 foramen. Isovue 1 mL "
       "with epidural spread, no vascular uptake. Dexamethasone 10 mg.\n")


def _levels(text):
    f = extract_facts(text)
    return family_facts.read(f, text)


def test_a_level_named_first_in_the_history_is_still_the_procedure_sentences_level():
    ff = _levels(_TF)
    assert ff.levels == ["L4"] and not ff.unreadable_levels
    assert validate(_TF, ["64483-LT"]).supported


def test_a_level_named_only_outside_the_procedure_sentences_stays_a_question():
    t = _TF.replace("Left L4-5 TFESI", "Left TFESI").replace("left L4-5 foramen", "left foramen") \
        + "Also L3 stenosis noted in the procedure field.\n"
    assert not validate(t, ["64483-LT"]).supported


def test_a_level_the_contrast_spread_to_is_not_a_level_injected():
    t = _TF.replace("with epidural spread", "with spread along the left L5 nerve root")
    ff = _levels(t)
    assert ff.levels == ["L4"] and not ff.unreadable_levels
    assert validate(t, ["64483-LT"]).supported
    # a level the needle went to is a level, even beside spread words elsewhere
    t2 = t.replace("needle to the left L4-5 foramen", "needles to the left L4-5 and L5-S1 foramina")
    assert not validate(t2, ["64483-LT"]).supported


_MBB = ("Medial branch blocks at L3-4 and L4-5, right side.\n"
        "- Dx: lumbar spondylosis (M47.816)\n- Purpose: diagnostic\n- Side: right\n- Guidance: fluoroscopy\n"
        "- Nerves blocked: the L2, L3 and L4 medial branches on the right\n"
        "- Contrast: Omnipaque 0.3 mL per site, no vascular uptake\n- Injectate: 0.5 mL 0.5% bupivacaine per site\n")


def test_nerves_of_the_named_facet_joints_are_those_joints():
    assert validate(_MBB, ["64493-RT", "64494-RT"]).supported


def test_a_nerve_no_named_joint_explains_stays_a_question():
    t = _MBB.replace("L3 and L4 medial", "L3, L4 and L5 medial")  # the L5 branch supplies L5-S1
    assert not validate(t, ["64493-RT", "64494-RT"]).supported


def test_a_bulleted_side_field_that_contradicts_the_body_is_a_conflict():
    t = _MBB.replace("- Side: right", "- Side: left")
    assert not validate(t, ["64493-RT", "64494-RT"]).supported


# --- drafting: what was dictated per site, diagnoses in words, drug shorthand -----------------------------------

def test_skin_local_and_contrast_keep_their_per_site_basis_in_a_family_draft():
    d = draft("Left L3-4 and L4-5 facet joint injections, diagnostic, lumbar spondylosis. Fluoroscopy. Omnipaque "
              "0.3 mL per site, no vascular uptake. Half mL half percent bupivacaine per site. Skin one mL one "
              "percent lido per site.", ["64493-LT", "64494-LT"])
    assert not [f for f in d.report.findings if f.rule.startswith("grounding.")]
    assert "per site for skin anesthesia" in d.note
    assert not d.refused


def test_skin_local_dictated_in_total_is_not_written_per_site():
    d = draft("Left L3-4 and L4-5 facet joint injections, diagnostic, lumbar spondylosis. Fluoroscopy. Omnipaque "
              "0.3 mL per site. Half mL half percent bupivacaine per site. Skin lido 1% 2 mL total.",
              ["64493-LT", "64494-LT"])
    assert "2 mL of 1% in total for skin anesthesia" in d.note


def test_arthritis_and_stenosis_dictated_in_words_are_diagnoses():
    assert extract_facts("left knee injection, left knee OA with effusion").diagnoses
    assert extract_facts("L5-S1 interlaminar epidural, lumbar stenosis with claudication").diagnoses
    # a ruled-out or historical finding is not today's diagnosis
    assert not extract_facts("left knee injection, rule out OA").diagnoses
    assert not extract_facts("L5-S1 interlaminar epidural; history of lumbar stenosis").diagnoses


def test_drug_shorthand_ending_in_ed_is_not_an_unknown_verb():
    assert ("methylprednisolone", "40 mg") in _meds("left knee injection. Forty of methylpred with 3 mL 1% lido.")
    # an unknown -ed verb still doubts its clause
    assert not _meds("left knee injection. Kenalog 40 mg was forgone.")


def test_the_ablation_a_diagnostic_block_precedes_is_planned_not_done():
    t = ("Genicular nerve block of the left knee, diagnostic before RFA. Dx left knee OA M17.12. Under fluoroscopy "
         "the superolateral, superomedial and inferomedial genicular nerves were each injected with 2 mL 0.25% "
         "bupivacaine.")
    assert not draft(t, ["64454-LT"]).refused
    # the block is not the ablation: billing the ablation is refused
    assert draft(t, ["64624-LT"]).refused
    # an ablation done today is still an ablation
    t2 = "Left genicular RFA under fluoroscopy, left knee OA, superomedial genicular nerve, 1 mL 2% lido."
    assert family_facts.read(extract_facts(t2), t2).site_class == "ablation"


# --- trigger points: muscles counted as CPT counts them ------------------------------------------------------------

_TPI = ("TRIGGER POINT INJECTIONS\nDx: myofascial pain (M79.18).\nPurpose: therapeutic.\n"
        "Procedure: {muscles} injected with 1 mL 1% lidocaine each. No imaging. No complications.\n")


def test_the_same_muscle_on_each_side_is_two_muscles():
    t = _TPI.format(muscles="Trigger points in the left and right trapezius and the left rhomboid")
    assert len(extract_facts(t).muscles) == 3
    assert validate(t, ["20553"]).supported
    assert len(extract_facts(_TPI.format(muscles="Bilateral trapezius trigger points")).muscles) == 2


def test_a_muscle_named_again_without_its_side_is_the_same_muscle():
    t = _TPI.format(muscles="Trigger points in the left trapezius and levator scapulae; the trapezius was")
    assert len(extract_facts(t).muscles) == 2
    assert not validate(t, ["20553"]).supported


_EXAM = ("Dx: myofascial pain (M79.18). Purpose: therapeutic.\n"
         "Physical exam: tender nodules in the right splenius capitis, left splenius capitis, right rhomboid and "
         "right infraspinatus.\nProcedure: 27g needle; 1 mL 1% lidocaine at each trigger point{count}.\n")


def test_exam_muscles_count_when_the_procedure_states_the_same_number():
    assert validate(_EXAM.format(count=", 4 muscles in all"), ["20553"]).supported


def test_exam_muscles_do_not_count_without_a_matching_stated_number():
    assert not validate(_EXAM.format(count=""), ["20553"]).supported
    assert not validate(_EXAM.format(count=", 3 muscles in all"), ["20553"]).supported


def test_a_dictation_with_muscles_on_both_sides_drafts_a_note_that_reads_back_the_same_count():
    d = draft("TPI for myofascial pain M79.18: right and left rhomboid plus right infraspinatus, 1 cc 1% lido into "
              "each, landmark guided", ["20553"])
    assert not d.refused and "right and left rhomboid" in d.note


def test_a_side_letter_before_a_trigger_point_muscle_is_the_side_and_the_line_takes_no_modifier():
    t = ("myofascial neck pain, taut bands with twitch response in R trapezius and R levator scapulae, injected "
         "1 cc 1% lido into each trigger point, dx M79.18")
    assert extract_facts(t).side == "right"
    d = draft(t)
    assert not d.refused and d.codes == ["20552"]
    # a side modifier written on the line must still name the side injected
    note = ("Trigger point injections. Dx: myofascial pain M79.18. Right trapezius and right rhomboid trigger points "
            "injected with 1 mL 1% lidocaine each. No complications.")
    assert validate(note, ["20552-RT"]).supported
    assert not validate(note, ["20552-LT"]).supported
    # an SI joint injection's 20552 line still names its side
    assert draft("R SIJ inj under US, needle seen in joint, 40 mg kenalog, dx M46.1, therapeutic").codes == ["20552-RT"]
