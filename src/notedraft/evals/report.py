"""Reports of an eval run: a terminal table, Markdown and JSON summaries, and one self-contained HTML page.

Every piece of note or dictation text that reaches HTML goes through `html.escape`: a note containing `<script>`
renders as text. The HTML page has no external asset (inline CSS, no JavaScript).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from .runner import Result

NOTE_CHARS = 6000  # per text block in the HTML failure list
RAW_CHARS = 2000


# =================================================================================================================
# Baseline
# =================================================================================================================
def load_baseline(path: str | Path) -> dict:
    p = Path(path)
    if p.is_dir():
        p = p / "summary.json"
    return json.loads(p.read_text(encoding="utf-8"))


def deltas(summary: dict, baseline: dict) -> dict[str, dict[str, dict]]:
    """Per arm and metric present in both runs: baseline, current, delta, and whether it got worse."""
    info = summary.get("metric_info") or {}
    out: dict[str, dict[str, dict]] = {}
    for arm, values in (summary.get("metrics") or {}).items():
        base = (baseline.get("metrics") or {}).get(arm)
        if not base:
            continue
        arm_out = {}
        for name, value in values.items():
            b = base.get(name)
            if value is None or b is None:
                continue
            d = value - b
            better = (info.get(name) or {}).get("better", "higher")
            worse = (d < -1e-9) if better == "higher" else (d > 1e-9)
            arm_out[name] = {"baseline": b, "current": value, "delta": round(d, 6), "worse": worse}
        out[arm] = arm_out
    return out


# =================================================================================================================
# Formatting helpers
# =================================================================================================================
def fmt(value: Any, metric: str | None = None, info: dict | None = None) -> str:
    if value is None:
        return "–"
    kind = ((info or {}).get(metric) or {}).get("kind")
    if metric and metric.endswith("cost_usd"):
        return f"${value:.5f}"
    if kind in ("rate", "ratio"):
        return f"{value:.1%}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) >= 1 else f"{value:.3f}"
    return str(value)


def fmt_delta(d: dict | None, metric: str, info: dict) -> str:
    if not d:
        return ""
    kind = (info.get(metric) or {}).get("kind")
    delta = d["delta"]
    if abs(delta) < 1e-9:
        return " (=)"
    text = f"{delta:+.1%}" if kind in ("rate", "ratio") else f"{delta:+.3g}"
    return f" ({text}{' ▼' if d['worse'] else ' ▲'})"


def _metric_order(summary: dict) -> list[str]:
    names = list((summary.get("metric_info") or {}).keys())
    first = ["samples", "passed"]
    return first + [n for n in names if n not in first]


def _arms(summary: dict, kind: str | None = None) -> list[str]:
    return [a["arm"] for a in summary.get("arms") or [] if kind is None or a["kind"] == kind]


def _rows(summary: dict, arms: list[str]) -> list[str]:
    metrics = summary.get("metrics") or {}
    return [m for m in _metric_order(summary) if any(m in (metrics.get(a) or {}) for a in arms)]


# =================================================================================================================
# Text and Markdown
# =================================================================================================================
def render_text(summary: dict) -> str:
    info = summary.get("metric_info") or {}
    metrics = summary.get("metrics") or {}
    d = (summary.get("baseline") or {}).get("deltas") or {}
    lines = [f"notedraft eval: {summary.get('cases')} cases, {summary.get('samples')} samples "
             f"({', '.join(f'{k} {v}' for k, v in (summary.get('case_counts') or {}).items())})"]
    for kind in ("drafting", "validator"):
        arms = _arms(summary, kind)
        if not arms:
            continue
        rows = _rows(summary, arms)
        cells = [[m] + [fmt((metrics.get(a) or {}).get(m), m, info) + fmt_delta((d.get(a) or {}).get(m), m, info)
                        for a in arms] for m in rows]
        header = ["metric"] + arms
        widths = [max(len(str(r[i])) for r in [header] + cells) for i in range(len(header))]
        lines.append("")
        lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths)))
        lines.append("  ".join("-" * w for w in widths))
        for r in cells:
            lines.append("  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                                   for i, (c, w) in enumerate(zip(r, widths))))
    gate = summary.get("gate")
    if gate:
        lines.append("")
        note = "" if gate.get("enforced", True) else " [informational: --check enforces it]"
        if gate["passed"]:
            lines.append(f"gate: passed ({len(gate['checked'])} thresholds checked){note}")
        else:
            lines.append(f"gate: FAILED ({len(gate['violations'])} of {len(gate['checked'])} thresholds){note}")
            for v in gate["violations"]:
                lines.append(f"  {v['arm']}: {v['metric']} = {fmt(v['value'], v['metric'], info)}, "
                             f"needs {v['bound']}" + (f" ({v['why']})" if v.get("why") else ""))
    n_fail = len(summary.get("failures") or [])
    if n_fail:
        lines.append(f"{n_fail} samples with failures; see the HTML report for evidence")
    out = summary.get("run", {}).get("out")
    if out:
        lines.append(f"reports: {out}/report.html, {out}/summary.md, {out}/summary.json; log: {out}/samples.jsonl")
    return "\n".join(lines)


def _req_cell(r: dict | None) -> str:
    if not r:
        return "–"
    rate = "–" if r["rate"] is None else f"{r['rate']:.0%}"
    return f"{rate} ({r['captured']}/{r['required']})"


def _tag_cell(v: dict | None) -> str:
    return f"{v['passed']}/{v['cases']}" if v else ""


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(summary: dict) -> str:
    info = summary.get("metric_info") or {}
    metrics = summary.get("metrics") or {}
    d = (summary.get("baseline") or {}).get("deltas") or {}
    run = summary.get("run") or {}
    out = ["# notedraft eval", ""]
    out.append(f"- run `{run.get('id', '?')}`" + (f" at git `{run['git']}`" if run.get("git") else "")
               + (f", {run['seconds']} s" if run.get("seconds") is not None else "")
               + (f", concurrency {run['concurrency']}" if run.get("concurrency") else ""))
    out.append(f"- {summary.get('cases')} cases: " + ", ".join(f"{k} {v}" for k, v in
                                                                 (summary.get("case_counts") or {}).items()))
    if summary.get("baseline"):
        out.append(f"- baseline: `{summary['baseline'].get('dir')}` (run `{summary['baseline'].get('run_id')}`)")
    for kind, title in (("drafting", "Drafting (per strategy × model)"), ("validator", "Validator")):
        arms = _arms(summary, kind)
        if not arms:
            continue
        out += ["", f"## {title}", "", "| metric | " + " | ".join(arms) + " |",
                "|---|" + "---:|" * len(arms)]
        for m in _rows(summary, arms):
            cells = [fmt((metrics.get(a) or {}).get(m), m, info) + fmt_delta((d.get(a) or {}).get(m), m, info)
                     for a in arms]
            out.append(f"| {m} | " + " | ".join(cells) + " |")
    reqs = summary.get("requirements") or {}
    d_arms = [a for a in _arms(summary, "drafting") if reqs.get(a)]
    if d_arms:
        elements = sorted({e for a in d_arms for e in reqs[a]})
        out += ["", "## Required elements captured in final notes (cases expected supported)", "",
                "| element | " + " | ".join(d_arms) + " |", "|---|" + "---:|" * len(d_arms)]
        for e in elements:
            cells = [_req_cell(reqs[a].get(e)) for a in d_arms]
            out.append(f"| {e} | " + " | ".join(cells) + " |")
    findings = summary.get("findings") or {}
    if any(findings.values()):
        out += ["", "## Error findings by rule", ""]
        for arm, counts in findings.items():
            if counts:
                out.append(f"- **{arm}**: " + ", ".join(f"`{r}` {n}" for r, n in counts.items()))
    gate = summary.get("gate")
    if gate:
        out += ["", "## Gate", "", "passed" if gate["passed"] else "**FAILED**", ""]
        for v in gate["violations"]:
            out.append(f"- {v['arm']}: `{v['metric']}` = {fmt(v['value'], v['metric'], info)}, needs {v['bound']}")
    fails = summary.get("failures") or []
    if fails:
        out += ["", f"## Failures ({len(fails)})", ""]
        for f in fails:
            out.append(f"- **{_md_escape(f['arm'])}** `{_md_escape(f['case_id'])}`: "
                       + "; ".join(_md_escape(r) for r in f["reasons"]))
    return "\n".join(out) + "\n"


# =================================================================================================================
# HTML
# =================================================================================================================
CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1b1f24;max-width:1400px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #d0d7de;padding:3px 8px;vertical-align:top}
th{background:#f6f8fa;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.worse{color:#b42318}.better{color:#067647}.muted{color:#57606a}.bad{background:#fff1f0}.ok{background:#f0fff4}
details{border:1px solid #d0d7de;border-radius:6px;margin:6px 0;padding:4px 10px}summary{cursor:pointer}
pre{white-space:pre-wrap;word-break:break-word;background:#f6f8fa;padding:8px;border-radius:4px;max-height:420px;
overflow:auto}code{background:#f6f8fa;padding:0 3px}.tag{display:inline-block;background:#eef;border-radius:3px;
padding:0 4px;margin:0 2px;font-size:12px}
"""


