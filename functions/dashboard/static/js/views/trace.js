// Automation trace: the tree of contexts linked by context.parent_id, each with the events it caused.

import {api} from "../api.js";
import {chart} from "../charts.js";
import {entityLink, errorBox, fill, h, panel, table, when} from "../dom.js";

function describe(event) {
  if (event.entity_id) return `${event.entity_id}: ${event.old_state ?? "∅"} → ${event.state ?? "∅"}`;
  const service = event.data && event.data.service ? ` ${event.data.domain || ""}.${event.data.service}` : "";
  return `${event.event_type}${service}`;
}

function toTree(node, focus) {
  const mine = node.context_id === focus;
  const events = (node.events || []).map((e) => ({name: describe(e), value: e.time_fired,
    itemStyle: mine ? {color: "#e8743b", borderColor: "#e8743b"} : undefined}));
  return {
    name: `context …${String(node.context_id).slice(-6)}`, value: node.context_id,
    symbol: "rect", symbolSize: 12,
    itemStyle: mine ? {color: "#e8743b", borderColor: "#e8743b"} : undefined,
    children: [...events, ...(node.children || []).map((c) => toTree(c, focus))],
  };
}

function leaves(node) {
  return (node.events || []).length + (node.children || []).reduce((n, c) => n + leaves(c), 0) || 1;
}

function flatten(node, depth = 0, out = []) {
  for (const e of node.events || []) out.push({...e, _depth: depth, _context: node.context_id});
  for (const c of node.children || []) flatten(c, depth + 1, out);
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
  const el = h("div.chart.tall", {id: "chart-trace"});
  el.style.height = `${Math.min(1200, Math.max(240, leaves(trace.root) * 34 + 40))}px`;
  fill(body,
    h("p", {id: "trace-summary"}, `${trace.event_count} events in ${nodes} contexts` +
      (trace.truncated ? " (truncated: raise the depth to see more)" : "")),
    panel("Tree", el),
    panel("Events, in causal order", table([
      {label: "Depth", render: (e) => String(e._depth), num: true},
      {label: "Time", render: (e) => when(e.time_fired)},
      {label: "What", render: (e) => (e.entity_id ? entityLink(e.entity_id) : e.event_type), mono: true},
      {label: "State", render: (e) => (e.entity_id ? `${e.old_state ?? "∅"} → ${e.state ?? "∅"}` : "")},
      {label: "Context", render: (e) => e._context, mono: true, phone: false},
    ], flatten(trace.root), (e) => ({class: e._context === ctx.arg ? "new" : null}))));
  const width = el.clientWidth || 800;
  const left = Math.round(Math.min(110, width * 0.22));
  const right = Math.round(Math.min(300, width * 0.45));
  chart(el, {
    tooltip: {trigger: "item", formatter: (p) => window.echarts.format.encodeHTML(`${p.name}\n${p.value}`)
      .replace("\n", "<br>")},
    series: [{type: "tree", data: [toTree(trace.root, ctx.arg)], top: 20, bottom: 20, left, right,
      symbolSize: 9, orient: "LR", expandAndCollapse: true, initialTreeDepth: -1,
      label: {position: "left", verticalAlign: "middle", align: "right", fontSize: 12, width: left - 10,
        overflow: "truncate"},
      leaves: {label: {position: "right", verticalAlign: "middle", align: "left", width: right - 10,
        overflow: "truncate"}}}],
  }, ctx.cleanup);
}
