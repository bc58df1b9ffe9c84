// Automation trace: the tree of contexts linked by context.parent_id, each with the events it caused. A context
// is named by what ran in it (the automation or script, a user's action); an event by its entity's name and what
// happened, so no two nodes read alike.

import {api} from "../api.js";
import {chart, narrow} from "../charts.js";
import {describe, entityCell, errorBox, fill, h, ident, panel, table, when} from "../dom.js";

const pad = (n) => String(n).padStart(2, "0");
const clock = (iso) => {
  const d = new Date(iso);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
};

/** What an event did, then whose it is: [what, who] (a truncated label loses the name, not the deed). */
function eventParts(e) {
  const who = e.entity_name || e.entity_id || "";
  if (e.event_type === "state_changed") return [e.old_state === e.state ? "attributes changed" : describe(e), who];
  return [describe(e), who];
}

/** Each event's label; deeds that read alike (an automation writes its entity twice per run) are numbered. */
function labels(events, withClock) {
  const seen = new Map();
  return events.map((e) => {
    const [what, who] = eventParts(e);
    const key = `${what}|${who}`;
    const n = (seen.get(key) || 0) + 1;
    seen.set(key, n);
    return `${withClock ? `${clock(e.time_fired)} ` : ""}${what}${n > 1 ? ` (${n})` : ""}${who ? ` · ${who}` : ""}`;
  });
}

// A backfilled event whose context HA could not give back (gateway-bridge/README.md, Backfill) says so.
const unknown = (e, field) => Boolean(e.backfill && (e.backfill.unknown || []).includes(field));

/** What ran in a context: the automation or script it started or whose state it changed, else whose action it
 * was; a context HA could not give back to a backfill says so. */
function contextLabel(node) {
  const events = node.events || [];
  if (events.length && events.every((e) => unknown(e, "id"))) return "context unknown (backfilled)";
  const run = events.find((e) => e.event_type === "automation_triggered" || e.event_type === "script_started");
  if (run) return (run.data && run.data.name) || run.entity_name || run.entity_id || "automation";
  const own = events.find((e) => /^(automation|script)\./.test(e.entity_id || ""));  // it wrote its own state
  if (own) return own.entity_name || own.entity_id;
  const user = events.find((e) => e.context && e.context.user_id);
  if (user) return "a user's action";
  return `context …${String(node.context_id).slice(-6)}`;
}

/** The tree's data; an event that is not in the last column gets only its column's width for its label. */
function toTree(node, focus, widths, level = 0) {
  const mine = node.context_id === focus;
  const color = mine ? {color: "#e8743b", borderColor: "#e8743b"} : undefined;
  const events = labels(node.events || [], true)
    .map((name, i) => ({name, value: node.events[i].event_id, itemStyle: color,
      label: {width: level + 1 < widths.last ? widths.column : widths.right}}));
  return {
    name: contextLabel(node), value: node.context_id, symbol: "rect", symbolSize: 12, itemStyle: color,
    children: [...events, ...(node.children || []).map((c) => toTree(c, focus, widths, level + 1))],
  };
}

/** The outline a phone shows instead of the chart: each context, then what happened in it, indented. */
function outline(node, focus, level = 0) {
  return h("li", {class: node.context_id === focus ? "focus" : null},
    h("div.context", {}, contextLabel(node)),
    h("ul", {}, labels(node.events || [], false).map((label, i) => h("li", {},
      h("span.muted", {}, clock(node.events[i].time_fired)), " ", label)),
    (node.children || []).map((c) => outline(c, focus, level + 1))));
}

/** Columns of the tree: the root is column 0, a context's events one further than it. */
function columns(node) {
  const own = (node.events || []).length ? 1 : 0;
  return Math.max(own, ...(node.children || []).map((c) => 1 + columns(c)));
}

function leaves(node) {
  return (node.events || []).length + (node.children || []).reduce((n, c) => n + leaves(c), 0) || 1;
}

function flatten(node, level = 0, out = []) {
  for (const e of node.events || []) out.push({...e, _depth: level, _context: node.context_id});
  for (const c of node.children || []) flatten(c, level + 1, out);
  return out;
}

function count(node) {
  return 1 + (node.children || []).reduce((n, c) => n + count(c), 0);
}

export async function render(root, ctx) {
  const form = h("form.filters", {onsubmit: (e) => {
    e.preventDefault();
    const id = e.target.elements.context_id.value.trim();
    if (id) location.hash = `#/trace/${encodeURIComponent(id)}`;
  }}, h("input", {name: "context_id", placeholder: "context id", "aria-label": "Context id", value: ctx.arg || ""}),
  h("button.primary", {type: "submit"}, "Show trace"));
  root.append(h("h1", {}, "Automation trace"), form);
  if (!ctx.arg) {
    root.append(h("p.muted", {}, "Enter a context id, or follow a \"trace\" link from Live events."));
    return;
  }
  const body = h("div");
  root.append(body);
  let trace;
  try {
    trace = await api(`query/analytics/trace/${encodeURIComponent(ctx.arg)}`, {params: {depth: 20}});
  } catch (err) {
    fill(body, errorBox(err, "Trace"));
    return;
  }
  if (!ctx.current()) return;
  const nodes = count(trace.root);
  const phone = narrow();
  const el = phone ? h("ul.trace-outline", {id: "trace-outline"}, outline(trace.root, ctx.arg))
    : h("div.chart.tall", {id: "chart-trace"});
  if (!phone) el.style.height = `${Math.min(1600, Math.max(200, leaves(trace.root) * 30 + 40))}px`;
  fill(body,
    h("p", {id: "trace-summary"}, `${trace.event_count} events in ${nodes} contexts` +
      (trace.truncated ? " (truncated: raise the depth to see more)" : "")),
    panel("Tree", el),
    panel("Events, in causal order", table([
      {label: "Depth", render: (e) => String(e._depth), num: true, phone: false},
      {label: "Time", render: (e) => when(e.time_fired)},
      {label: "Entity", render: (e) => (e.entity_id ? entityCell(e.entity_id, e.entity_name)
        : e.event_type.replace(/_/g, " "))},
      {label: "What", render: (e) => describe(e)},
      {label: "Context", render: (e) => (unknown(e, "id") ? "context unknown (backfilled)" : ident(e._context)),
        mono: true, phone: false},
      {label: "Cause", render: (e) => (unknown(e, "parent_id") ? "cause unknown (backfilled)" : ""), phone: false},
    ], flatten(trace.root), (e) => ({class: e._context === ctx.arg ? "new" : null}))));
  if (phone) return;
  const width = el.clientWidth || 800;
  // Context names sit left of their square, events right of their dot, each within the room of its column.
  const left = Math.round(Math.min(200, width * 0.18));
  const right = Math.round(Math.min(420, width * 0.4));
  const last = columns(trace.root);
  const widths = {last, right: right - 14, column: Math.max(60, Math.round((width - left - right) / Math.max(1, last))
    - 24)};
  chart(el, {
    tooltip: {trigger: "item", formatter: (p) => window.echarts.format.encodeHTML(p.name)},
    series: [{type: "tree", data: [toTree(trace.root, ctx.arg, widths)], top: 16, bottom: 16, left, right,
      symbolSize: 9, orient: "LR", expandAndCollapse: false, initialTreeDepth: -1,
      label: {position: "left", verticalAlign: "middle", align: "right", fontSize: 12, width: left - 14,
        overflow: "truncate", ellipsis: "…"},
      leaves: {label: {position: "right", verticalAlign: "middle", align: "left", fontSize: 12,
        overflow: "truncate", ellipsis: "…"}}}],
  }, ctx.cleanup);
}
