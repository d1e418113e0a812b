"""What a coder reads: results.csv, report.html and the terminal summary, all made from results.jsonl in one
streaming pass (so a resumed run's reports cover every row, old and new).

The HTML is one self-contained file: its CSS and script are inline, a Content-Security-Policy lets only that one
script (by its hash) run and forbids every fetch, and everything from the input reaches the page as JSON data
(with '<' escaped) that the script puts in the page as text, never as markup. Each note's findings come with its
text for highlighting, up to DETAIL_BUDGET bytes in all; the report says how many notes are past that cap.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import heapq
import html
import json
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TextIO

from .run import private

# The notes' text and findings embedded in report.html, in bytes: past it a note's row stays in the table (and
# filters, sorts, counts) but its text and findings are in results.jsonl only. ~25 MB keeps the page loadable.
DETAIL_BUDGET = 25 * 1024 * 1024
TOP = 10
CSV_COLUMNS = ["note", "verdict", "claimed", "codes", "suggested_codes", "errors", "warnings", "failing_rules",
               "findings", "questions", "error", "physician", "payer", "place_of_service", "date_of_service"]
NO_PHYSICIAN = "(not given)"
VERDICTS = ("supported", "not supported", "error")


@dataclass
class Tally:
    """The counts the summary, the charts and the exit code are made of; kept small whatever the notes' number.

    Failing rules, the gaps by physician and the notes to fix are counted apart for billed notes and for notes
    without a claim: with claims in the input the report is about the claims (a note nobody billed is not a denied
    claim); with none, about what the notes support."""

    notes: int = 0
    claimed: int = 0
    verdicts: Counter = field(default_factory=Counter)  # (claimed, verdict) → notes
    physicians: dict = field(default_factory=dict)  # physician → Counter of verdicts
    by_claim: dict = field(default_factory=lambda: {True: _Gaps(), False: _Gaps()})
    detailed: int = 0
    not_detailed: int = 0

    def add(self, row: dict, index: int) -> None:
        self.notes += 1
        self.claimed += row["claimed"]
        verdict = verdict_of(row)
        self.verdicts[(row["claimed"], verdict)] += 1
        physician = row.get("physician") or NO_PHYSICIAN
        self.physicians.setdefault(physician, Counter())[verdict] += 1
        self.by_claim[row["claimed"]].add(row, index, verdict, physician)

    @property
    def gaps(self) -> _Gaps:
        return self.by_claim[bool(self.claimed)]

    @property
    def rules(self) -> Counter:
        return self.gaps.rules

    def count(self, verdict: str, claimed: bool | None = None) -> int:
        return sum(n for (c, v), n in self.verdicts.items() if v == verdict and (claimed is None or c == claimed))

    def notes_to_fix(self) -> list[tuple]:
        """Not supported notes with the most failing rules first (then input order), then error rows."""
        return sorted(self.gaps.worst, key=lambda item: (-(item[5] is None), -item[0], -item[1]))

    def exit_code(self) -> int:
        """0: every claim supported; 1: a claim not supported, or a note that could not be audited."""
        return 1 if self.count("error") or self.count("not supported", claimed=True) else 0


@dataclass
class _Gaps:
    rules: Counter = field(default_factory=Counter)  # error rule → notes failing it
    physician_rules: Counter = field(default_factory=Counter)  # (physician, rule) → notes
    worst: list = field(default_factory=list)  # heap of the TOP notes with the most failing rules

    def add(self, row: dict, index: int, verdict: str, physician: str) -> None:
        errors = sorted({f["rule"] for f in row["findings"] if f["severity"] == "error"})
        self.rules.update(errors)
        self.physician_rules.update((physician, rule) for rule in errors)
        if verdict != "supported":
            item = (len(errors), -index, row["note"], " ".join(row["codes"]), errors, row["error"],
                    " ".join(row["suggested_codes"]))
            if len(self.worst) < TOP:
                heapq.heappush(self.worst, item)
            else:
                heapq.heappushpop(self.worst, item)


def verdict_of(row: dict) -> str:
    return "error" if row["error"] is not None else "supported" if row["supported"] else "not supported"


def read_rows(results: Path):
    with open(results, encoding="utf-8") as fh:
        for line in fh:
            yield json.loads(line)


# --- the one pass ----------------------------------------------------------------------------------------------------


def write_reports(results: Path, out_dir: Path | None, title: str) -> Tally:
    """Tally results.jsonl; with out_dir, also write results.csv and report.html beside it."""
    tally = Tally()
    if out_dir is None:
        for index, row in enumerate(read_rows(results)):
            tally.add(row, index)
        return tally
    with tempfile.TemporaryDirectory(prefix="notedraft-audit-", dir=out_dir) as tmp:
        rows_part, details_part = Path(tmp) / "rows", Path(tmp) / "details"
        with (open(out_dir / "results.csv", "w", encoding="utf-8", newline="", opener=private) as csv_fh,
              open(rows_part, "w", encoding="utf-8") as rows_fh,
              open(details_part, "w", encoding="utf-8") as details_fh):
            writer = csv.writer(csv_fh)
            writer.writerow(CSV_COLUMNS)
            budget = DETAIL_BUDGET
            for index, row in enumerate(read_rows(results)):
                tally.add(row, index)
                writer.writerow([_cell(v) for v in csv_row(row)])
                detail = None
                if row["findings"] or row["questions"] or row["error"]:
                    line = _script_json(detail_of(row))
                    if len(line) <= budget:
                        budget -= len(line) + 1
                        details_fh.write(line + "\n")
                        detail = tally.detailed
                        tally.detailed += 1
                    else:
                        tally.not_detailed += 1
                rows_fh.write(("," if index else "") + _script_json(table_row(row, detail)))
        _assemble(out_dir / "report.html", tally, title, rows_part, details_part)
    return tally


def csv_row(row: dict) -> list:
    findings = "; ".join(
        f"{f['severity']} {f['rule']}" + "".join(f" @{s['start']}-{s['end']} {json.dumps(s['text'], ensure_ascii=False)}"
                                                 for s in f["spans"])
        for f in row["findings"])
    errors = sorted({f["rule"] for f in row["findings"] if f["severity"] == "error"})
    return [row["note"], verdict_of(row), "yes" if row["claimed"] else "no", " ".join(row["codes"]),
            " ".join(row["suggested_codes"]), sum(f["severity"] == "error" for f in row["findings"]),
            sum(f["severity"] == "warning" for f in row["findings"]), " ".join(errors), findings,
            " | ".join(row["questions"]), row["error"] or "", row["physician"] or "", row["payer"] or "",
            row["place_of_service"] or "", row["date_of_service"] or ""]


def _cell(value):
    # A cell a spreadsheet would run as a formula (=, +, -, @, tab, CR first) is prefixed with ' (OWASP's advice):
    # note ids and physician names come from the input.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def table_row(row: dict, detail: int | None) -> list:
    """One note in the HTML table: [note, verdict, claimed, codes, suggested, errors, warnings, physician, date,
    failing rules, detail line (or -1), error reason, payer]."""
    errors = sorted({f["rule"] for f in row["findings"] if f["severity"] == "error"})
    return [row["note"], VERDICTS.index(verdict_of(row)), int(row["claimed"]), " ".join(row["codes"]),
            " ".join(row["suggested_codes"]), sum(f["severity"] == "error" for f in row["findings"]),
            sum(f["severity"] == "warning" for f in row["findings"]), row["physician"] or "",
            row["date_of_service"] or "", " ".join(errors), -1 if detail is None else detail, row["error"] or "",
            row["payer"] or ""]


def detail_of(row: dict) -> dict:
    """A note's text and findings for the page. Spans are offsets into the text as validate() read it (code
    points); the page's strings count UTF-16 units, so offsets past an astral character (an emoji) are moved."""
    text = row.get("text")
    to_utf16 = _utf16_offsets(text) if text else (lambda i: i)
    length = len(text) if text else 0
    findings = []
    for f in row["findings"]:
        spans = [[to_utf16(s["start"]), to_utf16(s["end"])] for s in f["spans"]
                 if text and 0 <= s["start"] <= s["end"] <= length]
        findings.append([f["severity"], f["rule"], f["message"], f["fix"], f.get("code") or "", spans])
    return {"text": text, "findings": findings, "questions": row["questions"]}


