"""The audit's input, read into note records one at a time and always in the same order.

Sources (PATH arguments, in the order given):
  - a folder: every .txt and .md file under it, recursively, in sorted order of the path relative to the folder
    (that relative path is the note's id); hidden files and folders (a leading '.') are skipped;
  - a .jsonl file: one JSON object a line with `id`, `text` (or `note`), optional `codes` (a list or a
    space-separated string) and `payer`, `place_of_service`, `physician`, `date_of_service`;
  - a .csv file of notes: a header with `text` and optionally `id`, `codes` and the same four fields;
  - any other file: one note, whose id is the path as given.
A claims CSV (--claims) has a header with `note` (a note's id) and `codes`, and optionally the four fields.

What is wrong with one note (unreadable, binary, oversized, not UTF-8, a malformed line or row, a claim naming a
note that is not in the input) becomes that record's `error` and the audit goes on. Only an input that cannot be
used at all (a path that does not exist, a CSV without its header) raises InputUnusable: exit 2.
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MAX_NOTE_BYTES = 5 * 1024 * 1024  # the same cap as `notedraft validate` on one file
NOTE_SUFFIXES = (".txt", ".md")
ENCOUNTER_FIELDS = ("payer", "place_of_service", "physician", "date_of_service")
# csv refuses fields over 128 KiB by default; a note may be as large as MAX_NOTE_BYTES, which decode() then judges.
csv.field_size_limit(MAX_NOTE_BYTES + 1)


class InputUnusable(Exception):
    """The input as a whole cannot be audited (no such path, a CSV without a usable header): exit 2."""


class NoteUnreadable(Exception):
    """One note cannot be read; the message is the reason shown on its row (never the note's text)."""


@dataclass(slots=True)
class NoteRecord:
    """One note to audit. `text` is set for notes read from a JSONL or CSV; a note file is read by the worker that
    audits it (`path`), so reading is spread over the pool. `codes` None: no claim, audit what the note supports."""

    note: str
    text: str | None = None
    path: str | None = None
    codes: tuple[str, ...] | None = None
    payer: str | None = None
    place_of_service: str | None = None
    physician: str | None = None
    date_of_service: str | None = None
    error: str | None = None


# --- one note's text -----------------------------------------------------------------------------------------------


def decode_note(data: bytes) -> str:
    """The note's text, or NoteUnreadable with the same reasons `notedraft validate` gives for a file."""
    if len(data) > MAX_NOTE_BYTES:
        raise NoteUnreadable(f"over {MAX_NOTE_BYTES // (1024 * 1024)} MB")
    if b"\x00" in data:
        raise NoteUnreadable("looks binary (NUL bytes); expected a text note")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NoteUnreadable(f"not UTF-8 text (byte {exc.start})") from None
    return _usable_text(text)


def _usable_text(text: str) -> str:
    if "\x00" in text:
        raise NoteUnreadable("looks binary (NUL characters); expected a text note")
    if not text.strip():
        raise NoteUnreadable("the note is empty")
    return text


def read_note_file(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_NOTE_BYTES + 1)  # never more than the cap, however large the file
    except OSError as exc:
        raise NoteUnreadable(f"cannot read ({exc.strerror or type(exc).__name__})") from None
    return decode_note(data)


def split_code_lines(raw: str) -> tuple[str, ...]:
    """'27096-50' or '20552-LT 76942' (commas tolerated): the code lines, unparsed (validate() parses them)."""
    return tuple(raw.replace(",", " ").split())


# --- claims --------------------------------------------------------------------------------------------------------


class Claims:
    """The claims CSV, indexed by note id in a private temporary SQLite file rather than in memory: a month of
    claims for 100,000 notes is ~60 MB as Python objects, and the audit's memory must not grow with the input.
    Only the short claim fields are kept (never a note's text). Rows that cannot be used, and claims whose note
    never appears in the input, come back as error records at the end (leftovers), in the file's row order."""

    def __init__(self, path: str):
        self.name = path
        try:
            fh = open(path, encoding="utf-8-sig", errors="surrogateescape", newline="")
        except OSError as exc:
            raise InputUnusable(f"{path}: cannot read the claims file ({exc.strerror or exc})") from None
        self._dir = tempfile.TemporaryDirectory(prefix="notedraft-claims-")  # 0700: claims name patients' notes
        self.db = sqlite3.connect(os.path.join(self._dir.name, "claims.sqlite"))
        self.db.executescript("""
            PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -4096;
            CREATE TABLE claims (key TEXT PRIMARY KEY, row INTEGER, codes TEXT, fields TEXT, used INTEGER DEFAULT 0);
            CREATE TABLE problems (row INTEGER, note TEXT, error TEXT);
        """)
        try:
            with fh:
                self._load(csv.reader(fh), path)
        except BaseException:
            self.close()
            raise
        self.db.commit()

    def _load(self, reader, path: str) -> None:
        header = _header(reader, path, "claims file")
        for need in ("note", "codes"):
            if need not in header:
                raise InputUnusable(f"{path}: the claims file's header has no {need!r} column "
                                    f"(columns: {', '.join(header) or 'none'}); expected note,codes[,payer,"
                                    "place_of_service,physician,date_of_service]")
        for row, values in _rows(reader, header, path):
            if isinstance(values, str):  # the row's problem
                self._problem(row, f"{path}:row {row}", values)
                continue
            key = note_key(values.get("note", ""))
            if not key:
                self._problem(row, f"{path}:row {row}", f"claims row {row}: no note named")
                continue
            fields = {k: values[k] for k in ENCOUNTER_FIELDS if values.get(k)}
            added = self.db.execute("INSERT OR IGNORE INTO claims (key, row, codes, fields) VALUES (?, ?, ?, ?)",
                                    (key, row, " ".join(split_code_lines(values.get("codes", ""))),
                                     json.dumps(fields))).rowcount
            if not added:
                (first,) = self.db.execute("SELECT row FROM claims WHERE key = ?", (key,)).fetchone()
                self._problem(row, f"{key} ({path}:row {row})",
                              f"claims row {row}: a second claim for {key!r} (row {first} is audited)")

    def _problem(self, row: int, note: str, error: str) -> None:
        self.db.execute("INSERT INTO problems VALUES (?, ?, ?)", (row, note, error))

    def apply(self, record: NoteRecord) -> None:
        """Give a note its claim: the billed code lines and the encounter fields the claim states."""
        keys = [record.note]
        if record.path is not None:  # 'notes/a.txt' for the note a.txt of the folder notes/
            keys.append(note_key(record.path))
        for key in keys:
            found = self.db.execute("SELECT row, codes, fields FROM claims WHERE key = ?", (key,)).fetchone()
            if found is not None:
                break
        else:
            return
        row, codes, fields = found
        self.db.execute("UPDATE claims SET used = 1 WHERE key = ?", (key,))
        record.codes = tuple(codes.split())
        for name, value in json.loads(fields).items():
            setattr(record, name, value)
        if not record.codes and record.error is None:
            record.error = f"claims row {row}: no code lines"

    def leftovers(self) -> Iterator[NoteRecord]:
        query = """SELECT row, key, codes, fields, NULL FROM claims WHERE used = 0
                   UNION ALL SELECT row, note, NULL, NULL, error FROM problems ORDER BY 1"""
        for row, note, codes, fields, error in self.db.execute(query):
            if error is not None:
                yield NoteRecord(note=note, error=error)
            else:
                yield NoteRecord(note=note, codes=tuple(codes.split()), error=f"claims row {row}: no such note in "
                                 "the input", **json.loads(fields))

    def close(self) -> None:
        self.db.close()
        self._dir.cleanup()


def note_key(raw: str) -> str:
    """A note id as a claims file may write it: './a/b.txt' and 'a/b.txt' name the same note."""
    key = raw.strip().replace("\\", "/")
    while key.startswith("./"):
        key = key[2:]
    return key


# --- sources -------------------------------------------------------------------------------------------------------


class Sources:
    """The PATH arguments, checked up front (a missing path or a CSV of notes without a `text` column is
    InputUnusable) and each folder listed once: `total` is the number of notes to expect (for JSONL and CSV, the
    count of lines: an estimate for the progress bar), `records()` reads them."""

    def __init__(self, paths: list[str]):
        self.paths = paths
        self.listings: dict[str, tuple[list[str], list[tuple[str, str]]]] = {}
        self.total = 0
        for path in paths:
            if not os.path.exists(path):
                raise InputUnusable(f"{path}: no such file or folder")
            if os.path.isdir(path):
                found, problems = self.listings[path] = _walk(path)
                self.total += len(found) + len(problems)
            elif _kind(path) == "csv":
                _csv_header(path)
                self.total += max(0, _count_lines(path) - 1)
            elif _kind(path) == "jsonl":
                self.total += _count_lines(path)
            else:
                self.total += 1

    def records(self, claims: Claims | None) -> Iterator[NoteRecord]:
        """Every note of every source in order, each with its claim; then the claims that matched no note. An id
        seen twice keeps the first; the second becomes an error row (ids must be unique for claims and --resume)."""
        seen: set[str] = set()
        repeats: dict[str, int] = {}
        for path in self.paths:
            for record in self._source(path):
                if record.note in seen:
                    repeats[record.note] = repeats.get(record.note, 1) + 1
                    yield NoteRecord(note=f"{record.note} (duplicate {repeats[record.note]})",
                                     error=f"another note in the input has the id {record.note!r}")
                    continue
                seen.add(record.note)
                if claims is not None:
                    claims.apply(record)
                yield record
        if claims is not None:
            for record in claims.leftovers():
                if record.note not in seen:
                    seen.add(record.note)
                    yield record

    def _source(self, path: str) -> Iterator[NoteRecord]:
        if path in self.listings:
            found, problems = self.listings[path]
            for rel in found:
                yield NoteRecord(note=rel, path=os.path.join(path, rel))
            for rel, reason in problems:
                yield NoteRecord(note=rel, error=reason)
        elif _kind(path) == "jsonl":
            yield from _jsonl(path)
        elif _kind(path) == "csv":
            yield from _csv_notes(path)
        else:
            yield NoteRecord(note=note_key(Path(path).as_posix()), path=path)


def _kind(path: str) -> str:
    suffix = Path(path).suffix.lower()
    return {".jsonl": "jsonl", ".csv": "csv"}.get(suffix, "note")


def _walk(folder: str) -> tuple[list[str], list[tuple[str, str]]]:
    """The note files under `folder` as sorted relative posix paths, and the sub-folders that could not be listed
    (relative path, reason)."""
    found: list[str] = []
    problems: list[tuple[str, str]] = []

    def onerror(exc: OSError) -> None:
        rel = os.path.relpath(exc.filename, folder) if exc.filename else "."
        problems.append((Path(rel).as_posix() + "/", f"cannot list folder ({exc.strerror or exc})"))

    for here, dirs, files in os.walk(folder, onerror=onerror):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        rel_dir = os.path.relpath(here, folder)
        for name in files:
            if not name.startswith(".") and name.lower().endswith(NOTE_SUFFIXES):
                rel = name if rel_dir == "." else os.path.join(rel_dir, name)
                found.append(Path(rel).as_posix())
    return sorted(found), sorted(problems)


def _count_lines(path: str) -> int:
    count, last = 0, b"\n"
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                count += chunk.count(b"\n")
                last = chunk[-1:]
    except OSError:
        return 0
    return count + (last != b"\n")


def _lines(path: str) -> Iterator[tuple[int, bytes | None]]:
    """(line number, line) for each line; None for a line over the cap, which is skipped without being held."""
    with open(path, "rb") as fh:
        number = 0
        while True:
            line = fh.readline(MAX_NOTE_BYTES + 2)
            if not line:
                return
            number += 1
            if len(line) > MAX_NOTE_BYTES + 1 and not line.endswith(b"\n"):
                while (rest := fh.readline(1 << 20)) and not rest.endswith(b"\n"):
                    pass
                yield number, None
            else:
                yield number, line


def _jsonl(path: str) -> Iterator[NoteRecord]:
    name = Path(path).as_posix()
    try:
        lines = _lines(path)
        for number, line in lines:
            where = f"{name}:{number}"
            if line is None:
                yield NoteRecord(note=where, error=f"line {number}: over {MAX_NOTE_BYTES // (1024 * 1024)} MB")
                continue
            if not line.strip():
                continue
            try:
                obj = json.loads(line.decode("utf-8-sig"))
            except UnicodeDecodeError as exc:
                yield NoteRecord(note=where, error=f"line {number}: not UTF-8 text (byte {exc.start})")
                continue
            except json.JSONDecodeError as exc:
                yield NoteRecord(note=where, error=f"line {number}: not JSON ({exc.msg}, column {exc.colno})")
                continue
            if not isinstance(obj, dict):
                yield NoteRecord(note=where, error=f"line {number}: not a JSON object")
                continue
            yield _record(obj, where, f"line {number}")
    except OSError as exc:
        yield NoteRecord(note=name, error=f"cannot read ({exc.strerror or exc})")


def _record(fields: dict, fallback_id: str, where: str) -> NoteRecord:
    """A note record from a JSONL object or a CSV row; a wrong field becomes the record's error."""
    raw_id = fields.get("id")
    note = str(raw_id).strip() if isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool) else ""
    record = NoteRecord(note=note or fallback_id)
    for key in ENCOUNTER_FIELDS:
        value = fields.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
            setattr(record, key, str(value).strip())
    codes = fields.get("codes")
    if isinstance(codes, str):
        record.codes = split_code_lines(codes) or None
    elif isinstance(codes, list) and all(isinstance(c, str) for c in codes):
        record.codes = tuple(c.strip() for c in codes if c.strip()) or None
    elif codes is not None:
        record.error = f"{where}: 'codes' must be a list of code lines or a space-separated string"
    text = fields.get("text", fields.get("note"))
    if not isinstance(text, str):
        record.error = record.error or f"{where}: no note text (a 'text' string)"
        return record
    if _has_surrogates(text):
        record.error = record.error or f"{where}: not UTF-8 text"
        return record
    if len(text) > MAX_NOTE_BYTES:
        record.error = record.error or f"{where}: over {MAX_NOTE_BYTES // (1024 * 1024)} MB"
        return record
    try:
        record.text = _usable_text(text)
    except NoteUnreadable as exc:
        record.error = record.error or f"{where}: {exc}"
    return record


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _header(reader, path: str, what: str) -> list[str]:
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise InputUnusable(f"{path}: the {what}'s header cannot be read ({exc})") from None
    if not header or not any(h.strip() for h in header):
        raise InputUnusable(f"{path}: the {what} is empty or has no header line")
    columns = [h.strip().lower().replace(" ", "_") for h in header]
    if any(_has_surrogates(c) for c in columns):
        raise InputUnusable(f"{path}: the {what}'s header is not UTF-8 text")
    return columns


