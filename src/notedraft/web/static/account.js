"use strict";
// Your own password, second factor and API tokens. Secrets are shown once, through textContent only.
(() => {
  const $ = (id) => document.getElementById(id);
  const error = $("account-error");
  const fail = (r) => { error.textContent = r.data.message || `failed (HTTP ${r.status})`; error.hidden = false; };
  const on = (id, fn) => { const el = $(id); if (el) el.addEventListener(el.tagName === "FORM" ? "submit" : "click", async (e) => { e.preventDefault(); error.hidden = true; await fn(); }); };
  on("password-form", async () => {
    const r = await ND.api("POST", "/api/me/password", { current: $("pw-current").value, new: $("pw-new").value,
      totp: $("pw-code") ? $("pw-code").value : null });
    if (r.ok) { ND.toast("Password changed; your other browsers are signed out."); $("password-form").reset(); } else fail(r);
  });
  on("totp-setup", async () => {
    const r = await ND.api("POST", "/api/me/totp/setup");
    if (!r.ok) { fail(r); return; }
    $("totp-secret").textContent = r.data.secret;
    $("totp-uri").href = r.data.uri;
    $("totp-new").hidden = false;
  });
  on("totp-on", async () => {
    const r = await ND.api("POST", "/api/me/totp/enable", { code: $("on-code").value });
    if (r.ok) window.location.reload(); else fail(r);
  });
  on("totp-off", async () => {
    const r = await ND.api("POST", "/api/me/totp/disable", { code: $("off-code").value, password: $("off-password").value });
    if (r.ok) window.location.reload(); else fail(r);
  });
  on("token-form", async () => {
    const r = await ND.api("POST", "/api/me/tokens", { name: $("token-name").value, scope: $("token-scope").value });
    if (!r.ok) { fail(r); return; }
    $("token-value").textContent = r.data.token;
    $("token-new").hidden = false;
  });
  for (const b of document.querySelectorAll("button.revoke")) {
    b.addEventListener("click", async () => {
      const r = await ND.api("POST", `/api/me/tokens/${b.dataset.token}/revoke`);
      if (r.ok) window.location.reload(); else fail(r);
    });
  }
})();
