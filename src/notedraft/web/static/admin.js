"use strict";
// Accounts: add one, enable or disable one. The page reloads after a change so the table is the server's.
(() => {
  const error = document.getElementById("admin-error");
  function fail(r) {
    error.textContent = r.data.message || `failed (HTTP ${r.status})`;
    error.hidden = false;
  }
  document.getElementById("add-user").addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const value = (id) => document.getElementById(id).value.trim();
    const r = await ND.api("POST", "/api/users", {
      username: value("new-username"), display_name: value("new-name"), role: value("new-role"),
      password: document.getElementById("new-password").value, npi: value("new-npi") || null,
    });
    if (r.ok) { window.location.reload(); return; }
    fail(r);  // the typed fields stay as they are
  });
  for (const button of document.querySelectorAll("button.reset-password")) {
    button.addEventListener("click", async () => {
      error.hidden = true;
      const password = window.prompt(`New password for ${button.dataset.user} (12+ characters; their sessions and API tokens end):`);
      if (!password) return;
      const r = await ND.api("POST", `/api/users/${encodeURIComponent(button.dataset.user)}/password`, { password });
      if (r.ok) { ND.toast(`Password of ${button.dataset.user} reset; their sessions and tokens are ended.`); return; }
      fail(r);
    });
  }
  for (const button of document.querySelectorAll("button.reset-totp")) {
    button.addEventListener("click", async () => {
      const r = await ND.api("POST", `/api/users/${encodeURIComponent(button.dataset.user)}/totp/reset`);
      if (r.ok) { window.location.reload(); return; }
      fail(r);
    });
  }
  for (const button of document.querySelectorAll("button.toggle-active")) {
    button.addEventListener("click", async () => {
      error.hidden = true;
      const r = await ND.api("POST", `/api/users/${encodeURIComponent(button.dataset.user)}/active`,
        { active: button.dataset.active === "true" });
      if (r.ok) { window.location.reload(); return; }
      fail(r);
    });
  }
})();
