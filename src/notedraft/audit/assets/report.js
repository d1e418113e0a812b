// notedraft audit report: the table, its sorting, filtering and paging, and a note's findings on its text.
// Everything from the input is read from JSON data blocks and put in the page with textContent, never as markup.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const data = (id) => JSON.parse($(id).textContent);
  const summary = data("summary");
  const rows = data("rows"); // [note, verdict, claimed, codes, supports, errors, warnings, physician, date, rules, detail, error, payer]
  const detailLines = $("details").textContent.split("\n");
  const VERDICT = ["Supported", "Not supported", "Error"];
  const VCLASS = ["ok", "bad", "err"];
  const PAGE = 100;
  const state = { q: "", verdict: "", physician: "", rule: "", sort: null, dir: 1, page: 0, selected: -1 };
  let view = [];
  const fmt = (n) => n.toLocaleString("en-US");

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  for (const p of summary.physicians) {
    const o = el("option", "", p);
    o.value = p;
    $("f-physician").append(o);
  }
  for (const [rule, n] of summary.rules) {
    const o = el("option", "", rule + " (" + fmt(n) + ")");
    o.value = rule;
    $("f-rule").append(o);
  }
  // What the search box looks in: note id, physician, codes, supported codes, failing rules, error reason.
  const hay = rows.map((r) => [r[0], r[7], r[3], r[4], r[9], r[11]].join("\u0001").toLowerCase());

  function matches(i) {
    const r = rows[i];
    if (state.verdict !== "" && r[1] !== Number(state.verdict)) return false;
    if (state.physician !== "") {
      const want = state.physician === summary.nophysician ? "" : state.physician;
      if (r[7] !== want) return false;
    }
    if (state.rule !== "" && !(" " + r[9] + " ").includes(" " + state.rule + " ")) return false;
    return !state.q || hay[i].includes(state.q);
  }

  function compare(a, b) {
    const x = rows[a][state.sort], y = rows[b][state.sort];
    const d = typeof x === "number" ? x - y : x < y ? -1 : x > y ? 1 : 0;
    return d * state.dir || a - b; // ties keep input order: the same page every time
  }

  function refresh() {
    view = [];
    for (let i = 0; i < rows.length; i++) if (matches(i)) view.push(i);
    if (state.sort !== null) view.sort(compare);
    state.page = 0;
    render();
  }

  function render() {
    const pages = Math.max(1, Math.ceil(view.length / PAGE));
    state.page = Math.min(state.page, pages - 1);
    const frag = document.createDocumentFragment();
    for (const i of view.slice(state.page * PAGE, (state.page + 1) * PAGE)) {
      const r = rows[i];
      const tr = el("tr", i === state.selected ? "sel" : "");
      tr.dataset.i = String(i);
      tr.tabIndex = 0;
      const verdict = el("td");
      verdict.append(el("span", "badge " + VCLASS[r[1]], VERDICT[r[1]]));
      if (r[11]) { // why it could not be audited, cut to the cell; the whole reason is in the tooltip and the detail
        const why = el("div", "why", r[11]);
        why.title = r[11];
        verdict.append(why);
      }
      tr.append(el("td", "note", r[0]), verdict, el("td", "code", r[3] || "\u2014"), el("td", "code", r[4] || "none"),
        el("td", "num", r[1] === 2 ? "" : String(r[5])), el("td", "num", r[1] === 2 ? "" : String(r[6])),
        el("td", "nowrap", r[7]), el("td", "nowrap", r[8]));
      frag.append(tr);
    }
    $("notes").tBodies[0].replaceChildren(frag);
    $("count").textContent = view.length === rows.length ? fmt(rows.length) + " notes"
      : fmt(view.length) + " of " + fmt(rows.length) + " notes";
    $("page").textContent = "Page " + (state.page + 1) + " of " + pages;
    $("prev").disabled = state.page === 0;
    $("next").disabled = state.page >= pages - 1;
    for (const th of $("notes").tHead.rows[0].cells) {
      const on = Number(th.dataset.col) === state.sort;
      th.setAttribute("aria-sort", on ? (state.dir > 0 ? "ascending" : "descending") : "none");
    }
  }

  function showDetail(i) {
    state.selected = i;
    const r = rows[i];
    const box = $("detail");
    box.replaceChildren();
    box.append(el("h3", "", r[0]));
    const meta = el("p", "meta");
    meta.append(el("span", "badge " + VCLASS[r[1]], VERDICT[r[1]]));
    const facts = [(r[2] ? "Billed: " : "No claim; checked: ") + (r[3] || "\u2014"), "Supports: " + (r[4] || "none")];
    if (r[7]) facts.push("Physician: " + r[7]);
    if (r[12]) facts.push("Payer: " + r[12]);
    if (r[8]) facts.push("Date of service: " + r[8]);
    meta.append(" " + facts.join(" \u00b7 "));
    box.append(meta);
    if (r[11]) box.append(el("p", "error", "Could not be audited: " + r[11]));
    if (r[10] < 0) {
      if (r[5] || r[6]) box.append(el("p", "empty", "This note's text and findings are past the report's size cap: see results.jsonl."));
      else if (!r[11]) box.append(el("p", "empty", "No findings."));
      render();
      return;
    }
    const d = JSON.parse(detailLines[r[10]]);
    if (d.questions.length) {
      box.append(el("h4", "", "Questions for the physician"));
      const ul = el("ul", "questions");
      for (const q of d.questions) ul.append(el("li", "", q));
      box.append(ul);
    }
    let pre = null;
    if (d.text !== null) pre = noteText(d.text, d.findings);
    if (d.findings.length) {
      box.append(el("h4", "", "Findings"));
      const ol = el("ol", "findings");
      d.findings.forEach((f, k) => {
        const li = el("li", "f-" + f[0]);
        const head = el("div", "fhead");
        head.append(el("span", "badge " + (f[0] === "error" ? "bad" : "warn"), f[0]), el("code", "rule", f[1]));
        if (f[5].length && pre) {
          const go = el("button", "link", "show evidence");
          go.type = "button";
          go.addEventListener("click", () => flash(pre, k));
          head.append(go);
        }
        li.append(head, el("div", "msg", f[2]), el("div", "fix", "Fix: " + f[3]));
        ol.append(li);
      });
      box.append(ol);
    }
    if (pre) {
      box.append(el("h4", "", "Note text (evidence highlighted)"));
      box.append(pre);
    }
    render();
  }

  // The note's text cut at every evidence boundary; a piece inside one or more findings' spans is a <mark>.
  function noteText(text, findings) {
    const cuts = new Set([0, text.length]);
    const spans = [];
    findings.forEach((f, k) => f[5].forEach(([s, e]) => {
      if (e > s) { spans.push([s, e, k, f[0]]); cuts.add(s); cuts.add(e); }
    }));
    const points = [...cuts].sort((a, b) => a - b);
    const pre = el("pre", "text");
    for (let j = 0; j + 1 < points.length; j++) {
      const a = points[j], b = points[j + 1];
      const piece = text.slice(a, b);
      const cover = spans.filter((s) => s[0] <= a && b <= s[1]);
      if (!cover.length) { pre.append(piece); continue; }
      const m = el("mark", cover.some((s) => s[3] === "error") ? "error" : "warning", piece);
      m.dataset.f = " " + cover.map((s) => s[2]).join(" ") + " ";
      m.title = [...new Set(cover.map((s) => findings[s[2]][1]))].join(", ");
      pre.append(m);
    }
    return pre;
  }

  function flash(pre, k) {
    const marks = [...pre.querySelectorAll("mark")].filter((m) => m.dataset.f.includes(" " + k + " "));
    if (!marks.length) return;
    marks[0].scrollIntoView({ block: "center" });
    for (const m of marks) {
      m.classList.remove("flash");
      void m.offsetWidth;
      m.classList.add("flash");
    }
  }

  let typing = 0;
  $("q").addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => { state.q = $("q").value.trim().toLowerCase(); refresh(); }, 120);
  });
  for (const [id, key] of [["f-verdict", "verdict"], ["f-physician", "physician"], ["f-rule", "rule"]]) {
    $(id).addEventListener("change", () => { state[key] = $(id).value; refresh(); });
  }
  $("clear").addEventListener("click", () => {
    for (const id of ["q", "f-verdict", "f-physician", "f-rule"]) $(id).value = "";
    Object.assign(state, { q: "", verdict: "", physician: "", rule: "" });
    refresh();
  });
  $("prev").addEventListener("click", () => { state.page--; render(); });
  $("next").addEventListener("click", () => { state.page++; render(); });
  for (const th of $("notes").tHead.rows[0].cells) {
    th.tabIndex = 0;
    const sortBy = () => {
      const col = Number(th.dataset.col);
      state.dir = state.sort === col ? -state.dir : 1;
      state.sort = col;
      refresh();
    };
    th.addEventListener("click", sortBy);
    th.addEventListener("keydown", (e) => { if (e.key === "Enter") sortBy(); });
  }
  const tbody = $("notes").tBodies[0];
  tbody.addEventListener("click", (e) => {
    const tr = e.target.closest("tr");
    if (tr) showDetail(Number(tr.dataset.i));
  });
  tbody.addEventListener("keydown", (e) => {
    const tr = e.target.closest("tr");
    if (tr && e.key === "Enter") showDetail(Number(tr.dataset.i));
  });
  const filterTo = (key, id, value) => {
    $(id).value = value;
    state[key] = value;
    refresh();
    $("notes-panel").scrollIntoView({ block: "start" });
  };
  for (const b of document.querySelectorAll("[data-rule]")) b.addEventListener("click", () => filterTo("rule", "f-rule", b.dataset.rule));
  for (const b of document.querySelectorAll("[data-physician]")) b.addEventListener("click", () => filterTo("physician", "f-physician", b.dataset.physician));
  refresh();
})();
