"""Installs the way users install it: what the wheel carries, where notedraft looks, and how it fails.

The full user path (build, fresh venv outside the checkout, every command, the editor over HTTP) is
scripts/wheel_smoke.sh, run by scripts/test.sh; these tests pin the parts that are fast enough for pytest.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from notedraft import cli, resources

REPO = Path(__file__).resolve().parents[1]
NOTEDRAFT = str(Path(sys.executable).with_name("notedraft"))
DICTATION = "L SIJ inj, fluoro, IA confirmed w contrast, 40 kenalog + 2cc 0.25% bupi, dx M46.1, dx + therapeutic"


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """No LLM endpoint, no overrides; saved dictations go under tmp_path/state."""
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("OPENAI_", "NOTEDRAFT_"))}
    clean["XDG_STATE_HOME"] = str(tmp_path / "state")
    return clean


def run(*args: str, env: dict[str, str], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([NOTEDRAFT, *args], input=stdin, capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=60)


def saved(env: dict[str, str]) -> list[str]:
    folder = Path(env["XDG_STATE_HOME"]) / "notedraft"
    return [p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.txt"))] if folder.is_dir() else []


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def site_home(tmp_path: Path) -> Path:
    """A NOTEDRAFT_HOME holding copies of the shipped templates and prompts."""
    home = tmp_path / "home"
    for kind in ("templates", "prompts"):
        shutil.copytree(REPO / kind, home / kind)
    return home


# --- the wheel -------------------------------------------------------------------------------------------------------


def test_the_wheel_built_from_the_sdist_carries_every_run_time_file(tmp_path):
    """`python -m build` (sdist, then the wheel from the sdist), on a copy of the tree so the checkout stays clean."""
    src = tmp_path / "tree"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    for name in ("src", "templates", "prompts", "evals", "families"):
        shutil.copytree(REPO / name, src / name, symlinks=True, ignore=ignore)
    for link in (src / "src/notedraft/_data").iterdir():  # relative, so any clone or copy resolves its own root
        assert link.is_symlink() and not os.path.isabs(os.readlink(link)), link

    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp_path / "dist"), str(src)],
                   check=True, capture_output=True, timeout=120)

    (wheel,) = (tmp_path / "dist").glob("notedraft-*.whl")
    wanted = {f"notedraft/_data/{kind}/{name}": REPO / kind / name
              for kind, names in resources.REQUIRED.items() for name in names}
    wanted |= {str(p.relative_to(REPO / "src")): p for pattern in
               ("notedraft/rules/**/*.toml", "notedraft/lexicon/*.toml", "notedraft/web/templates/*.html", "notedraft/web/static/*")
               for p in (REPO / "src").glob(pattern)}
    with zipfile.ZipFile(wheel) as z:
        shipped = set(z.namelist())
        assert not {n for n in wanted if n not in shipped}
        assert all(z.read(name) == path.read_bytes() for name, path in wanted.items())
    # Every template, prompt and dataset in the root folders ships, not just the ones the code names today.
    for kind, pattern in (("templates", "*.j2"), ("prompts", "*.j2"), ("evals", "*.jsonl"), ("evals", "*.toml")):
        assert {f"notedraft/_data/{kind}/{p.name}" for p in (REPO / kind).glob(pattern)} <= shipped
    # Each family's data and note template (the drafter reads them through the package, not the checkout).
    for pattern in ("*/family.toml", "*/note.txt.j2", "*/rules/*.toml"):
        assert {f"notedraft/_data/families/{p.relative_to(REPO / 'families')}"
                for p in (REPO / "families").glob(pattern)} <= shipped


def test_the_installed_package_finds_the_root_files():
    """Editable or not, what the package reads is the repository root's copy (the one source of truth)."""
    assert resources.check() == []
    for kind, names in resources.REQUIRED.items():
        for name in names:
            assert resources.file(kind, name).read_bytes() == (REPO / kind / name).read_bytes()


# --- where notedraft looks --------------------------------------------------------------------------------------------


