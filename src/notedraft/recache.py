"""A compiled-regex cache for short-lived processes: what `.pyc` files are to Python source, this is to patterns.

Python compiles a regular expression in Python code (`re._parser` then `re._compiler`), and notedraft's lexicon
and reading rules are a few hundred patterns, some of them kilobytes long: compiling them costs a one-shot
`notedraft validate` more than reading the note does. The compiled form is a list of integers that the C engine
(`_sre.compile`) turns into a pattern object directly. This module keeps those lists on disk, keyed by the
pattern, its flags and the exact interpreter, so the next process skips the Python-level compile. The patterns
the libraries compile while the command starts (pydantic, email, platform, textwrap...: ~6 ms) are kept too, each
once its call site has shown it compiles that one pattern (`_stable_site`): a site whose pattern changes from
process to process, or that compiles several, is noted in a small `sites-` file and left to `re.compile`.

Nothing here changes what a pattern matches: a cached pattern is the engine's own object built from the engine's
own code for that pattern, and any doubt (another Python, an unreadable or foreign file, an internal API that is
not the one this was written for) falls back to plain `re.compile`. Only the command line installs it
(`install()`), for its own process; a program that imports notedraft keeps the `re` it had.

The same holds for the rule and lexicon files: `tomllib` is pure Python, and parsing the two dozen TOML files a
validation reads costs as much again. Their parsed contents are kept beside the patterns, each keyed by the file's
path, size and modification time, so an edited file is parsed afresh. Importing tomllib alone costs a one-shot
command ~10 ms, so it is imported only for a file the cache does not hold (notedraft's modules read their TOML
through `load_toml`).

The same holds for what notedraft derives from a pattern (fastscan's faster twin of it and the words a match
needs, which cost a parse each): kept in a third file, keyed by the pattern and its flags, so a one-shot command
scans with the twins from its first use of a pattern, as a long-running process does after a few.

The same holds for the rule packs and families validated from those files (`validated`): building the pydantic
objects from the parsed TOML costs a one-shot command ~12 ms. They are kept in a fourth file, one entry per kind,
keyed by the path, size and modification time of every file they were read from and by the code that reads them,
as plain marshal data (no pickle: only the model classes the caller names can come back). Anything that differs or
cannot be read is built afresh.

The file is `$NOTEDRAFT_CACHE_DIR/re-<python>-<engine>-<place>.marshal`, <place> naming the installed copy of
notedraft that wrote it (default `$XDG_CACHE_HOME/notedraft`, or `~/.cache/notedraft`); `NOTEDRAFT_CACHE_DIR=off`
turns the cache off. It is rewritten (atomically) at exit only when the process compiled a pattern the file did
not hold.
"""

from __future__ import annotations

import atexit
import marshal
from array import array
import os
import re
import sys
import zlib
from pathlib import Path

try:  # CPython's engine; anything else keeps plain re.compile
    import _sre
    from re import _compiler, _parser
except ImportError:  # pragma: no cover
    _sre = _compiler = _parser = None  # type: ignore[assignment]

_SUPPORTED = sys.implementation.name == "cpython" and (3, 11) <= sys.version_info[:2] <= (3, 13)
_MAX_ENTRIES = 4096  # a bound on the file: a process that compiles patterns from its input cannot grow it forever
_entries: dict[tuple, tuple] | None = None
_added = 0
_original = None
_toml_entries: dict[tuple, dict] | None = None
_toml_added = 0
_toml_original = None
_derived_entries: dict[tuple, tuple] | None = None
_derived_added = 0
_sites: dict[tuple, tuple | None] | None = None  # a library's compile site -> its one pattern key, None if several
_sites_added = 0
_object_entries: dict[str, tuple] | None = None  # kind -> (fingerprint, marshalled objects); loaded on first use
_object_added = 0
_CODE_TYPE = "I" if array("I").itemsize == 4 else "L"  # the engine's code words (_sre.CODESIZE bytes, in the tag)


def _tag() -> str:
    return f"{sys.implementation.cache_tag}-{_sre.MAGIC}-{_sre.CODESIZE}-{sys.hexversion:x}"