def e(text: Any) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def _metric_table(summary: dict, arms: list[str]) -> str:
    info = summary.get("metric_info") or {}
    metrics = summary.get("metrics") or {}
    d = (summary.get("baseline") or {}).get("deltas") or {}
    rows = ["<table><tr><th>metric</th>" + "".join(f"<th>{e(a)}</th>" for a in arms) + "</tr>"]
    for m in _rows(summary, arms):
        desc = (info.get(m) or {}).get("description", "")
        gate_mark = "" if (info.get(m) or {}).get("deterministic", True) else " <span class='muted'>(noisy)</span>"
        cells = []
        for a in arms:
            value = (metrics.get(a) or {}).get(m)
            delta = (d.get(a) or {}).get(m)
            cls = " worse" if delta and delta["worse"] else (" better" if delta and delta["delta"] else "")
            cells.append(f"<td class='num{cls}'>{e(fmt(value, m, info))}{e(fmt_delta(delta, m, info))}</td>")
        rows.append(f"<tr><td title='{e(desc)}'><code>{e(m)}</code>{gate_mark}<br><span class='muted'>{e(desc)}"
                    f"</span></td>" + "".join(cells) + "</tr>")
    rows.append("</table>")
    return "\n".join(rows)


def _spans(evidence: list[dict]) -> str:
    if not evidence:
        return ""
    return " ".join(f"<code>{e(s.get('text'))}</code> <span class='muted'>[{s.get('start')}:{s.get('end')}]</span>"
                    for s in evidence)


