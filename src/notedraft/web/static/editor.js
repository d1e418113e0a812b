"use strict";
// The editor: the dictation beside the note, live checks (debounced) with evidence highlights in both, save with
// conflict handling, questions to the physician, submit, sign, addenda; finalise in the single-person notebook.
// Note and dictation text only ever reach the DOM through textContent / value, never as HTML.
(() => {
  const data = JSON.parse(document.getElementById("draft-data").textContent);
  const $ = (id) => document.getElementById(id);
  const note = $("note");
  const backdrop = $("backdrop");
  const codesInput = $("codes");
  const finalised = Boolean(data.finalised);
  const readOnly = finalised || !(data.can && data.can.edit);
  const physicianName = data.encounter ? data.encounter.physician.display_name : "the physician";

  let base = data.revision;
  let saved = { note: data.note, codes: data.codes.join(", ") };
  let report = data.validation;
  let grounding = data.grounding || [];
  let queries = null;   // the questions the current text raises (null until the first check answers)
  let blocking = null;  // what a signature must give a reason for (same)
  let focus = null;     // {start, end} in code points: the note evidence pointed at
  let dictFocus = [];   // spans of the dictation (code points) read as evidence for the same requirement
  let dictReport = null;  // the validator's reading of the dictation itself
  let inflight = null;
  let seq = 0;

  note.value = data.note;

  // ---- highlights -------------------------------------------------------------------------------------------
  const OK = 1, WARN = 2, ERR = 3, FOCUS = 4;
  const CLASS = { 0: "", 1: "ok", 2: "warn", 3: "err" };

  function spansOf(rep) {
    const spans = [];
    for (const req of rep.satisfied || []) for (const ev of req.evidence || []) spans.push({ ...ev, level: OK });
    for (const f of rep.findings || []) {
      for (const ev of f.evidence || []) spans.push({ ...ev, level: f.severity === "error" ? ERR : WARN });
    }
    for (const f of grounding) for (const ev of f.evidence || []) spans.push({ ...ev, level: WARN });
    return spans;
  }

  // Text with marks: `level` per code point, equal runs become one <mark> (or a text node).
  function marked(cps, level, from, to) {
    const frag = document.createDocumentFragment();
    let i = from;
    while (i < to) {
      let j = i;
      while (j < to && level[j] === level[i]) j++;
      const text = cps.slice(i, j).join("");
      if (level[i]) {
        const cls = [CLASS[level[i] & 3] || "plain", level[i] & FOCUS ? "focus" : ""].join(" ").trim();
        frag.append(ND.el("mark", { class: cls, text }));
      } else {
        frag.append(document.createTextNode(text));
      }
      i = j;
    }
    return frag;
  }

  // Offsets from the server count code points; a span is drawn only if the text there is still what it quoted,
  // so highlights never land on the wrong words while a fresh check is on its way.
  function renderBackdrop() {
    const cps = Array.from(note.value);
    const level = new Uint8Array(cps.length);
    for (const s of spansOf(report)) {
      if (s.start < 0 || s.end > cps.length || s.start >= s.end) continue;
      if (cps.slice(s.start, s.end).join("") !== s.text) continue;
      for (let i = s.start; i < s.end; i++) level[i] = Math.max(level[i] & 3, s.level) | (level[i] & FOCUS);
    }
    if (focus && focus.end <= cps.length) for (let i = focus.start; i < focus.end; i++) level[i] |= FOCUS;
    const frag = marked(cps, level, 0, cps.length);
    frag.append(document.createTextNode(note.value.endsWith("\n") ? " " : "\u200b"));
    backdrop.replaceChildren(frag);
    backdrop.scrollTop = note.scrollTop;
  }
  note.addEventListener("scroll", () => { backdrop.scrollTop = note.scrollTop; });

  // ---- the dictation, always visible ---------------------------------------------------------------------------
  // `dictation_full` is the original dictation, then each answer of the physician (in the order answered),
  // joined by blank lines: the text grounding and the redraft read. It is shown in those parts, each labelled.
  const fullCps = Array.from(data.dictation_full || data.dictation || "");
  // The server says where each part is (code points): the dictation, each heading, each answer with its question.
  function dictationParts() {
    const parts = data.dictation_parts || [{ kind: "original", start: 0, end: fullCps.length }];
    const headings = { history: "History", procedure: "Procedure details" };
    return parts.map((p) => {
      if (p.kind === "original") return { label: "As dictated", cls: "original", start: p.start, end: p.end };
      if (p.kind === "heading") return { label: `${headings[p.section] || p.section}: the physician's answers`, cls: "heading", start: p.start, end: p.end };
      const who = p.answered_by === (data.encounter && data.encounter.physician.username) ? physicianName : (p.answered_by || "the physician");
      return { label: `Physician's answer, ${who}, ${ND.localTime(p.answered_at || "")} — to: “${p.question}”`, cls: "answer", start: p.start, end: p.end };
    });
  }

  function renderDictation() {
    const view = $("dictation-view");
    if (!view) return;
    const level = new Uint8Array(fullCps.length);
    const mark = (s, value) => {
      if (s.start < 0 || s.end > fullCps.length || fullCps.slice(s.start, s.end).join("") !== s.text) return;
      for (let i = s.start; i < s.end; i++) level[i] |= value;
    };
    // Every word the validator read as evidence in the dictation is tinted; the ones behind the item pointed at
    // are outlined too.
    for (const req of (dictReport && dictReport.satisfied) || []) for (const s of req.evidence || []) mark(s, OK);
    for (const s of dictFocus) mark(s, OK | FOCUS);
    view.replaceChildren(...dictationParts().map((p) => ND.el("div", { class: `dictation-part ${p.cls}` },
      ND.el("div", { class: "part-label", text: p.label }),
      ND.el("pre", { class: "dictation-text" }, marked(fullCps, level, p.start, p.end)))));
  }

  // What the validator reads in the dictation itself: for a requirement the note meets, the dictation's own
  // evidence for the same rule is the words the fact came from (the drafter writes only what it read there).
  let dictCodes = null;
  async function readDictation() {
    const codes = ND.codes(codesInput.value);
    if (!fullCps.length || codes.join(",") === dictCodes) return;
    dictCodes = codes.join(",");
    const r = await ND.api("POST", "/api/validate", { note: fullCps.join(""), codes });
    if (r.ok) dictReport = r.data;
  }

  function utf16(cps, index) { return cps.slice(0, index).join("").length; }

  // Point at an item: its evidence is outlined in the note and, for a met requirement, in the dictation.
  // `select` (a click or Enter) also scrolls the note there and selects the words.
  function showEvidence(evidence, rule, select) {
    const cps = Array.from(note.value);
    const ev = (evidence || []).find((e) => cps.slice(e.start, e.end).join("") === e.text);
    const fromDictation = rule && dictReport
      ? (dictReport.satisfied || []).filter((r) => r.rule === rule).flatMap((r) => r.evidence || []) : [];
    dictFocus = fromDictation;
    renderDictation();
    if (!ev) {
      if (select && evidence && evidence.length) ND.toast("That text has changed since the last check.");
      return;
    }
    focus = { start: ev.start, end: ev.end };
    renderBackdrop();
    if (!select) return;
    const mark = backdrop.querySelector("mark.focus");
    if (mark) note.scrollTop = Math.max(0, mark.offsetTop - note.clientHeight / 3);
    backdrop.scrollTop = note.scrollTop;
    note.focus({ preventScroll: true });
    note.setSelectionRange(utf16(cps, ev.start), utf16(cps, ev.end));
    const dmark = document.querySelector("#dictation-view mark.focus");
    if (dmark) dmark.scrollIntoView({ block: "nearest" });
  }

  // ---- the verdict and the side panel --------------------------------------------------------------------------
  function codeMatches(findingCode, line) {
    return findingCode === line || (findingCode && line.split("-")[0] === findingCode);
  }

  function render(pending = false) {
    const findings = report.findings || [];
    const errors = findings.filter((f) => f.severity === "error");
    const warnings = findings.filter((f) => f.severity !== "error");
    const verdict = $("verdict");
    verdict.dataset.state = report.supported ? "ok" : "err";
    verdict.textContent = report.supported ? "Supported" : "Not supported";

    $("code-lines").replaceChildren(...(report.codes || []).map((line) => {
      const mine = findings.filter((f) => codeMatches(f.code, line));
      const state = mine.some((f) => f.severity === "error") ? "err" : mine.length ? "warn" : "ok";
      const label = state === "err" ? "not supported" : state === "warn" ? "supported, with warnings" : "supported";
      return ND.el("span", { class: `code-line ${state}`, title: `${line}: ${label}`, text: line });
    }));
    if (!(report.codes || []).length) $("code-lines").append(ND.el("span", { class: "muted", text: "No code lines: enter them above the note." }));

    const nSat = (report.satisfied || []).length;
    const parts = [`${errors.length} error${errors.length === 1 ? "" : "s"}`,
      `${warnings.length} warning${warnings.length === 1 ? "" : "s"}`, `${nSat} requirement${nSat === 1 ? "" : "s"} documented`];
    $("verdict-summary").textContent = parts.join(" · ") + (pending ? " · checking…" : "");

    const suggested = report.suggested_codes || [];
    const box = $("suggested");
    const same = suggested.join(",") === (report.codes || []).join(",");
    if (!suggested.length) box.replaceChildren(ND.el("span", { class: "muted", text: "The text supports no code line yet." }));
    else if (same) box.replaceChildren(ND.el("span", { class: "muted", text: "Matches what the text supports." }));
    else {
      const use = ND.el("button", { type: "button", text: "Use these", disabled: readOnly });
      use.addEventListener("click", () => { codesInput.value = suggested.join(", "); changed(); });
      box.replaceChildren("The text supports ", ND.el("strong", { text: suggested.join(", ") }), " ", use);
    }

    const count = $("findings-count");
    count.textContent = String(findings.length);
    count.className = errors.length ? "count err" : "count";
    $("no-findings").hidden = findings.length > 0;
    $("findings").replaceChildren(...[...errors, ...warnings].map((f) => findingItem(f)));

    if ($("grounding")) {
      $("grounding-count").textContent = String(grounding.length);
      $("grounding-count").className = grounding.length ? "count warn" : "count";
      $("no-grounding").hidden = grounding.length > 0;
      $("grounding-help").hidden = grounding.length === 0;
      $("grounding").replaceChildren(...grounding.map((f) => findingItem({ ...f, severity: "warning" }, "Not dictated")));
    }

    $("satisfied-count").textContent = String(nSat);
    $("satisfied").replaceChildren(...(report.satisfied || []).map((req) => {
      const li = ND.el("li", { title: req.rule }, ND.el("span", { class: "tag", text: req.code }), " ", req.description);
      attachEvidence(li, req.evidence, req.rule);
      return li;
    }));
    renderQueries();
    renderSign();
    renderFacts();
    renderBackdrop();
  }

  function findingItem(f, label) {
    const sev = label || (f.severity === "error" ? "Error" : "Warning");
    const head = ND.el("div", { class: "head" }, ND.el("span", { class: "sev", text: sev }));
    if (f.code) head.append(ND.el("span", { class: "tag", text: f.code }));
    head.append(ND.el("span", { class: "msg", text: f.message }));
    const li = ND.el("li", { class: `finding ${f.severity}`, title: f.rule }, head);
    if (f.fix) li.append(ND.el("div", { class: "fix", text: f.fix }));
    if (f.source) {
      const src = ND.el("div", { class: "src" }, "Source: ");
      if (/^https?:\/\/\S+$/.test(f.source)) {
        src.append(ND.el("a", { href: f.source, text: f.source, target: "_blank", rel: "noopener noreferrer" }));
      } else src.append(f.source);
      li.append(src);
    }
    attachEvidence(li, f.evidence, null);
    return li;
  }

  function attachEvidence(li, evidence, rule) {
    if (!evidence || !evidence.length) return;
    li.setAttribute("data-has-evidence", "1");
    li.tabIndex = 0;
    li.addEventListener("mouseenter", () => showEvidence(evidence, rule, false));
    li.addEventListener("click", (e) => { if (e.target.tagName !== "A") showEvidence(evidence, rule, true); });
    li.addEventListener("keydown", (e) => { if (e.key === "Enter") showEvidence(evidence, rule, true); });
  }

  function renderFacts() {
    const facts = report.facts || {};
    const rows = [];
    const show = (label, value) => { if (value !== null && value !== undefined && value !== "" && value !== "unstated") rows.push([label, value]); };
    show("Procedure", facts.procedure);
    show("Side", facts.side);
    show("Guidance", facts.guidance);
    show("Purpose", facts.purpose);
    show("Drugs", (facts.medications || []).map((m) => `${m.as_written}${m.dose ? " " + m.dose : ""}`).join("; "));
    show("Diagnoses", (facts.diagnoses || []).map((d) => d.code || d.text).join(", "));
    show("Levels", (facts.levels || []).join(", "));
    const dl = ND.el("dl", { class: "meta facts" });
    for (const [k, v] of rows) dl.append(ND.el("dt", { text: k }), ND.el("dd", { text: String(v) }));
    $("facts").replaceChildren(ND.el("h2", { text: "Facts read from the note" }), dl);
  }

  // ---- questions for the physician (recomputed from the current text on every check) ----------------------------
  function renderQueries() {
    const closed = finalised || Boolean(data.voided);  // a signed or voided note has no open question
    const list = closed ? [] : (queries === null ? (data.queries || []) : queries);
    $("queries-count").textContent = String(list.length);
    $("queries").replaceChildren(...list.map((q) => ND.el("li", { text: q })));
    $("no-queries").hidden = list.length > 0;
    const send = $("send-queries");
    if (!send) return;
    const dirty = isDirty();
    send.disabled = queries === null || !list.length || dirty;
    $("queries-status").textContent = dirty && list.length ? "Save first: the questions go with a saved revision." : "";
  }

  async function sendQueries() {
    const send = $("send-queries");
    send.disabled = true;
    const r = await ND.api("POST", `/api/drafts/${data.id}/queries`, { revision: base, questions: queries });
    if (!r.ok) { ND.toast(r.data.message || `could not send (HTTP ${r.status})`); renderQueries(); return; }
    const sentList = $("sent-queries");
    for (const q of r.data.sent) {
      sentList.append(ND.el("li", { "data-query": String(q.id) }, ND.el("span", { class: "q", text: q.question }), " ",
        ND.el("span", { class: "pill warn", text: "waiting" }), " ",
        ND.el("span", { class: "muted small-inline", text: `to ${physicianName}, ${ND.localTime(q.created_at)}` })));
    }
    sentList.hidden = !sentList.children.length;
    const n = r.data.sent.length;
    const msg = n ? `Sent ${n} question${n === 1 ? "" : "s"} to ${physicianName}` : "Already sent; waiting for the answer";
    $("queries-status").textContent = msg + (r.data.already_open && n ? ` (${r.data.already_open} already waiting)` : "") + ".";
    ND.toast(msg);
    send.disabled = false;
  }

  // ---- sign (the encounter's physician) ------------------------------------------------------------------------------
  const reasons = new Map();  // blocking key -> the reason typed, kept across re-renders
  function renderSign() {
    const panel = $("sign-panel");
    if (!panel) return;
    const dirty = isDirty();
    $("sign-revision").textContent = String(base);
    if (blocking === null) { $("sign-state").textContent = "Checking the note…"; $("sign").disabled = true; return; }
    $("sign-state").textContent = dirty
      ? "Save your changes first: you sign the last saved revision."
      : blocking.length
        ? `${blocking.length} finding${blocking.length === 1 ? " is" : "s are"} still open. Fix the note, or give your own reason for each:`
        : "The note supports its code lines and states nothing outside the dictation.";
    $("sign-reasons").replaceChildren(...(dirty ? [] : blocking).map((b, i) => {
      const id = `reason-${i}`;
      const input = ND.el("input", { type: "text", id, maxLength: 2000, value: reasons.get(b.key) || "",
        placeholder: "your reason (recorded with the signature)" });
      input.dataset.key = b.key;
      input.addEventListener("input", () => reasons.set(b.key, input.value));
      return ND.el("li", { class: `sign-reason ${b.source}` },
        ND.el("label", { htmlFor: id }, ND.el("span", { class: "tag", text: b.source === "dictation" ? "not dictated" : "code" }), " ", b.message),
        input);
    }));
    $("sign").disabled = dirty;
    if ($("same-reason-box")) $("same-reason-box").hidden = dirty || blocking.length < 2;
  }

  async function sign() {
    const error = $("sign-error");
    error.hidden = true;
    if (!$("attest").checked) { error.textContent = "Tick the attestation first."; error.hidden = false; return; }
    const overrides = (blocking || []).filter((b) => (reasons.get(b.key) || "").trim())
      .map((b) => ({ key: b.key, reason: reasons.get(b.key).trim() }));
    $("sign").disabled = true;
    const same = Boolean($("same-reason") && $("same-reason").checked);
    const r = await ND.api("POST", `/api/drafts/${data.id}/sign`, { revision: base, attest: true, overrides, same_reason_for_all: same });
    $("sign").disabled = false;
    if (r.ok) { window.onbeforeunload = null; window.location.reload(); return; }
    if (r.status === 422 && r.data.blocking) {
      // The server judged the saved revision: show exactly what it still needs a reason for.
      const known = new Set((blocking || []).map((b) => b.key));
      blocking = [...(blocking || []), ...r.data.blocking.filter((b) => !known.has(b.key))];
      renderSign();
    }
    if (r.status === 409 && r.data.current) { showConflict(r.data); return; }
    error.textContent = r.data.message || `signing failed (HTTP ${r.status})`;
    error.hidden = false;
  }

  // ---- live check -----------------------------------------------------------------------------------------------
  function isDirty() { return note.value !== saved.note || codesInput.value.trim() !== saved.codes; }

  async function check() {
    const mine = ++seq;
    if (inflight) inflight.abort();
    inflight = new AbortController();
    let result;
    try {
      result = await ND.api("POST", `/api/drafts/${data.id}/check`,
        { note: note.value, codes: ND.codes(codesInput.value) }, {}, inflight.signal);
    } catch (err) { return; }  // aborted: a newer check is on its way
    if (mine !== seq) return;
    const body = result.data;
    if (!result.ok) { $("verdict-summary").textContent = body.message || `the check failed (HTTP ${result.status})`; return; }
    report = body.validation;
    grounding = body.grounding;
    queries = body.queries;
    blocking = body.blocking;
    readDictation().then(renderDictation);
    render();
  }
  const checkSoon = ND.debounce(check, 300);

  function changed() {
    focus = null;
    dictFocus = [];
    const flag = $("dirty");
    if (flag) flag.hidden = !isDirty();
    renderBackdrop();
    renderDictation();
    renderQueries();
    renderSign();
    $("verdict-summary").textContent = $("verdict-summary").textContent.replace(/ · checking…$/, "") + " · checking…";
    checkSoon();
  }
  note.addEventListener("input", changed);
  codesInput.addEventListener("input", changed);

  // ---- save, conflicts --------------------------------------------------------------------------------------------
  async function save() {
    if (readOnly) return;
    const button = $("save");
    button.disabled = true;
    const sentNote = note.value;
    const sentCodes = codesInput.value.trim();
    const result = await ND.api("PUT", `/api/drafts/${data.id}`, {
      note: sentNote, base_revision: base, codes: ND.codes(sentCodes), author: ND.author() || null,
    });
    button.disabled = false;
    if (result.ok) {
      base = result.data.revision;
      saved = { note: sentNote, codes: sentCodes };
      if (note.value === sentNote && codesInput.value.trim() === sentCodes) {
        report = result.data.validation;
        grounding = result.data.grounding;
        render();
      }
      $("revision-label").textContent = String(base);
      $("save-status").textContent = `saved ${ND.localTime(result.data.created_at)} by ${result.data.author}`;
      $("dirty").hidden = !isDirty();
      $("conflict").hidden = true;
      ND.toast(`Saved as revision ${base}`);
      check();  // questions and sign-off findings for the saved text
    } else if (result.status === 409 && result.data.current) {
      showConflict(result.data);
    } else {
      ND.toast(result.data.message || `save failed (HTTP ${result.status}); your text is still here`);
    }
  }

  let theirs = null;
  const MARKERS = /^(<<<<<<< theirs|=======|>>>>>>> mine)$/m;
  function showConflict(body) {
    theirs = body.current;
    $("conflict-text").textContent = body.message + ". Your text is still here and not saved: both versions are below, with a merge of them.";
    $("conflict-theirs").textContent = theirs.note;
    $("conflict-mine-now").textContent = note.value;
    const merge = body.merge;
    $("conflict-merged").value = merge ? merge.note : note.value;
    $("conflict-merge-state").textContent = !merge ? "No merge could be made: edit the text below from both versions."
      : merge.conflicts ? `${merge.conflicts} place${merge.conflicts === 1 ? "" : "s"} where you both changed the same words: keep one version of each.`
        : "Both edits merged without overlap: read it, then save.";
    $("conflict").hidden = false;
    $("conflict").scrollIntoView({ block: "nearest" });
  }

  if (!readOnly) {
    $("save").addEventListener("click", save);
    document.addEventListener("keydown", (e) => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "s") { e.preventDefault(); save(); }
    });
    $("conflict-save-merged").addEventListener("click", () => {
      const merged = $("conflict-merged").value;
      if (MARKERS.test(merged)) { $("conflict-merge-state").textContent = "Keep one version between each <<<<<<< and >>>>>>> first: the merged text still holds both."; return; }
      note.value = merged;
      base = theirs.revision;
      changed();
      save();
    });
    $("conflict-load").addEventListener("click", () => {
      $("conflict-mine").textContent = note.value;
      $("conflict-mine-box").hidden = false;
      $("conflict-mine-box").open = true;
      note.value = theirs.note;
      codesInput.value = theirs.codes.join(", ");
      base = theirs.revision;
      saved = { note: theirs.note, codes: codesInput.value.trim() };
      $("revision-label").textContent = String(base);
      changed();
    });
    window.addEventListener("beforeunload", (e) => { if (isDirty()) { e.preventDefault(); e.returnValue = ""; } });
  }

  if ($("send-queries")) $("send-queries").addEventListener("click", sendQueries);
  if ($("own-question")) {
    $("own-question").addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = $("own-question-text").value.trim();
      if (!text) { ND.toast("Write the question first."); return; }
      const r = await ND.api("POST", `/api/drafts/${data.id}/queries`, { revision: base, questions: [text], kind: $("own-question-kind").value });
      if (!r.ok) { ND.toast(r.data.message || `could not send (HTTP ${r.status}); your question is still here`); return; }
      for (const q of r.data.sent) {
        $("sent-queries").append(ND.el("li", { "data-query": String(q.id) }, ND.el("span", { class: "q", text: q.question }), " ",
          ND.el("span", { class: "pill warn", text: "waiting" })));
      }
      $("sent-queries").hidden = false;
      $("own-question-text").value = "";
      $("queries-status").textContent = r.data.sent.length ? `Sent your question to ${physicianName}.` : "That question is already waiting.";
    });
  }
  note.addEventListener("input", () => { if ($("print-note")) $("print-note").textContent = note.value; });
  if ($("correct-form")) {
    const fail = (r) => { $("correct-error").textContent = r.data.message || `failed (HTTP ${r.status})`; $("correct-error").hidden = false; };
    $("correct-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      $("correct-error").hidden = true;
      const body = { reason: $("c-reason").value.trim(), patient_name: $("c-name").value, mrn: $("c-mrn").value.trim(),
        date_of_service: $("c-date").value, place_of_service: $("c-place").value, payer: $("c-payer").value };
      if ($("c-dob").value) body.patient_dob = $("c-dob").value;
      if ($("c-physician")) body.physician = $("c-physician").value;
      const enc = data.encounter;
      if (body.patient_name === (enc.patient_name || "")) delete body.patient_name;
      if (body.physician === enc.physician.username) delete body.physician;
      const r = await ND.api("POST", `/api/drafts/${data.id}/encounter`, body);
      if (r.ok) { window.location.reload(); return; }
      fail(r);
    });
    if ($("void-form")) {
      $("void-form").addEventListener("submit", async (event) => {
        event.preventDefault();
        $("correct-error").hidden = true;
        if (!window.confirm("Void this draft? It stays in the record but takes no more changes and is never signed.")) return;
        const r = await ND.api("POST", `/api/drafts/${data.id}/void`, { reason: $("void-reason").value.trim() });
        if (r.ok) { window.onbeforeunload = null; window.location.reload(); return; }
        fail(r);
      });
    }
  }
  if ($("sign")) $("sign").addEventListener("click", sign);

  // ---- submit for signature ---------------------------------------------------------------------------------------
  if ($("submit")) {
    $("submit").addEventListener("click", async () => {
      if (isDirty()) { ND.toast("Save your changes first: the physician signs a saved revision."); return; }
      const r = await ND.api("POST", `/api/drafts/${data.id}/submit`, { revision: base });
      if (!r.ok) {
        if (r.status === 409 && r.data.current) showConflict(r.data);
        else ND.toast(r.data.message || `could not submit (HTTP ${r.status})`);
        return;
      }
      $("submit").hidden = true;
      const s = r.data.submitted || {};
      $("submitted-note").textContent = `Submitted for signature by ${s.author || "you"} at ${ND.localTime(s.created_at || "")} (revision ${s.revision || base}).`;
      $("submitted-note").hidden = false;
      if ($("status-label")) $("status-label").textContent = "Waiting for signature";
      ND.toast(`Sent to ${physicianName} for signature`);
    });
  }

  // ---- addenda (after signing) ------------------------------------------------------------------------------------
  if ($("addendum-form")) {
    $("addendum-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const error = $("addendum-error");
      const text = $("addendum-text").value;
      if (!text.trim()) { error.textContent = "Write the addendum first."; error.hidden = false; return; }
      const r = await ND.api("POST", `/api/drafts/${data.id}/addenda`, { text });
      if (r.ok) { window.location.reload(); return; }
      error.textContent = r.data.message || `could not add the addendum (HTTP ${r.status}); your text is still here`;
      error.hidden = false;
    });
  }

  // ---- finalise (the single-person notebook only) ----------------------------------------------------------------------
  if ($("finalise-open")) {
    const box = $("finalise-box");
    $("finalise-open").addEventListener("click", () => {
      const dirty = isDirty();
      const nErr = (report.findings || []).filter((f) => f.severity === "error").length;
      $("finalise-text").textContent = dirty
        ? "Save your changes first: finalising locks the last saved revision."
        : report.supported
          ? `The note supports ${(report.codes || []).join(", ")}. Finalising locks revision ${base}.`
          : `The note does not support its code lines (${nErr} error${nErr === 1 ? "" : "s"}). Finalising anyway needs a reason, which is recorded.`;
      const needReason = !report.supported && !dirty;
      $("override-reason").hidden = !needReason;
      $("override-label").hidden = !needReason;
      $("finalise").disabled = dirty;
      box.hidden = false;
      box.scrollIntoView({ block: "nearest" });
    });
    $("finalise-cancel").addEventListener("click", () => { box.hidden = true; });
    $("finalise").addEventListener("click", async () => {
      const reason = $("override-reason").value.trim();
      if (!report.supported && !reason) { ND.toast("Give the override reason first."); return; }
      const result = await ND.api("POST", `/api/drafts/${data.id}/finalise`, {
        revision: base, override_reason: reason || null, author: ND.author() || null,
      });
      if (result.ok) { window.location.reload(); return; }
      if (result.status === 409 && result.data.current) { box.hidden = true; showConflict(result.data); return; }
      $("finalise-text").textContent = result.data.message || `finalise failed (HTTP ${result.status})`;
    });
  }

  renderDictation();
  render(true);
  check();  // the stored verdict is shown at once; the questions and sign-off findings come from a fresh check
})();
