"use strict";
// The physician's inbox: answer a question; the server adds the answer to the dictation, then redrafts or re-checks
// the note, and the page says which.
(() => {
  for (const form of document.querySelectorAll("form.answer-form")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = form.querySelector("textarea");
      const button = form.querySelector("button");
      const result = form.querySelector(".answer-result");
      result.className = "answer-result";
      if (!text.value.trim()) { result.textContent = "Write your answer first."; result.hidden = false; return; }
      button.disabled = true;
      const r = await ND.api("POST", `/api/queries/${form.dataset.query}/answer`, { text: text.value });
      if (!r.ok) {
        button.disabled = false;
        result.classList.add("error-text");
        result.textContent = r.data.message || `could not save the answer (HTTP ${r.status}); your text is still here`;
        result.hidden = false;
        return;
      }
      const what = r.data.then === "redrafted"
        ? `Answer saved. The note was redrafted from the dictation and your answer (revision ${r.data.revision}).`
        : r.data.then === "rechecked"
          ? `Answer saved. The note was re-checked against the dictation and your answer${r.data.why ? ` (${r.data.why})` : ""}.`
          : `Answer saved${r.data.why ? ` (${r.data.why})` : ""}.`;
      const link = ND.el("a", { href: `/drafts/${form.dataset.draft}`, text: "Open the note" });
      result.replaceChildren(what, " ", link);
      result.classList.add("ok");
      result.hidden = false;
      result.dataset.then = r.data.then;
      text.readOnly = true;
      button.hidden = true;
      // One question fewer waiting for this physician.
      for (const id of ["inbox-count", "open-count"]) {
        const badge = document.getElementById(id);
        if (!badge) continue;
        const n = Math.max(0, Number(badge.textContent) - 1);
        badge.textContent = String(n);
        if (id === "inbox-count") badge.hidden = n === 0;
      }
    });
  }
})();
