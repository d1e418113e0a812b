"""The genicular family was added touching only families/genicular/ (family.toml + rules/) and this test."""

from notedraft.validate import validate

BLOCK = ("Left genicular nerve block under fluoroscopy: superomedial, superolateral and inferomedial genicular nerves "
         "each injected with 1 mL 0.5% bupivacaine.")
RFA = ("Right genicular nerve radiofrequency ablation under fluoroscopy at the superomedial, superolateral and "
       "inferomedial genicular nerves, 80 degrees for 90 seconds each.")


def test_block_is_64454_with_side():
    r = validate(BLOCK, ["64454-LT"])
    assert r.supported and r.suggested_codes == ["64454-LT"]


def test_ablation_is_64624_not_64454():
    assert validate(RFA, ["64624-RT"]).supported
    r = validate(RFA, ["64454-RT"])
    assert not r.supported and "64454.technique.matches" in {f.rule for f in r.findings}
    assert r.suggested_codes == ["64624-RT"]


def test_imaging_is_included_never_a_separate_line():
    r = validate(BLOCK, ["64454-LT", "77002"])
    assert not r.supported and "64454.lines.no_separate_guidance" in {f.rule for f in r.findings}


def test_side_modifier_must_match():
    assert not validate(BLOCK, ["64454-RT"]).supported


def test_block_and_ablation_named_together_is_a_question():
    text = "Right genicular nerve block with 2 mL bupivacaine, then genicular radiofrequency ablation under fluoroscopy."
    r = validate(text, ["64454-RT"])
    assert not r.supported
    assert r.suggested_codes == []
