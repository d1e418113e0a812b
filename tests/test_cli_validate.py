"""`notedraft validate` and `notedraft codes` as automation sees them: the real console script in a subprocess.

The contract: exit 0 when the note supports every code line, 1 when it does not, 2 for bad input with exactly one
line on stderr (`notedraft: error: ...`) and never a traceback.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEDRAFT = Path(sys.executable).with_name("notedraft")
if not NOTEDRAFT.exists():
    NOTEDRAFT = REPO / ".venv" / "bin" / "notedraft"

GOOD = (
    "PROCEDURE: Left sacroiliac joint injection.\n"
    "DIAGNOSIS: Sacroiliitis (M46.1).\n"
    "This was a diagnostic injection.\n"
    "Under fluoroscopic guidance a 22-gauge spinal needle was advanced into the left SI joint.\n"
    "Intra-articular placement was confirmed with contrast, which outlined the joint.\n"
    "Injected 40 mg Kenalog and 2 mL of 0.25% bupivacaine.\n"
)
NO_FLUORO = GOOD.replace("Under fluoroscopic guidance a", "Fluoroscopy was not used. A")


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(NOTEDRAFT), *args], input=stdin, capture_output=True, timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode())


@pytest.fixture
def note_file(tmp_path: Path):
    def write(content: str | bytes, name: str = "note.txt") -> str:
        path = tmp_path / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return str(path)

    return write


# --- exit codes ----------------------------------------------------------------------------------------------------


def test_exit_0_when_the_note_supports_every_line(note_file):
    result = run("validate", note_file(GOOD), "--code", "27096-LT")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""


def test_exit_1_when_it_does_not(note_file):
    result = run("validate", note_file(NO_FLUORO), "--code", "27096-LT")
    assert result.returncode == 1
    assert "27096.guidance.fluoroscopy_or_ct" in result.stdout
    assert result.stderr == ""


def test_exit_1_when_one_of_several_lines_is_unsupported(note_file):
    result = run("validate", note_file(GOOD), "--code", "27096-LT", "--code", "77003")
    assert result.returncode == 1


BAD_INPUT = {
    "missing file": (None, ["--code", "27096-LT"], "no such file"),
    "empty file": (b"", ["--code", "27096-LT"], "empty"),
    "blank file": (b"  \n\t\n", ["--code", "27096-LT"], "empty"),
    "binary file": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", ["--code", "27096-LT"], "binary"),
    "over 5 MB": (b"Left SI joint injection under fluoroscopy. " * 125_000, ["--code", "27096-LT"], "over 5 MB"),
    "not UTF-8": ("Left SI joint injection, caf\u00e9.".encode("latin-1"), ["--code", "27096-LT"], "UTF-8"),
    "unknown code": (GOOD.encode(), ["--code", "99999"], "unknown code"),
    "malformed modifier": (GOOD.encode(), ["--code", "27096-L"], "malformed"),
    "unknown modifier": (GOOD.encode(), ["--code", "27096-ZZ"], "unknown modifier"),
    "one bad line among good": (GOOD.encode(), ["--code", "27096-LT", "--code", "2709"], "malformed"),
}


@pytest.mark.parametrize("content, args, says", BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_exits_2_with_one_line_on_stderr(tmp_path, content, args, says):
    path = tmp_path / "note.txt"
    if content is not None:
        path.write_bytes(content)
    result = run("validate", str(path), *args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("notedraft: error: ")
    assert says in lines[0]
    assert "Traceback" not in result.stderr


def test_a_directory_is_bad_input(tmp_path):
    result = run("validate", str(tmp_path), "--code", "27096-LT")
    assert result.returncode == 2
    assert result.stderr.startswith("notedraft: error: ") and result.stderr.count("\n") == 1


def test_empty_standard_input_is_bad_input():
    result = run("validate", "-", "--code", "27096-LT", stdin=b"")
    assert result.returncode == 2
    assert result.stderr.startswith("notedraft: error: standard input") and "Traceback" not in result.stderr


def test_a_note_of_exactly_5_mb_is_read(note_file):
    body = GOOD.encode()
    content = body + b" " * (5 * 1024 * 1024 - len(body))
    assert run("validate", note_file(content), "--code", "27096-LT").returncode == 0


# --- reading from standard input ----------------------------------------------------------------------------------


def test_reads_the_note_from_standard_input():
    result = run("validate", "-", "--code", "27096-LT", "--format", "json", stdin=GOOD.encode())
    assert result.returncode == 0
    assert json.loads(result.stdout)["facts"]["side"] == "left"


def test_a_utf8_bom_and_crlf_are_read_like_plain_text(note_file):
    plain = run("validate", note_file(GOOD), "--code", "27096-LT", "--format", "json")
    crlf = run("validate", note_file(b"\xef\xbb\xbf" + GOOD.replace("\n", "\r\n").encode(), "crlf.txt"),
               "--code", "27096-LT", "--format", "json")
    assert crlf.returncode == plain.returncode == 0
    assert json.loads(crlf.stdout)["facts"] == json.loads(plain.stdout)["facts"]


# --- --format json -------------------------------------------------------------------------------------------------


def test_json_output_contract(note_file):
    result = run("validate", note_file(NO_FLUORO.replace("40 mg Kenalog", "Kenalog")), "--code", "27096-LT", "--format", "json")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert {"supported", "codes", "findings", "suggested_codes", "facts"} <= set(data)
    assert data["supported"] is False
    assert data["codes"] == ["27096-LT"]
    assert isinstance(data["suggested_codes"], list)
    assert data["findings"]
    for finding in data["findings"]:
        assert {"rule", "severity", "message", "fix", "evidence"} <= set(finding)
        assert finding["severity"] in ("error", "warning")
        for span in finding["evidence"]:
            assert set(span) >= {"start", "end", "text"}
    facts = data["facts"]
    assert {"procedure", "guidance", "side", "medications", "diagnoses"} <= set(facts)
    assert facts["procedure"] == "si_joint_injection"
    assert facts["guidance"] == "none"
    assert facts["side"] == "left"
    assert {"name": "triamcinolone", "dose": None} in [{"name": m["name"], "dose": m["dose"]} for m in facts["medications"]]
    assert {"name": "bupivacaine", "dose": "2 mL of 0.25%"} in [{"name": m["name"], "dose": m["dose"]} for m in facts["medications"]]
    assert [d["code"] for d in facts["diagnoses"] if d["code"]] == ["M46.1"]


def test_json_evidence_is_the_text_at_its_offsets(note_file):
    text = NO_FLUORO
    data = json.loads(run("validate", note_file(text), "--code", "27096-50", "--format", "json").stdout)
    spans = [s for f in data["findings"] for s in f["evidence"]]
    assert spans
    for span in spans:
        assert text[span["start"] : span["end"]] == span["text"]


def test_json_facts_value_sets(note_file):
    text = GOOD.replace("Left", "Bilateral").replace("the left SI joint", "each SI joint")
    facts = json.loads(run("validate", note_file(text), "--code", "27096-50", "--format", "json").stdout)["facts"]
    assert facts["side"] == "bilateral"
    assert facts["guidance"] in ("fluoroscopy", "ct", "ultrasound", "none", "unstated")


# --- text format ---------------------------------------------------------------------------------------------------

FINDING_LINE = re.compile(r"^(?P<line>\d+):(?P<col>\d+) (?P<severity>error|warning) (?P<rule>\S+) (?P<message>.+)$")


def test_text_output_reads_like_a_linter(note_file):
    result = run("validate", note_file(NO_FLUORO), "--code", "27096-LT")
    lines = result.stdout.splitlines()
    findings = [m for m in map(FINDING_LINE.match, lines) if m]
    assert findings
    guidance = next(m for m in findings if m["rule"] == "27096.guidance.fluoroscopy_or_ct")
    assert guidance["severity"] == "error"
    # The evidence "Fluoroscopy was not used" is on line 4, column 1.
    assert (guidance["line"], guidance["col"]) == ("4", "1")
    assert NO_FLUORO.splitlines()[3].startswith("Fluoroscopy")
    assert any(line.startswith("    fix: ") for line in lines)
    verdicts = [line for line in lines if line.startswith(("SUPPORTED:", "NOT SUPPORTED:"))]
    assert len(verdicts) == 1 and verdicts[0].startswith("NOT SUPPORTED: 27096-LT")
    assert lines[-1].startswith("suggested codes: ")
    assert "20552-LT" in lines[-1]


def test_text_output_for_a_supported_note(note_file):
    lines = run("validate", note_file(GOOD), "--code", "27096-LT").stdout.splitlines()
    assert lines[0].startswith("SUPPORTED: 27096-LT (0 error(s)")
    assert lines[-1] == "suggested codes: 27096-LT"


def test_warnings_do_not_fail_the_claim(note_file):
    ultrasound = (
        "Right SI joint injection under real-time ultrasound with a curvilinear probe, in-plane; the needle tip was "
        "visualized entering the joint. Images saved to PACS. 40 mg Kenalog, 2 mL 0.25% bupivacaine. Dx M46.1. Therapeutic."
    )
    result = run("validate", note_file(ultrasound), "--code", "20552-RT", "--code", "76942")
    assert result.returncode == 0
    assert re.search(r"^\d+:\d+ warning 20552\.si\.ultrasound_sources_disagree .*22899", result.stdout, re.M)


# --- notedraft codes ------------------------------------------------------------------------------------------------


def test_codes_lists_every_rule_pack():
    result = run("codes")
    assert result.returncode == 0
    listed = {line.split()[0] for line in result.stdout.splitlines() if line.strip()}
    assert {"27096", "20552", "20553", "76942", "G0260", "77002", "77003", "77012", "73542"} <= listed


def test_codes_27096_shows_requirements_with_their_sources():
    result = run("codes", "27096")
    assert result.returncode == 0
    out = result.stdout
    rules = re.findall(r"^\s+\[(error|warning)\] (27096\.\S+):", out, re.M)
    sources = re.findall(r"^\s+source: (.+)$", out, re.M)
    assert len(rules) >= 15 and len(sources) == len(rules)
    assert all(s.strip() for s in sources)
    assert "27096.guidance.fluoroscopy_or_ct" in {r for _, r in rules}
    assert "Sources:" in out


def test_codes_20552_shows_where_sources_disagree():
    out = run("codes", "20552").stdout
    assert "Where sources disagree:" in out and "22899" in out


def test_codes_json():
    data = json.loads(run("codes", "76942", "--format", "json").stdout)
    assert data["code"] == "76942" and all(rule["source"] for rule in data["rules"])


def test_codes_unknown_code_exits_2():
    result = run("codes", "99999")
    assert result.returncode == 2
    assert result.stderr.startswith("notedraft: error: unknown code") and result.stderr.count("\n") == 1


# --- the validate path stays light ---------------------------------------------------------------------------------


def test_validate_does_not_import_the_drafting_stack(note_file):
    """`notedraft validate` must not pay for openai or jinja2 (nor the web stack): checked with -X importtime on the
    real console script."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", str(NOTEDRAFT), "validate", note_file(GOOD), "--code", "27096-LT"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "notedraft.validate" in imported  # the check sees the imports
    heavy = {m for m in imported if m.split(".")[0] in ("openai", "jinja2", "fastapi", "uvicorn", "httpx")}
    assert not heavy, sorted(heavy)
