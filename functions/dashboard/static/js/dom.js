// Small DOM helpers. Data is only ever inserted as text (textContent), never parsed as HTML.

/** h("td.num", {title: x}, "text", childNode, ...) -> element; strings become text nodes. */
export function h(spec, attrs = {}, ...children) {
  const [tag, ...classes] = spec.split(".");
  const el = document.createElement(tag || "div");
  if (classes.length) el.className = classes.join(" ");
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "value") el.value = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/** Replaces the children of `el`. */
export function fill(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

export function errorBox(err, what) {
  const message = err && err.message ? err.message : String(err);
  return h("div.error", {role: "alert", dataset: {error: what || ""}}, what ? `${what}: ${message}` : message);
}

export function statusBadge(status, label) {
  const value = String(status ?? "unknown");
  return h(`span.status.${value.replace(/[^a-z]/g, "") || "unknown"}`, {}, label ?? value);
}

export function table(columns, rows, rowAttrs) {
  const head = h("tr", {}, columns.map((c) => h(c.num ? "th.num" : "th", {class: c.phone === false ? "hide-phone" : null},
    c.label)));
  const body = rows.map((row, i) => h("tr", rowAttrs ? rowAttrs(row, i) : {}, columns.map((c) => {
    const value = c.render ? c.render(row) : row[c.key];
    const cls = [c.num ? "num" : "", c.mono ? "mono" : "", c.phone === false ? "hide-phone" : ""].join(" ").trim();
    return h("td", {class: cls || null}, value ?? "");
  })));
  return h("div.table-wrap", {}, h("table", {}, h("thead", {}, head), h("tbody", {}, body)));
}

export function card(label, value, attrs = {}) {
  return h("div.card", attrs, h("div.label", {}, label), h("div.value", {}, value ?? "-"));
}

export function panel(title, ...children) {
  return h("section.panel", {}, title ? h("h2", {}, title) : null, ...children);
}

export const number = (n, digits = 0) =>
  n === null || n === undefined || Number.isNaN(Number(n)) ? "-" :
    Number(n).toLocaleString(undefined, {maximumFractionDigits: digits});

export function when(iso) {
  if (!iso) return "-";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "-";
  const s = Number(seconds);
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 3600) return `${(s / 60).toFixed(1)} min`;
  if (s < 86400) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}

export function bytes(n) {
  if (n === null || n === undefined) return "-";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = Number(n), i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export const link = (href, text) => h("a", {href}, text);
export const entityLink = (id) => (id ? link(`#/entity/${encodeURIComponent(id)}`, id) : "-");
export const traceLink = (id, text) => (id ? link(`#/trace/${encodeURIComponent(id)}`, text || id) : "-");