def _utf16_offsets(text: str):
    if max(text) <= "\uffff":
        return lambda i: i
    astral = [i for i, ch in enumerate(text) if ch > "\uffff"]
    from bisect import bisect_left

    return lambda i: i + bisect_left(astral, i)


def _script_json(value) -> str:
    # Inside <script type="application/json"> only '</script' could end the block early; with every '<' written
    # as \u003c (valid JSON, the same string once parsed) no input text can.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


# --- report.html -----------------------------------------------------------------------------------------------------


def _asset(name: str) -> str:
    return resources.files("notedraft.audit").joinpath("assets", name).read_text(encoding="utf-8")


def _assemble(path: Path, tally: Tally, title: str, rows_part: Path, details_part: Path) -> None:
    script = _asset("report.js")
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    csp = (f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; img-src data:; "
           "base-uri 'none'; form-action 'none'")
    e = html.escape
    every_rule = tally.by_claim[True].rules + tally.by_claim[False].rules
    summary = {"rules": every_rule.most_common(), "physicians": sorted(tally.physicians), "nophysician": NO_PHYSICIAN}
    with open(path, "w", encoding="utf-8", opener=private) as out:
        out.write(f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)}</title>
<style>{_asset("report.css")}</style>
</head><body>
<header><h1>{e(title)}</h1><p class="sub">{e(_subtitle(tally))}</p></header>
<main>
""")
        out.write(_cards(tally))
        out.write('<div class="panels">')
        out.write(_rule_chart(tally))
        out.write(_physician_table(tally))
        out.write("</div>")
        out.write(_gap_matrix(tally))
        if tally.not_detailed:
            out.write(f'<p class="cap" id="cap">The text and findings of {tally.not_detailed:,} note(s) are not '
                      f'embedded (the report keeps {DETAIL_BUDGET // (1024 * 1024)} MB of them, the first '
                      f"{tally.detailed:,} in input order): their rows, counts and filters are complete here; "
                      "their findings are in results.jsonl and results.csv.</p>")
        out.write(NOTES_SECTION)
        out.write(f'<script type="application/json" id="summary">{_script_json(summary)}</script>\n')
        out.write('<script type="application/json" id="rows">[')
        _copy(rows_part, out)
        out.write(']</script>\n<script type="application/json" id="details">')
        _copy(details_part, out)
        out.write(f"</script>\n<script>{script}</script>\n</main></body></html>\n")


def _copy(part: Path, out: TextIO) -> None:
    with open(part, encoding="utf-8") as fh:
        shutil.copyfileobj(fh, out, 1 << 20)


def _subtitle(tally: Tally) -> str:
    unclaimed = tally.notes - tally.claimed
    parts = [f"{tally.notes:,} notes", f"{tally.claimed:,} with a claim"]
    if unclaimed:
        parts.append(f"{unclaimed:,} without one (checked against the code lines each supports)")
    return " · ".join(parts) + " · every verdict is notedraft validate's on the same text and code lines"


def _cards(tally: Tally) -> str:
    cards = [("Notes", tally.notes, "")]
    if tally.claimed:
        cards += [("Claims supported", tally.count("supported", True), "ok"),
                  ("Claims not supported", tally.count("not supported", True), "bad")]
    if tally.notes - tally.claimed:
        cards += [("Unbilled notes supporting a code", tally.count("supported", False), "ok"),
                  ("Unbilled notes supporting none", tally.count("not supported", False), "warn")]
    cards.append(("Could not be audited", tally.count("error"), "err"))
    body = "".join(f'<div class="card {cls}"><div class="n">{n:,}</div><div class="l">{html.escape(label)}</div></div>'
                   for label, n, cls in cards)
    return f'<section class="cards" aria-label="totals">{body}</section>\n'


def _rule_chart(tally: Tally) -> str:
    top = tally.rules.most_common(15)
    if not top:
        return '<section class="panel"><h2>Failing rules</h2><p class="empty">No rule failed.</p></section>'
    peak = top[0][1]
    bars = "".join(
        f'<li><button class="bar-row" data-rule="{html.escape(rule)}" title="Show the notes failing {html.escape(rule)}">'
        f'<span class="bar-label">{html.escape(rule)}</span><span class="bar-track"><span class="bar" '
        f'style="width:{100 * n / peak:.1f}%"></span></span><span class="bar-n">{n:,}</span></button></li>'
        for rule, n in top)
    more = f'<p class="note">and {len(tally.rules) - 15} more rule(s)</p>' if len(tally.rules) > 15 else ""
    whose = "billed notes" if tally.claimed else "notes"
    return (f'<section class="panel" id="rules-panel"><h2>Failing rules <small>{whose} failing each (errors); '
            f'click to filter</small></h2><ol class="bars" id="rule-chart">{bars}</ol>{more}</section>')


def _physician_table(tally: Tally) -> str:
    ranked = sorted(tally.physicians.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))[:20]
    rows = []
    for name, verdicts in ranked:
        total = sum(verdicts.values())
        segs = "".join(f'<span class="seg {cls}" style="width:{100 * verdicts[v] / total:.1f}%" '
                       f'title="{verdicts[v]} {v}"></span>'
                       for v, cls in zip(VERDICTS, ("ok", "bad", "err")) if verdicts[v])
        rows.append(f'<tr><td><button class="link" data-physician="{html.escape(name)}">{html.escape(name)}</button>'
                    f'</td><td class="num">{total:,}</td><td class="num">{verdicts["supported"]:,}</td>'
                    f'<td class="num">{verdicts["not supported"]:,}</td><td class="num">{verdicts["error"]:,}</td>'
                    f'<td class="stack">{segs}</td></tr>')
    more = (f'<p class="note">{len(tally.physicians) - 20} more physician(s) in the table\'s filter</p>'
            if len(tally.physicians) > 20 else "")
    return ('<section class="panel" id="physicians-panel"><h2>By physician <small>click to filter</small></h2>'
            '<table class="mini"><thead><tr><th>Physician</th><th>Notes</th><th>Supported</th><th>Not supported</th>'
            f'<th>Errors</th><th></th></tr></thead><tbody>{"".join(rows)}</tbody></table>{more}</section>')


def _gap_matrix(tally: Tally) -> str:
    """Which documentation gaps recur, by physician and by rule: notes failing each of the top rules."""
    rules = [rule for rule, _ in tally.rules.most_common(8)]
    if not rules or len(tally.physicians) < 1:
        return ""
    people = sorted(tally.physicians, key=lambda p: (-sum(tally.physicians[p].values()), p))[:15]
    peak = max((tally.gaps.physician_rules[(p, r)] for p in people for r in rules), default=0) or 1
    head = "".join(f'<th class="rot"><span>{html.escape(r)}</span></th>' for r in rules)
    body = []
    for p in people:
        cells = []
        for r in rules:
            n = tally.gaps.physician_rules[(p, r)]
            cells.append(f'<td class="heat" style="--a:{n / peak:.2f}" title="{html.escape(p)}: {n} note(s) failing '
                         f'{html.escape(r)}">{n or ""}</td>')
        body.append(f'<tr><th scope="row">{html.escape(p)}</th>{"".join(cells)}</tr>')
    return ('<section class="panel wide" id="gaps-panel"><h2>Recurring gaps <small>notes failing each top rule, by '
            f'physician</small></h2><div class="scroll"><table class="matrix"><thead><tr><th></th>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div></section>\n')


NOTES_SECTION = """
<section class="panel wide" id="notes-panel"><h2>Notes</h2>
<div class="controls">
  <input id="q" type="search" placeholder="Search note, physician, code, rule" aria-label="search">
  <select id="f-verdict" aria-label="verdict"><option value="">All verdicts</option><option value="0">Supported</option>
  <option value="1">Not supported</option><option value="2">Error</option></select>
  <select id="f-physician" aria-label="physician"><option value="">All physicians</option></select>
  <select id="f-rule" aria-label="rule"><option value="">All failing rules</option></select>
  <button id="clear" type="button">Clear</button>
  <span id="count" class="count"></span>