def test_draft_and_eval_work_from_any_folder(env, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    result = run("draft", DICTATION, env=env, cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert "SUPPORTED: 27096-LT" in result.stdout

    result = run("eval", "--strategy", "template", "--only", "validator", "--no-realnotes", "--out",
                 str(tmp_path / "eval"), env=env, cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "eval" / "summary.json").is_file()


def test_notedraft_home_overrides_the_shipped_templates(env, tmp_path):
    home = site_home(tmp_path)
    template = home / "templates" / "si_joint_injection.txt.j2"
    template.write_text(template.read_text().replace("PROCEDURE NOTE", "PROCEDURE NOTE (Spine Center wording)"))

    result = run("draft", DICTATION, env={**env, "NOTEDRAFT_HOME": str(home)}, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("PROCEDURE NOTE (Spine Center wording)")


def test_eval_without_datasets_says_what_to_pass(env, tmp_path):
    result = run("eval", "--datasets", str(tmp_path / "nowhere"), env=env, cwd=tmp_path)

    assert result.returncode == 2
    assert "--datasets DIR" in one_line(result.stderr)


# --- a missing resource: one line, exit 2, nothing lost ---------------------------------------------------------------


@pytest.mark.parametrize("via", ["argument", "stdin"])
def test_a_missing_template_folder_is_one_line_exit_2_and_the_dictation_is_kept(env, tmp_path, via):
    home = tmp_path / "empty-home"
    home.mkdir()
    env = {**env, "NOTEDRAFT_HOME": str(home)}

    if via == "argument":
        result = run("draft", DICTATION, env=env, cwd=tmp_path)
    else:
        result = run("draft", env=env, cwd=tmp_path, stdin=DICTATION)

    assert result.returncode == 2
    line = one_line(result.stderr)
    assert line.startswith("notedraft: error: ") and "templates" in line and "NOTEDRAFT_HOME" in line
    assert saved(env) == [DICTATION]
    assert str(Path(env["XDG_STATE_HOME"]) / "notedraft") in line


def test_a_missing_prompt_file_is_named(env, tmp_path, fake_openai):
    home = site_home(tmp_path)
    (home / "prompts" / "extract.j2").unlink()
    env = {**env, "NOTEDRAFT_HOME": str(home), "OPENAI_BASE_URL": fake_openai.base_url, "OPENAI_API_KEY": "sk-test"}

    result = run("draft", DICTATION, "--strategy", "llm-extract", env=env, cwd=tmp_path)

    assert result.returncode == 2
    assert "prompts/extract.j2 not found" in one_line(result.stderr)
    assert saved(env) == [DICTATION]


def test_serve_refuses_to_start_without_its_templates(env, tmp_path):
    home = tmp_path / "empty-home"
    home.mkdir()

    result = run("serve", "--port", "0", "--db", str(tmp_path / "e.sqlite"),
                 env={**env, "NOTEDRAFT_HOME": str(home)}, cwd=tmp_path)

    assert result.returncode == 2
    assert "templates" in one_line(result.stderr)
    assert not (tmp_path / "e.sqlite").exists()


# --- an unexpected error: one line, exit 4, the trace on request, nothing lost ----------------------------------------


@pytest.fixture
def crashing_drafter(monkeypatch, tmp_path):
    """A bug inside the library (fault injected at `drafting.draft`); the CLI wrapper must contain it."""
    import notedraft.drafting

    def boom(*args, **kwargs):
        raise RuntimeError("index out of range\n  while reading the medication list")

    monkeypatch.setattr(notedraft.drafting, "draft", boom)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("NOTEDRAFT_DEBUG", raising=False)
    return tmp_path / "state" / "notedraft"


def test_an_internal_error_is_one_line_exit_4_and_keeps_a_piped_dictation(crashing_drafter, monkeypatch, capsys):
    stdin = io.TextIOWrapper(io.BytesIO(DICTATION.encode()))
    monkeypatch.setattr(sys, "stdin", stdin)

    code = cli.main(["draft", "-"])

    err = capsys.readouterr().err
    assert code == cli.INTERNAL_ERROR == 4
    line = one_line(err)
    assert line.startswith("notedraft: internal error: RuntimeError: index out of range while reading")
    assert "NOTEDRAFT_DEBUG=1" in line
    (kept,) = crashing_drafter.glob("dictation-*.txt")
    assert kept.read_text(encoding="utf-8") == DICTATION and str(kept) in line


def test_an_internal_error_keeps_a_dictation_given_as_argument(crashing_drafter, capsys):
    assert cli.main(["draft", DICTATION]) == 4
    (kept,) = crashing_drafter.glob("dictation-*.txt")
    assert kept.read_text(encoding="utf-8") == DICTATION
    assert str(kept) in one_line(capsys.readouterr().err)


def test_notedraft_debug_prints_the_trace(crashing_drafter, monkeypatch, capsys):
    monkeypatch.setenv("NOTEDRAFT_DEBUG", "1")

    assert cli.main(["draft", DICTATION]) == 4

    err = capsys.readouterr().err
    assert err.startswith("Traceback") and "RuntimeError: index out of range" in err
    assert err.strip().splitlines()[-1].startswith("notedraft: internal error: RuntimeError")


def test_help_documents_the_exit_codes(env, tmp_path):
    result = run("--help", env=env, cwd=tmp_path)

    assert result.returncode == 0
    assert "4    internal error" in result.stdout and "NOTEDRAFT_DEBUG=1" in result.stdout
