"use strict";
// The coder's worklist: mark a signed note coded (a note whose lines the note does not support needs a confirmation).
(() => {
  const error = document.getElementById("wl-error");
  for (const button of document.querySelectorAll("button.mark-coded")) {
    button.addEventListener("click", async () => {
      error.hidden = true;
      let body = { accept_unsupported: false };
      if (button.dataset.supported !== "true") {
        if (!window.confirm("The note does not support all its code lines (signed over overridden errors). Code it anyway?")) return;
        body = { accept_unsupported: true };
      }
      const r = await ND.api("POST", `/api/drafts/${button.dataset.draft}/coded`, body);
      if (r.ok) { window.location.reload(); return; }
      error.textContent = r.data.message || `could not mark it coded (HTTP ${r.status})`;
      error.hidden = false;
    });
  }
})();
