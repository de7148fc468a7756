/* 知库 — the few helpers every page uses: the signed-in key, API calls with problem
   details, a tiny DOM builder, formatting, toasts and downloads. No framework. */
"use strict";

const Zk = (() => {
  const KEY = "zhiku.key";
  const USER = "zhiku.user";
  const ROLE_NAMES = { agent: "客服专员", knowledge_manager: "知识管理员", analyst: "数据分析", admin: "管理员" };

  class ApiError extends Error {
    constructor(status, body) {
      super((body && (body.detail || body.title)) || `HTTP ${status}`);
      this.status = status;
      this.body = body || {};
      this.errors = (body && body.errors) || [];
    }
  }

  const key = () => localStorage.getItem(KEY);
  const user = () => JSON.parse(localStorage.getItem(USER) || "null");

  async function signIn(plain) {
    const resp = await fetch("/api/v1/me", { headers: { Authorization: `Bearer ${plain}` } });
    const body = await resp.json().catch(() => null);
    if (!resp.ok) throw new ApiError(resp.status, body);
    localStorage.setItem(KEY, plain);
    localStorage.setItem(USER, JSON.stringify(body));
    return body;
  }

  function signOut() {
    localStorage.removeItem(KEY);
    localStorage.removeItem(USER);
    location.href = "/login";
  }

  function toLogin() {
    const next = encodeURIComponent(location.pathname + location.search);
    location.href = `/login?next=${next}`;
  }

  async function api(path, { method = "GET", body, form, headers = {}, raw = false, signal } = {}) {
    const h = { Authorization: `Bearer ${key()}`, ...headers };
    let payload;
    if (form) payload = form;
    else if (body !== undefined) { h["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
    const resp = await fetch(path, { method, headers: h, body: payload, signal });
    if (resp.status === 401) { toLogin(); throw new ApiError(401, { detail: "请重新登录" }); }
    if (raw) {
      if (!resp.ok) throw new ApiError(resp.status, await resp.json().catch(() => null));
      return resp;
    }
    const data = resp.status === 204 ? null : await resp.json().catch(() => null);
    if (!resp.ok) throw new ApiError(resp.status, data);
    return data;
  }

  /* h("div", {class: "x", onclick: fn}, "text", child) — strings become text nodes (escaped). */
  function h(tag, attrs = {}, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "html") el.innerHTML = v;          // only for server-escaped snippets (highlights, sanitised HTML)
      else if (k === "dataset") Object.assign(el.dataset, v);
      else el.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

  /* Times in the service timezone (the server's ZHIKU_TIMEZONE, on <body data-tz>), whatever
     the browser's own zone or the offset the API used. */
  let timeFormat;
  function dt(iso) {
    if (!iso) return "—";
    timeFormat = timeFormat || new Intl.DateTimeFormat("zh-CN", { timeZone: document.body.dataset.tz || undefined,
      year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    const parts = Object.fromEntries(timeFormat.formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
    return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
  }
  /* A stored value as a person reads it: times in the service zone, lists joined with 、,
     yes/no in words — never raw ISO strings or JSON (history, diffs). */
  const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/;
  function readable(value) {
    if (value === null || value === undefined || value === "") return "—";
    if (Array.isArray(value)) return value.length ? value.map(readable).join("、") : "—";
    if (typeof value === "boolean") return value ? "是" : "否";
    if (typeof value === "object") return Object.entries(value).map(([k, v]) => `${k}：${readable(v)}`).join("，");
    if (typeof value !== "string") return String(value);
    if (ISO_TIME.test(value)) return dt(value);
    if (/^[\[{]/.test(value)) {
      try { const parsed = JSON.parse(value); if (typeof parsed === "object") return readable(parsed); } catch (_) { /* plain text */ }
    }
    return value;
  }
  /* Text with every occurrence of the search words marked — built as nodes, so nothing in the
     text is ever read as HTML. */
  function marked(text, words) {
    const s = String(text ?? "");
    const ws = (words || []).filter(Boolean).map((w) => w.toLowerCase());
    if (!ws.length) return [s];
    const lower = s.toLowerCase();
    const out = [];
    let i = 0;
    while (i < s.length) {
      let best = -1, len = 0;
      for (const w of ws) {
        const at = lower.indexOf(w, i);
        if (at !== -1 && (best === -1 || at < best || (at === best && w.length > len))) { best = at; len = w.length; }
      }
      if (best === -1) { out.push(s.slice(i)); break; }
      if (best > i) out.push(s.slice(i, best));
      out.push(h("mark", {}, s.slice(best, best + len)));
      i = best + len;
    }
    return out;
  }

  /* A window of the text around the first search word, for result snippets. */
  function around(text, words, width = 70) {
    const s = String(text ?? "");
    const lower = s.toLowerCase();
    const at = Math.min(...(words || []).map((w) => lower.indexOf(w.toLowerCase())).filter((x) => x >= 0), s.length);
    const start = at === s.length ? 0 : Math.max(0, at - 20);
    return (start > 0 ? "…" : "") + s.slice(start, start + width) + (start + width < s.length ? "…" : "");
  }

  const pct = (x, digits = 0) => (x === null || x === undefined ? "—" : `${(x * 100).toFixed(digits)}%`);

  let toastTimer;
  function toast(message, kind = "ok") {
    const el = $("#toast");
    el.textContent = message;
    el.className = `show ${kind}`;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { el.className = ""; }, 4000);
  }

  /* Put each problem-details error next to its field (name=field), the rest on top. */
  function showErrors(form, err, summary) {
    clearErrors(form);
    const left = [];
    let first = null;
    for (const e of err.errors || []) {
      const field = form && form.querySelector(`[name="${CSS.escape(e.field || "")}"]`);
      if (field) {
        field.classList.add("invalid");
        field.setAttribute("aria-invalid", "true");
        field.insertAdjacentElement("afterend", h("small", { class: "field-error" }, e.message));
        first = first || field;
      } else left.push(e.message);
    }
    if (first) first.focus();
    const box = summary || (form && form.querySelector(".form-error"));
    // each message once: next to its field, and on top only what has no field on the page
    const text = left.length ? left.join("；") : first ? "请修改标出的字段后再保存" : err.message;
    if (box) { box.textContent = text; box.hidden = false; } else toast(text, "error");
  }

  function clearErrors(form) {
    if (!form) return;
    form.querySelectorAll(".field-error").forEach((e) => e.remove());
    form.querySelectorAll(".invalid").forEach((e) => { e.classList.remove("invalid"); e.removeAttribute("aria-invalid"); });
    form.querySelectorAll(".form-error").forEach((e) => { e.hidden = true; e.textContent = ""; });
  }

  async function download(path, fallbackName) {
    const resp = await api(path, { raw: true });
    const disposition = resp.headers.get("content-disposition") || "";
    const m = /filename\*=UTF-8''([^;]+)/.exec(disposition);
    const name = m ? decodeURIComponent(m[1]) : fallbackName;
    const url = URL.createObjectURL(await resp.blob());
    const a = h("a", { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  function debounce(fn, ms) {
    let t;
    return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
  }

  let taxonomyCache;
  async function taxonomy() {
    taxonomyCache = taxonomyCache || api("/api/v1/taxonomy");
    return taxonomyCache;
  }

  /* Staff directory: pages show 李伟, not liwei. Loaded once per page before it renders. */
  let peopleCache;
  let names = {};
  async function people() {
    peopleCache = peopleCache || api("/api/v1/people").then((list) => {
      names = Object.fromEntries(list.map((p) => [p.username, p.display_name]));
      return list;
    }).catch(() => []);
    return peopleCache;
  }
  const name = (username) => (username ? names[username] || username : "—");

  function fillSelect(select, labels, { empty } = {}) {
    select.replaceChildren();
    if (empty !== undefined) select.append(h("option", { value: "" }, empty));
    for (const l of labels.filter((x) => x.active !== false)) select.append(h("option", { value: l.code }, l.name || l.code));
  }

  function can(roles) {
    const u = user();
    return !!u && (u.role === "admin" || roles.includes(u.role));
  }

  function showByRole(elements) {
    for (const el of elements) el.hidden = !can((el.dataset.roles || "").split(","));
  }

  function formValues(form) {
    const out = {};
    for (const [k, v] of new FormData(form).entries()) {
      if (typeof v === "string" && v.trim() === "") continue;
      out[k] = typeof v === "string" ? v.trim() : v;
    }
    return out;
  }

  /* A page of another role (an analyst opening /workspace): say so and point to the user's own
     pages, instead of a form whose every save would answer 403. */
  function notForYou(roles) {
    const u = user();
    const mine = $$("#nav a").filter((a) => !a.hidden);
    $("main").replaceChildren(h("section", { class: "card narrow", id: "not-for-you" },
      h("h1", {}, "这个页面不属于你的角色"),
      h("p", {}, `此页面供${roles.map((r) => ROLE_NAMES[r] || r).join("、")}使用；你当前的角色是${ROLE_NAMES[u.role] || u.role}。`),
      mine.length ? h("p", {}, "你可以使用：", mine.map((a) => [h("a", { href: a.getAttribute("href") }, a.textContent), " "])) : null));
  }

  /* Every page but the login page: signed in, or off to /login. */
  function page(init) {
    document.addEventListener("DOMContentLoaded", async () => {
      if (!key()) { toLogin(); return; }
      const u = user();
      showByRole($$("#nav a"));
      $$("#nav a").forEach((a) => { if (location.pathname.startsWith(a.getAttribute("href"))) a.classList.add("active"); });
      $("#who").hidden = false;
      $("#find-form").hidden = false;
      const q = new URLSearchParams(location.search).get("q");
      if (location.pathname === "/find" && q) $("#find-q").value = q;
      // Ctrl+Enter (⌘+Enter) submits the form being typed in: saving a case without the mouse
      document.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey) && ev.target.form && !ev.target.form.hidden) {
          ev.preventDefault();
          ev.target.form.requestSubmit();
        }
      });
      // "/" jumps to the search box from anywhere but a text field, as in most desk tools
      document.addEventListener("keydown", (ev) => {
        const t = ev.target;
        if (ev.key === "/" && !ev.ctrlKey && !ev.metaKey && !(t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) {
          ev.preventDefault();
          $("#find-q").focus();
        }
      });
      $("#who-name").textContent = u.display_name || u.username;
      $("#who-role").textContent = ROLE_NAMES[u.role] || u.role;
      $("#sign-out").addEventListener("click", signOut);
      const pageRoles = (document.body.dataset.pageRoles || "").split(",").filter(Boolean);
      if (pageRoles.length && !can(pageRoles)) { notForYou(pageRoles); return; }
      try { await people(); await init(); } catch (err) { toast(err.message, "error"); throw err; }
    });
  }

  /* What 用这个方案 copies: a similar case's temporary and permanent fixes, or an article's
     solution section (the section whose heading names 解决/方案/处理; the whole text when none
     does), as plain text. */
  function solutionOf(kind, item) {
    if (kind === "case") return { temp: item.solution_temp || "", perm: item.solution_perm || "" };
    const sections = (item.body || "").split(/^#{1,6}\s+/m);
    const chosen = sections.find((s) => /^[^\n]*(解决|方案|处理)/.test(s));
    const text = (chosen ? chosen.replace(/^[^\n]*\n/, "") : item.body || "")
      .replace(/[*_`>]/g, "").replace(/^\s*[-+]\s+/gm, "").replace(/\n{2,}/g, "\n").trim();
    return { temp: `${text.slice(0, 1800)}（参考知识库《${item.title}》）`, perm: "" };
  }

  /* The key of a used solution's source, and appending a copied solution to a text field. */
  const sourceKey = (kind, item) => (kind === "case" ? `case:${item.number}` : `article:${item.id}`);
  function appendText(field, text, max = 5000) {
    field.value = (field.value.trim() ? `${field.value.trim()}\n${text}` : text).slice(0, max);
  }

  return { ApiError, api, signIn, signOut, key, user, h, $, $$, dt, readable, marked, around, pct, toast, showErrors, clearErrors, download,
           debounce, taxonomy, people, name, fillSelect, can, showByRole, formValues, page, solutionOf, sourceKey, appendText, ROLE_NAMES };
})();