</div>
<div class="split">
<div class="table-wrap">
<table id="notes"><thead><tr>
  <th data-col="0" aria-sort="none">Note</th><th data-col="1" aria-sort="none">Verdict</th>
  <th data-col="3" aria-sort="none">Codes</th><th data-col="4" aria-sort="none">Supports</th>
  <th data-col="5" aria-sort="none" class="num">Errors</th><th data-col="6" aria-sort="none" class="num">Warn.</th>
  <th data-col="7" aria-sort="none">Physician</th><th data-col="8" aria-sort="none">Date</th>
</tr></thead><tbody></tbody></table>
<div class="pager"><button id="prev" type="button">&larr; Previous</button><span id="page"></span>
<button id="next" type="button">Next &rarr;</button></div>
</div>
<aside id="detail" aria-live="polite"><p class="empty">Select a note to see its findings on its text.</p></aside>
</div>
</section>
"""


# --- the terminal ----------------------------------------------------------------------------------------------------


def summary_text(tally: Tally, wrote: list[str]) -> str:
    out = [f"audited {tally.notes:,} note(s): {tally.claimed:,} with a claim, {tally.notes - tally.claimed:,} without"]
    lines = []
    if tally.claimed:
        lines += [("claims supported", tally.count("supported", True)),
                  ("claims not supported", tally.count("not supported", True))]
    if tally.notes - tally.claimed:
        lines += [("no claim, supports a code", tally.count("supported", False)),
                  ("no claim, supports none", tally.count("not supported", False))]
    lines.append(("could not be audited", tally.count("error")))
    out += [f"  {label:<26}{n:>8,}" for label, n in lines]
    if tally.rules:
        out.append(f"top failing rules ({'billed notes' if tally.claimed else 'notes'} failing each):")
        out += [f"  {n:>7,}  {rule}" for rule, n in tally.rules.most_common(TOP)]
    fix = tally.notes_to_fix()
    if fix:
        out.append("top notes to fix:")
        for errors, _, note, codes, rules, error, suggested in fix:
            if error is not None:
                out.append(f"  {note}  error: {error}")
            else:
                more = f" +{len(rules) - 3} more" if len(rules) > 3 else ""
                out.append(f"  {note}  {codes or '(no codes)'}: {errors} failing rule(s): {', '.join(rules[:3])}{more};"
                           f" supports: {suggested or 'none'}")
    if len(tally.physicians) > 1 or NO_PHYSICIAN not in tally.physicians:
        out.append("by physician (notes, not supported, errors):")
        ranked = sorted(tally.physicians.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))[:TOP]
        out += [f"  {name}: {sum(v.values()):,}, {v['not supported']:,}, {v['error']:,}" for name, v in ranked]
    if wrote:
        out.append("wrote " + ", ".join(wrote))
    return "\n".join(out)
