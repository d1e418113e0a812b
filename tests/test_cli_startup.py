"""The command line's start-up shortcuts never change what a command does: the plain `validate` arguments read
without argparse are what argparse would hand the handler, the rule packs and family specs kept between runs are
the ones a fresh build makes, and a library's compile site whose pattern varies is not kept. Work is counted,
never timed."""

from __future__ import annotations

import contextlib
import gc
import io
import marshal
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notedraft import cli

SRC = Path(__file__).resolve().parents[1] / "src"
NOTE = ("PROCEDURE: Left sacroiliac joint injection under fluoroscopic guidance. Intra-articular placement was "
        "confirmed with contrast. 40 mg Kenalog and 2 mL of 0.25% bupivacaine were injected. Dx M46.1.\n")

PLAIN = [
    ["validate", "note.txt", "--code", "27096-LT"],
    ["validate", "--code", "27096-LT", "note.txt"],
    ["validate", "-c", "27096-50", "note.txt", "--code", "77003", "--payer", "medicare", "--format", "json"],
    ["validate", "-", "--code", "27096"],
    ["validate", "note.txt", "--format", "text", "-c", "20552-LT", "-c", "20552-LT"],
    ["validate", "my note.txt", "--code", "27096 LT"],
]
OTHER = [  # the parser's own: abbreviations, =values, help, values that start with '-', repeats, bad choices...
    ["validate", "note.txt", "--cod", "27096"],
    ["validate", "note.txt", "--code=27096"],
    ["validate", "note.txt", "-c27096"],
    ["validate", "note.txt", "--code", "27096", "--help"],
    ["validate", "note.txt", "--code", "-50"],
    ["validate", "note.txt", "--code", "27096", "--format", "json", "--format", "text"],
    ["validate", "note.txt", "--code", "27096", "--payer", "aetna"],
    ["validate", "--code", "27096", "--format", "json"],
    ["validate", "a.txt", "b.txt", "--code", "27096"],
    ["validate", "note.txt", "--code"],
    ["validate", "note.txt", "--code", ""],
    ["validate", "--", "note.txt", "--code", "27096"],
    ["validate", "-x", "--code", "27096"],
    ["draft", "x", "--code", "27096"],
    ["--version", "validate", "x", "--code", "27096"],
]


def _parsed(argv: list[str]):
    """What argparse hands the handler, or None where it stops (an error or --help: a message and an exit)."""
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return vars(cli.build_parser(argv).parse_args(argv))
    except SystemExit:
        return None


@pytest.mark.parametrize("argv", PLAIN)
def test_the_plain_validate_arguments_are_what_argparse_gives(argv):
    fast = cli._validate_fast(argv)
    assert fast is not None and vars(fast) == _parsed(argv)


@pytest.mark.parametrize("argv", OTHER)
def test_any_other_arguments_go_through_the_parser(argv):
    assert cli._validate_fast(argv) is None


TOKENS = ["validate", "note.txt", "-", "--code", "-c", "27096-LT", "77003", "--payer", "medicare", "aetna",
          "--format", "json", "text", "--help", "-h", "--cod", "--code=27096", "-50", "", "--", "x y"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=9))
def test_the_shortcut_never_reads_arguments_otherwise_than_argparse(rest):
    argv = ["validate", *rest]
    fast = cli._validate_fast(argv)
    if fast is not None:
        assert vars(fast) == _parsed(argv)


def test_an_in_process_call_keeps_its_collector(tmp_path, capsys):
    note = tmp_path / "note.txt"
    note.write_text(NOTE, encoding="utf-8")
    frozen = gc.get_freeze_count()
    assert cli.main(["validate", str(note), "--code", "27096-LT"]) in (0, 1)
    assert gc.isenabled() and gc.get_freeze_count() == frozen


def _run(code: str, cache: Path, *args: str) -> str:
    env = {"PATH": "/usr/bin:/bin", "NOTEDRAFT_CACHE_DIR": str(cache), "PYTHONPATH": str(SRC)}
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True,
                          check=True).stdout