def _csv_header(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
            columns = _header(csv.reader(fh), path, "CSV of notes")
    except OSError as exc:
        raise InputUnusable(f"{path}: cannot read ({exc.strerror or exc})") from None
    if "text" not in columns:
        hint = " (it looks like a claims file: pass it with --claims)" if "note" in columns and "codes" in columns else ""
        raise InputUnusable(f"{path}: a CSV of notes needs a 'text' column (columns: {', '.join(columns)}){hint}")
    return columns


def _rows(reader, header: list[str], path: str) -> Iterator[tuple[int, dict[str, str] | str]]:
    """(row number, the row as a dict) for each data row, or (row number, its problem): one bad row never ends
    the file. Row numbers count the header as row 1, as a spreadsheet shows them."""
    row = 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            row += 1
            yield row, f"row {row}: malformed CSV ({exc})"
            continue
        row += 1
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            yield row, f"row {row}: {len(values)} fields, the header has {len(header)}"
            continue
        if any(_has_surrogates(v) for v in values):
            yield row, f"row {row}: not UTF-8 text"
            continue
        yield row, dict(zip(header, values))


def _csv_notes(path: str) -> Iterator[NoteRecord]:
    name = Path(path).as_posix()
    try:
        with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
            reader = csv.reader(fh)
            header = _header(reader, path, "CSV of notes")
            for row, values in _rows(reader, header, path):
                where = f"{name}:row {row}"
                if isinstance(values, str):
                    yield NoteRecord(note=where, error=values)
                else:
                    yield _record(values, where, f"row {row}")
    except OSError as exc:
        yield NoteRecord(note=name, error=f"cannot read ({exc.strerror or exc})")