def _place() -> str:
    # Each installed copy of notedraft (a checkout, a virtual environment) has files of its own: a machine with
    # several would otherwise load every copy's rule files and patterns on every start, to use one copy's.
    return f"{zlib.crc32(os.path.dirname(os.path.abspath(__file__)).encode()):08x}"


def cache_file() -> Path | None:
    base = os.environ.get("NOTEDRAFT_CACHE_DIR")
    if base and base.lower() in ("off", "0", "none", "no"):
        return None
    if not base:
        base = str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "notedraft")
    return Path(base) / f"re-{_tag()}-{_place()}.marshal"


def _load(path: Path) -> dict[tuple, tuple]:
    try:
        data = marshal.loads(path.read_bytes())  # marshal.load on a file object reads in tiny pieces
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    if not isinstance(data, dict) or data.get("tag") != _tag() or not isinstance(data.get("entries"), dict):
        return {}
    return data["entries"]


def _toml_file(path: Path) -> Path:
    return path.with_name(path.name.replace("re-", "toml-", 1))


def _derived_file(path: Path) -> Path:
    return path.with_name(path.name.replace("re-", "derived-", 1))


def _sites_file(path: Path) -> Path:
    return path.with_name(path.name.replace("re-", "sites-", 1))


def _objects_file(path: Path) -> Path:
    return path.with_name(path.name.replace("re-", "objects-", 1))


def active() -> bool:
    """Whether this process keeps what it derives from patterns (the command line installed the cache)."""
    return _derived_entries is not None


def derived(key: tuple):
    """What was derived from a pattern under `key` in an earlier run (a tuple), or None."""
    return _derived_entries.get(key) if _derived_entries is not None else None


def remember(key: tuple, value: tuple) -> None:
    """Keep `value` (marshal-able) for `key` for the next run; nothing when the cache is not installed."""
    global _derived_added
    if _derived_entries is not None and key not in _derived_entries and len(_derived_entries) < _MAX_ENTRIES:
        _derived_entries[key] = value
        _derived_added += 1


def _save() -> None:
    path = cache_file()
    if _toml_added and path is not None and _toml_entries is not None:
        _write(_toml_file(path), _toml_entries)
    if _derived_added and path is not None and _derived_entries is not None:
        _write(_derived_file(path), _derived_entries)
    if _object_added and path is not None and _object_entries is not None:
        _write(_objects_file(path), _object_entries)
    if _sites_added and path is not None and _sites is not None:
        _write(_sites_file(path), _sites)
    if not _added or path is None or _entries is None:
        return
    _write(path, _entries)


def _write(path: Path, new: dict) -> None:
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        entries = {**_load(path), **new}  # another process may have added its own meanwhile
        if len(entries) > _MAX_ENTRIES:
            entries = dict(list(entries.items())[-_MAX_ENTRIES:])
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            fh.write(marshal.dumps({"tag": _tag(), "entries": entries}))
        os.replace(tmp, path)
    except (OSError, ValueError):
        try:
            if tmp is not None:
                tmp.unlink()
        except OSError:
            pass  # a cache that cannot be written is only a slower start


def _compile(p, flags=0):
    """re._compiler.compile, answered from the cache when it holds this pattern."""
    global _added
    if not isinstance(p, (str, bytes)) or flags & re.DEBUG:
        return _original(p, flags)
    key = (p, int(flags))
    hit = _entries.get(key)
    if hit is not None:
        final_flags, code, groups, groupindex, indexgroup = hit
        return _sre.compile(p, final_flags, array(_CODE_TYPE, code).tolist(), groups, groupindex, indexgroup)
    # the body of re._compiler.compile, keeping what it hands the engine
    parsed = _parser.parse(p, flags)
    code = _compiler._code(parsed, flags)
    groupindex = dict(parsed.state.groupdict)
    indexgroup = [None] * parsed.state.groups
    for k, i in groupindex.items():
        indexgroup[i] = k
    code = [int(c) for c in code]  # plain ints: the opcodes are an int subclass
    entry = (int(flags | parsed.state.flags), array(_CODE_TYPE, code).tobytes(), int(parsed.state.groups - 1),
             groupindex, tuple(indexgroup))
    compiled = _sre.compile(p, entry[0], code, entry[2], groupindex, entry[4])
    if len(_entries) < _MAX_ENTRIES and (_from_notedraft() or _stable_site(key)):
        _entries[key] = entry
        _added += 1
    return compiled