def test_a_validate_run_builds_no_parser_and_no_drafting_stack(tmp_path):
    note = tmp_path / "note.txt"
    note.write_text(NOTE, encoding="utf-8")
    code = ("import sys\nfrom notedraft.cli import main\nrc = main()\n"
            "print(sorted(m for m in ('argparse', 'jinja2', 'openai', 'httpx', 'fastapi') if m in sys.modules))")
    out = _run(code, tmp_path / "cache", "validate", str(note), "--code", "27096-LT")
    assert out.splitlines()[-1] == "[]"


# What a pack or family spec is, whole: every field, which fields were set, and which objects are one object.
SHAPE = """
import json, sys
from pydantic import BaseModel
from notedraft import recache, rulepack, family
recache.install()
seen = {}
def shape(o):
    if isinstance(o, BaseModel):
        first = seen.setdefault(id(o), len(seen))
        return [type(o).__name__, first, sorted(o.__pydantic_fields_set__), o.__pydantic_extra__,
                o.__pydantic_private__, {k: shape(v) for k, v in o.__dict__.items()}]
    if isinstance(o, list):
        return [shape(v) for v in o]
    if isinstance(o, dict):
        return {k: shape(v) for k, v in o.items()}
    return o
directory = sys.argv[1] if len(sys.argv) > 1 else None
packs = rulepack.load_packs(rulepack.Path(directory)) if directory else rulepack.load_packs()
print(json.dumps([shape(packs), shape([f.spec for f in family.families()]), recache._object_added]))
"""


def test_kept_packs_and_families_are_the_ones_a_fresh_build_makes(tmp_path):
    import json

    fresh = json.loads(_run(SHAPE, Path("off")))
    first = json.loads(_run(SHAPE, tmp_path))  # builds them and keeps them
    assert list(tmp_path.glob("objects-*.marshal"))
    kept = json.loads(_run(SHAPE, tmp_path))  # answered from the file
    assert first[2] == 2 and kept[2] == 0
    assert fresh[:2] == first[:2] == kept[:2]


def test_an_edited_rule_file_is_read_afresh(tmp_path):
    import json

    rules = tmp_path / "rules"
    shutil.copytree(SRC / "notedraft" / "rules", rules, ignore=shutil.ignore_patterns("coverage", "grounding", "reading"))
    cache = tmp_path / "cache"
    for _ in range(2):
        packs, _fams, _added = json.loads(_run(SHAPE, cache, str(rules)))
    assert packs["27096"][5]["title"] != "Edited title"
    pack = rules / "27096.toml"
    text = pack.read_text(encoding="utf-8")
    pack.write_text(text.replace("title = ", 'title = "Edited title"\nold_title = ', 1), encoding="utf-8")
    with pytest.raises(subprocess.CalledProcessError):  # the edit is read: an unknown field fails validation
        _run(SHAPE, cache, str(rules))
    pack.write_text(text.replace(text.split("title = ", 1)[1].split("\n", 1)[0], '"Edited title"', 1), encoding="utf-8")
    packs, _fams, added = json.loads(_run(SHAPE, cache, str(rules)))
    assert packs["27096"][5]["title"] == "Edited title" and added == 1


def test_a_library_site_whose_pattern_varies_is_not_kept(tmp_path):
    # One call site (this -c program, line 3) compiling another pattern in each process, as tokenize does.
    code = ("from notedraft import recache\nimport re, sys\nrecache.install(); kept = (sys.argv[1], 0) in "
            "recache._entries; re.compile(sys.argv[1])\nprint(kept)")
    assert _run(code, tmp_path, "zz1+").strip() == "False"  # first seen: kept for the next run
    assert _run(code, tmp_path, "zz1+").strip() == "True"  # the same pattern again: answered from the cache
    assert _run(code, tmp_path, "zz2+").strip() == "False"  # another pattern from that site: the site is marked
    sites = next(tmp_path.glob("sites-*.marshal"))
    assert None in marshal.loads(sites.read_bytes())["entries"].values()
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    assert _run(code, tmp_path, "zz3+").strip() == "False"  # and nothing more is kept or written for it
    assert _run(code, tmp_path, "zz2+").strip() == "False"
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before


def test_the_package_folder_is_the_one_importlib_resources_names():
    from importlib.resources import files

    from notedraft import resources

    assert resources._package_files() == files("notedraft")
    assert type(resources._package_files()) is type(files("notedraft"))
