/// The stylesheet and script every Agora page shares. The script is small on purpose: a DOM
/// builder that only ever sets text (never HTML), JSON fetching with the API's error messages,
/// amounts in AGR from base units, tables, and line charts drawn as inline SVG. Charts are drawn
/// by these forty lines rather than by a charting library: the pages plot a few hundred points at
/// most, a vendored library would be most of the bytes served and one more thing to keep patched,
/// and SVG needs no canvas, fonts or outside files.
public enum WebAssets {
    public static let stylesheet = #"""
    :root { --ink: #1d2330; --muted: #6b7385; --line: #dfe3ea; --accent: #2c6bed; --good: #1a8a4a; --bad: #c2362b; --paper: #f7f8fa; }
    * { box-sizing: border-box; }
    body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: var(--paper); }
    header { display: flex; align-items: baseline; gap: 14px; padding: 10px 20px; background: #fff; border-bottom: 1px solid var(--line); flex-wrap: wrap; }
    header .brand { font-weight: 700; font-size: 18px; color: var(--ink); text-decoration: none; }
    header .subtitle { color: var(--muted); }
    nav { display: flex; gap: 12px; flex: 1; }
    nav a { color: var(--accent); text-decoration: none; }
    #live { color: var(--muted); font-size: 12px; }
    #live.on::before { content: "●"; color: var(--good); margin-right: 4px; }
    main { max-width: 1100px; margin: 0 auto; padding: 16px 20px 40px; }
    h1 { font-size: 20px; margin: 8px 0 12px; } h2 { font-size: 16px; margin: 22px 0 8px; }
    .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(180px, 1fr)); gap: 10px; }
    .card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
    .card .label { color: var(--muted); font-size: 12px; } .card .value { font-size: 18px; font-weight: 600; word-break: break-all; }
    table { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid var(--line); }
    th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
    th { color: var(--muted); font-weight: 500; font-size: 12px; }
    td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
    .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: 12px; word-break: break-all; }
    .muted { color: var(--muted); } .good { color: var(--good); } .bad { color: var(--bad); }
    .error { color: var(--bad); background: #fff; border: 1px solid var(--bad); padding: 8px 12px; border-radius: 6px; }
    a { color: var(--accent); }
    form.search { display: flex; gap: 8px; margin: 4px 0 14px; }
    input, textarea, button { font: inherit; }
    input[type=text], textarea, select { flex: 1; padding: 7px 9px; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
    button { padding: 7px 14px; border: 1px solid var(--accent); border-radius: 6px; background: var(--accent); color: #fff; cursor: pointer; }
    button.secondary { background: #fff; color: var(--accent); } button:disabled { opacity: .5; cursor: default; }
    svg.chart { background: #fff; border: 1px solid var(--line); border-radius: 6px; width: 100%; height: auto; }
    svg.chart .series { fill: none; stroke: var(--accent); stroke-width: 2; }
    svg.chart .axis { fill: none; stroke: var(--line); } svg.chart text { fill: var(--muted); font-size: 11px; }
    .chat { display: flex; flex-direction: column; gap: 10px; }
    .message { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; white-space: pre-wrap; }
    .message.user { border-left: 3px solid var(--accent); } .message .meta { color: var(--muted); font-size: 12px; margin-top: 6px; white-space: normal; }
    dl.fields { display: grid; grid-template-columns: max-content 1fr; gap: 4px 14px; background: #fff; border: 1px solid var(--line); padding: 10px 12px; border-radius: 6px; }
    dl.fields dt { color: var(--muted); } dl.fields dd { margin: 0; word-break: break-all; }
    """#

    public static let script = #"""
    "use strict";
    // Shared by every Agora page. Data is only ever set as text, never parsed as HTML.
    const Agora = (() => {
      const svgNS = "http://www.w3.org/2000/svg";
      function el(tag, attrs, ...children) {
        const node = document.createElement(tag);
        for (const [key, value] of Object.entries(attrs || {})) {
          if (value === undefined || value === null || value === false) continue;
          if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
          else if (key === "class") node.className = value;
          else node.setAttribute(key, value);
        }
        for (const child of children.flat()) {
          if (child === undefined || child === null) continue;
          node.append(child instanceof Node ? child : document.createTextNode(String(child)));
        }
        return node;
      }
      async function getJSON(url, options) {
        const response = await fetch(url, options);
        let body = null;
        try { body = await response.json(); } catch (_) {}
        if (!response.ok) {
          const message = body && body.error ? (body.error.message || body.error.code) : response.statusText;
          const error = new Error(message || ("HTTP " + response.status));
          error.status = response.status;
          throw error;
        }
        return body;
      }
      // Amounts travel as integer base units (1 AGR = 10^9 units): printed digit by digit.
      function agr(units) {
        if (units === undefined || units === null) return "—";
        const digits = BigInt(Math.trunc(Number(units))).toString().padStart(10, "0");
        const whole = digits.slice(0, -9), fraction = digits.slice(-9).replace(/0+$/, "");
        return (fraction ? whole + "." + fraction : whole) + " AGR";
      }
      const short = (text, n = 12) => (text && text.length > n + 2 ? text.slice(0, n) + "…" : (text || ""));
      const ago = (seconds) => {
        const s = Math.max(0, Math.round(Date.now() / 1000 - seconds));
        return s < 90 ? s + " s ago" : s < 5400 ? Math.round(s / 60) + " min ago" : Math.round(s / 3600) + " h ago";
      };
      function card(label, value, id) { return el("div", { class: "card" }, el("div", { class: "label" }, label), el("div", { class: "value", id }, value)); }
      // columns: [{ title, value: row => text or Node, num: bool }]
      function table(columns, rows, empty) {
        if (!rows.length) return el("p", { class: "muted" }, empty || "None yet.");
        return el("table", {},
          el("thead", {}, el("tr", {}, columns.map(c => el("th", { class: c.num ? "num" : "" }, c.title)))),
          el("tbody", {}, rows.map(row => el("tr", {}, columns.map(c => el("td", { class: c.num ? "num" : (c.mono ? "mono" : "") }, c.value(row)))))));
      }
      function fields(pairs) { return el("dl", { class: "fields" }, pairs.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])); }
      // A line chart of points [{x, y}] as inline SVG, with the y range and the x span labelled.
      function lineChart(points, { title, format = String, width = 640, height = 170 } = {}) {
        const svg = document.createElementNS(svgNS, "svg");
        svg.setAttribute("viewBox", `0 0 ${width} ${height}`); svg.setAttribute("class", "chart"); svg.setAttribute("role", "img");
        const text = (x, y, value, anchor) => {
          const t = document.createElementNS(svgNS, "text");
          t.setAttribute("x", x); t.setAttribute("y", y); if (anchor) t.setAttribute("text-anchor", anchor);
          t.textContent = value; svg.append(t);
        };
        text(8, 14, title || "");
        if (points.length < 2) { text(width / 2, height / 2, "waiting for data…", "middle"); return svg; }
        const left = 60, right = width - 10, top = 22, bottom = height - 22;
        const xs = points.map(p => p.x), ys = points.map(p => p.y);
        const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(0, ...ys), y1 = Math.max(...ys, y0 + 1e-9);
        const px = x => left + (x1 === x0 ? 0 : (x - x0) / (x1 - x0)) * (right - left);
        const py = y => bottom - (y - y0) / (y1 - y0) * (bottom - top);
        const axis = document.createElementNS(svgNS, "path");
        axis.setAttribute("d", `M${left} ${top} V${bottom} H${right}`); axis.setAttribute("class", "axis"); svg.append(axis);
        const line = document.createElementNS(svgNS, "polyline");
        line.setAttribute("points", points.map(p => px(p.x).toFixed(1) + "," + py(p.y).toFixed(1)).join(" "));
        line.setAttribute("class", "series"); svg.append(line);
        text(left - 4, top + 4, format(y1), "end"); text(left - 4, bottom, format(y0), "end");
        text(left, height - 6, points.length + " points"); text(right, height - 6, "now", "end");
        return svg;
      }
      function show(...nodes) { const app = document.getElementById("app"); app.replaceChildren(...nodes); }
      function fail(error) { return el("p", { class: "error" }, String(error && error.message ? error.message : error)); }
      function nav(links) { document.getElementById("nav").replaceChildren(...links.map(([label, href]) => el("a", { href }, label))); }
      function live(on, text) { const node = document.getElementById("live"); node.className = on ? "on" : ""; node.textContent = text; }
      // Calls `refresh` now and every `ms`, never two at once; errors are shown, not thrown.
      function every(ms, refresh) {
        let running = false;
        const tick = async () => {
          if (running) return; running = true;
          try { await refresh(); live(true, "live"); } catch (error) { live(false, "offline: " + error.message); } finally { running = false; }
        };
        tick(); return setInterval(tick, ms);
      }
      return { el, getJSON, agr, short, ago, card, table, fields, lineChart, show, fail, nav, live, every };
    })();
    """#
}