def _toml_load(fh, /, *, parse_float=float):
    """tomllib.load, answered from the cache for a file whose path, size and modification time it holds."""
    global _toml_added
    name = getattr(fh, "name", None)
    if parse_float is not float or not isinstance(name, str):
        return _toml_original(fh, parse_float=parse_float)
    try:
        st = os.fstat(fh.fileno())
        key = (os.path.abspath(name), st.st_size, st.st_mtime_ns)
    except (OSError, AttributeError, ValueError):
        return _toml_original(fh)
    hit = _toml_entries.get(key)
    if hit is not None:
        return marshal.loads(hit)  # a fresh copy each time, as tomllib gives
    data = _toml_original(fh)
    try:
        blob = marshal.dumps(data)
    except ValueError:  # a value marshal does not keep (a TOML date): parsed every time
        return data
    if len(_toml_entries) < _MAX_ENTRIES:
        _toml_entries[key] = blob
        _toml_added += 1
    return data


def _parse_toml(fh, /, *, parse_float=float):
    import tomllib  # imported only when a file must be parsed: most runs answer every file from the cache

    return tomllib.load(fh, parse_float=parse_float)


def load_toml(fh) -> dict:
    """`tomllib.load(fh)` for notedraft's own files (every module reads its TOML through this): answered from the
    cache once the command line has installed it, parsed by tomllib otherwise."""
    if _toml_entries is None:
        return _parse_toml(fh)
    return _toml_load(fh)


def validated(kind: str, files: list[Path], code: tuple, build, classes: tuple[type, ...]):
    """`build()`, the pydantic objects notedraft validates from `files` (lists, dicts and models of `classes`,
    down to plain values), answered from the cache when none of `files` changed and `code` (what else the result
    depends on: the reading modules' own files, the known checks) is the same; built and kept otherwise. Only when
    the command line installed the cache: a program that imports notedraft always builds."""
    global _object_entries, _object_added
    if _derived_entries is None or (path := cache_file()) is None:
        return build()
    try:
        stats = [os.stat(f) for f in files]
    except OSError:
        return build()
    fingerprint = (code, tuple((str(f), st.st_size, st.st_mtime_ns) for f, st in zip(files, stats)))
    if _object_entries is None:
        _object_entries = _load(_objects_file(path))
    hit = _object_entries.get(kind)
    if isinstance(hit, tuple) and len(hit) == 2 and hit[0] == fingerprint:
        try:
            return _decode(marshal.loads(hit[1]), classes, [])
        except Exception:  # a file this code did not write: built afresh below
            pass
    value = build()
    try:
        blob = marshal.dumps(_encode(value, classes, {}))
    except (TypeError, ValueError):  # something plain data cannot hold: built every time
        return value
    _object_entries[kind] = (fingerprint, blob)
    _object_added += 1
    return value


_SEEN = -1  # an encoded model: (class index, fields, names of the fields holding models, fields set); (_SEEN, n)
_PLAIN = (str, int, float, bool, type(None))


