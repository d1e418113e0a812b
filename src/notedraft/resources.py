"""Where notedraft finds its note templates, LLM prompts and eval datasets: inside the installed package.

The repository root keeps `templates/`, `prompts/` and `evals/` as the one source of truth. `src/notedraft/_data/`
holds relative symlinks to them, so:
- an editable install (the test suite) reads the root folders live, through the symlinks;
- `python -m build` (sdist, and a wheel from the sdist or from the tree) follows the symlinks and ships real
  copies under `notedraft/_data/` (the `package-data` globs in pyproject.toml choose which files).
Every lookup goes through `importlib.resources`, never the current directory or a checkout's layout.

`NOTEDRAFT_HOME` (a folder holding `templates/` and `prompts/`) still overrides the packaged templates and prompts,
for a site that edits its own wording.
"""

from __future__ import annotations

import os
from pathlib import Path

# What a working install needs; `check()` and the wheel test name the same files.
REQUIRED = {
    "templates": ("si_joint_injection.txt.j2", "unsupported_procedure.txt.j2"),
    "prompts": ("system.j2", "extract.j2", "compose.j2", "repair.j2"),
    "evals": ("drafting.jsonl", "validator.jsonl", "thresholds.toml", "prices.toml"),
}


_FIX = "reinstall notedraft (or fix NOTEDRAFT_HOME if it is set)"


class ResourceMissing(Exception):
    """A file notedraft ships is not where it should be (a broken install): reported in one line, exit 2."""


def packaged(kind: str) -> Path:
    """`notedraft/_data/<kind>` of the installed package, as a real folder (Jinja's loader needs a path)."""
    folder = _package_files() / "_data" / kind
    if not isinstance(folder, Path):  # e.g. imported from a zip: no folder on disk to hand to Jinja
        raise ResourceMissing(f"notedraft's {kind} are inside an archive ({folder}); install notedraft as files "
                              "(pip install), not as a zip")
    return folder


def _package_files():
    """`importlib.resources.files("notedraft")`. For a package imported from files (a plain source or bytecode
    loader) that is the folder of its __init__ file, computed here as importlib's own FileReader does, without
    importing importlib.resources' readers (~1 ms of a one-shot command); any other loader asks importlib."""
    import sys
    from importlib.machinery import SourceFileLoader, SourcelessFileLoader

    spec = getattr(sys.modules.get("notedraft"), "__spec__", None)
    loader = getattr(spec, "loader", None)
    if type(loader) in (SourceFileLoader, SourcelessFileLoader) and spec.name == "notedraft":
        return Path(loader.path).parent
    from importlib.resources import files

    return files("notedraft")


def _folder(kind: str) -> tuple[Path, str]:
    home = os.environ.get("NOTEDRAFT_HOME")
    if home and kind in ("templates", "prompts"):
        return Path(home) / kind, "$NOTEDRAFT_HOME"
    return packaged(kind), "the installed package"


def folder(kind: str) -> Path:
    """The folder holding `kind` (templates | prompts | evals); ResourceMissing if it is not a folder."""
    path, origin = _folder(kind)
    if not path.is_dir():
        if origin == "$NOTEDRAFT_HOME":
            raise ResourceMissing(f"no {kind} folder under $NOTEDRAFT_HOME ({path}); fix or unset NOTEDRAFT_HOME")
        raise ResourceMissing(f"broken install: notedraft's {kind} are missing ({path}); reinstall notedraft")
    return path


def file(kind: str, name: str) -> Path:
    """One shipped file, e.g. file("prompts", "extract.j2"); ResourceMissing naming it if absent."""
    path = folder(kind) / name
    if not path.is_file():
        raise ResourceMissing(f"{kind}/{name} not found in {path.parent}; {_FIX}")
    return path


def loader(kind: str):
    """A Jinja loader over `kind` whose missing template is a ResourceMissing (one clear line), not TemplateNotFound."""
    from jinja2 import FileSystemLoader, TemplateNotFound

    class _Loader(FileSystemLoader):
        def get_source(self, environment, template):
            try:
                return super().get_source(environment, template)
            except TemplateNotFound:
                raise ResourceMissing(f"{kind}/{template} not found in {self.searchpath[0]}; {_FIX}") from None

    return _Loader(folder(kind))


def check(kinds: tuple[str, ...] = tuple(REQUIRED)) -> list[str]:
    """Every required file of `kinds` that is missing, one line each (empty when the install is whole)."""
    problems = []
    for kind in kinds:
        names = REQUIRED[kind]
        try:
            base = folder(kind)
        except ResourceMissing as exc:
            problems.append(str(exc))
            continue
        problems += [f"{kind}/{name} missing in {base}" for name in names if not (base / name).is_file()]
    return problems
