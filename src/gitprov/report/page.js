// gitprov report: the page's one script. Data comes from #gitprov-data (JSON, inert); every
// element is built with createElement/textContent, never innerHTML: a record may come from
// a hostile remote, and nothing it holds may become markup or script.
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("gitprov-data").textContent);
  const KEYS = DATA.keys;
  const VALUES = DATA.values;
  const KEY_AT = new Map(KEYS.map((k, i) => [k, i]));
  // A run is a list (DATA.fields names its places); here it becomes an object.
  const AT = Object.fromEntries(DATA.fields.map((name, i) => [name, i]));
  const RUNS = DATA.runs.map((row) => ({
    id: row[AT.id], t: row[AT.t], dur: row[AT.dur], status: VALUES[row[AT.status]],
    commit: VALUES[row[AT.commit]], branch: VALUES[row[AT.branch]], dirty: VALUES[row[AT.dirty]],
    snap: VALUES[row[AT.snap]], what: VALUES[row[AT.what]], user: VALUES[row[AT.user]],
    started: VALUES[row[AT.started]], source: VALUES[row[AT.source]], f: row[AT.f],
    diff: row[AT.diff] === null ? undefined : DATA.diffs[row[AT.diff]], note: row[AT.note],
  }));
  const BY_ID = new Map(RUNS.map((r) => [r.id, r]));
  const NOT_COMPARED = DATA.not_compared || [];
  const PAGE = 200;
  const STATUSES = ["success", "failed", "interrupted"];
  const SVG_NS = "http://www.w3.org/2000/svg";

  const state = {
    filter: "", status: "", branch: "", sortKey: "t", sortDesc: true,
    page: 0, rows: RUNS.slice(), selected: new Set(), plotKey: "",
  };

  // -- building blocks ---------------------------------------------------------------------

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    return node;
  }

  function statusClass(status) {
    return "status-" + (STATUSES.includes(status) ? status : "other");
  }

  function badge(status) {
    return el("span", { class: "badge " + statusClass(status), text: String(status) });
  }

  function pad(n) { return String(n).padStart(2, "0"); }

  function localTime(t) {
    if (t === null || t === undefined) return "";
    const d = new Date(t * 1000);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  function duration(s) {
    if (typeof s !== "number") return "";
    if (s < 60) return s.toFixed(s < 10 ? 2 : 1) + "s";
    const m = Math.floor(s / 60);
    if (m < 60) return `${m}m${pad(Math.floor(s % 60))}s`;
    return `${Math.floor(m / 60)}h${pad(m % 60)}m`;
  }

  function show(value) {
    if (value === undefined) return "";
    if (typeof value === "string") return value;
    return JSON.stringify(value);
  }

  function short(sha) { return typeof sha === "string" ? sha.slice(0, 12) : ""; }

  // -- a run's flattened record ------------------------------------------------------------

  function flat(run) {
    const map = new Map();
    for (let i = 0; i < run.f.length; i += 2) map.set(KEYS[run.f[i]], VALUES[run.f[i + 1]]);
    return map;
  }

  function valueAt(run, at) {
    if (at === undefined) return undefined;
    for (let i = 0; i < run.f.length; i += 2) if (run.f[i] === at) return VALUES[run.f[i + 1]];
    return undefined;
  }

  // A key as written, else under run. (params.lr finds a Kedro run's run.params.lr).
  function value(run, key) {
    const found = valueAt(run, KEY_AT.get(key));
    return found !== undefined ? found : valueAt(run, KEY_AT.get("run." + key));
  }

  // -- the table's columns -----------------------------------------------------------------

  const COLUMNS = [
    { key: "id", title: "SESSION", get: (r) => r.id, cell: sessionCell, cls: "mono" },
    { key: "t", title: "STARTED", get: (r) => r.t, text: (r) => localTime(r.t), cls: "nowrap" },
    { key: "dur", title: "DURATION", get: (r) => r.dur, text: (r) => duration(r.dur) },
    { key: "status", title: "STATUS", get: (r) => r.status, cell: (r) => badge(r.status) },
    { key: "commit", title: "COMMIT", get: (r) => r.commit, text: (r) => short(r.commit) || "(unborn)", cls: "mono" },
    { key: "branch", title: "BRANCH", get: (r) => r.branch, text: (r) => r.branch || "-" },
    { key: "dirty", title: "TREE", get: (r) => r.dirty, text: (r) => (r.dirty === null ? "?" : r.dirty ? "dirty" : "clean") },
    { key: "what", title: "WHAT", get: (r) => r.what, text: (r) => r.what, cls: "what" },
    { key: "user", title: "USER", get: (r) => r.user, text: (r) => r.user || "-" },
  ].concat((DATA.columns || []).map((key) => ({
    key: "col:" + key, title: key, get: (r) => value(r, key), text: (r) => show(value(r, key)), cls: "value",
  })));

  function cellText(column, run) {
    return column.text ? column.text(run) : String(column.get(run));
  }

  // -- filtering: free text, or KEY<OP>VALUE as `gitprov list --where` takes it ------------

  const WHERE = /^\s*([^\s<>=!~]+)\s*(<=|>=|!=|=|<|>|~)\s*(.*?)\s*$/;
  const ISO = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+)?(Z|[+-]\d{2}:?\d{2})?$/;

  function asNumber(v) {
    if (typeof v === "number") return v;
    if (typeof v === "string" && v.trim() !== "" && isFinite(Number(v))) return Number(v);
    return null;
  }

  function asTime(v) {
    return typeof v === "string" && ISO.test(v) ? Date.parse(v) : null;
  }

  function holds(actual, op, wanted) {
    if (actual === undefined) return false;
    const text = show(actual);
    if (op === "~") return text.includes(wanted);
    let a = asNumber(actual), b = asNumber(wanted);
    if (a === null || b === null || typeof actual === "boolean") {
      a = asTime(text); b = asTime(wanted);
      if (a === null || b === null || isNaN(a) || isNaN(b)) { a = text; b = wanted; }
    }
    switch (op) {
      case "=": return a === b;
      case "!=": return a !== b;
      case "<": return a < b;
      case "<=": return a <= b;
      case ">": return a > b;
      default: return a >= b;
    }
  }

  function matcher(text) {
    const where = WHERE.exec(text);
    if (where) {
      const [, key, op, wanted] = where;
      const field = COLUMNS.find((c) => c.title.toLowerCase() === key.toLowerCase());
      return (run) => holds(field ? cellText(field, run) : value(run, key), op, wanted);
    }
    const needle = text.trim().toLowerCase();
    if (!needle) return () => true;
    return (run) => COLUMNS.some((c) => cellText(c, run).toLowerCase().includes(needle));
  }

  function applyFilter() {
    const match = matcher(state.filter);
    state.rows = RUNS.filter((r) =>
      (!state.status || r.status === state.status) &&
      (!state.branch || r.branch === state.branch) && match(r));
    sortRows();
    state.page = 0;
    renderTable();
    renderTimeline();
    renderPlot();
  }

  function compareValues(a, b) {
    const na = a === null || a === undefined, nb = b === null || b === undefined;
    if (na || nb) return na === nb ? 0 : na ? 1 : -1;
    if (typeof a === "number" && typeof b === "number") return a - b;
    return show(a).localeCompare(show(b));
  }

  function sortRows() {
    const column = COLUMNS.find((c) => c.key === state.sortKey) || COLUMNS[1];
    const sign = state.sortDesc ? -1 : 1;
    state.rows.sort((x, y) => {
      const a = column.get(x), b = column.get(y);
      const nulls = (a === null || a === undefined) - (b === null || b === undefined);
      return nulls || sign * compareValues(a, b) || compareValues(x.id, y.id);
    });
  }

  // -- summary -----------------------------------------------------------------------------

  function card(label, valueText, title) {
    return el("div", { class: "card", title: title || "" }, el("b", { text: String(valueText) }), label);
  }

  // Names, the first 20 of them and how many more.
  function listed(names) {
    return names.slice(0, 20).join(", ") + (names.length > 20 ? `, and ${names.length - 20} more` : "");
  }

  function renderSummary(root) {
    const s = DATA.summary;
    const cards = el("div", { class: "cards", id: "summary-cards" },
      card("runs", s.runs),
      ...Object.entries(s.status).map(([k, v]) => card(k, v)),
      card("branches", s.branches.length, s.branches.join(", ")),
      card("users", s.users.length, s.users.join(", ")),
      card("committers", s.committers.length, s.committers.join(", ")),
      card("dirty", s.dirty),
      card("with snapshot", s.snapshots));
    root.append(el("h2", { text: "Summary" }), cards,
      el("p", { class: "muted", id: "date-range",
        text: s.first === null ? "no run has a start time" :
          `from ${localTime(s.first)} to ${localTime(s.last)} (local time)` }));
    for (const [label, names] of [["branches", s.branches], ["users", s.users], ["committers", s.committers]]) {
      if (names.length) root.append(el("p", { class: "muted", text: `${label}: ${listed(names)}` }));
    }
    const broken = Object.entries(DATA.broken || {});
    if (broken.length || (DATA.skipped || []).length) {
      const box = el("div", { class: "warning", id: "problems" },
        el("b", { text: `${broken.length} record(s) could not be read; ${DATA.skipped.length} item(s) skipped` }));
      const list = el("ul");
      for (const [id, why] of broken) list.append(el("li", { text: `${id}: ${why}` }));
      for (const what of DATA.skipped) list.append(el("li", { text: what }));
      box.append(list);
      root.append(box);
    }
  }

  // -- the runs table ----------------------------------------------------------------------

  function sessionCell(run) {
    return el("button", { class: "link mono", text: run.id, title: "show this run",
      onclick: () => showDetail(run.id) });
  }

  let table, tbody, pagerText, prevButton, nextButton, compareButton;

  function renderControls(root) {
    const search = el("input", { type: "search", id: "filter",
      placeholder: "filter: any text, or KEY<OP>VALUE (params.lr=0.01, metrics.auc>=0.9)",
      "aria-label": "filter runs" });
    let timer = null;
    search.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => { state.filter = search.value; applyFilter(); }, 120);
    });
    const status = el("select", { id: "status-filter", "aria-label": "status" },
      el("option", { value: "", text: "any status" }),
      ...Object.keys(DATA.summary.status).map((s) => el("option", { value: s, text: s })));
    status.addEventListener("change", () => { state.status = status.value; applyFilter(); });
    const branch = el("select", { id: "branch-filter", "aria-label": "branch" },
      el("option", { value: "", text: "any branch" }),
      ...DATA.summary.branches.map((b) => el("option", { value: b, text: b })));
    branch.addEventListener("change", () => { state.branch = branch.value; applyFilter(); });
    compareButton = el("button", { id: "compare-button", disabled: "", onclick: showCompare },
      "Compare selected");
    const clear = el("button", { id: "clear-selection", onclick: () => {
      state.selected.clear(); renderTable(); updateCompareButton();
    } }, "Clear selection");
    root.append(el("div", { class: "controls" }, search, status, branch, compareButton, clear));
  }

  function updateCompareButton() {
    compareButton.textContent = `Compare selected (${state.selected.size})`;
    compareButton.disabled = state.selected.size < 2;
  }

  function renderTableShell(root) {
    table = el("table", { id: "runs" });
    const head = el("tr", {}, el("th", { text: "" }));
    for (const column of COLUMNS) {
      const th = el("th", { class: "sortable", text: column.title, "data-key": column.key,
        title: "sort by " + column.title });
      th.addEventListener("click", () => {
        state.sortDesc = state.sortKey === column.key ? !state.sortDesc : column.key === "t";
        state.sortKey = column.key;
        sortRows();
        renderTable();
      });
      head.append(th);
    }
    tbody = el("tbody");
    table.append(el("thead", {}, head), tbody);
    pagerText = el("span", { id: "pager-text" });
    prevButton = el("button", { id: "prev-page", onclick: () => { state.page--; renderTable(); } }, "\u2039 Previous");
    nextButton = el("button", { id: "next-page", onclick: () => { state.page++; renderTable(); } }, "Next \u203a");
    root.append(el("div", { class: "pager" }, prevButton, pagerText, nextButton), table);
  }

  function renderTable() {
    const pages = Math.max(1, Math.ceil(state.rows.length / PAGE));
    state.page = Math.min(Math.max(0, state.page), pages - 1);
    const from = state.page * PAGE;
    const shown = state.rows.slice(from, from + PAGE);
    const body = el("tbody");
    for (const run of shown) {
      const box = el("input", { type: "checkbox", class: "run-select", "aria-label": "select " + run.id });
      box.checked = state.selected.has(run.id);
      const tr = el("tr", { "data-id": run.id, class: box.checked ? "selected" : "" }, el("td", {}, box));
      box.addEventListener("change", () => {
        if (box.checked) state.selected.add(run.id); else state.selected.delete(run.id);
        tr.className = box.checked ? "selected" : "";
        updateCompareButton();
      });
      for (const column of COLUMNS) {
        const td = el("td", { class: column.cls || "" });
        if (column.cell) td.append(column.cell(run)); else td.textContent = cellText(column, run);
        if (column.key === "what") td.title = run.what;
        tr.append(td);
      }
      body.append(tr);
    }
    tbody.replaceWith(body);
    tbody = body;
    for (const th of table.querySelectorAll("th.sortable")) {
      if (th.dataset.key === state.sortKey) th.setAttribute("aria-sort", state.sortDesc ? "descending" : "ascending");
      else th.removeAttribute("aria-sort");
    }
    pagerText.textContent = state.rows.length
      ? `runs ${from + 1}\u2013${from + shown.length} of ${state.rows.length} shown` +
        (state.rows.length < RUNS.length ? ` (filtered from ${RUNS.length})` : "") +
        ` \u00b7 page ${state.page + 1} of ${pages}`
      : `no run matches (of ${RUNS.length})`;
    prevButton.disabled = state.page === 0;
    nextButton.disabled = state.page >= pages - 1;
  }

  // -- time line and plot ------------------------------------------------------------------

  // LEFT holds the lanes' names and the values' ticks; dots stay PAD inside the axes.
  const WIDTH = 1000, LEFT = 130, RIGHT = 20, PAD = 8;

  // [min, max] by a loop: Math.min(...values) overflows the stack at 100k runs.
  function extent(values) {
    let lo = Infinity, hi = -Infinity;
    for (const v of values) { if (v < lo) lo = v; if (v > hi) hi = v; }
    return [lo, hi];
  }

  function ticks(lo, hi, n) {
    if (hi === lo) return [lo];
    const step = (hi - lo) / n;
    return Array.from({ length: n + 1 }, (_, i) => lo + i * step);
  }

  // Tick labels on a time axis: as precise as its span needs, each shown once.
  function timeTicks(chart, lo, hi, x, y) {
    const span = hi - lo;
    const cut = span < 3600 ? [11, 19] : span < 2 * 86400 ? [5, 16] : [0, 10];
    let last = "";
    ticks(lo, hi, 4).forEach((t, i, all) => {
      const text = localTime(t).slice(cut[0], cut[1]);
      if (text === last) return;
      last = text;
      const anchor = all.length === 1 ? "middle" : i === 0 ? "start" : i === all.length - 1 ? "end" : "middle";
      const label = svg("text", { x: x(t), y: y, "text-anchor": anchor });
      label.textContent = text;
      chart.append(label);
    });
  }

  // Dots shrink as they crowd: a year of runs stays readable.
  function radius(count) { return count > 2000 ? 2 : count > 300 ? 3 : 4; }

  // Dots are drawn as one path per status (a dot: a round-capped segment of length 0), so
  // that 100k runs make four elements, not 100k; a click or a hover finds the nearest dot.
  const LAYERS = ["success", "other", "interrupted", "failed"];  // problems drawn last, seen
  const DOTS = new WeakMap();

  function drawDots(chart, points, r) {
    const byLayer = new Map(LAYERS.map((layer) => [layer, []]));
    for (const p of points) byLayer.get(statusClass(p.run.status).slice(7)).push(p);
    const ordered = [];
    for (const [layer, group] of byLayer) {
      if (!group.length) continue;
      const d = group.map((p) => `M${p.x.toFixed(1)} ${p.y.toFixed(1)}h0`).join("");
      chart.append(svg("path", { d, class: "dots status-" + layer, "stroke-width": 2 * r }));
      ordered.push(...group);
    }
    chart.setAttribute("data-points", points.length);
    DOTS.set(chart, { points: ordered, r });
  }

  function nearest(chart, event) {
    const { points, r } = DOTS.get(chart) || { points: [], r: 0 };
    const box = chart.getBoundingClientRect();
    const scale = WIDTH / box.width;
    const px = (event.clientX - box.left) * scale, py = (event.clientY - box.top) * scale;
    let best = null, reach = (r + 3) ** 2;
    for (const p of points) {
      const d = (p.x - px) ** 2 + (p.y - py) ** 2;
      if (d <= reach) { best = p; reach = d; }  // ties: the one drawn on top
    }
    return best;
  }

  const tooltip = el("div", { id: "tooltip", hidden: "" });

  // An SVG chart whose dots open their run on a click and name it on a hover.
  function chartSvg(height, label) {
    const chart = svg("svg", { viewBox: `0 0 ${WIDTH} ${height}`, width: "100%", role: "img", "aria-label": label });
    chart.addEventListener("click", (event) => {
      const found = nearest(chart, event);
      if (found) showDetail(found.run.id);
    });
    chart.addEventListener("mousemove", (event) => {
      const found = nearest(chart, event);
      chart.classList.toggle("pointing", found !== null);
      tooltip.hidden = found === null;
      if (found) {
        tooltip.textContent = found.label;
        tooltip.style.left = event.clientX + 12 + "px";
        tooltip.style.top = event.clientY + 12 + "px";
      }
    });
    chart.addEventListener("mouseleave", () => { tooltip.hidden = true; });
    return chart;
  }

  function legend() {
    return el("div", { class: "legend" }, ...STATUSES.concat(["other"]).map((s) =>
      el("span", {}, el("span", { class: "badge " + statusClass(s), text: "\u00a0" }), " " + s)));
  }

  let timelineBox, plotBox, plotSelect;

  function renderTimeline() {
    const runs = state.rows.filter((r) => r.t !== null);
    const lanes = [...new Set(runs.map((r) => r.branch || "(no branch)"))].sort();
    const height = 30 + lanes.length * 24;
    const chart = chartSvg(height, "runs over time by branch");
    const [lo, hi] = extent(runs.map((r) => r.t));
    const x = (t) => LEFT + PAD + (hi === lo ? 0.5 : (t - lo) / (hi - lo)) * (WIDTH - LEFT - RIGHT - 2 * PAD);
    lanes.forEach((lane, i) => {
      const y = 15 + i * 24;
      chart.append(svg("line", { class: "lane", x1: LEFT, x2: WIDTH - RIGHT, y1: y, y2: y }));
      const label = svg("text", { x: 4, y: y + 4 });
      label.textContent = lane.length > 18 ? lane.slice(0, 17) + "\u2026" : lane;
      chart.append(label);
    });
    const laneOf = new Map(lanes.map((l, i) => [l, i]));
    if (runs.length) timeTicks(chart, lo, hi, x, height - 4);
    drawDots(chart, runs.map((run) => ({
      run, x: x(run.t), y: 15 + laneOf.get(run.branch || "(no branch)") * 24,
      label: `${run.id} \u00b7 ${run.status} \u00b7 ${localTime(run.t)}`,
    })), radius(runs.length));
    const untimed = state.rows.length - runs.length;
    timelineBox.replaceChildren(chart, legend());
    if (untimed) timelineBox.append(el("p", { class: "note", text: `${untimed} run(s) without a start time are not on the time line` }));
  }

  function numericKeys() {
    const found = new Set();
    for (const run of RUNS) {
      for (let i = 0; i < run.f.length; i += 2) {
        if (typeof VALUES[run.f[i + 1]] === "number") found.add(run.f[i]);
      }
    }
    const names = [...found].map((i) => KEYS[i]);
    const rank = (k) => (/(^|\.)metrics\./.test(k) ? 0 : /(^|\.)params\./.test(k) ? 1 : 2);
    return names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  }

  function renderPlotShell(root) {
    const keys = numericKeys();
    plotSelect = el("select", { id: "plot-key", "aria-label": "value to plot" },
      ...keys.map((k) => el("option", { value: k, text: k })));
    state.plotKey = keys[0] || "";
    plotSelect.addEventListener("change", () => { state.plotKey = plotSelect.value; renderPlot(); });
    plotBox = el("div", { id: "plot" });
    root.append(el("div", { class: "controls" }, "value: ", plotSelect,
      el("span", { class: "muted", text: "across the runs shown in the table, by start time" })), plotBox);
  }

  function renderPlot() {
    if (!state.plotKey) {
      plotBox.replaceChildren(el("p", { class: "note", text: "no run has a numeric parameter or metric" }));
      return;
    }
    const key = state.plotKey;
    const points = state.rows.map((r) => [r, value(r, key)])
      .filter(([r, v]) => typeof v === "number" && r.t !== null);
    const height = 260, top = 10, bottom = 30;
    const chart = chartSvg(height, "plot of " + key);
    if (!points.length) {
      plotBox.replaceChildren(el("p", { class: "note", text: `no run shown has a numeric ${key} and a start time` }));
      return;
    }
    const ts = points.map(([r]) => r.t), vs = points.map(([, v]) => v);
    const [tlo, thi] = extent(ts), [vlo, vhi] = extent(vs);
    const x = (t) => LEFT + PAD + (thi === tlo ? 0.5 : (t - tlo) / (thi - tlo)) * (WIDTH - LEFT - RIGHT - 2 * PAD);
    const y = (v) => top + PAD + (vhi === vlo ? 0.5 : 1 - (v - vlo) / (vhi - vlo)) * (height - top - bottom - 2 * PAD);
    chart.append(svg("line", { class: "axis", x1: LEFT, x2: LEFT, y1: top, y2: height - bottom }));
    chart.append(svg("line", { class: "axis", x1: LEFT, x2: WIDTH - RIGHT, y1: height - bottom, y2: height - bottom }));
    for (const v of ticks(vlo, vhi, 4)) {
      const label = svg("text", { x: LEFT - 6, y: y(v) + 4, "text-anchor": "end" });
      label.textContent = Number(v.toPrecision(4)).toString();
      chart.append(label);
    }
    timeTicks(chart, tlo, thi, x, height - 8);
    drawDots(chart, points.map(([run, v]) => ({
      run, x: x(run.t), y: y(v), label: `${run.id} \u00b7 ${key} = ${v}`,
    })), radius(points.length));
    plotBox.replaceChildren(chart, el("p", { class: "muted", text: `${points.length} run(s) with ${key}` }));
  }

  // -- one run -----------------------------------------------------------------------------

  let detailBox;

  function keyTable(rows, id) {
    const body = el("tbody");
    for (const [k, v] of rows) body.append(el("tr", {}, el("td", { class: "mono", text: k }), el("td", { class: "value mono", text: show(v) })));
    return el("table", { class: "keys", id: id || "" }, body);
  }

  function withPrefix(entries, prefixes) {
    const rows = [];
    for (const [k, v] of entries) {
      for (const p of prefixes) if (k.startsWith(p)) { rows.push([k.slice(p.length), v]); break; }
    }
    return rows;
  }

  // What a run read and wrote, from its flattened record: run.inputs.<dataset>.<field>
  // (compare keys a list of datasets by their names); a list it could not key is one row.
  const ITEM_FIELDS = ["type", "path", "version", "digest", "size"];

  function ioTable(entries) {
    const items = new Map();
    for (const [k, v] of entries) {
      const role = /^run\.inputs(\.|$)/.test(k) ? "input" : /^run\.outputs(\.|$)/.test(k) ? "output" : null;
      if (!role) continue;
      const rest = k.slice(role === "input" ? 10 : 11);
      const dot = rest.lastIndexOf(".");
      const field = dot > 0 ? rest.slice(dot + 1) : "";
      const keyed = ITEM_FIELDS.includes(field);
      const name = rest.slice(1, keyed ? dot : undefined) || show(v);
      const item = items.get(role + "\u0000" + name) || { role, name };
      items.set(role + "\u0000" + name, item);
      if (keyed) item[field] = v;
    }
    if (!items.size) return null;
    const body = el("tbody");
    for (const item of items.values()) {
      body.append(el("tr", {}, ...[item.role, item.name, ...ITEM_FIELDS.map((f) => item[f])].map((v, i) =>
        el("td", { class: i === 5 ? "mono value" : "value", text: show(v) }))));
    }
    const heads = ["", "dataset", ...ITEM_FIELDS];
    return el("table", { id: "detail-io" }, el("thead", {}, el("tr", {}, ...heads.map((h) => el("th", { text: h })))), body);
  }

  // Why a run shows no diff: a clean tree, or a dirty one no snapshot holds (and why).
  function noCode(run, entries) {
    if (!run.dirty) return "the run ran on a clean tree: its code is the commit's";
    const why = entries.get("git.snapshot_error");
    return "the tree was dirty but no snapshot holds its change" + (why ? ": " + show(why) : "");
  }

  function section(title, content, empty) {
    const box = el("div", {}, el("h3", { text: title }));
    box.append(content || el("p", { class: "note", text: empty }));
    return box;
  }

  function diffView(text) {
    const pre = el("pre", { class: "diff" });
    for (const line of text.split("\n")) {
      let cls = "";
      if (line.startsWith("+++") || line.startsWith("---") || line.startsWith("diff ")) cls = "meta";
      else if (line.startsWith("+")) cls = "add";
      else if (line.startsWith("-")) cls = "del";
      else if (line.startsWith("@@")) cls = "hunk";
      pre.append(el("span", { class: cls, text: line }));
    }
    return pre;
  }

  function showDetail(id) {
    const run = BY_ID.get(id);
    if (!run) return;
    const facts = [
      ["session", run.id], ["status", run.status], ["started", `${localTime(run.t)} (${run.started || "?"})`],
      ["duration", duration(run.dur)], ["commit", run.commit || "(unborn)"], ["branch", run.branch || "-"],
      ["tree", run.dirty ? "dirty" : run.dirty === false ? "clean" : "?"], ["snapshot", run.snap || "-"],
      ["what", run.what], ["user", run.user || "-"], ["read from", run.source],
    ];
    const error = value(run, "run.error.type");
    if (error !== undefined) facts.push(["error", `${show(error)}: ${show(value(run, "run.error.message"))}`]);
    const entries = flat(run);
    const params = withPrefix(entries, ["run.params.", "params."]);
    const metrics = withPrefix(entries, ["run.metrics.", "metrics."]);
    const remotes = withPrefix(entries, ["git.remotes."]);
    const io = ioTable(entries);
    let code = null;
    if (run.snap || run.note) {
      code = el("div", { id: "detail-diff" });
      if (run.note) code.append(el("p", { class: "note", text: run.note }));
      if (typeof run.diff === "string") code.append(run.diff ? diffView(run.diff) : el("p", { class: "note", text: "the snapshot holds the same tree as the commit" }));
    }
    const toggle = el("button", { id: "detail-select", onclick: () => {
      if (state.selected.has(run.id)) state.selected.delete(run.id); else state.selected.add(run.id);
      renderTable(); updateCompareButton();
      toggle.textContent = state.selected.has(run.id) ? "Remove from comparison" : "Add to comparison";
    } }, state.selected.has(run.id) ? "Remove from comparison" : "Add to comparison");
    detailBox.replaceChildren(
      el("h2", {}, "Run ", el("span", { class: "mono", text: run.id }), " ", badge(run.status)),
      toggle,
      keyTable(facts, "detail-facts"),
      section("Parameters", params.length ? keyTable(params, "detail-params") : null, "no parameters recorded"),
      section("Metrics", metrics.length ? keyTable(metrics, "detail-metrics") : null, "no metrics recorded"),
      section("Inputs and outputs", io, "no inputs or outputs recorded"),
      section("Remotes", remotes.length ? keyTable(remotes, "detail-remotes") : null, "no remotes recorded"),
      section("Code: the uncommitted change this run ran", code, noCode(run, entries)),
      section("The whole record", keyTable([...entries], "detail-record")));
    detailBox.hidden = false;
    detailBox.scrollIntoView();
  }

  // -- comparing runs ----------------------------------------------------------------------

  let compareBox;

  function same(values) {
    const [first, ...rest] = values.map((v) => (v === undefined ? "\u0000absent" : JSON.stringify(v)));
    return rest.every((v) => v === first);
  }

  function showCompare() {
    const runs = [...state.selected].map((id) => BY_ID.get(id)).filter(Boolean);
    if (runs.length < 2) return;
    const showEqual = el("input", { type: "checkbox", id: "compare-all" });
    const box = el("div");
    const draw = () => {
      const compared = [];
      const seen = new Set();
      const flats = runs.map(flat);
      for (const entries of flats) {
        for (const k of entries.keys()) {
          if (seen.has(k) || NOT_COMPARED.includes(k.split(".")[0])) continue;
          seen.add(k);
          compared.push(k);
        }
      }
      const differing = compared.filter((k) => !same(flats.map((f) => f.get(k))));
      const keys = showEqual.checked ? compared : differing;
      const head = el("tr", {}, el("th", { text: "KEY" }), ...runs.map((r) => el("th", { class: "mono", text: r.id })));
      const body = el("tbody");
      for (const k of keys) {
        const values = flats.map((f) => f.get(k));
        const differs = !same(values);
        body.append(el("tr", {}, el("td", { class: "mono", text: k }),
          ...values.map((v) => el("td", { class: "value mono" + (differs ? " differs" : ""), text: show(v) }))));
      }
      box.replaceChildren(
        el("p", { class: "muted", text: `${differing.length} of ${compared.length} keys differ` }),
        keys.length ? el("table", { id: "compare-table" }, el("thead", {}, head), body)
          : el("p", { class: "note", text: `the ${runs.length} runs have the same value for every key` }));
    };
    showEqual.addEventListener("change", draw);
    draw();
    compareBox.replaceChildren(el("h2", { text: `Comparing ${runs.length} runs` }),
      el("label", {}, showEqual, " show equal keys too"), box);
    compareBox.hidden = false;
    compareBox.scrollIntoView();
  }

  // -- the page ----------------------------------------------------------------------------

  const main = el("main");
  main.append(el("h1", { text: "gitprov report: " + DATA.repository }),
    el("p", { class: "muted", text: `${DATA.ref} \u00b7 generated ${DATA.generated} \u00b7 times in local time` }));
  renderSummary(main);
  main.append(el("h2", { text: "Time line" }));
  timelineBox = el("div", { id: "timeline" });
  main.append(timelineBox, el("h2", { text: "Runs" }));
  renderControls(main);
  renderTableShell(main);
  compareBox = el("section", { id: "compare", hidden: "" });
  detailBox = el("section", { id: "detail", hidden: "" });
  main.append(compareBox, detailBox, el("h2", { text: "Plot" }));
  renderPlotShell(main);
  document.body.append(main, tooltip);
  updateCompareButton();
  sortRows();
  renderTable();
  renderTimeline();
  renderPlot();
  document.body.dataset.ready = "yes";
})();
