"use strict";
// Shared by every page: the API call with the CSRF header, the scribe's name, a toast.
const ND = (() => {
  let csrf = document.querySelector('meta[name="csrf-token"]').content;
  const AUTHOR_KEY = "notedraft.author";

  function author() {
    const input = document.getElementById("author");
    return (input && input.value.trim()) || localStorage.getItem(AUTHOR_KEY) || "";
  }

  // If the CSRF cookie changed since this page loaded (another tab, a cleared cookie), fetch the current token
  // once and retry: the text being saved is never dropped because of it.
  async function api(method, url, body, headers = {}, signal = undefined, retried = false) {
    const init = { method, headers: { "X-CSRF-Token": csrf, ...headers }, credentials: "same-origin", signal };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (err) {
      if (err.name === "AbortError") throw err;
      return { ok: false, status: 0, data: { message: "the editor server cannot be reached; your text is still here" } };
    }
    let data = null;
    try { data = await response.json(); } catch (_) { data = { message: `HTTP ${response.status}` }; }
    if (response.status === 403 && data && data.error === "csrf" && !retried) {
      const fresh = await fetch("/api/csrf", { credentials: "same-origin" }).then((r) => r.json()).catch(() => null);
      if (fresh && fresh.csrf) { csrf = fresh.csrf; return api(method, url, body, headers, signal, true); }
    }
    return { ok: response.ok, status: response.status, data };
  }

  function codes(text) {
    return text.split(/[\s,;]+/).map((c) => c.trim()).filter(Boolean);
  }

  let toastTimer = null;
  function toast(message) {
    const el = document.getElementById("toast");
    el.textContent = message;
    el.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { el.hidden = true; }, 3500);
  }

  function debounce(fn, ms) {
    let timer = null;
    return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
  }

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("data-")) node.setAttribute(key, value);
      else node[key] = value;
    }
    for (const child of children) node.append(child);  // strings become text nodes: never parsed as HTML
    return node;
  }

  // Times travel as UTC ISO strings; show them in the scribe's own time zone.
  function localTime(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    const pad = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }

  document.addEventListener("DOMContentLoaded", () => {
    const logout = document.getElementById("logout");
    if (logout) {
      logout.addEventListener("click", async () => {
        const r = await api("POST", "/api/logout");
        if (r.ok) window.location.assign("/login");
        else toast(r.data.message || "could not log out");
      });
    }
    for (const t of document.querySelectorAll("time[datetime]")) {
      t.title = t.getAttribute("datetime");
      t.textContent = localTime(t.getAttribute("datetime"));
    }
    const input = document.getElementById("author");
    if (!input) return;
    input.value = localStorage.getItem(AUTHOR_KEY) || "";
    input.addEventListener("change", () => localStorage.setItem(AUTHOR_KEY, input.value.trim()));
  });

  return { api, author, codes, toast, debounce, el, localTime };
})();
