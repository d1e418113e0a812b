"""`notedraft draft|validate|audit|codes|eval|serve` — a thin shell over the library calls.

Exit codes are a contract: 0 the note supports every code line; 1 it does not (or a draft was refused);
2 bad input or configuration, with one line on stderr and never a traceback; 3 (`draft --no-fallback`) the LLM
gave nothing usable; 4 an internal error (one line; NOTEDRAFT_DEBUG=1 for the trace). Heavy modules (jinja2, openai, FastAPI) are imported inside the subcommand that needs them
so `notedraft validate` starts fast.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

# argparse (with gettext), json and textwrap are imported where they are used: `notedraft validate PATH --code X`
# in its plain spelling is read without building the parser at all (see _validate_fast), ~15 ms of a one-shot run.

MAX_INPUT_BYTES = 5 * 1024 * 1024
EXAMPLE = "L SIJ inj, fluoro, IA confirmed w contrast, 40 kenalog + 2cc 0.25% bupi, dx M46.1, dx + therapeutic"


class UsageError(Exception):
    """Bad input or configuration: reported in one line, exit 2."""


def _parser_class():
    import argparse

    class _Parser(argparse.ArgumentParser):
        """argparse, but a usage mistake is one line on stderr (the contract automation relies on), not usage +
        error."""

        def error(self, message: str):  # type: ignore[override]
            self.exit(2, f"notedraft: error: {message} (see '{self.prog} --help')\n")

    return _Parser


EXIT_CODES = """\
exit codes:
  0    the note supports every code line
  1    it does not, or the draft was refused (draft, findings and questions are still printed)
  2    bad input, configuration or a broken install: one line on stderr
  3    draft --no-fallback: the LLM gave nothing usable (one line on stderr, no draft)
  4    internal error (a bug): one line on stderr; NOTEDRAFT_DEBUG=1 prints the full trace
  130  interrupted
A dictation that cannot be finished is saved under $XDG_STATE_HOME/notedraft (default ~/.local/state/notedraft)
and the error line names the file."""
AUDIT_HELP = """\
exit codes (audit):
  0    every billed claim is supported (notes without a claim never fail the audit: they show what they support)
  1    some claim is not supported, or some note could not be audited (unreadable, binary, over 5 MB, not UTF-8,
       a malformed JSONL line or CSV row, an unknown code line, a claim whose note is not in the input): each is
       a row of the results with its reason
  2    the input itself is unusable (no such path, no notes at all, a claims CSV without a note,codes header,
       an --out that cannot be written): one line on stderr
  4    internal error; 130 interrupted (rerun the same command with --resume to go on)
The log (stderr) names no note text: counts on a terminal bar, or a line every 30 s when not a terminal.

