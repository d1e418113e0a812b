"use strict";
// Shared by every page: the API call with the CSRF header, the scribe's name, a toast.
const ND = (() => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const AUTHOR_KEY = "notedraft.author";

  function author() {
    const input = document.getElementById("author");
    return (input && input.value.trim()) || localStorage.getItem(AUTHOR_KEY) || "";
  }

  async function api(method, url, body, headers = {}) {
    const init = { method, headers: { "X-CSRF-Token": csrf, ...headers }, credentials: "same-origin" };
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

  document.addEventListener("DOMContentLoaded", () => {
    const input = document.getElementById("author");
    if (!input) return;
    input.value = localStorage.getItem(AUTHOR_KEY) || "";
    input.addEventListener("change", () => localStorage.setItem(AUTHOR_KEY, input.value.trim()));
  });

  return { api, author, codes, toast, debounce, el };
})();