def _findings_table(findings: list[dict]) -> str:
    if not findings:
        return "<p class='muted'>no findings</p>"
    rows = ["<table><tr><th>severity</th><th>rule</th><th>code</th><th>message</th><th>fix</th><th>evidence</th></tr>"]
    for f in findings:
        rows.append(f"<tr class='{'bad' if f.get('severity') == 'error' else ''}'><td>{e(f.get('severity'))}</td>"
                    f"<td><code>{e(f.get('rule'))}</code></td><td>{e(f.get('code'))}</td><td>{e(f.get('message'))}</td>"
                    f"<td>{e(f.get('fix'))}</td><td>{_spans(f.get('evidence') or [])}</td></tr>")
    rows.append("</table>")
    return "\n".join(rows)


def _clip(text: str | None, n: int) -> str:
    text = text or ""
    return text if len(text) <= n else text[:n] + f"\n… ({len(text) - n} more characters)"


def _failure_block(r: Result) -> str:
    parts = [f"<details><summary><b>{e(r.arm)}</b> · <code>{e(r.case_id)}</code> · "
             f"{e(r.failures[0] if r.failures else '')}</summary>"]
    tags = r.case.get("tags") or []
    parts.append("<p>" + "".join(f"<span class='tag'>{e(t)}</span>" for t in tags) + "</p>")
    parts.append("<ul>" + "".join(f"<li>{e(x)}</li>" for x in r.failures) + "</ul>")
    if r.kind == "drafting":
        exp = r.case.get("expected") or {}
        parts.append(f"<p><b>dictation</b> (codes asked: {e(r.case.get('codes'))})</p>"
                     f"<pre>{e(r.case.get('dictation'))}</pre>")
        parts.append(f"<p><b>expected</b>: {e(exp.get('outcome'))} {e(exp.get('codes') or exp.get('suggested_codes'))}"
                     + (f"; queries about {e(', '.join(exp.get('query_topics') or []))}" if exp.get("query_topics")
                        else "") + "</p>")
        if r.error:
            parts.append(f"<p class='bad'><b>error</b>: {e(r.error)}</p>")
        dr = r.draft or {}
        if dr:
            rep = dr.get("report") or {}
            parts.append(f"<p><b>draft</b>: supported={e(rep.get('supported'))} refused={e(dr.get('refused'))} "
                         f"codes={e(dr.get('codes'))} suggested={e(rep.get('suggested_codes'))}</p>")
            parts.append(f"<pre>{e(_clip(dr.get('note'), NOTE_CHARS))}</pre>")
            if dr.get("queries"):
                parts.append("<p><b>queries</b></p><ul>" + "".join(f"<li>{e(q)}</li>" for q in dr["queries"]) + "</ul>")
            if dr.get("notes"):
                parts.append("<p><b>drafter notes</b></p><ul>" + "".join(f"<li>{e(q)}</li>" for q in dr["notes"])
                             + "</ul>")
            parts.append("<p><b>findings</b></p>" + _findings_table(rep.get("findings") or []))
            atts = dr.get("attempts") or []
            if atts:
                parts.append("<p><b>LLM attempts</b></p><table><tr><th>#</th><th>purpose</th><th>model</th>"
                             "<th>outcome</th><th>tokens</th><th>ms</th><th>cached</th><th>raw reply</th></tr>")
                for i, a in enumerate(atts):
                    parts.append(
                        f"<tr><td>{i}</td><td>{e(a.get('purpose'))}</td><td>{e(a.get('model'))}</td>"
                        f"<td>{e(a.get('outcome'))} {e(a.get('error') or '')}</td>"
                        f"<td class='num'>{e(a.get('prompt_tokens'))}/{e(a.get('completion_tokens'))}</td>"
                        f"<td class='num'>{e(round(a.get('latency_ms') or 0))}</td><td>{e(a.get('cached'))}</td>"
                        f"<td><pre>{e(_clip(a.get('raw'), RAW_CHARS))}</pre></td></tr>")
                parts.append("</table>")
    else:
        exp = r.case.get("expected") or {}
        parts.append(f"<p><b>codes</b> {e(r.case.get('codes'))}; <b>expected</b> supported={e(exp.get('supported'))}"
                     f" suggested={e(exp.get('suggested_codes'))} guidance={e(exp.get('guidance'))} "
                     f"side={e(exp.get('side'))}</p>")
        parts.append(f"<pre>{e(_clip(r.case.get('note'), NOTE_CHARS))}</pre>")
        if r.error:
            parts.append(f"<p class='bad'><b>error</b>: {e(r.error)}</p>")
        rep = r.report or {}
        if rep:
            facts = rep.get("facts") or {}
            parts.append(f"<p><b>verdict</b>: supported={e(rep.get('supported'))} suggested="
                         f"{e(rep.get('suggested_codes'))} guidance={e(facts.get('guidance'))} "
                         f"side={e(facts.get('side'))}</p>")
            parts.append(_findings_table(rep.get("findings") or []))
    parts.append("</details>")
    return "\n".join(parts)


