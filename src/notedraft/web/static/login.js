"use strict";
// One form, two kinds of login: an account (user name + password) once the practice has accounts, else the token.
document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const error = document.getElementById("login-error");
  const body = form.dataset.mode === "account"
    ? { username: document.getElementById("username").value.trim(), password: document.getElementById("password").value }
    : { token: document.getElementById("token").value };
  const result = await ND.api("POST", "/api/login", body);
  if (result.ok) { window.location.assign("/"); return; }
  error.textContent = result.data.message || "login failed";
  error.hidden = false;
});
