// Cage dashboard: one page, no dependencies. Every string from the ledger reaches the page through textContent or an
// attribute set with setAttribute, never through innerHTML, so a model named "<script>…" is shown as text.
"use strict";
(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const COLORS = ["#2f6fde", "#12a26b", "#f79009", "#9e77ed", "#e04f5f", "#06aed4", "#b54708", "#667085", "#ee46bc", "#66c61c"];
  const main = document.getElementById("main");
  const state = { bucket: "day", by: "model", range: "all", dim: "model", offset: 0, task: null, openCall: null, calls: -1 };

  // ---- DOM helpers --------------------------------------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "onclick") node.addEventListener("click", v);
      else if (k === "onchange") node.addEventListener("change", v);
      else if (k === "style") Object.assign(node.style, v); // CSSOM: the content security policy forbids style attributes
      else node.setAttribute(k, String(v));
    }
    append(node, children);
    return node;
  }
  function append(node, children) {
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      node.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    }
    return node;
  }
  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  // ---- formats ------------------------------------------------------------------------------------------------------
  const int = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  function fixed(v, d) {
    return new Intl.NumberFormat("en-US", { minimumFractionDigits: d, maximumFractionDigits: d }).format(v);
  }
  // Dollars: null is unknown (never $0); $100 and up with cents; else 4 decimals, or 6 for sub-cent amounts.
  function usd(v) {
    if (v === null || v === undefined) return "unknown";
    const sign = v < 0 ? "-" : "";
    const m = Math.abs(v);
    if (m >= 100 || m === Math.trunc(m)) return sign + "$" + fixed(m, 2);
    if (Number(m.toFixed(4)) !== 0) return sign + "$" + fixed(m, 4);
    if (Number(m.toFixed(6)) !== 0) return sign + "$" + Number(m.toFixed(6)).toString();
    return v < 0 ? ">-$0.000001" : "<$0.000001";
  }
  // Headline figures: whole cents from $1 up, else as usd().
  function usdBig(v) { return v !== null && v !== undefined && Math.abs(v) >= 1 ? (v < 0 ? "-$" : "$") + fixed(Math.abs(v), 2) : usd(v); }
  function axisUsd(v, step) {
    if (v === 0) return "$0";
    const d = step >= 1 ? 0 : Math.min(6, Math.ceil(-Math.log10(step)));
    return "$" + fixed(v, d);
  }
  function count(v) { return v === null || v === undefined ? "—" : int.format(v); }
  function pct(v) { return v === null || v === undefined ? "—" : fixed(v, v >= 10 ? 0 : 1) + "%"; }
  function when(iso) { return iso ? iso.replace("T", " ").replace(/\.\d+Z$|Z$/, "") + " UTC" : "—"; }
  function usdCell(v) { return el("td", { class: "num", "data-usd": v === null ? "null" : String(v) }, usd(v)); }
  function badge(text, cls) { return el("span", { class: "badge " + (cls || text) }, text); }

  // ---- data ---------------------------------------------------------------------------------------------------------
  async function api(path, params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) if (v !== null && v !== undefined && v !== "") q.set(k, v);
    const url = "api/" + path + (q.toString() ? "?" + q : "");
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    const body = await response.json();
    if (!response.ok) throw new Error(body && body.error ? body.error : response.status + " " + response.statusText);
    return body;
  }

  // ---- charts -------------------------------------------------------------------------------------------------------
  function niceStep(max, ticks) {
    if (max <= 0) return 1;
    const raw = max / ticks;
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    const f = raw / p;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * p;
  }

  // Stacked columns: one per bucket, one colored segment per group; labelled axes, gridlines and hover titles.
  function stackedChart(series, colorOf) {
    const W = 960, H = 320, L = 74, R = 16, T = 14, B = 52;
    const n = series.buckets.length;
    const totals = series.buckets.map((_, i) => series.series.reduce((s, g) => s + g.usd[i], 0));
    const max = Math.max(0, ...totals);
    const step = niceStep(max, 5);
    const top = Math.max(step, Math.ceil(max / step) * step);
    const root = svg("svg", { class: "chart", id: "spend-chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Spend over time" });
    const y = v => T + (H - T - B) * (1 - v / top);
    for (let v = 0; v <= top + step / 2; v += step) {
      root.appendChild(svg("line", { class: "grid", x1: L, x2: W - R, y1: y(v), y2: y(v) }));
      root.appendChild(svg("text", { class: "tick y", x: L - 6, y: y(v) + 4, "text-anchor": "end" }, axisUsd(v, step)));
    }
    root.appendChild(svg("line", { class: "axis", x1: L, x2: L, y1: T, y2: H - B }));
    root.appendChild(svg("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }));
    root.appendChild(svg("text", { class: "axis-title", x: 14, y: (T + H - B) / 2, transform: `rotate(-90 14 ${(T + H - B) / 2})`, "text-anchor": "middle" }, "Spend (USD)"));
    root.appendChild(svg("text", { class: "axis-title", x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle" }, series.bucket === "hour" ? "Hour (UTC)" : "Day (UTC)"));
    const slot = (W - L - R) / Math.max(n, 1);
    const bw = Math.max(1, Math.min(48, slot * 0.72));
    const labelEvery = Math.max(1, Math.ceil(n / 12));
    series.buckets.forEach((b, i) => {
      const x = L + slot * i + (slot - bw) / 2;
      let acc = 0;
      series.series.forEach(g => {
        const v = g.usd[i];
        if (v <= 0 && g.calls[i] === 0) return;
        const y0 = y(acc), y1 = y(acc + v);
        const rect = svg("rect", { class: "seg", x: x, y: y1, width: bw, height: Math.max(v > 0 ? 1 : 0, y0 - y1), fill: colorOf(g.key), "data-key": g.key, "data-usd": String(v) });
        rect.appendChild(svg("title", {}, `${g.key} · ${label(b, series.bucket)} · ${usd(v)} · ${count(g.calls[i])} calls`));
        root.appendChild(rect);
        acc += v;
      });
      if (i % labelEvery === 0) {
        root.appendChild(svg("text", { class: "tick x", x: L + slot * i + slot / 2, y: H - B + 16, "text-anchor": "middle" }, label(b, series.bucket, true)));
      }
    });
    return root;
  }
  function label(iso, bucket, short) {
    const d = iso.slice(0, 10), h = iso.slice(11, 16);
    if (bucket === "hour") return short ? (h === "00:00" ? d.slice(5) : h) : d + " " + h;
    return short ? d.slice(5) : d;
  }

  // Horizontal bars, most expensive first, with the amount at the end of each bar.
  function barChart(rows, id, wide) {
    const W = wide ? 960 : 480, rowH = 26, L = wide ? 220 : 150, R = 90, T = 6;
    const shown = rows.slice(0, 12);
    const H = T + shown.length * rowH + 34;
    const max = Math.max(0, ...shown.map(r => r.usd || 0));
    const step = niceStep(max, 4), top = Math.max(step, Math.ceil(max / step) * step);
    const root = svg("svg", { class: "chart", id: id, viewBox: `0 0 ${W} ${H}`, role: "img" });
    const x = v => L + (W - L - R) * (v / top);
    for (let v = 0; v <= top + step / 2; v += step) {
      root.appendChild(svg("line", { class: "grid", x1: x(v), x2: x(v), y1: T, y2: T + shown.length * rowH }));
      root.appendChild(svg("text", { class: "tick x", x: x(v), y: T + shown.length * rowH + 14, "text-anchor": "middle" }, axisUsd(v, step)));
    }
    root.appendChild(svg("text", { class: "axis-title", x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle" }, "Spend (USD)"));
    shown.forEach((r, i) => {
      const yy = T + i * rowH;
      const max = wide ? 34 : 22;
      const name = r.key.length > max ? r.key.slice(0, max - 1) + "…" : r.key;
      const t = svg("text", { class: "bar-label", x: L - 8, y: yy + rowH / 2 + 4, "text-anchor": "end" }, name);
      t.appendChild(svg("title", {}, r.key));
      root.appendChild(t);
      const rect = svg("rect", { class: "hbar", x: L, y: yy + 4, width: Math.max(r.usd > 0 ? 2 : 0, x(r.usd || 0) - L), height: rowH - 8, rx: 3, fill: r.color || COLORS[0], "data-key": r.key, "data-usd": String(r.usd) });
      rect.appendChild(svg("title", {}, `${r.key} · ${usd(r.usd)}`));
      root.appendChild(rect);
      root.appendChild(svg("text", { class: "bar-value", x: x(r.usd || 0) + 6, y: yy + rowH / 2 + 4 }, usd(r.usd)));
    });
    root.appendChild(svg("line", { class: "axis", x1: L, x2: L, y1: T, y2: T + shown.length * rowH }));
    return root;
  }
  function palette(keys) {
    const map = new Map();
    keys.forEach((k, i) => map.set(k, COLORS[i % COLORS.length]));
    return k => map.get(k) || "#98a2b3";
  }
  function legend(keys, colorOf) {
    return el("div", { class: "legend", id: "legend" }, keys.map(k => el("span", { class: "legend-item" }, el("span", { class: "sw", style: { background: colorOf(k) } }), k)));
  }
  function seg(options, current, onPick, name) {
    return el("span", { class: "seg", "data-control": name }, options.map(([value, text]) =>
      el("button", { type: "button", class: value === current ? "on" : null, "data-value": value, onclick: () => onPick(value) }, text)));
  }
  function panel(title, ...children) { return el("section", { class: "panel" }, el("h2", {}, title), ...children); }
  function empty(text) { return el("div", { class: "empty" }, text); }
  function errorBox(e) { return el("div", { class: "error", role: "alert" }, String(e && e.message ? e.message : e)); }

  // ---- pages --------------------------------------------------------------------------------------------------------
  const RANGES = { hour: [["24h", "24 h"], ["48h", "48 h"], ["7d", "7 d"], ["all", "last 48 h of data"]], day: [["7d", "7 d"], ["30d", "30 d"], ["90d", "90 d"], ["all", "all"]] };

  async function overview() {
    const since = state.range === "all" ? null : state.range;
    const [total, series, byModel, forecast] = await Promise.all([
      api("report", { by: "model" }), api("series", { bucket: state.bucket, by: state.by, since: since }),
      api("report", { by: state.by, since: since }), api("forecast"),
    ]);
    const cards = el("div", { class: "cards" },
      card("Total spend", usdBig(total.total.usd), `${count(total.total.calls)} calls` + (total.total.unpriced_calls ? ` · ${count(total.total.unpriced_calls)} unpriced (lower bound)` : ""), "kpi-total", true),
      card("In range", usdBig(series.total.usd), `${count(series.total.calls)} calls`, "kpi-range"),
      card("Month to date", usdBig(forecast.month_to_date_usd), forecast.month, "kpi-mtd"),
      card("Projected month", usdBig(forecast.projected_month_usd), forecast.monthly_cap !== null ? `cap ${usd(forecast.monthly_cap)}` + (forecast.blows_budget ? " · over budget" : "") : "no monthly cap", "kpi-forecast"));
    const keys = series.series.map(g => g.key);
    const colorOf = palette(keys);
    const controls = el("div", { class: "controls" },
      el("label", {}, "Buckets", seg([["hour", "per hour"], ["day", "per day"]], state.bucket, v => { state.bucket = v; state.range = "all"; render(); }, "bucket")),
      el("label", {}, "Stack by", seg([["model", "model"], ["route", "route"], ["agent", "agent"]], state.by, v => { state.by = v; render(); }, "by")),
      el("label", {}, "Range", seg(RANGES[state.bucket], state.range, v => { state.range = v; render(); }, "range")));
    const chart = series.series.length ? [stackedChart(series, colorOf), legend(keys, colorOf)] : [stackedChart(series, colorOf), empty("No calls in this range.")];
    const bars = byModel.groups ? Object.entries(byModel.groups).map(([k, g]) => ({ key: k, usd: g.usd, color: colorOf(k) })) : [];
    return [
      el("h1", {}, "Spend at a glance"),
      el("p", { class: "sub muted" }, `Whole ledger · ${count(total.total.calls)} calls · ${Object.keys(total.groups).length} models`),
      cards,
      panel("Spend over time", controls, ...chart),
      panel(`Spend by ${state.by}` + (since ? ` (last ${since})` : ""), bars.length ? barChart(bars, "by-chart", true) : empty("No calls.")),
    ];
  }
  function card(labelText, value, note, id, big) {
    return el("div", { class: "card" + (big ? " big" : ""), id: id }, el("div", { class: "label" }, labelText), el("div", { class: "value" }, value), el("div", { class: "note" }, note));
  }

  const PAGE = 100; // groups per page of the Breakdown table
  async function breakdown() {
    const dims = ["model", "route", "agent", "user", "session", "provider", "category", "task"];
    // A page of 100 groups at a time, most expensive first (a ledger can hold 20,000 tasks); the TOTAL counts them all.
    let report = await api("report", { by: state.dim, top: PAGE, offset: state.offset || null });
    if (state.offset > 0 && Object.keys(report.groups).length === 0) {
      state.offset = 0;
      report = await api("report", { by: state.dim, top: PAGE });
    }
    const groups = Object.entries(report.groups);
    const all = groups.length + report.omitted;
    const go = offset => { state.offset = offset; render(); };
    const last = Math.max(0, Math.ceil(all / PAGE) - 1) * PAGE;
    const more = all > PAGE ? el("p", { class: "muted pager", id: "report-pages" },
      el("span", { id: "report-range" }, `Groups ${count(report.offset + 1)}–${count(report.offset + groups.length)} of ${count(all)}, most expensive first; the TOTAL counts them all.`), " ",
      el("span", { class: "seg" },
        el("button", { type: "button", id: "report-first", disabled: report.offset === 0 ? "disabled" : null, onclick: () => go(0) }, "« First"),
        el("button", { type: "button", id: "report-prev", disabled: report.offset === 0 ? "disabled" : null, onclick: () => go(Math.max(0, report.offset - PAGE)) }, "‹ Previous"),
        el("button", { type: "button", id: "report-next", disabled: report.offset + groups.length >= all ? "disabled" : null, onclick: () => go(report.offset + PAGE) }, "Next ›"),
        el("button", { type: "button", id: "report-last", disabled: report.offset >= last ? "disabled" : null, onclick: () => go(last) }, "Last »"))) : null;
    const colorOf = palette(groups.map(([k]) => k));
    const table = el("table", { id: "report-table" },
      el("thead", {}, el("tr", {}, el("th", {}, state.dim), el("th", { class: "num" }, "calls"), el("th", { class: "num" }, "tokens in"), el("th", { class: "num" }, "cached in"), el("th", { class: "num" }, "tokens out"), el("th", { class: "num" }, "USD"), el("th", { class: "num" }, "share"))),
      el("tbody", {}, groups.map(([k, g]) => el("tr", { "data-key": k },
        el("td", { class: "key" }, k), el("td", { class: "num" }, count(g.calls)), el("td", { class: "num" }, count(g.tokens_in)), el("td", { class: "num" }, count(g.cached_in)),
        el("td", { class: "num" }, count(g.tokens_out)), usdCell(g.usd), el("td", { class: "num" }, report.total.usd ? pct(100 * g.usd / report.total.usd) : "—"))),
        el("tr", { class: "total" }, el("td", {}, "TOTAL"), el("td", { class: "num" }, count(report.total.calls)), el("td", { class: "num" }, count(report.total.tokens_in)),
          el("td", { class: "num" }, count(report.total.cached_in)), el("td", { class: "num" }, count(report.total.tokens_out)), usdCell(report.total.usd), el("td", { class: "num" }, ""))));
    return [
      el("h1", {}, "Spend by " + state.dim),
      el("p", { class: "sub muted" }, "The numbers of cage report --by " + state.dim + " --json, most expensive first, a page of " + PAGE + " groups at a time."),
      el("div", { class: "controls" }, el("label", {}, "Group by", seg(dims.map(d => [d, d]), state.dim, v => { state.dim = v; state.offset = 0; render(); }, "dim"))),
      panel("Chart", groups.length ? barChart(groups.map(([k, g]) => ({ key: k, usd: g.usd, color: colorOf(k) })), "report-chart", true) : empty("No calls.")),
      panel("Table", more, table),
    ];
  }

  async function task() {
    // The picker offers the tasks of the recent calls (a report by task would list every task of the ledger).
    const [attrib, matrix, recent] = await Promise.all([api("attrib", { task: state.task }), api("matrix", { task: state.task }), api("calls", { limit: 500 })]);
    const names = [...new Set(recent.calls.map(c => c.task).filter(t => t))];
    if (attrib.task && !names.includes(attrib.task)) names.unshift(attrib.task);
    if (attrib.task === null) return [el("h1", {}, "Task"), empty("The ledger has no task yet: label calls with a task (X-Cage-Task, MeterScope) to see attribution.")];
    const picker = el("select", { id: "task-picker", onchange: e => { state.task = e.target.value; render(); } },
      names.map(n => el("option", { value: n, selected: n === attrib.task ? "selected" : null }, n)));
    const steps = attrib.steps || [];
    const attribTable = el("table", { id: "attrib-table" },
      el("thead", {}, el("tr", {}, ["tool", "method", "confidence", "receipts", "raw alternative", "actual", "saved", "saved USD"].map((h, i) => el("th", { class: i > 1 ? "num" : null }, h)))),
      el("tbody", {}, steps.map(s => el("tr", { "data-tool": s.tool },
        el("td", { class: "key" }, s.tool), el("td", {}, badge(s.method)), el("td", { class: "num" }, pct(100 * s.confidence)), el("td", { class: "num" }, count(s.receipts)),
        el("td", { class: "num" }, count(s.raw_alternative) + " " + s.unit), el("td", { class: "num" }, count(s.actual)), el("td", { class: "num" }, count(s.saved)), usdCell(s.saved_usd))),
        el("tr", { class: "total" }, el("td", {}, "TOTAL"), el("td", {}), el("td", {}), el("td", {}), el("td", {}), el("td", {}), el("td", { class: "num" }, count(attrib.total_saved_tokens) + " tok"), usdCell(attrib.total_saved_usd))));
    const residuals = el("table", { id: "residual-table" },
      el("thead", {}, el("tr", {}, ["call", "prompt tokens", "receipts' actual", "residual", ""].map((h, i) => el("th", { class: i > 0 && i < 4 ? "num" : null }, h)))),
      el("tbody", {}, (attrib.residuals || []).map(r => el("tr", {},
        el("td", { class: "key" }, el("a", { href: "#/calls/" + encodeURIComponent(r.call) }, r.call)), el("td", { class: "num" }, count(r.prompt_tokens)), el("td", { class: "num" }, count(r.receipts_actual)),
        el("td", { class: "num" }, count(r.residual)), el("td", {}, r.over_claim ? badge("over-claim", "bad") : "")))));
    const tools = matrix.tools || [];
    const matrixTable = el("table", { id: "matrix-table" },
      el("thead", {}, el("tr", {}, tools.map(t => el("th", {}, t)), el("th", { class: "num" }, "input tokens"), el("th", { class: "num" }, "cost"), el("th", {}, "how known"))),
      el("tbody", {}, (matrix.rows || []).map(r => el("tr", { "data-source": r.source },
        tools.map(t => el("td", {}, r.on[t] ? badge("on", "on") : badge("off", "offb"))),
        el("td", { class: "num" }, count(r.input_tok)), usdCell(r.cost_usd), el("td", {}, badge(r.source))))));
    const saved = steps.map((s, i) => ({ key: s.tool, usd: s.saved_usd || 0, color: COLORS[i % COLORS.length] }));
    return [
      el("h1", {}, "Task ", el("span", { id: "task-name" }, attrib.task)),
      el("p", { class: "sub muted" }, `${attrib.provider}/${attrib.model} · what each tool saved, and what every on/off combination of the tools would have cost`),
      el("div", { class: "controls" }, el("label", {}, "Task", picker)),
      el("div", { class: "cards" },
        card("Whole stack is", matrix.cheaper_pct === null || matrix.cheaper_pct === undefined ? "—" : matrix.cheaper_pct + "% cheaper", `all off ${usd(matrix.all_off ? matrix.all_off.cost_usd : null)} → all on ${usd(matrix.all_on ? matrix.all_on.cost_usd : null)}`, "kpi-cheaper", true),
        card("Saved", usd(attrib.total_saved_usd), count(attrib.total_saved_tokens) + " tokens", "kpi-saved"),
        card("Over-claims", count(attrib.over_claims), "receipts claiming more than the call's prompt", "kpi-overclaims")),
      el("div", { class: "grid12" },
        panel("Savings by tool", saved.length ? barChart(saved, "attrib-chart") : empty("No receipts.")),
        panel("Attribution", attribTable)),
      panel("Counterfactual matrix", matrixTable, el("p", { class: "muted" }, "measured: the configuration actually run · modeled: reconstructed from what the tools replaced · estimated: heuristic")),
      panel("Residuals", residuals),
    ];
  }

  async function budgets() {
    const b = await api("budget");
    const scopes = Object.entries(b.scopes || {});
    if (!scopes.length) return [el("h1", {}, "Budgets"), empty("No budgets are configured (Cage:Budgets in .cage/cage.json or the host's configuration).")];
    const rows = scopes.map(([name, s]) => {
      const p = s.percent === null || s.percent === undefined ? null : s.percent;
      return el("tr", { "data-node": name },
        el("td", { class: "key" }, name, s.bound ? "" : el("span", { class: "muted" }, " (template)")),
        el("td", {}, s.period), usdCell(s.spent), s.cap === null ? el("td", { class: "num" }, "no USD cap") : usdCell(s.cap), s.remaining === null ? el("td", { class: "num" }, "—") : usdCell(s.remaining),
        el("td", {}, el("div", { class: "bar" + (s.over ? " over" : p !== null && p >= 80 ? " warn" : "") }, el("span", { style: { width: Math.min(100, p || 0) + "%" } })), el("div", { class: "muted" }, pct(p))),
        el("td", {}, when(s.resets_at)), el("td", {}, s.on_exceed === "block" ? badge("block", "bad") : badge("warn", "warn")),
        el("td", {}, (s.warnings_fired || []).length ? (s.warnings_fired || []).map(w => badge(String(w), "warn")) : el("span", { class: "muted" }, "none")));
    });
    return [
      el("h1", {}, "Budgets"),
      el("p", { class: "sub muted" }, `As of ${when(b.as_of)} · periods in ${b.time_zone}` + (b.over ? " · a budget is over its cap" : "")),
      panel("Nodes", el("table", { id: "budget-table" },
        el("thead", {}, el("tr", {}, ["node", "period", "spent", "cap", "headroom", "used", "resets", "on exceed", "warnings fired"].map((h, i) => el("th", { class: i >= 2 && i <= 4 ? "num" : null }, h)))),
        el("tbody", {}, rows))),
    ];
  }

  async function calls() {
    const list = await api("calls", { limit: 100 });
    const body = el("tbody", {});
    const table = el("table", { id: "calls-table" },
      el("thead", {}, el("tr", {}, ["time", "model", "route", "agent", "task", "tokens in", "tokens out", "cost", "source"].map((h, i) => el("th", { class: i >= 5 && i <= 7 ? "num" : null }, h)))), body);
    for (const c of list.calls) {
      const row = el("tr", { class: "click" + (state.openCall === c.id ? " open" : ""), "data-call": c.id, onclick: () => { location.hash = state.openCall === c.id ? "#/calls" : "#/calls/" + encodeURIComponent(c.id); } },
        el("td", { class: "nowrap" }, when(c.ts)), el("td", { class: "key" }, c.model), el("td", {}, c.route || "—"), el("td", {}, c.agent || "—"), el("td", {}, c.task || "—"),
        el("td", { class: "num" }, count(c.input + c.cache_read + c.cache_write_5m + c.cache_write_1h)), el("td", { class: "num" }, count(c.output)), usdCell(c.cost_usd), el("td", {}, c.cost_source));
      body.appendChild(row);
      if (state.openCall === c.id) body.appendChild(el("tr", {}, el("td", { colspan: 9 }, await why(c.id))));
    }
    if (state.openCall && !list.calls.some(c => c.id === state.openCall)) body.prepend(el("tr", {}, el("td", { colspan: 9 }, await why(state.openCall))));
    return [
      el("h1", {}, "Recent calls"),
      el("p", { class: "sub muted" }, "Newest first; click a call to see its provenance (cage why)."),
      panel(`Latest ${list.calls.length} calls`, list.calls.length ? table : empty("No calls yet.")),
    ];
  }
  async function why(id) {
    let w;
    try { w = await api("why/" + encodeURIComponent(id)); } catch (e) { return errorBox(e); }
    const c = w.call;
    const facts = [["id", c.id], ["time", when(c.ts)], ["provider / model", c.provider + " / " + c.model], ["route · agent · task", [c.route, c.agent, c.task].map(x => x || "—").join(" · ")],
      ["session · user", [c.session, c.user].map(x => x || "—").join(" · ")], ["cost", usd(c.cost_usd === undefined ? null : c.cost_usd) + " (" + c.cost_source + ")"], ["usage", c.usage_status],
      ["residual", `${count(w.residual.prompt_tokens)} prompt tokens − ${count(w.residual.receipts_actual)} claimed by receipts = ${count(w.residual.tokens)}` + (w.residual.over_claim ? " (over-claim)" : "")]];
    const receipts = el("table", { class: "receipts" },
      el("thead", {}, el("tr", {}, ["tool", "unit", "raw alternative", "actual", "method", "confidence"].map((h, i) => el("th", { class: i >= 2 && i <= 3 ? "num" : null }, h)))),
      el("tbody", {}, w.receipts.map(r => el("tr", {}, el("td", { class: "key" }, r.tool), el("td", {}, r.unit), el("td", { class: "num" }, count(r.raw_alternative)), el("td", { class: "num" }, count(r.actual)), el("td", {}, badge(r.method)), el("td", {}, pct(100 * r.confidence))))));
    return el("div", { class: "why", id: "why" }, el("dl", {}, facts.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])), w.receipts.length ? receipts : el("div", { class: "muted" }, "No receipts against this call."));
  }

  async function forecast() {
    const f = await api("forecast");
    const items = [["Month to date", f.month_to_date_usd], ["Projected month end", f.projected_month_usd]];
    if (f.monthly_cap !== null) items.push(["Monthly cap", f.monthly_cap]);
    return [
      el("h1", {}, "Forecast for " + f.month),
      el("p", { class: "sub muted" }, `Run-rate of the last ${f.span_days} day(s): ${usd(f.per_day)} per day · ${fixed(f.days_left, 1)} days left`),
      el("div", { class: "cards" },
        card("Projected month end", usdBig(f.projected_month_usd), f.monthly_cap !== null ? "cap " + usd(f.monthly_cap) : "no monthly cap", "kpi-projected", true),
        card("Month to date", usdBig(f.month_to_date_usd), f.month, "kpi-mtd"),
        card("Per day", usdBig(f.per_day), "recent run-rate", "kpi-perday"),
        card("Budget", f.blows_budget ? "over" : f.monthly_cap === null ? "—" : "within", f.blows_on ? "crosses the cap on " + f.blows_on : f.unpriced_calls ? count(f.unpriced_calls) + " unpriced calls" : "", "kpi-blows")),
      panel("Month end vs cap", barChart(items.map(([k, v], i) => ({ key: k, usd: v, color: i === 2 ? "#98a2b3" : f.blows_budget && i === 1 ? "#c0262d" : COLORS[i] })), "forecast-chart", true)),
    ];
  }

  // ---- routing and live updates -------------------------------------------------------------------------------------
  const PAGES = { overview, breakdown, task, budgets, calls, forecast };
  let rendering = 0;
  function route() {
    const parts = location.hash.replace(/^#\/?/, "").split("/");
    const page = PAGES[parts[0]] ? parts[0] : "overview";
    state.openCall = page === "calls" && parts[1] ? decodeURIComponent(parts.slice(1).join("/")) : null;
    return page;
  }
  async function render() {
    const page = route();
    const ticket = ++rendering;
    for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.page === page);
    let content;
    try { content = await PAGES[page](); } catch (e) { content = [errorBox(e)]; }
    if (ticket !== rendering) return;
    const scroll = window.scrollY;
    main.replaceChildren(...content);
    main.setAttribute("data-page", page);
    main.setAttribute("data-calls", String(state.calls));
    window.scrollTo(0, scroll);
    performance.mark("cage:rendered"); // when each render landed (the benchmark reads the first)
  }
  function live() {
    const box = document.getElementById("live"), text = document.getElementById("live-text");
    const source = new EventSource("api/events");
    source.addEventListener("ledger", e => {
      const stamp = JSON.parse(e.data);
      box.className = "live on";
      text.textContent = `live · ${count(stamp.calls)} calls · ${new Date().toISOString().slice(11, 19)} UTC`;
      if (stamp.calls !== state.calls) {
        const first = state.calls < 0;
        state.calls = stamp.calls;
        if (!first) render();
        else main.setAttribute("data-calls", String(state.calls));
      }
    });
    source.onopen = () => { box.className = "live on"; };
    source.onerror = () => { box.className = "live off"; text.textContent = "reconnecting…"; };
    // A browser allows a few connections per server: give the feed's back when the page goes away.
    window.addEventListener("pagehide", () => source.close());
  }
  window.addEventListener("hashchange", render);
  render();
  live();
})();