def render_html(summary: dict, results: list[Result]) -> str:
    run = summary.get("run") or {}
    info = summary.get("metric_info") or {}
    body = [f"<h1>notedraft eval</h1><p class='muted'>run <code>{e(run.get('id'))}</code>"
            + (f" · git <code>{e(run.get('git'))}</code>" if run.get("git") else "")
            + (f" · {e(run.get('started'))}" if run.get("started") else "")
            + (f" · {e(run.get('seconds'))} s" if run.get("seconds") is not None else "")
            + f" · {e(summary.get('cases'))} cases ("
            + e(", ".join(f"{k} {v}" for k, v in (summary.get("case_counts") or {}).items())) + ")</p>"]
    base = summary.get("baseline")
    if base:
        body.append(f"<p>Deltas against baseline <code>{e(base.get('dir'))}</code> (run "
                    f"<code>{e(base.get('run_id'))}</code>): ▲ better, ▼ worse.</p>")
    gate = summary.get("gate")
    if gate:
        if gate["passed"]:
            body.append(f"<p class='ok'>Gate passed: {len(gate['checked'])} thresholds checked.</p>")
        else:
            body.append("<div class='bad'><p><b>Gate failed</b></p><ul>" + "".join(
                f"<li>{e(v['arm'])}: <code>{e(v['metric'])}</code> = {e(fmt(v['value'], v['metric'], info))}, "
                f"needs {e(v['bound'])} {e(v.get('why') or '')}</li>" for v in gate["violations"]) + "</ul></div>")
    for kind, title in (("drafting", "Drafting: metrics per strategy × model"), ("validator", "Validator")):
        arms = _arms(summary, kind)
        if arms:
            body.append(f"<h2>{e(title)}</h2>" + _metric_table(summary, arms))
    reqs = summary.get("requirements") or {}
    d_arms = [a for a in _arms(summary, "drafting") if reqs.get(a)]
    if d_arms:
        elements = sorted({x for a in d_arms for x in reqs[a]})
        rows = ["<h2>Per requirement: elements captured in final notes</h2><p class='muted'>cases expected "
                "supported; an element counts when the validator reads it back from the final note</p><table><tr>"
                "<th>element</th>" + "".join(f"<th>{e(a)}</th>" for a in d_arms) + "</tr>"]
        for x in elements:
            cells = [f"<td class='num'>{e(_req_cell(reqs[a].get(x)))}</td>" for a in d_arms]
            rows.append(f"<tr><td>{e(x)}</td>{''.join(cells)}</tr>")
        rows.append("</table>")
        body.append("\n".join(rows))
    findings = summary.get("findings") or {}
    f_arms = [a for a in _arms(summary) if findings.get(a)]
    if f_arms:
        rules = sorted({r for a in f_arms for r in findings[a]})
        rows = ["<h2>Per rule: error findings</h2><table><tr><th>rule</th>"
                + "".join(f"<th>{e(a)}</th>" for a in f_arms) + "</tr>"]
        for rule in rules:
            rows.append(f"<tr><td><code>{e(rule)}</code></td>"
                        + "".join(f"<td class='num'>{e(findings[a].get(rule, ''))}</td>" for a in f_arms) + "</tr>")
        rows.append("</table>")
        body.append("\n".join(rows))
    tags = summary.get("by_tag") or {}
    t_arms = [a for a in _arms(summary) if tags.get(a)]
    if t_arms:
        names = sorted({t for a in t_arms for t in tags[a]})
        rows = ["<h2>Per tag: samples passed</h2><table><tr><th>tag</th>"
                + "".join(f"<th>{e(a)}</th>" for a in t_arms) + "</tr>"]
        for t in names:
            cells = [f"<td class='num'>{e(_tag_cell(tags[a].get(t)))}</td>" for a in t_arms]
            rows.append(f"<tr><td>{e(t)}</td>{''.join(cells)}</tr>")
        rows.append("</table>")
        body.append("\n".join(rows))
    failing = [r for r in results if r.failures]
    body.append(f"<h2>Failures ({len(failing)})</h2>")
    if not failing:
        body.append("<p class='ok'>none</p>")
    for r in failing:
        body.append(_failure_block(r))
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>notedraft eval {e(run.get('id'))}</title><style>{CSS}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")


def write_reports(out_dir: str | Path, summary: dict, results: list[Result]) -> dict[str, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "summary.json", "markdown": out / "summary.md", "html": out / "report.html"}
    paths["json"].write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    paths["markdown"].write_text(render_markdown(summary), encoding="utf-8")
    paths["html"].write_text(render_html(summary, results), encoding="utf-8")
    return paths
