"use strict";
// The editor: live validation (debounced), evidence highlights behind the textarea, save with conflict handling,
// finalise. Note text only ever reaches the DOM through textContent / value, never as HTML.
(() => {
  const data = JSON.parse(document.getElementById("draft-data").textContent);
  const $ = (id) => document.getElementById(id);
  const note = $("note");
  const backdrop = $("backdrop");
  const codesInput = $("codes");
  const finalised = Boolean(data.finalised);

  let base = data.revision;
  let saved = { note: data.note, codes: data.codes.join(", ") };
  let report = data.validation;
  let grounding = data.grounding || [];
  let focus = null; // {start, end} in code points: the evidence the scribe clicked
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

  // Offsets from the server count code points; a span is drawn only if the text there is still what it quoted,
  // so highlights never land on the wrong words while a fresh validation is on its way.
  function renderBackdrop() {
    const cps = Array.from(note.value);
    const level = new Uint8Array(cps.length);
    const spans = spansOf(report);
    for (const s of spans) {
      if (s.start < 0 || s.end > cps.length || s.start >= s.end) continue;
      if (cps.slice(s.start, s.end).join("") !== s.text) continue;
      for (let i = s.start; i < s.end; i++) level[i] = Math.max(level[i] & 3, s.level) | (level[i] & FOCUS);
    }
    if (focus && focus.end <= cps.length) for (let i = focus.start; i < focus.end; i++) level[i] |= FOCUS;
    const frag = document.createDocumentFragment();
    let i = 0;
    while (i < cps.length) {
      let j = i;
      while (j < cps.length && level[j] === level[i]) j++;
      const text = cps.slice(i, j).join("");
      if (level[i]) {
        const cls = [CLASS[level[i] & 3] || "plain", level[i] & FOCUS ? "focus" : ""].join(" ").trim();
        frag.append(ND.el("mark", { class: cls, text }));
      } else {
        frag.append(document.createTextNode(text));
      }
      i = j;
    }
    frag.append(document.createTextNode(note.value.endsWith("\n") ? " " : "\u200b"));
    backdrop.replaceChildren(frag);
    backdrop.scrollTop = note.scrollTop;
  }
  note.addEventListener("scroll", () => { backdrop.scrollTop = note.scrollTop; });

  function utf16(cps, index) { return cps.slice(0, index).join("").length; }

  function showEvidence(evidence) {
    const cps = Array.from(note.value);
    const ev = evidence.find((e) => cps.slice(e.start, e.end).join("") === e.text);
    if (!ev) { ND.toast("That text has changed since the last check."); return; }
    focus = { start: ev.start, end: ev.end };
    renderBackdrop();
    const mark = backdrop.querySelector("mark.focus");
    if (mark) note.scrollTop = Math.max(0, mark.offsetTop - note.clientHeight / 3);
    backdrop.scrollTop = note.scrollTop;
    note.focus({ preventScroll: true });
    note.setSelectionRange(utf16(cps, ev.start), utf16(cps, ev.end));
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
    if (!(report.codes || []).length) $("code-lines").append(ND.el("span", { class: "muted", text: "No code lines: enter them on the left." }));

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
      const use = ND.el("button", { type: "button", text: "Use these", disabled: finalised });
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
      attachEvidence(li, req.evidence);
      return li;
    }));
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
    attachEvidence(li, f.evidence);
    return li;
  }

  function attachEvidence(li, evidence) {
    if (!evidence || !evidence.length) return;
    li.setAttribute("data-has-evidence", "1");
    li.tabIndex = 0;
    li.addEventListener("click", (e) => { if (e.target.tagName !== "A") showEvidence(evidence); });
    li.addEventListener("keydown", (e) => { if (e.key === "Enter") showEvidence(evidence); });
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

  // ---- live validation -----------------------------------------------------------------------------------------
  function isDirty() { return note.value !== saved.note || codesInput.value.trim() !== saved.codes; }

  const validateSoon = ND.debounce(async () => {
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
    if (!result.ok) { $("verdict-summary").textContent = body.message || `validation failed (HTTP ${result.status})`; return; }
    report = body.validation;
    grounding = body.grounding;
    render();
  }, 300);

  function changed() {
    focus = null;
    const dirty = isDirty();
    const flag = $("dirty");
    if (flag) flag.hidden = !dirty;
    renderBackdrop();
    $("verdict-summary").textContent = $("verdict-summary").textContent.replace(/ · checking…$/, "") + " · checking…";
    validateSoon();
  }
  note.addEventListener("input", changed);
  codesInput.addEventListener("input", changed);

  // ---- save, conflicts --------------------------------------------------------------------------------------------
  async function save() {
    if (finalised) return;
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
    } else if (result.status === 409 && result.data.current) {
      showConflict(result.data);
    } else {
      ND.toast(result.data.message || `save failed (HTTP ${result.status}); your text is still here`);
    }
  }

  let theirs = null;
  function showConflict(body) {
    theirs = body.current;
    $("conflict-text").textContent = body.message + ". Your text is still here and not saved.";
    $("conflict-theirs").textContent = theirs.note;
    $("conflict").hidden = false;
    $("conflict").scrollIntoView({ block: "nearest" });
  }

  if (!finalised) {
    $("save").addEventListener("click", save);
    document.addEventListener("keydown", (e) => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "s") { e.preventDefault(); save(); }
    });
    $("conflict-keep").addEventListener("click", () => { base = theirs.revision; save(); });
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

    // ---- finalise -------------------------------------------------------------------------------------------------
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

  render();
})();
