"use strict";
document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = document.getElementById("login-error");
  const result = await ND.api("POST", "/api/login", { token: document.getElementById("token").value });
  if (result.ok) { window.location.assign("/"); return; }
  error.textContent = result.data.message || "login failed";
  error.hidden = false;
});
