"use strict";
(() => {
  const form = document.getElementById("new-draft");
  if (!form) return;  // a coder or an administrator reads the list but does not draft
  const dictation = document.getElementById("dictation");
  const codesInput = document.getElementById("codes");
  const strategy = document.getElementById("strategy");
  const button = document.getElementById("generate");
  const status = document.getElementById("new-status");
  const error = document.getElementById("new-error");
  const suggestBox = document.getElementById("dictation-codes");
  let controller = null;
  const encounterBox = document.getElementById("encounter");
  const dateOfService = document.getElementById("date-of-service");

  // The date of service defaults to today in the scribe's own time zone (not the server's UTC date).
  if (dateOfService && !dateOfService.value) {
    const d = new Date();
    const pad = (n) => String(n).padStart(2, "0");
    dateOfService.value = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  }

  function encounter() {
    if (!encounterBox) return undefined;  // the single-person notebook has no encounters
    const value = (id) => document.getElementById(id).value.trim();
    return { mrn: value("mrn"), patient_name: value("patient-name"), patient_dob: value("patient-dob") || null,
      date_of_service: value("date-of-service"), physician: value("physician"),
      place_of_service: value("place"), payer: value("payer") };
  }

  function showError(target, message) {
    target.textContent = message;
    target.hidden = !message;
  }

  // What code lines does the dictation itself support? The same validator reads dictations and notes.
  const suggest = ND.debounce(async () => {
    if (controller) controller.abort();
    suggestBox.replaceChildren();
    if (!dictation.value.trim()) return;
    controller = new AbortController();
    let result;
    try {
      const place = document.getElementById("place");
      const body = { note: dictation.value, codes: [] };
      if (place) body.place_of_service = place.value;  // the same reading a draft with no code lines gets
      result = await ND.api("POST", "/api/validate", body, {}, controller.signal);
    } catch (_) { return; }
    if (!result.ok || !result.data.suggested_codes || !result.data.suggested_codes.length) return;
    const codes = result.data.suggested_codes;
    const use = ND.el("button", { type: "button", text: "Use" });
    use.addEventListener("click", () => { codesInput.value = codes.join(", "); });
    suggestBox.replaceChildren("The dictation supports ", ND.el("strong", { text: codes.join(", ") }), " ", use);
  }, 400);
  dictation.addEventListener("input", suggest);

  // LLM drafts come back as a job (202): poll its status once a second and show where it stands. The dictation
  // stays in the form the whole time, so a failed or cancelled job loses nothing.
  const cancel = document.getElementById("cancel-draft");
  let job = null;

  function describe(s) {
    if (s.state === "queued") return `Queued for the LLM (${s.position ? `#${s.position} in line, ` : ""}${s.waited_s} s)…`;
    if (s.state === "running") return `Drafting with ${s.strategy}… ${s.running_s} s`;
    return "";
  }

  function finish(message) {
    job = null;
    button.disabled = false;
    cancel.hidden = true;
    status.textContent = "";
    if (message) showError(error, message);
  }

  async function poll(current) {
    while (job === current) {
      const r = await ND.api("GET", current.status_url);
      if (job !== current) return;
      if (!r.ok && r.status !== 0) { finish(r.data.message || `lost track of the draft (HTTP ${r.status})`); return; }
      if (r.ok) {
        const s = r.data;
        if (s.state === "done") { window.location.assign(s.url); return; }
        if (s.state === "failed") { finish(s.message || "drafting failed; nothing was saved"); return; }
        if (s.state === "cancelled") { finish("Cancelled; your dictation is still here."); return; }
        status.textContent = describe(s);
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  cancel.addEventListener("click", async () => {
    if (!job) return;
    const current = job;
    cancel.disabled = true;
    const r = await ND.api("POST", `${current.status_url}/cancel`);
    cancel.disabled = false;
    if (job === current) finish(r.ok ? "Cancelled; your dictation is still here." : (r.data.message || "could not cancel"));
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(error, "");
    if (!dictation.value.trim()) { showError(error, "Type or paste the dictation first."); return; }
    const enc = encounter();
    if (enc) {
      const missing = [["patient_name", "the patient's name"], ["patient_dob", "the date of birth"],
        ["mrn", "the patient's MRN"], ["date_of_service", "the date of service"],
        ["physician", "the rendering physician"]].filter(([k]) => !enc[k]).map(([, w]) => w);
      if (missing.length) { showError(error, `Give ${missing.join(", ")} first.`); return; }
    }
    button.disabled = true;
    status.textContent = "Drafting…";
    const result = await ND.api("POST", "/api/drafts", {
      dictation: dictation.value,
      codes: ND.codes(codesInput.value),
      strategy: strategy.value,
      author: ND.author() || null,
      encounter: enc,
    });
    if (result.status === 202) {
      job = result.data;
      status.textContent = describe(job);
      cancel.hidden = false;
      poll(job);
      return;
    }
    button.disabled = false;
    status.textContent = "";
    if (result.ok) { window.location.assign(result.data.url); return; }
    showError(error, result.data.message || `drafting failed (HTTP ${result.status})`);
  });

  const fileInput = document.getElementById("open-file");
  if (!fileInput) return;  // with accounts a draft belongs to an encounter: no importing of loose files
  const openError = document.getElementById("open-error");
  fileInput.addEventListener("change", async () => {
    showError(openError, "");
    const file = fileInput.files[0];
    if (!file) return;
    const text = await file.text();
    let saved;
    if (file.name.toLowerCase().endsWith(".json")) {
      try { saved = JSON.parse(text); } catch (_) { showError(openError, `${file.name} is not valid JSON.`); return; }
    } else {
      const codes = ND.codes(codesInput.value);
      if (!codes.length) { showError(openError, "Enter the note's code lines first, then open the file again."); fileInput.value = ""; return; }
      saved = { format: "notedraft.draft", version: 1, dictation: "", note: text, codes, strategy: "imported" };
    }
    const result = await ND.api("POST", "/api/drafts/import", saved, { "X-Notedraft-Author": encodeURIComponent(ND.author()) });
    if (result.ok) { window.location.assign(result.data.url); return; }
    showError(openError, result.data.message || `could not open ${file.name}`);
    fileInput.value = "";
  });
})();