def _encode(value, classes: tuple[type, ...], seen: dict[int, int]):
    """Plain data as it is; a model as a tuple whose fields dict keeps plain values as they are, so decoding
    visits the models only (marshal already made fresh lists and dicts)."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is list:
        return [_encode(v, classes, seen) for v in value]
    if kind is dict:
        if not all(type(k) is str for k in value):
            raise TypeError("a dict key that is not a string")
        return {k: _encode(v, classes, seen) for k, v in value.items()}
    if kind in classes:
        if id(value) in seen:  # the same object in two places stays one object
            return (_SEEN, seen[id(value)])
        seen[id(value)] = len(seen)
        if value.__pydantic_extra__ is not None or value.__pydantic_private__ is not None:
            raise TypeError("a model with extra or private values")
        fields = {k: _encode(v, classes, seen) for k, v in value.__dict__.items()}
        nested = tuple(k for k, v in fields.items() if _holds_model(v))
        return (classes.index(kind), fields, nested, tuple(sorted(value.__pydantic_fields_set__)))
    raise TypeError(f"not plain data: {kind.__name__}")


def _holds_model(encoded) -> bool:
    kind = type(encoded)
    if kind is tuple:
        return True
    if kind is list:
        return any(_holds_model(v) for v in encoded)
    if kind is dict:
        return any(_holds_model(v) for v in encoded.values())
    return False


def _decode(value, classes: tuple[type, ...], made: list):
    kind = type(value)
    if kind is list:
        return [_decode(v, classes, made) for v in value]
    if kind is dict:
        return {k: _decode(v, classes, made) for k, v in value.items()}
    if kind is not tuple:
        return value
    if value[0] == _SEEN:
        return made[value[1]]
    index, fields, nested, fields_set = value
    cls = classes[index]
    obj = cls.__new__(cls)  # what pickle does for a pydantic model, with BaseModel.__setstate__'s attributes
    made.append(obj)
    for name in nested:  # in place: the fields keep their order
        fields[name] = _decode(fields[name], classes, made)
    object.__setattr__(obj, "__dict__", fields)
    object.__setattr__(obj, "__pydantic_fields_set__", set(fields_set))
    object.__setattr__(obj, "__pydantic_extra__", None)
    object.__setattr__(obj, "__pydantic_private__", None)
    return obj


def _stable_site(key: tuple) -> bool:
    """Whether a library's pattern may be kept: its call site (module, file, line) has only ever compiled this
    one pattern, in this process and the earlier ones. A site that builds its pattern from a set (tokenize's, whose
    order changes with the hash seed) or compiles several is marked and not kept again, so the file settles after
    a run or two instead of being rewritten by every process. The sites are read only on a miss."""
    global _sites, _sites_added
    frame = sys._getframe(2)
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] == "re":
        frame = frame.f_back
    path = cache_file()
    if frame is None or path is None:
        return False
    site = (frame.f_globals.get("__name__", ""), frame.f_code.co_filename, frame.f_lineno)
    if _sites is None:
        _sites = _load(_sites_file(path))
    seen = _sites.get(site, _UNSEEN)
    if seen == key:
        return True
    if seen is _UNSEEN and len(_sites) < _MAX_ENTRIES:
        _sites[site] = key
        _sites_added += 1
        return True
    if seen is not None:  # a second pattern from one site: not kept from now on
        _sites[site] = None
        _sites_added += 1
    return False


_UNSEEN = object()


def _from_notedraft() -> bool:
    """Whether notedraft's own code asked for this compile: its patterns are kept as they come (a library's only
    from a stable site, see `_stable_site`: a library may build a pattern that differs in every process, e.g.
    tokenize's, from a set's order)."""
    frame = sys._getframe(2)
    for _ in range(8):
        if frame is None:
            return False
        if frame.f_globals.get("__name__", "").startswith("notedraft"):
            return True
        frame = frame.f_back
    return False


def install() -> bool:
    """Answer this process's regex compiles from the cache (the command line calls it first thing). Idempotent;
    False when the cache is off or this interpreter is not one it was written for."""
    global _entries, _original
    if _original is not None:
        return True
    if not _SUPPORTED or _sre is None or not hasattr(_compiler, "_code"):
        return False
    path = cache_file()
    if path is None:
        return False
    _entries = _load(path)
    _original = _compiler.compile
    _compiler.compile = _compile
    global _toml_entries, _toml_original
    _toml_entries = _load(_toml_file(path))
    global _derived_entries
    _derived_entries = _load(_derived_file(path))
    _toml_original = _parse_toml
    atexit.register(_save)
    return True
