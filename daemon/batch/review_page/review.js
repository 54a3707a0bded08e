// The review page: takes grouped by prompt, filters, paging, approve/reject.
// Every text from the data goes in with textContent, never as HTML, and links are checked
// to stay inside the output folder: a prompt cannot inject markup or script.
"use strict";
(function () {
  const GROUPS_PER_PAGE = 20;
  const CARDS_PER_GROUP = 40; // more variations behind a "show all" button
  const API = "/api/approvals"; // answered only by `motionbridge review serve`
  const SIDECAR_SCHEMA = "motionbridge.review/1";
  const state = { data: null, groups: [], shown: [], verdicts: {}, page: 0, server: false, unsaved: 0, expanded: new Set() };
  const $ = (id) => document.getElementById(id);

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  // a path relative to the output folder -> a link from review/, or null if it would leave it
  function relativeUrl(path) {
    if (typeof path !== "string" || path === "" || /^[a-z][a-z0-9+.-]*:/i.test(path) || path.startsWith("/") || path.includes("\\")) return null;
    const parts = path.split("/");
    if (parts.some((p) => p === ".." || p === "." || p === "")) return null;
    return "../" + parts.map(encodeURIComponent).join("/");
  }

  function seconds(s) {
    return typeof s === "number" ? s.toFixed(1) + " s" : "?";
  }

  async function loadData() {
    if (location.protocol === "file:") { // browsers refuse fetch() here; a script tag still works
      await new Promise((resolve, reject) => {
        const s = document.createElement("script");
        s.src = "takes.js";
        s.onload = resolve;
        s.onerror = () => reject(new Error("cannot read takes.js next to this page"));
        document.head.appendChild(s);
      });
      return window.MOTIONBRIDGE_REVIEW;
    }
    const r = await fetch("takes.json", { cache: "no-store" });
    if (!r.ok) throw new Error("cannot read takes.json next to this page (HTTP " + r.status + ")");
    return r.json();
  }

  function verdictsOf(sidecar) {
    const out = {};
    const takes = (sidecar && sidecar.takes) || {};
    for (const name of Object.keys(takes)) {
      const v = takes[name] && takes[name].verdict;
      if (v === "approved" || v === "rejected") out[name] = v;
    }
    return out;
  }

  function storageKey() {
    return "motionbridge-review:" + location.pathname;
  }

  async function loadVerdicts() {
    if (location.protocol !== "file:") {
      try {
        const r = await fetch(API, { cache: "no-store" });
        if (r.ok) {
          state.server = true;
          return verdictsOf(await r.json());
        }
      } catch (e) { /* a plain static server: fall through */ }
    }
    let shared = {}; // a static server may serve the saved sidecar, read-only
    if (location.protocol !== "file:") {
      try {
        const r = await fetch("approvals.json", { cache: "no-store" });
        if (r.ok) shared = verdictsOf(await r.json());
      } catch (e) { /* none yet */ }
    }
    try {
      const saved = localStorage.getItem(storageKey());
      if (saved) {
        const kept = JSON.parse(saved);
        state.unsaved = Object.keys(kept).length;
        return kept;
      }
    } catch (e) { /* storage off: start from the shared file */ }
    return shared;
  }

  function buildGroups(data) {
    const byPrompt = new Map();
    for (const t of data.takes) {
      let g = byPrompt.get(t.prompt);
      if (!g) {
        g = { text: String(data.prompts[t.prompt]), first: t.take, takes: [] };
        byPrompt.set(t.prompt, g);
      }
      g.takes.push(t);
    }
    const groups = Array.from(byPrompt.values());
    for (const g of groups) g.takes.sort((a, b) => (a.seed - b.seed) || String(a.rig).localeCompare(String(b.rig)) || (a.take - b.take));
    return groups;
  }

  function filters() {
    const num = (id) => { const v = $(id).value; return v === "" ? null : Number(v); };
    return { text: $("f-text").value.trim().toLowerCase(), status: $("f-status").value, rig: $("f-rig").value, min: num("f-min"), max: num("f-max"), sort: $("f-sort").value };
  }

  function matches(t, f, promptText) {
    if (f.status === "ok" || f.status === "failed") { if (t.status !== f.status) return false; }
    else if (f.status === "unreviewed") { if (state.verdicts[t.name]) return false; }
    else if (f.status && state.verdicts[t.name] !== f.status) return false;
    if (f.rig && t.rig !== f.rig) return false;
    if (f.min !== null && !(t.seconds >= f.min)) return false;
    if (f.max !== null && !(t.seconds <= f.max)) return false;
    if (f.text && !promptText.includes(f.text) && !t.name.toLowerCase().includes(f.text)) return false;
    return true;
  }

  const SORTS = {
    order: (a, b) => a.first - b.first,
    prompt: (a, b) => a.text.localeCompare(b.text) || a.first - b.first,
    duration: (a, b) => (a.takes[0].seconds - b.takes[0].seconds) || a.first - b.first,
    status: (a, b) => (urgency(a) - urgency(b)) || a.first - b.first,
    rig: (a, b) => String(a.takes[0].rig).localeCompare(String(b.takes[0].rig)) || a.first - b.first,
  };

  function urgency(group) { // failed takes first, then groups with takes nobody has judged
    if (group.takes.some((t) => t.status === "failed")) return 0;
    return group.takes.some((t) => !state.verdicts[t.name]) ? 1 : 2;
  }

  function applyFilters(keepPage) {
    const f = filters();
    state.shown = [];
    for (const g of state.groups) {
      const lower = g.text.toLowerCase();
      const takes = g.takes.filter((t) => matches(t, f, lower));
      if (takes.length) state.shown.push({ text: g.text, first: g.first, takes: takes, all: g.takes.length });
    }
    state.shown.sort(SORTS[f.sort] || SORTS.order);
    const pages = Math.max(1, Math.ceil(state.shown.length / GROUPS_PER_PAGE));
    state.page = keepPage ? Math.min(state.page, pages - 1) : 0;
    render();
  }

  function card(t) {
    const verdict = state.verdicts[t.name] || "";
    const c = el("div", ["card", t.status === "failed" ? "failed" : "", verdict].filter(Boolean).join(" "));
    c.dataset.name = t.name;
    c.tabIndex = 0; // keyboard review: A approves, R rejects, then the next card takes the focus
    const src = t.preview ? relativeUrl(t.preview) : null;
    if (src) {
      const img = el("img");
      img.loading = "lazy";
      img.decoding = "async";
      img.width = 160;
      img.height = 160;
      img.alt = "preview of " + t.name;
      img.src = src;
      c.appendChild(img);
    } else {
      c.appendChild(el("div", "noimg", t.status === "failed" ? "failed" : "no preview"));
    }
    c.appendChild(el("div", "title", "seed " + t.seed));
    c.appendChild(el("div", "facts", seconds(t.seconds) + " · " + t.rig + (t.cfg !== undefined && t.cfg !== null ? " · cfg " + t.cfg : "")));
    c.appendChild(el("div", "facts", t.name));
    if (t.files && t.files.length) {
      const files = el("div", "files");
      for (const [fmt, path] of t.files) {
        const href = relativeUrl(path);
        if (!href) continue;
        const a = el("a", "", fmt);
        a.href = href;
        a.download = "";
        files.appendChild(a);
      }
      c.appendChild(files);
    }
    if (t.error) c.appendChild(el("div", "error", t.error));
    if (t.warnings) c.appendChild(el("div", "facts", t.warnings + " warning(s), see manifest.jsonl"));
    const buttons = el("div", "verdict");
    for (const [value, label, cls] of [["approved", "Approve", "approve"], ["rejected", "Reject", "reject"]]) {
      const b = el("button", cls, label);
      b.type = "button";
      b.dataset.verdict = value;
      b.setAttribute("aria-pressed", String(verdict === value));
      if (value === "approved" && t.status !== "ok") b.disabled = true; // nothing to export
      buttons.appendChild(b);
    }
    c.appendChild(buttons);
    return c;
  }

  function group(g) {
    const box = el("section", "group");
    const h = el("h2", "", g.text);
    const durations = Array.from(new Set(g.takes.map((t) => seconds(t.seconds))));
    const rigs = Array.from(new Set(g.takes.map((t) => t.rig)));
    const meta = g.takes.length + (g.takes.length === g.all ? "" : " of " + g.all) + " variation" + (g.all === 1 ? "" : "s") + " · " + durations.join(", ") + " · " + rigs.join(", ");
    h.appendChild(el("span", "meta", meta));
    box.appendChild(h);
    const row = el("div", "variations");
    const all = state.expanded.has(g.text);
    const takes = all ? g.takes : g.takes.slice(0, CARDS_PER_GROUP);
    for (const t of takes) row.appendChild(card(t));
    box.appendChild(row);
    if (takes.length < g.takes.length) {
      const more = el("button", "more", "show all " + g.takes.length + " variations");
      more.type = "button";
      more.addEventListener("click", () => { state.expanded.add(g.text); render(); });
      box.appendChild(more);
    }
    return box;
  }

  function render() {
    const main = $("groups");
    main.replaceChildren();
    const pages = Math.max(1, Math.ceil(state.shown.length / GROUPS_PER_PAGE));
    const slice = state.shown.slice(state.page * GROUPS_PER_PAGE, (state.page + 1) * GROUPS_PER_PAGE);
    for (const g of slice) main.appendChild(group(g));
    if (!slice.length) main.appendChild(el("p", "empty", "No take matches these filters."));
    $("page-info").textContent = "page " + (state.page + 1) + " of " + pages;
    $("prev").disabled = state.page === 0;
    $("next").disabled = state.page >= pages - 1;
    renderSummary();
  }

  function renderSummary() {
    const takes = state.data.takes;
    let ok = 0, approved = 0, rejected = 0, motion = 0;
    for (const t of takes) {
      if (t.status === "ok") { ok++; motion += t.seconds || 0; }
      const v = state.verdicts[t.name];
      if (v === "approved") approved++;
      else if (v === "rejected") rejected++;
    }
    const shownTakes = state.shown.reduce((n, g) => n + g.takes.length, 0);
    const parts = [
      takes.length + " takes of " + state.groups.length + " prompts", ok + " ok", (takes.length - ok) + " failed",
      approved + " approved", rejected + " rejected", (takes.length - approved - rejected) + " not reviewed",
      (motion / 60).toFixed(1) + " min of motion",
    ];
    const s = $("summary");
    s.textContent = parts.join(" · ");
    if (shownTakes !== takes.length) s.appendChild(el("b", "", " · showing " + shownTakes + " takes in " + state.shown.length + " prompts"));
  }

  function showSaving(text, error) {
    const s = $("saving");
    s.textContent = text;
    s.classList.toggle("error", Boolean(error));
  }

  function sidecar() { // the same file the review server writes (approvals.py)
    const byName = new Map(state.data.takes.map((t) => [t.name, t]));
    const out = { schema: SIDECAR_SCHEMA, takes: {} };
    for (const [name, verdict] of Object.entries(state.verdicts)) {
      const t = byName.get(name);
      if (!t) continue;
      out.takes[name] = { verdict: verdict, take: t.take, prompt: state.data.prompts[t.prompt], seed: t.seed, cfg: t.cfg, duration_s: t.duration, rig: t.rig };
    }
    return out;
  }

  function markCard(name) {
    for (const c of document.querySelectorAll(".card")) {
      if (c.dataset.name !== name) continue;
      const v = state.verdicts[name] || "";
      c.classList.toggle("approved", v === "approved");
      c.classList.toggle("rejected", v === "rejected");
      for (const b of c.querySelectorAll("button[data-verdict]")) b.setAttribute("aria-pressed", String(b.dataset.verdict === v));
    }
  }

  async function setVerdict(name, clicked) {
    const before = state.verdicts[name] || null;
    const after = before === clicked ? null : clicked; // a second click takes the verdict back
    if (after) state.verdicts[name] = after; else delete state.verdicts[name];
    markCard(name);
    renderSummary();
    if (!state.server) {
      try { localStorage.setItem(storageKey(), JSON.stringify(state.verdicts)); } catch (e) { /* kept in memory */ }
      state.unsaved++;
      showSaving("Opened without `motionbridge review serve`: verdicts are kept in this browser only. Download approvals.json into the review folder to share them.");
      $("download").hidden = false;
      return;
    }
    showSaving("saving " + name + " ...");
    try {
      const r = await fetch(API, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name: name, verdict: after }) });
      const answer = await r.json().catch(() => ({}));
      if (!r.ok) throw new Error(answer.error || "HTTP " + r.status);
      showSaving("saved: " + name + " " + (after || "not reviewed"));
    } catch (e) {
      if (before) state.verdicts[name] = before; else delete state.verdicts[name];
      markCard(name);
      renderSummary();
      showSaving("not saved (" + e.message + "); the verdict was taken back", true);
    }
  }

  function download() {
    const blob = new Blob([JSON.stringify(sidecar(), null, 1) + "\n"], { type: "application/json" });
    const a = el("a");
    a.href = URL.createObjectURL(blob);
    a.download = "approvals.json";
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }

  function wire() {
    let timer = 0;
    $("f-text").addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => applyFilters(false), 150); });
    for (const id of ["f-status", "f-rig", "f-min", "f-max", "f-sort"]) $(id).addEventListener("change", () => applyFilters(false));
    $("filters").addEventListener("submit", (e) => { e.preventDefault(); applyFilters(false); });
    $("prev").addEventListener("click", () => { state.page--; render(); window.scrollTo(0, 0); });
    $("next").addEventListener("click", () => { state.page++; render(); window.scrollTo(0, 0); });
    $("download").addEventListener("click", download);
    $("groups").addEventListener("keydown", (e) => {
      const c = e.target.closest(".card");
      const verdict = { a: "approved", r: "rejected" }[e.key.toLowerCase()];
      if (!c || e.target !== c || !verdict || e.ctrlKey || e.metaKey || e.altKey) return;
      const button = c.querySelector(`button[data-verdict="${verdict}"]`);
      if (button.disabled) return;
      e.preventDefault();
      setVerdict(c.dataset.name, verdict);
      const cards = Array.from(document.querySelectorAll(".card"));
      const next = cards[cards.indexOf(c) + 1];
      if (next) next.focus();
    });
    $("groups").addEventListener("click", (e) => {
      const b = e.target.closest("button[data-verdict]");
      if (b && !b.disabled) setVerdict(b.closest(".card").dataset.name, b.dataset.verdict);
    });
  }

  async function start() {
    try {
      const [data, verdicts] = await Promise.all([loadData(), loadVerdicts()]);
      state.data = data;
      state.verdicts = verdicts;
      state.groups = buildGroups(data);
      const rigs = Array.from(new Set(data.takes.map((t) => t.rig))).sort();
      for (const r of rigs) $("f-rig").appendChild(el("option", "", r));
      $("download").hidden = state.server;
      if (!state.server && state.unsaved) showSaving(state.unsaved + " verdict(s) kept in this browser; download approvals.json to share them.");
      wire();
      applyFilters(false);
      document.body.dataset.ready = state.server ? "server" : "file";
    } catch (e) {
      showSaving("cannot show the takes: " + e.message, true);
      document.body.dataset.ready = "error";
    }
  }

  start();
})();
