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

/** A table. A column: {label, key | render(row), num, mono, phone: false (hidden on phones), title (the header's
 * explanation)}. */
export function table(columns, rows, rowAttrs) {
  const head = h("tr", {}, columns.map((c) => h(c.num ? "th.num" : "th", {
    class: c.phone === false ? "hide-phone" : null, title: c.title || null, scope: "col"}, c.label)));
  const body = rows.map((row, i) => h("tr", rowAttrs ? rowAttrs(row, i) : {}, columns.map((c) => {
    const value = c.render ? c.render(row) : row[c.key];
    const cls = [c.num ? "num" : "", c.mono ? "mono" : "", c.phone === false ? "hide-phone" : ""].join(" ").trim();
    return h("td", {class: cls || null}, value ?? "");
  })));
  return h("div.table-wrap", {}, h("table", {}, h("thead", {}, head), h("tbody", {}, body)));
}

/** Key/value rows (settings, configuration): {key: value}; objects and lists become readable text. */
export function facts(object, labels = {}) {
  const rows = Object.entries(object || {}).map(([key, value]) => ({key, value}));
  return h("div.table-wrap", {}, h("table.facts", {}, h("tbody", {}, rows.map((r) => h("tr", {dataset: {key: r.key}},
    h("th", {scope: "row"}, labels[r.key] || r.key), h("td", {}, ident(plain(r.value))))))));
}

/** A setting's value as text: lists joined, objects as "key: value" pairs, empty as a dash. */
export function plain(value) {
  if (value === null || value === undefined || value === "") return "—";
  if (Array.isArray(value)) return value.length ? value.map(plain).join(", ") : "—";
  if (typeof value === "object") {
    const parts = Object.entries(value).map(([k, v]) => `${k}: ${plain(v)}`);
    return parts.length ? parts.join(" · ") : "—";
  }
  if (typeof value === "boolean") return value ? "yes" : "no";
  return String(value);
}

export function card(label, value, attrs = {}, note = null) {
  return h("div.card", attrs, h("div.label", {}, label), h("div.value", {}, value ?? "-"),
    note ? h("div.note", {}, note) : null);
}

export function panel(title, ...children) {
  return h("section.panel", {}, title ? h("h2", {}, title) : null, ...children);
}

export const number = (n, digits = 0) =>
  n === null || n === undefined || Number.isNaN(Number(n)) ? "-" :
    Number(n).toLocaleString(undefined, {maximumFractionDigits: digits});

const TIME = {hour: "2-digit", minute: "2-digit", second: "2-digit"};
const DATE_TIME = {month: "short", day: "numeric", ...TIME};
const SHORT = {month: "short", day: "numeric", hour: "2-digit", minute: "2-digit"};

/** A moment as people read it: "13:37:05" today, "30 Nov, 13:37:05" this year, with the year before (in the
 * reader's locale; the exact UTC time in its tooltip). The date and the time are each kept whole, but a narrow
 * cell (a phone) may put the time under the date: a list reaching back past midnight stays on the screen. */
export function when(iso) {
  if (!iso) return "-";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const now = new Date();
  const options = d.toDateString() === now.toDateString() ? TIME
    : d.getFullYear() === now.getFullYear() ? DATE_TIME : {...DATE_TIME, year: "numeric"};
  const parts = new Intl.DateTimeFormat(undefined, options).formatToParts(d);
  const hour = parts.findIndex((p) => p.type === "hour");
  const whole = (ps) => h("span.nowrap", {}, ps.map((p) => p.value).join(""));
  if (hour < 2) return h("span.nowrap", {title: d.toISOString()}, parts.map((p) => p.value).join(""));
  return h("span", {title: d.toISOString()}, whole(parts.slice(0, hour - 1)), parts[hour - 1].value,
    whole(parts.slice(hour)));
}

/** A range as people read it: "30 Nov, 13:00 – 1 Dec, 13:00". */
export function span(start, end) {
  return `${d2s(start)} – ${d2s(end)}`;
}

const d2s = (d) => new Date(d).toLocaleString(undefined, SHORT);

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

/** An identifier (entity id, service, topic) or a state that may wrap only after its separators (a dot only
 * before a non-digit, so "22.5" stays whole), never inside a word. */
export function ident(text) {
  const out = h("span.ident");
  const parts = String(text).split(/(?<=[_/:=-])|(?<=\.)(?=\D)/);
  parts.forEach((part, i) => {
    out.append(document.createTextNode(part));
    if (i < parts.length - 1) out.append(document.createElement("wbr"));
  });
  return out;
}

/** A state with its unit as HA shows it ("21.5 °C", never broken between them); unit-less states as they are. */
export const withUnit = (state, unit) => (state === null || state === undefined ? "∅"
  : unit && state !== "unavailable" && state !== "unknown" ? `${state}\u00a0${unit}` : String(state));

export const link = (href, text) => h("a", {href}, text);

/** An entity as people know it: its name, with its id below (the id alone when there is no name). */
export function entityCell(id, name) {
  if (!id) return "-";
  const a = h("a", {href: `#/entity/${encodeURIComponent(id)}`, title: id}, name ? name : ident(id));
  return name ? h("span.entity", {}, a, h("span.sub.mono", {}, ident(id))) : a;
}

export const entityLink = (id) => (id ? link(`#/entity/${encodeURIComponent(id)}`, ident(id)) : "-");
export const traceLink = (id, text) => (id ? link(`#/trace/${encodeURIComponent(id)}`, text || id) : "-");

/** What an event did, in words: a state change with its unit, the service a call ran, an automation's run. */
export function describe(e) {
  if (e.event_type === "state_changed") {
    const unit = e.unit_of_measurement;
    return `${withUnit(e.old_state, unit)} → ${withUnit(e.state, unit)}`;
  }
  const data = e.data || {};
  if (e.event_type === "call_service") return `called ${data.domain || "?"}.${data.service || "?"}`;
  if (e.event_type === "automation_triggered") return "automation triggered";
  if (e.event_type === "script_started") return "script started";
  return e.event_type.replace(/_/g, " ");
}
