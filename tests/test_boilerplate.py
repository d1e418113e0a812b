"""Boilerplate is a fact too (issue 11, item 5).

"No complications", "tolerated the procedure well", "consent was obtained", "time-out performed", "images saved"
and the like may stand in a note only when the dictation says them. Unless dictated, a note that states one gets a
`grounding.unsupported` error naming it, with the note's words as evidence; a dictation that says the opposite, or
both, never grounds it; the template drafter never writes one the dictation does not affirm.

The last part is metamorphic: every phrasing of a thesaurus written here (independently of the rule file) × a set
of sentence frames must be flagged when the dictation does not say the fact, and must not be flagged when it does.
The measured rates are printed (`pytest -s -k rates`).
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from notedraft import boilerplate
from notedraft.drafting import draft
from notedraft.grounding import RULE, ground

DICTATION = "L SIJ inj, fluoro, IA confirmed w contrast, 40 kenalog + 2cc 0.25% bupi, dx M46.1, dx + therapeutic"
NOTE = draft(DICTATION).note  # the template's faithful note: grounded as it stands

LABEL = {f.key: f.label for f in boilerplate.load_facts()}
OPPOSITE = {f.key: f.opposite_label for f in boilerplate.load_facts()}


def unsupported(note: str, dictation: str = DICTATION) -> list[str]:
    return [f.message for f in ground(note, dictation) if f.rule == RULE]


# A statement grounding already names keeps its one finding: saved images are "images recorded" (76942's fact).
ALSO_NAMED = {"images_saved": "unsupported: images recorded ("}


def flagged(key: str, note: str, dictation: str = DICTATION) -> bool:
    names = (f"unsupported: {LABEL[key]} (", ALSO_NAMED.get(key, f"unsupported: {LABEL[key]} ("))
    return any(m.startswith(names) for m in unsupported(note, dictation))


def with_sentence(sentence: str, note: str = NOTE) -> str:
    return note.rstrip("\n") + "\n" + sentence + "\n"


# --- the rule file -------------------------------------------------------------------------------------------------


def test_the_rule_file_names_every_kind_the_issue_lists():
    keys = {f.key for f in boilerplate.load_facts()}
    assert {"no_complications", "tolerated_well", "consent_obtained", "time_out", "images_saved", "sterile_prep",
            "discharge_stable", "vitals_stable", "minimal_blood_loss", "pain_relief"} <= keys
    for fact in boilerplate.load_facts():
        assert fact.label and fact.opposite_label and fact.note and fact.examples, fact.key


@pytest.mark.parametrize("fact", boilerplate.load_facts(), ids=lambda f: f.key)
def test_each_example_of_the_rule_file_reads_as_its_fact(fact):
    for example in fact.examples:
        said = boilerplate.read_fact(fact, example)
        assert said.affirmed and not said.opposed, example


def test_every_sentence_the_template_may_write_reads_back_as_its_own_fact():
    for fact in boilerplate.load_facts():
        for example in fact.examples if "{dictated}" in fact.sentence else [""]:
            sentence = fact.sentence.replace("{dictated}", example.rstrip("."))
            if sentence:
                assert boilerplate.read_fact(fact, sentence).affirmed, sentence


# --- the scribe's note of the issue --------------------------------------------------------------------------------

SCRIBE_BOILERPLATE = ("The patient tolerated the procedure well. No complications. Informed consent was obtained. "
                      "A time-out was performed. Images were saved to PACS.")


def test_the_issues_boilerplate_is_flagged_sentence_by_sentence_when_not_dictated():
    messages = unsupported(with_sentence(SCRIBE_BOILERPLATE))

    for label in ("tolerated the procedure well", "no complications", "consent obtained", "time-out performed"):
        assert f"unsupported: {label} (not in the dictation)" in messages, messages
    assert "unsupported: images recorded ('Images were saved to PACS')" in messages  # named once, as before


def test_the_evidence_is_the_notes_own_words():
    note = with_sentence(SCRIBE_BOILERPLATE)

    [finding] = [f for f in ground(note, DICTATION) if "tolerated the procedure well" in f.message]

    [span] = finding.evidence
    assert note[span.start : span.end] == span.text == "tolerated the procedure well"


def test_the_same_note_is_grounded_when_the_dictation_says_it_all_in_shorthand():
    dictation = DICTATION + ", consent obtained, time out, tol well, no comps, images saved"

    assert unsupported(with_sentence(SCRIBE_BOILERPLATE, draft(dictation).note), dictation) == []


# --- each kind: dictated, not dictated, negated, opposite, abbreviations ---------------------------------------------

# (fact, a note sentence stating it, shorthand that dictates it, a dictation stating the opposite)
KINDS = [
    ("no_complications", "There were no complications.", "no comps", "small vasovagal episode, resolved"),
    ("no_complications", "Complications: None.", "no cx", "vasovagal reaction during the injection"),
    ("tolerated_well", "The patient tolerated the procedure well.", "tol well", "pt did not tolerate the procedure"),
    ("consent_obtained", "Informed consent was obtained.", "consent signed", "pt declined consent"),
    ("time_out", "A time-out was performed.", "timeout", "no time out"),
    ("time_out", "Universal protocol was followed.", "universal protocol", "time out not done"),
    ("images_saved", "Images were saved to PACS.", "images stored", "images not saved"),
    ("sterile_prep", "The skin was prepped and draped in the usual sterile fashion.", "p&d", "skin not prepped"),
    ("vitals_stable", "Vital signs remained stable.", "VSS", "pt became hypotensive"),
    ("discharge_stable", "The patient was discharged in stable condition.", "d/c home stable",
     "transferred to the ED"),
    ("discharged_home", "The patient was discharged home.", "dc home", "admitted for observation"),
    ("minimal_blood_loss", "Estimated blood loss: minimal.", "EBL min", "significant bleeding"),
    ("negative_aspiration", "Aspiration was negative for blood.", "neg asp", "blood on aspiration"),
    ("dressing_applied", "A sterile dressing was applied.", "bandaid", "no dressing"),
    ("pain_relief", "The patient reported significant pain relief.", "pain better after", "no relief"),
]


@pytest.mark.parametrize("key, sentence, shorthand, opposite", KINDS, ids=[f"{k[0]}-{i}" for i, k in enumerate(KINDS)])
def test_each_kind(key, sentence, shorthand, opposite):
    note = with_sentence(sentence)
    # not dictated: flagged, naming the fact
    assert flagged(key, note), sentence
    # dictated in shorthand: grounded
    assert not flagged(key, note, f"{DICTATION}, {shorthand}"), (sentence, shorthand)
    # the dictation says the opposite: flagged, quoting the dictation
    said = [m for m in unsupported(note, f"{DICTATION}. {opposite}.") if m.startswith(f"unsupported: {LABEL[key]} (")]
    assert said and "the dictation says" in said[0], (sentence, opposite, said)
    # the dictation says both: a conflict, flagged either way, never a winner
    both = f"{DICTATION}, {shorthand}. {opposite}."
    assert flagged(key, note, both), (sentence, both)
    assert [f for f in boilerplate.conflict_findings(both) if key in f.message or LABEL[key] in f.message]


@pytest.mark.parametrize("sentence", [
    "There were no complications.", "The patient tolerated the procedure well.", "Informed consent was obtained.",
    "Images were saved to PACS.", "A time-out was performed.",
])
def test_a_dictated_fact_in_a_history_plan_or_negation_does_not_ground_the_note(sentence):
    note = with_sentence(sentence)
    key = next(k for k, s, *_ in KINDS if s == sentence)
    for dictation in (
        f"{DICTATION}. History: prior injection, {KINDS_SHORTHAND[key]}",  # last year's, not today's
        f"{DICTATION}. Plan: will repeat; hopefully {KINDS_SHORTHAND[key]} next time",
        f"{DICTATION}, ? {KINDS_SHORTHAND[key]}",  # asked, not said
    ):
        assert flagged(key, note, dictation), (sentence, dictation)


KINDS_SHORTHAND = {"no_complications": "no complications", "tolerated_well": "tolerated well",
                   "consent_obtained": "consent obtained", "images_saved": "images saved", "time_out": "time out done"}


# Styles of real procedure notes (written here in their manner, not copied): MTSamples' run-together fields, consent
# documented in the sentence that discusses risks, a consent "signed and witnessed".
@pytest.mark.parametrize("key, text", [
    ("no_complications", "ANESTHESIA: , Local sedation.,COMPLICATIONS: , None.,DETAILS OF PROCEDURE: , Prone."),
    ("no_complications", "He tolerated the injection well without procedural complications."),
    ("consent_obtained", "Risks were reviewed. He agrees to accept the risks and signs a written consent to proceed."),
    ("consent_obtained", "A signed and witnessed informed consent was placed on the chart."),
    ("consent_obtained", "Risks, benefits and alternatives were discussed and consent was obtained."),
    ("tolerated_well", "The patient tolerated the procedure well without apparent difficulty or complications."),
    ("monitored", "Oxygen saturation and vital signs were monitored continuously throughout the procedure."),
])
def test_real_note_styles_are_read_as_statements(key, text):
    assert flagged(key, with_sentence(text)), text


def test_being_admitted_to_the_procedure_room_is_not_the_opposite_of_going_home():
    dictation = DICTATION + ", pt admitted to the procedure room, d/c home stable"

    assert not flagged("discharged_home", with_sentence("The patient was discharged home."), dictation)


@pytest.mark.parametrize("sentence", [
    "No time-out was documented.", "Consent was not obtained.", "Images were not saved.",
    "The patient did not tolerate the procedure.",
])
def test_a_note_that_states_the_opposite_is_flagged_too(sentence):
    messages = unsupported(with_sentence(sentence))

    assert any("not in the dictation" in m and ("not" in m or "no " in m) for m in messages), messages


def test_a_note_contradicting_the_dictation_names_what_was_dictated():
    messages = unsupported(with_sentence("Images were not saved."), DICTATION + ", images saved")

    assert "unsupported: images not saved ('Images were not saved') (the dictation says 'images saved')" in messages


@pytest.mark.parametrize("sentence", [
    "The patient appeared to tolerate the procedure.",  # a hedge states nothing
    "Risks including bleeding and infection were discussed.",
    "If a vasovagal episode occurs, the procedure will be stopped.",
    "The risks, including bleeding, infection, nerve injury, vasovagal reaction and hematoma, were discussed.",
    "Consent: risks including vasovagal reaction and hematoma were explained.",
    "She has a history of a vasovagal reaction with a prior injection.",
    "Post-procedure instructions were given; she will call if she has no relief.",
])
def test_hedged_and_hypothetical_mentions_are_not_statements(sentence):
    assert unsupported(with_sentence(sentence)) == []


# --- the drafter -----------------------------------------------------------------------------------------------------


def test_the_template_writes_no_boilerplate_that_was_not_dictated():
    note = draft(DICTATION).note

    for fact in boilerplate.load_facts():
        assert not boilerplate.read_fact(fact, note).affirmed, fact.key
    assert "omplication" not in note and "tolerat" not in note.lower() and "onsent" not in note


def test_the_template_writes_dictated_boilerplate_and_stays_grounded():
    dictation = (DICTATION + ", consent obtained, time out, prepped and draped, neg asp, tol well, no comps, VSS, "
                 "d/c home stable")

    d = draft(dictation, ["27096-LT"])

    for sentence in ("Consent was obtained.", "A time-out was performed.", "Skin preparation as dictated: prepped and draped.",
                     "Aspiration was negative.", "The patient tolerated the procedure well.", "Complications: None.",
                     "Vital signs were stable.", "The patient was discharged home.",
                     "Condition at discharge: stable."):
        assert sentence in d.note, (sentence, d.note)
    assert d.supported, [f.message for f in d.report.findings]
    assert unsupported(d.note, dictation) == []


def test_a_dictation_that_says_both_gets_neither_sentence_and_a_question():
    dictation = DICTATION + ", no comps, small vasovagal episode"

    d = draft(dictation, ["27096-LT"])

    assert "Complications: None." not in d.note and "vasovagal" not in d.note.lower()
    assert not d.supported and "dictation.boilerplate_conflict" in [f.rule for f in d.report.findings]
    assert any("complication" in q.lower() for q in d.queries), d.queries


def test_a_complication_dictated_alone_is_drafted_as_dictated():
    dictation = DICTATION + ", small vasovagal episode"

    d = draft(dictation, ["27096-LT"])

    assert "Complications: None." not in d.note and "vasovagal" in d.note.lower()
    assert unsupported(d.note, dictation) == []


# --- metamorphic: phrasing variants -----------------------------------------------------------------------------------

# Written here, not copied from the rule file: how notes say each fact. Shorthand is how a physician dictates it.
THESAURUS: dict[str, tuple[list[str], list[str]]] = {
    "no_complications": ([
        "There were no complications", "No complications were noted", "No immediate complications",
        "The procedure was performed without complication", "Complications: none", "The patient had no complications",
        "No apparent complications occurred", "There were no procedural complications",
        "The procedure was completed without any complications", "No adverse events",
    ], ["no comps", "no complications", "no cx", "without complication"]),
    "tolerated_well": ([
        "The patient tolerated the procedure well", "Patient tolerated the injection well",
        "The procedure was well tolerated", "He tolerated it without difficulty", "Tolerated well",
        "She tolerated the procedure very well", "The patient tolerated the injections without incident",
        "The injection was tolerated well",
    ], ["tol well", "tolerated well", "tol'd well", "tolerated procedure well"]),
    "consent_obtained": ([
        "Informed consent was obtained", "Written informed consent was obtained from the patient",
        "The patient signed the consent form", "Consent was obtained after discussing risks and benefits",
        "Risks, benefits and alternatives were discussed and informed consent was obtained",
        "The patient gave written consent", "Consent: signed", "Informed consent signed and placed in the chart",
    ], ["consent obtained", "consent signed", "informed consent", "consented"]),
    "time_out": ([
        "A time-out was performed", "Time out was completed prior to the procedure", "Timeout performed",
        "A universal protocol time-out was conducted", "Universal protocol was followed",
        "A time out was called to verify the patient, site and side", "Time-out: done",
        "Correct patient, site and procedure were verified",
    ], ["time out", "timeout", "time-out done", "universal protocol"]),
    "images_saved": ([
        "Images were saved to PACS", "Representative images were saved", "Fluoroscopic images were archived",
        "Images were stored in the medical record", "Permanent images were recorded", "Images saved",
        "Hard copies of the images were retained", "AP and lateral images were captured and saved to PACS",
    ], ["images saved", "imgs saved", "images stored", "images archived in PACS"]),
    "sterile_prep": ([
        "The skin was prepped and draped in the usual sterile fashion", "The area was cleansed with chlorhexidine",
        "Sterile technique was used throughout", "The low back was prepped with Betadine",
        "The site was prepped and draped", "The patient was prepped and draped in sterile fashion",
        "ChloraPrep was applied to the skin", "Standard sterile prep",
    ], ["prepped and draped", "p&d", "sterile prep", "prep & drape"]),
    "vitals_stable": ([
        "Vital signs remained stable throughout", "Vitals were stable", "Vital signs: stable",
        "The patient remained hemodynamically stable", "Vital signs were within normal limits", "VSS",
        "Vital signs were stable before and after the procedure",
    ], ["vitals stable", "VSS", "VS stable", "vitals ok"]),
    "discharge_stable": ([
        "The patient was discharged home in stable condition", "Discharged in good condition",
        "Condition at discharge: stable", "She left the clinic in stable condition",
        "The patient was discharged to home in satisfactory condition", "Stable for discharge",
    ], ["d/c home stable", "home stable", "discharged home in stable condition", "dispo home stable"]),
    "minimal_blood_loss": ([
        "Estimated blood loss: minimal", "EBL: minimal", "Blood loss was negligible", "Minimal bleeding",
        "Estimated blood loss was less than 5 mL", "There was no significant bleeding",
    ], ["EBL min", "EBL minimal", "minimal blood loss", "EBL nil"]),
    "discharged_home": ([
        "The patient was discharged home", "She was discharged to home with her husband", "Disposition: home",
        "The patient went home with a driver", "He was released home",
    ], ["d/c home", "dc home", "dispo home", "discharged home"]),
    "monitored": ([
        "Vital signs were monitored throughout", "Standard ASA monitors were applied",
        "Pulse oximetry and blood pressure were continuously monitored", "The patient was observed in recovery",
        "EKG and oxygen saturation were monitored",
    ], ["vitals monitored", "monitored", "VS monitored"]),
    "negative_aspiration": ([
        "Aspiration was negative", "Negative aspiration for blood and CSF", "There was no blood on aspiration",
        "Aspiration was negative for heme", "The needle was aspirated without return of blood",
    ], ["neg asp", "asp neg", "negative aspiration", "aspiration negative"]),
    "dressing_applied": ([
        "A sterile dressing was applied", "A Band-Aid was placed", "An adhesive bandage was applied",
        "Tegaderm was applied over the site",
    ], ["bandaid", "band-aid", "dressing applied", "sterile dressing"]),
    "pain_relief": ([
        "The patient reported significant pain relief", "Pain improved after the injection",
        "She had good relief of her pain", "Immediate relief was reported", "Pain decreased after the injection",
    ], ["good relief", "pain better after", "significant relief", "pain improved after"]),
}

# Where a sentence stands in a note: appended, first line, a heading, run into the technique, upper case, CRLF.
FRAMES = [
    ("appended", lambda note, s: with_sentence(s + ".", note)),
    ("first line", lambda note, s: s + ".\n" + note),
    ("under a heading", lambda note, s: with_sentence("Post-procedure:\n" + s + ".", note)),
    ("in the technique", lambda note, s: note.replace("Technique:\n", "Technique:\n" + s + ". ", 1)),
    ("upper case", lambda note, s: with_sentence(s.upper() + ".", note)),
    ("CRLF", lambda note, s: with_sentence(s + ".", note).replace("\n", "\r\n")),
    ("semicolon", lambda note, s: with_sentence("The needle was removed; " + s[0].lower() + s[1:] + ".", note)),
]


# Where the physician says it in a dictation: run on with a comma, its own sentence, first, in capitals, as "Field: x".
DICTATION_FRAMES = [
    ("run on", lambda s: f"{DICTATION}, {s}"),
    ("own sentence", lambda s: f"{DICTATION}. {s[0].upper() + s[1:]}."),
    ("first", lambda s: f"{s}, {DICTATION}"),
    ("capitals", lambda s: f"{DICTATION}, {s.upper()}"),
    ("new line", lambda s: f"{DICTATION}\n{s}"),
]
# Ways of mentioning a fact without stating it: a question, a hedge, a plan, a request, a risk discussed.
HEDGES = [
    ("question", lambda s: f"{s}?"),
    ("hedge", lambda s: f"Possibly {s[0].lower() + s[1:]}."),
    ("plan", lambda s: f"Plan: will confirm that {s[0].lower() + s[1:]}."),
    ("request", lambda s: f"Please document that {s[0].lower() + s[1:]}."),
    ("history", lambda s: f"History: at the prior injection, {s[0].lower() + s[1:]}."),
]


def variants():
    """(fact, phrasing, frame, note) for every phrasing × frame; the dictation side is chosen by the caller."""
    for key, (phrasings, _) in THESAURUS.items():
        for phrasing in phrasings:
            for name, frame in FRAMES:
                yield key, phrasing, name, frame(NOTE, phrasing)


def measure() -> tuple[Counter, list, list]:
    n = Counter()
    missed: list = []  # not dictated, not flagged: an unsupported statement that would pass
    false_flags: list = []  # dictated, flagged anyway: a false refusal
    for i, (key, phrasing, frame, note) in enumerate(variants()):
        n["variants"] += 1
        if flagged(key, note):
            n["flagged_undictated"] += 1
        else:
            missed.append((key, phrasing, frame))
        shorthands = THESAURUS[key][1]
        shorthand = shorthands[i % len(shorthands)]
        dictation = DICTATION_FRAMES[(i // len(shorthands)) % len(DICTATION_FRAMES)][1](shorthand)
        if flagged(key, note, dictation):
            false_flags.append((key, phrasing, frame, dictation))
        else:
            n["grounded_dictated"] += 1
    return n, missed, false_flags


@pytest.fixture(scope="module")
def rates():
    return measure()


def test_rates_every_undictated_variant_is_flagged(rates):
    n, missed, _ = rates
    print(f"\nboilerplate variants: {n['variants']}; flagged when undictated {n['flagged_undictated']}/{n['variants']}"
          f" ({n['flagged_undictated'] / n['variants']:.1%})")
    assert n["variants"] >= 400
    assert missed == []


def test_rates_dictated_variants_are_grounded(rates):
    n, _, false_flags = rates
    print(f"\nboilerplate variants: grounded when dictated {n['grounded_dictated']}/{n['variants']} "
          f"({n['grounded_dictated'] / n['variants']:.1%})")
    assert false_flags == []


def test_rates_mentions_that_state_nothing_are_not_read_as_statements():
    n, read_as_stated = 0, []
    for key, (phrasings, _) in THESAURUS.items():
        for phrasing in phrasings:
            for name, hedge in HEDGES:
                n += 1
                if flagged(key, with_sentence(hedge(phrasing))):
                    read_as_stated.append((key, name, hedge(phrasing)))
    print(f"\nboilerplate hedged/asked/planned/requested/historical mentions not read as statements: "
          f"{n - len(read_as_stated)}/{n} ({(n - len(read_as_stated)) / n:.1%})")
    assert n >= 300
    # Reading a hedge as a statement errs the safe way (a question to the physician, never an unsupported fact
    # passing): the reader scopes a hedge to its clause, so "Possibly the skin was prepped and draped in sterile
    # fashion" still states "draped in sterile fashion", and "Possibly complications: none" states "none".
    assert len(read_as_stated) <= 0.05 * n, read_as_stated


def test_the_generator_covers_every_kind_and_frame():
    seen = {(k, f) for k, _, f, _ in variants()}
    assert {k for k, _ in seen} == set(THESAURUS) == set(LABEL) and {f for _, f in seen} == {name for name, _ in FRAMES}
    # each phrasing is itself a statement the reader sees in the note (no frame hides it)
    for key, phrasing, frame, note in variants():
        assert re.sub(r"\s+", " ", phrasing.lower()) in re.sub(r"\s+", " ", note.lower()), (key, phrasing, frame)


# --- the LLM strategies: their notes are grounded the same way --------------------------------------------------------

LLM_NOTE = """Procedure: Left sacroiliac joint injection.
Diagnosis: Sacroiliitis (M46.1).
Purpose: Diagnostic and therapeutic.
Technique: Under fluoroscopic guidance the needle was advanced into the left SI joint. Intra-articular placement was
confirmed with contrast.
Medications injected: Kenalog 40 mg and 2 mL of 0.25% bupivacaine.
"""
PADDED = LLM_NOTE + "The patient tolerated the procedure well. There were no complications.\n"


def llm(server):
    from notedraft.llm import LLMClient

    return LLMClient(server.llm_config())


def test_the_system_prompt_tells_the_model_boilerplate_is_a_fact(fake_openai):
    from tests.support.fake_openai import text

    fake_openai.script(text(LLM_NOTE))
    draft(DICTATION, ["27096-LT"], strategy="llm-compose", llm=llm(fake_openai))

    system = fake_openai.requests[0]["messages"][0]["content"]
    assert "tolerated the procedure well" in system and "no complications" in system.lower()


def test_an_llm_that_adds_boilerplate_is_re_asked_with_the_findings(fake_openai):
    from tests.support.fake_openai import text

    fake_openai.script(text(PADDED), text(LLM_NOTE))

    d = draft(DICTATION, ["27096-LT"], strategy="llm-compose", llm=llm(fake_openai))

    repair = fake_openai.requests[1]["messages"][-1]["content"]
    assert "unsupported: tolerated the procedure well (not in the dictation)" in repair
    assert "unsupported: no complications (not in the dictation)" in repair
    assert "unsupported: no complications (not in the dictation)" in [f.message for f in d.raw_findings]
    assert d.note == LLM_NOTE and d.supported


def test_an_llm_that_keeps_adding_boilerplate_never_gets_it_into_the_final_note(fake_openai):
    from notedraft.strategies import MAX_REPAIRS
    from tests.support.fake_openai import text

    fake_openai.script(*[text(PADDED)] * (1 + MAX_REPAIRS))

    d = draft(DICTATION, ["27096-LT"], strategy="llm-compose", llm=llm(fake_openai))

    assert any("fell back to the template" in n for n in d.notes), d.notes
    assert "tolerat" not in d.note.lower() and "complication" not in d.note.lower()
    assert d.supported


def test_an_llm_may_write_boilerplate_the_dictation_says(fake_openai):
    from tests.support.fake_openai import text

    dictation = DICTATION + ", tol well, no comps"
    fake_openai.script(text(PADDED))

    d = draft(dictation, ["27096-LT"], strategy="llm-compose", llm=llm(fake_openai))

    assert d.note == PADDED and d.supported and len(d.attempts) == 1