Example:
  notedraft audit notes/ --claims claims.csv --out audit/"""
INTERNAL_ERROR = 4  # 3 is taken by `draft --no-fallback`
# Whether main() runs as the command line (its arguments from sys.argv): the process ends when main returns.
_ONE_SHOT = False
# What this run read from standard input (read_text fills it), so main() can save it if the command then fails.
_STDIN: dict[str, str] = {}


def main(argv: list[str] | None = None) -> int:
    """Run one command. Whatever goes wrong ends in one line on stderr and a documented exit code, never a
    traceback (NOTEDRAFT_DEBUG=1 adds it), and the user's dictation is saved if the command could not finish."""
    from . import recache
    from .resources import ResourceMissing

    recache.install()  # compiled patterns from the last run: a one-shot command starts fast (see recache.py)
    global _ONE_SHOT
    _ONE_SHOT = argv is None
    argv = sys.argv[1:] if argv is None else argv
    args = None
    _STDIN.clear()
    try:
        args = _validate_fast(argv)
        if args is not None:
            return args.handler(args)
        parser = build_parser(argv)
        args = parser.parse_args(argv)
        if not getattr(args, "handler", None):
            parser.print_help()
            return 2
        if args.handler in (cmd_serve, _eval_handler):
            _require_resources()  # both would otherwise fail per request / per sample, not once and clearly
        return args.handler(args)
    except UsageError as exc:
        print(f"notedraft: error: {exc}", file=sys.stderr)
        return 2
    except ResourceMissing as exc:
        print(f"notedraft: error: {exc}{_kept(args)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"notedraft: interrupted{_kept(args)}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: one line, the input kept, the trace only on request
        if os.environ.get("NOTEDRAFT_DEBUG") == "1":
            import traceback

            traceback.print_exc()
        detail = " ".join(str(exc).split())[:200]
        print(f"notedraft: internal error: {type(exc).__name__}{': ' + detail if detail else ''}{_kept(args)} "
              "(set NOTEDRAFT_DEBUG=1 for the full trace)", file=sys.stderr)
        return INTERNAL_ERROR


def _require_resources() -> None:
    from .resources import ResourceMissing, check

    problems = check(("templates", "prompts"))
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ResourceMissing(problems[0] + more)


def _kept(args: argparse.Namespace | None) -> str:
    """Save what the user typed (a draft's dictation, or anything read from standard input) before we give up."""
    if args is None:
        return ""
    if args.handler is cmd_draft and args.text not in (None, "-"):
        text, kind = args.text, "dictation"
    elif _STDIN.get("text"):
        text, kind = _STDIN["text"], "dictation" if args.handler is cmd_draft else "input"
    else:
        return ""
    kept = preserve(text, kind)
    return f" (your {kind} was saved to {kept})" if kept else f" (could not save your {kind}; copy it before closing)"


_VALIDATE_OPTIONS = {"--code": "code", "-c": "code", "--payer": "payer", "--format": "format"}
_VALIDATE_CHOICES = {"payer": ("medicare",), "format": ("text", "json")}


def _validate_fast(argv: list[str]):
    """`validate PATH --code X [--code Y ...] [--payer P] [--format F]`, in any order and in exactly these
    spellings, as the arguments argparse would give the handler; None for anything else (help, an abbreviation,
    `--code=X`, a value starting with '-', a repeated --payer/--format, a bad choice, a missing or second PATH...),
    which then goes through the parser as always. Building the parser costs a one-shot validate ~15 ms."""
    if len(argv) < 4 or argv[0] != "validate":
        return None
    values: dict[str, object] = {"code": [], "payer": None, "format": "text"}
    path = None
    seen: set[str] = set()
    rest = iter(argv[1:])
    for token in rest:
        dest = _VALIDATE_OPTIONS.get(token)
        if dest is None:
            if path is not None or not token or (token.startswith("-") and token != "-"):
                return None
            path = token
            continue
        value = next(rest, None)
        if not value or value.startswith("-"):
            return None
        if dest == "code":
            values["code"].append(value)  # type: ignore[union-attr]
            continue
        if dest in seen or value not in _VALIDATE_CHOICES[dest]:
            return None
        seen.add(dest)
        values[dest] = value
    if path is None or not values["code"]:
        return None
    from types import SimpleNamespace

    return SimpleNamespace(path=path, handler=cmd_validate, **values)


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    import argparse
    import textwrap

    _Parser = _parser_class()
    parser = _Parser(
        prog="notedraft",
        description="Draft billing-ready SI joint procedure notes from short dictations, and prove\n"
        "deterministically that a note supports its CPT code lines.",
        epilog=f'Example: notedraft draft "{EXAMPLE}"\n\n{EXIT_CODES}',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version="notedraft 0.1.0")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser("validate", help="check that a note supports its code lines (deterministic, no LLM)",
                       description="Check a finished note against the rule packs. Exit 0: every code line is "
                       "supported; 1: not supported; 2: bad input.")
    p.add_argument("path", metavar="PATH|-", help="note file to check, or - to read standard input")
    p.add_argument("--code", "-c", action="append", required=True, metavar="CODE",
                   help="a code line, e.g. 27096-LT, 27096-50, 20552-RT, 76942; repeat for several lines")
    p.add_argument("--payer", choices=["medicare"], help="add a payer's overlay rules (default: none)")
    p.add_argument("--format", choices=["text", "json"], default="text", help="output format (default: text)")
    p.set_defaults(handler=cmd_validate)

    p = sub.add_parser("audit", help="check a folder of notes and the code lines billed for each, in one run",
                       description=textwrap.fill("Check many notes at once (pre-bill review, internal audit): each note's billed "
                       "code lines, or without a claim the lines the note supports, with the verdict `notedraft "
                       "validate` gives, the failing rules with their evidence, what the note supports instead and "
                       "the questions for the physician. Writes results.jsonl, results.csv and a self-contained "
                       "report.html with --out; prints a summary. Uses every core; memory stays flat.", 100),
                       epilog=AUDIT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="a folder (every .txt and .md under it, recursively; hidden ones skipped), a note file, or a "
                   ".jsonl/.csv of notes (id, text, codes, payer, place_of_service, physician, date_of_service)")
    p.add_argument("--claims", metavar="CSV",
                   help="the billed lines: a CSV with a header, columns note (the note's path relative to the folder "
                   "given, or its JSONL/CSV id) and codes (space-separated, e.g. '27096-50' or '20552-LT 76942'); "
                   "optional payer, place_of_service, physician, date_of_service. A claim's values replace the "
                   "note record's own")
    p.add_argument("--payer", choices=["medicare"],
                   help="payer overlay for the notes whose claim or record names no payer (a named payer wins; "
                   "payers other than medicare are checked against the base rules)")
    p.add_argument("--out", metavar="DIR", help="write results.jsonl, results.csv and report.html to DIR (created "
                   "if missing, files 0600; an existing results.jsonl is replaced unless --resume)")
    p.add_argument("--resume", action="store_true",
                   help="keep the rows already in DIR/results.jsonl (a run that was stopped or killed), audit only "
                   "the other notes, then rewrite results.csv and report.html from all rows; needs --out")
    p.add_argument("--workers", type=_positive_int, default=None, metavar="N",
                   help="processes validating notes (default: every core this process may use)")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress on stderr (default: a bar on a terminal, a line every 30 s elsewhere)")
    p.set_defaults(handler=cmd_audit)

    p = sub.add_parser("draft", help="draft a note from a dictation (offline by default)",
                       description="Turn a short dictation into a complete procedure note that states only what "
                       "the dictation supports. Exit 0: the draft supports its codes; 1: it does not or the request "
                       "was refused (draft, findings and physician queries are still printed); 2: bad input or "
                       "configuration; 3: with --no-fallback, the LLM gave nothing usable (one line on stderr, no "
                       "draft).")
    p.add_argument("text", nargs="?", metavar="TEXT|-", help="the dictation, or - (or nothing) to read standard input")
    p.add_argument("--file", "-f", metavar="PATH", help="read the dictation from a file (UTF-8 text)")
    p.add_argument("--code", "-c", action="append", default=[], metavar="CODE",
                   help="target code line (repeatable); without it notedraft suggests the lines the facts support")
    p.add_argument("--strategy", choices=["template", "llm-extract", "llm-compose"], default="template",
                   help="template: offline, deterministic (default); llm-extract: the LLM reads the facts, a "
                   "template writes the note; llm-compose: the LLM writes the note, checked and repaired")
    p.add_argument("--model", help="LLM model name (default: $NOTEDRAFT_MODEL, else gpt-4o-mini)")
    p.add_argument("--base-url", help="OpenAI-compatible endpoint (default: $OPENAI_BASE_URL)")
    p.add_argument("--timeout", type=_seconds, default=60.0,
                   help="seconds for each whole LLM call: connecting, the reply and every retry (default: 60); a "
                   "draft makes at most 3 calls")
    p.add_argument("--no-fallback", action="store_true",
                   help="if the LLM fails (error, timeout, malformed or unusable reply), exit 3 with one line "
                   "instead of printing the template draft")
    p.add_argument("--payer", choices=["medicare"], help="add a payer's overlay rules (default: none)")
    p.add_argument("--format", choices=["text", "json"], default="text", help="output format (default: text)")
    p.add_argument("--out", metavar="FILE", help="also write the note text to FILE (if it cannot be written, the "
                   "draft is still printed and notedraft exits 2)")
    p.add_argument("--save", metavar="FILE", help="save the whole draft as JSON for the editor (notedraft serve); "
                   "created private (0600)")
    p.set_defaults(handler=cmd_draft)

    p = sub.add_parser("codes", help="list the rule packs, or show one code's requirements and sources",
                       description="Without CODE: one line per rule pack. With CODE: its rules, severities, fixes "
                       "and the public source of each, and where sources disagree.")
    p.add_argument("code", nargs="?", help="a code, e.g. 27096")
    p.add_argument("--family", help="a procedure family (families/<name>/, e.g. epidural): its codes, requirements "
                   "and sources; a prefix of the family's name picks every family it starts")
    p.add_argument("--format", choices=["text", "json"], default="text", help="output format (default: text)")
    p.set_defaults(handler=cmd_codes)

    p = sub.add_parser("eval", help="score drafting strategies and models on the eval datasets",
                       description="Run strategies x models over evals/, score, log and report.")
    if argv[:1] == ["eval"]:
        from .evals.cli import add_arguments

        add_arguments(p)
        p.set_defaults(handler=_eval_handler)

    db_help = ("SQLite database path or postgresql://user:password@host/db URL (default: $NOTEDRAFT_DB, else "
               "notedraft.sqlite)")
    p = sub.add_parser("serve", help="start the editor in the browser",
                       description="Start the editor (FastAPI; SQLite or PostgreSQL). With accounts (notedraft users "
                       "add), everyone logs in and signs in their own name.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1; any other "
                   "address requires accounts, or a token from --token or $NOTEDRAFT_TOKEN)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    p.add_argument("--db", default=None, help=db_help)
    p.add_argument("--token", default=None, help="access token required by the API when there are no accounts "
                   "(default: $NOTEDRAFT_TOKEN)")
    p.add_argument("--trusted-proxy", default=None, metavar="ADDRESS",
                   help="the reverse proxy's address, whose X-Forwarded-For/-Proto headers are believed "
                   "(default: $NOTEDRAFT_TRUSTED_PROXY; none)")
    p.set_defaults(handler=cmd_serve)

    p = sub.add_parser("users", help="manage the editor's accounts (physician, scribe, coder, admin)",
                       description="Accounts for the editor. The first account (usually an admin) turns accounts on: "
                       "from then on everyone logs in. Passwords are read from the terminal (asked twice) or, with "
                       "--password-stdin, from the first line of standard input; never from the command line.")
    users = p.add_subparsers(dest="users_command", metavar="{add,list,disable,enable,passwd}")
    q = users.add_parser("add", help="create an account")
    q.add_argument("username", help="login name: 2-40 lower-case letters, digits, '.', '_' or '-'")
    q.add_argument("--name", required=True, help="the person's name as it appears on notes, e.g. 'Dr. Ana Lee'")
    q.add_argument("--role", required=True, choices=["physician", "scribe", "coder", "admin"], help="what they may do")
    q.add_argument("--npi", default=None, help="a physician's 10-digit NPI (optional; goes into FHIR exports)")
    q.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    q.add_argument("--db", default=None, help=db_help)
    q = users.add_parser("list", help="list the accounts")
    q.add_argument("--db", default=None, help=db_help)
    for name, what in (("disable", "end an account's sessions and refuse its logins"), ("enable", "allow it again")):
        q = users.add_parser(name, help=what)
        q.add_argument("username")
        q.add_argument("--db", default=None, help=db_help)
    q = users.add_parser("passwd", help="set a new password (ends the account's sessions)")
    q.add_argument("username")
    q.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    q.add_argument("--db", default=None, help=db_help)
    p.set_defaults(handler=cmd_users)
    return parser


# --- input ---------------------------------------------------------------------------------------------------------


def read_text(source: str | None, what: str) -> str:
    if source in (None, "-"):
        if source is None and sys.stdin.isatty():
            raise UsageError(f"no {what} given: pass it as an argument or on standard input")
        data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
        origin = "standard input"
    else:
        path = Path(source)
        if not path.exists():
            raise UsageError(f"{source}: no such file")
        if path.is_dir():
            raise UsageError(f"{source}: is a directory")
        try:
            with path.open("rb") as fh:
                data = fh.read(MAX_INPUT_BYTES + 1)
        except OSError as exc:
            raise UsageError(f"{source}: cannot read ({exc.strerror})") from None
        origin = source
    text = decode(data, origin, what)
    if origin == "standard input":
        _STDIN["text"] = text  # main() saves it if the command then fails
    return text


def decode(data: bytes, origin: str, what: str) -> str:
    if len(data) > MAX_INPUT_BYTES:
        raise UsageError(f"{origin}: {what} is over {MAX_INPUT_BYTES // (1024 * 1024)} MB")
    if b"\x00" in data:
        raise UsageError(f"{origin}: looks binary (NUL bytes); expected a text {what}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{origin}: not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise UsageError(f"{origin}: {what} is empty")
    return text


def parse_codes(raws: list[str]):
    from .codes import CodeError, parse_code_lines

    try:
        return parse_code_lines(raws)
    except CodeError as exc:
        raise UsageError(str(exc)) from None


def preserve(text: str, kind: str = "dictation") -> Path | None:
    """Keep a dictation the user typed when we cannot finish, so nothing they wrote is lost."""
    # Dictations are patient data: the folder is 0700 and the file 0600, whatever the umask.
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "notedraft"
    try:
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        base.chmod(0o700)  # mkdir's mode does not apply to a folder that already existed
        path = base / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        return path
    except OSError:
        return None


# --- validate ------------------------------------------------------------------------------------------------------


def cmd_validate(args: argparse.Namespace) -> int:
    import gc

    # Start-up (the imports, pydantic's models, the rule packs) makes a few hundred thousand objects that live till
    # the end and hardly any garbage, and the collector would walk them all a few times over (~20 ms). In the
    # command-line process they are then frozen: later collections, and the one at exit, skip them (~20 ms more).
    collecting = gc.isenabled()
    gc.disable()
    try:
        from .validate import validate

        lines = parse_codes(args.code)
    finally:
        if collecting:
            if _ONE_SHOT:
                gc.freeze()
            gc.enable()
    text = read_text(args.path, "note")
    report = validate(text, lines, payer=args.payer)
    if args.format == "json":
        import json

        print(json.dumps(report.as_json(), indent=2))
    else:
        print(render_report(text, report))
    if _ONE_SHOT:
        gc.freeze()
    return 0 if report.supported else 1


def line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, col


def render_report(text: str, report) -> str:
    out = []
    for f in sorted(report.findings, key=lambda f: (f.evidence[0].start if f.evidence else -1, f.severity)):
        line, col = line_col(text, f.evidence[0].start) if f.evidence else (1, 1)
        out.append(f"{line}:{col} {f.severity} {f.rule} {f.message}")
        out.append(f"    fix: {f.fix}")
    errors = sum(f.severity == "error" for f in report.findings)
    warnings = len(report.findings) - errors
    verdict = "SUPPORTED" if report.supported else "NOT SUPPORTED"
    out.append(f"{verdict}: {' '.join(report.codes) or '(no codes)'} ({errors} error(s), {warnings} warning(s), "
               f"{len(report.satisfied)} requirement(s) met)")
    out.append(f"suggested codes: {' '.join(report.suggested_codes) or 'none'}")
    return "\n".join(out)


# --- audit ---------------------------------------------------------------------------------------------------------


def _positive_int(value: str) -> int:
    import argparse

    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive number")
    return number


def cmd_audit(args: argparse.Namespace) -> int:
    import tempfile

    from .audit.inputs import InputUnusable
    from .audit.report import summary_text, write_reports
    from .audit.run import RESULTS, AuditOptions, available_cores, run_audit

    if args.resume and not args.out:
        raise UsageError("--resume needs --out DIR: the folder of the run to go on with")
    out = Path(args.out) if args.out else None
    if out is not None and out.exists() and not out.is_dir():
        raise UsageError(f"{args.out}: --out is a file, not a folder")
    options = AuditOptions(paths=args.paths, claims=args.claims, payer=args.payer, out=args.out, resume=args.resume,
                           workers=args.workers or available_cores(), progress="off" if args.no_progress else "auto")
    scratch = tempfile.TemporaryDirectory(prefix="notedraft-audit-") if out is None else None
    work = out if out is not None else Path(scratch.name)
    try:
        try:
            counts = run_audit(options, work)
        except KeyboardInterrupt:
            where = (f"; the rows written so far are in {out / RESULTS}: run the same command with --resume to go on"
                     if out is not None else "")
            print(f"notedraft: interrupted{where}", file=sys.stderr)
            return 130
        except InputUnusable as exc:
            raise UsageError(str(exc)) from None
        except OSError as exc:
            raise UsageError(f"{exc.filename or work}: cannot write ({exc.strerror or exc})") from None
        # The inputs' own names only: a report is passed around, the folders it was made in are nobody's business.
        named = ", ".join(Path(p).name or p for p in args.paths)
        title = f"notedraft audit: {named}" + (f" with claims {Path(args.claims).name}" if args.claims else "")
        try:
            tally = write_reports(work / RESULTS, out, title)
        except OSError as exc:
            raise UsageError(f"{exc.filename or work}: cannot write ({exc.strerror or exc})") from None
    finally:
        if scratch is not None:
            scratch.cleanup()
    if tally.notes == 0:
        raise UsageError(f"no notes in {' '.join(args.paths)}: expected .txt or .md files, JSONL lines or CSV rows")
    wrote = [str(out / name) for name in (RESULTS, "results.csv", "report.html")] if out is not None else []
    if counts.kept:
        wrote.append(f"({counts.kept:,} rows kept from the earlier run, {counts.written:,} added)")
    print(summary_text(tally, wrote))
    return tally.exit_code()


# --- draft ---------------------------------------------------------------------------------------------------------


EXIT_LLM_UNUSABLE = 3  # --no-fallback and the LLM gave nothing usable


def _seconds(value: str) -> float:
    import argparse

    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive number of seconds")
    return seconds


def cmd_draft(args: argparse.Namespace) -> int:
    from .strategies import LLMUnusable

    if args.file is not None:
        if args.text is not None:
            raise UsageError("give the dictation as TEXT, - or --file PATH, not two of them")
        dictation = read_text(args.file, "dictation")
    elif args.text not in (None, "-") and "\n" not in args.text and _names_a_file(args.text):
        # `notedraft draft notes.txt` drafted the words "notes.txt"; a file name is never a dictation.
        raise UsageError(f"{args.text!r} is a file name, not a dictation: use --file {args.text} "
                         f"(or - to read standard input)")
    else:
        dictation = read_text(args.text, "dictation") if args.text in (None, "-") else args.text
    if not dictation.strip():
        raise UsageError("the dictation is empty")
    try:
        return _draft(args, dictation)
    except LLMUnusable as exc:
        kept = preserve(dictation) if args.text in (None, "-") else None
        saved = f" (your dictation was saved to {kept})" if kept else ""
        print(f"notedraft: error: {exc}; no draft written (--no-fallback){saved}", file=sys.stderr)
        return EXIT_LLM_UNUSABLE
    except UsageError as exc:
        if args.text in (None, "-"):
            kept = preserve(dictation)
            if kept:
                raise UsageError(f"{exc} (your dictation was saved to {kept})") from None
        raise


def _draft(args: argparse.Namespace, dictation: str) -> int:
    import json

    lines = parse_codes(args.code)
    from .drafting import draft, llm_client_for

    llm = None
    if args.strategy != "template":
        llm = llm_client_for(model=args.model, base_url=args.base_url, timeout=args.timeout)
        if llm is None:
            raise UsageError(
                f"--strategy {args.strategy} needs an LLM endpoint: set OPENAI_API_KEY or OPENAI_BASE_URL "
                "(or --base-url), or use --strategy template"
            )
    result = draft(dictation, [str(line) for line in lines], strategy=args.strategy, llm=llm, payer=args.payer,
                   fallback=not args.no_fallback)
    problems = []
    if args.out:
        problems.append(_write(args.out, result.note))
    if args.save:
        from .web.savefile import saved_json

        problems.append(_write(args.save, json.dumps(saved_json(result), indent=2, ensure_ascii=False)))
    # The draft always reaches standard output, so a file that cannot be written loses nothing.
    if args.format == "json":
        print(json.dumps(result.as_json(), indent=2))
    else:
        print(render_draft(result))
    problems = [p for p in problems if p]
    if problems:
        sys.stdout.flush()
        for problem in problems:
            print(f"notedraft: error: {problem}; the draft is on standard output", file=sys.stderr)
        return 2
    return 0 if result.supported else 1


def _names_a_file(text: str) -> bool:
    try:
        return len(text) < 4096 and Path(text).is_file()
    except (OSError, ValueError):
        return False


def _write(path: str, content: str) -> str | None:
    """Write `content` to `path` (a new file is created 0600: drafts hold patient data); the problem, or None."""
    target = Path(path)
    try:
        if target.is_dir():
            return f"{path}: is a folder, not a file"
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(content + ("" if content.endswith("\n") else "\n"))
    except OSError as exc:
        return f"{path}: cannot write ({exc.strerror or exc})"
    return None


def render_draft(result) -> str:
    if result.refused and not result.note.strip() and result.report.findings:  # not a dictation: one line
        return f"REFUSED: {result.report.findings[0].message}"
    out = [result.note.rstrip(), "", "-" * 72]
    codes = " ".join(result.codes) or "(none)"
    if result.refused:
        out.append(f"REFUSED: the dictation does not support {codes}" if result.codes else
                   "REFUSED: the dictation supports no code line yet")
    else:
        out.append(f"{'SUPPORTED' if result.supported else 'NOT SUPPORTED'}: {codes}")
    for f in result.report.findings:
        out.append(f"  {f.severity}: {f.rule}: {f.message}")
    if result.queries:
        out.append("Questions for the physician:")
        out += [f"  - {q}" for q in result.queries]
    out.append(f"suggested codes: {' '.join(result.report.suggested_codes) or 'none'}")
    for note in result.notes:
        out.append(f"note: {note}")
    if result.attempts:
        calls = len(result.attempts)
        tokens = sum(a.prompt_tokens or 0 for a in result.attempts)
        out.append(f"LLM: {calls} call(s), {tokens} prompt tokens, model {result.model}")
    return "\n".join(out)


# --- codes, eval, serve --------------------------------------------------------------------------------------------


def cmd_codes(args: argparse.Namespace) -> int:
    import json

    from .rulepack import load_packs

    packs = load_packs()
    if getattr(args, "family", None):
        return _codes_of_family(args, packs)
    if args.code is None:
        if args.format == "json":
            print(json.dumps([{"code": p.code, "title": p.title, "kind": p.kind, "rules": len(p.rules)}
                              for p in packs.values()], indent=2))
        else:
            for p in packs.values():
                print(f"{p.code:<6} {p.kind:<16} {len(p.rules):>2} rules  {p.title}")
        return 0
    code = args.code.strip().upper()
    if code not in packs:
        raise UsageError(f"unknown code {args.code!r}: notedraft has rule packs for {', '.join(sorted(packs))}")
    pack = packs[code]
    if args.format == "json":
        print(json.dumps(pack.model_dump(), indent=2))
        return 0
    print(f"{pack.code}  {pack.title}\n  {pack.descriptor}\n  modifiers: {' '.join('-' + m for m in pack.modifiers) or 'none'}")
    print("\nRequirements:")
    for r in pack.rules:
        print(f"  [{r.severity}] {r.id}: {r.requirement}\n      fix: {r.fix}\n      source: {r.source}")
    if pack.disagreements:
        print("\nWhere sources disagree:")
        for d in pack.disagreements:
            print(f"  {d.topic}:")
            for pos in d.positions:
                print(f"    - {pos.claim} ({pos.source})")
    print("\nSources:")
    for s in pack.sources:
        print(f"  - {s}")
    return 0


def _codes_of_family(args: argparse.Namespace, packs) -> int:
    import json

    from .family import by_name

    fams = by_name()
    wanted = args.family.strip().lower()
    names = [n for n in fams if n == wanted] or [n for n in fams if n.startswith(wanted)]
    if not names:
        raise UsageError(f"unknown family {args.family!r}: families are {', '.join(sorted(fams))}")
    procedures = {fams[n].procedure: n for n in names}
    chosen = [p for p in packs.values() if p.family in names or set(p.procedures) & set(procedures)]
    if args.format == "json":
        print(json.dumps({"families": names, "codes": [p.model_dump() for p in chosen]}, indent=2))
        return 0
    for name in names:
        print(f"{name}: {fams[name].label}")
    for pack in chosen:
        print(f"\n{pack.code}  {pack.title}\n  modifiers: {' '.join('-' + m for m in pack.modifiers) or 'none'}")
        for r in pack.rules:
            print(f"  [{r.severity}] {r.id}: {r.requirement}\n      source: {r.source}")
        for d in pack.disagreements:
            print(f"  sources disagree, {d.topic}: " + "; ".join(f"{pos.claim} ({pos.source})" for pos in d.positions))
    return 0


def _eval_handler(args: argparse.Namespace) -> int:
    from .evals.cli import run

    return run(args)


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        from .web.server import serve
    except ImportError as exc:
        raise UsageError(f"the editor needs the 'serve' extra: pip install 'notedraft[serve]' ({exc.name} missing)") from None
    token = args.token or os.environ.get("NOTEDRAFT_TOKEN")
    return serve(host=args.host, port=args.port, db=args.db, token=token, trusted_proxy=args.trusted_proxy)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        if not line.strip():
            raise UsageError("no password on standard input")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise UsageError("give the password at a terminal, or pipe it with --password-stdin")
    import getpass

    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise UsageError("the two passwords differ; nothing was changed")
    return first


def cmd_users(args: argparse.Namespace) -> int:
    try:
        from .web.accounts import AccountError, add_user, hash_password, password_problem
        from .web.server import database_target
        from .web.store import Store, StoreError
    except ImportError as exc:
        raise UsageError(f"accounts need the 'serve' extra: pip install 'notedraft[serve]' ({exc.name} missing)") from None
    if not args.users_command:
        raise UsageError("say what to do: notedraft users add|list|disable|enable|passwd (see --help)")
    try:
        store = Store(database_target(args.db))
        if args.users_command == "list":
            for u in store.users():
                state = "" if u["active"] else "  (disabled)"
                print(f"{u['username']:<20} {u['role']:<10} {u['display_name']}{state}")
            return 0
        if args.users_command == "add":
            user = add_user(store, username=args.username, display_name=args.name, role=args.role,
                            password=_password(args), npi=args.npi)
            first = store.count_users() == 1
            print(f"added {user['username']} ({user['role']}, {user['display_name']})"
                  + ("; accounts are on: everyone now logs in" if first else ""))
            return 0
        if args.users_command in ("disable", "enable"):
            store.set_active(args.username.lower(), args.users_command == "enable")
            print(f"{args.username}: {args.users_command}d")
            return 0
        password = _password(args)
        if problem := password_problem(password, args.username):
            raise UsageError(problem)
        store.set_password(args.username.lower(), hash_password(password))
        print(f"{args.username}: password changed; their sessions have ended")
        return 0
    except (AccountError, StoreError) as e:
        raise UsageError(str(e)) from None


if __name__ == "__main__":
    sys.exit(main())
