// Pipeline: per-stage throughput and lag (JetStream consumers), the stream, and the dead letters by reason.

import {api} from "../api.js";
import {card, errorBox, fill, h, ident, number, panel, bytes, table, when} from "../dom.js";
import {chart, labelWidth, narrow, rowsHeight} from "../charts.js";

const REFRESH_MS = 5000;

export async function render(root, ctx) {
  const stream = h("div.cards");
  const stages = h("div");
  const dlq = h("div");
  const problem = h("div");
  const lagEl = h("div.chart", {id: "chart-lag"});
  const rateEl = h("div.chart", {id: "chart-throughput"});
  root.append(h("h1", {}, "Pipeline"), problem, stream,
    h("div.grid", {}, panel("Lag (pending per stage)", lagEl), panel("Throughput since last refresh", rateEl)),
    panel("Stages", stages), panel("Dead letters", dlq));
  let lag = null;
  let rate = null;
  let previous = null;

  async function load() {
    let p;
    try {
      p = await api("health/pipeline");
    } catch (err) {
      if (ctx.current()) fill(problem, errorBox(err, "Pipeline"));
      return;
    }
    if (!ctx.current()) return;
    fill(problem);
    const s = p.stream || {};
    fill(stream, card("Stream", s.name || "-"), card("Messages", number(s.messages)), card("Size", bytes(s.bytes)),
      card("Dead letters", number((p.dlq || {}).total), {id: "dlq-total"}), card("Checked", when(p.checked_at)));
    const items = p.stages || [];
    // a function with two topics is two stages: its name says which only where it has to
    const twice = new Set(items.map((x) => x.function).filter((f, i, all) => all.indexOf(f) !== i));
    const names = items.map((x) => (twice.has(x.function) ? `${x.function} ← ${x.topic}` : x.function));
    const labels = labelWidth(narrow() ? 100 : 220);
    lagEl.style.height = rateEl.style.height = rowsHeight(items.length, {per: 28, extra: 70});
    const axisTip = {trigger: "axis", axisPointer: {type: "shadow"}, formatter: (ps) => {
      const x = items[ps[0].dataIndex];
      return `${window.echarts.format.encodeHTML(`${x.function} ← ${x.topic}`)}<br>` +
        ps.map((q) => `${q.marker}${q.seriesName}: ${number(q.value, 2)}`).join("<br>");
    }};
    const lagOption = {
      tooltip: axisTip, legend: {bottom: 0},
      grid: {left: 8, right: 20, top: 8, bottom: 36, containLabel: true},
      xAxis: {type: "value", minInterval: 1, axisLabel: {hideOverlap: true}},
      yAxis: {type: "category", inverse: true, data: names, axisLabel: labels},
      series: [
        {name: "pending", type: "bar", stack: "q", data: items.map((x) => x.pending || 0)},
        {name: "in flight", type: "bar", stack: "q", data: items.map((x) => x.ack_pending || 0)},
        {name: "redelivered", type: "bar", data: items.map((x) => x.redelivered || 0)},
      ],
    };
    const now = performance.now();
    const perSecond = items.map((x) => {
      const before = previous && previous.items.find((y) => y.function === x.function && y.topic === x.topic);
      const seconds = previous ? (now - previous.at) / 1000 : 0;
      return before && seconds > 0 ? +(((x.delivered || 0) - (before.delivered || 0)) / seconds).toFixed(2) : 0;
    });
    previous = {at: now, items};
    const rateOption = {
      tooltip: axisTip, legend: {bottom: 0},
      grid: {left: 8, right: 20, top: 8, bottom: 36, containLabel: true},
      xAxis: {type: "value", axisLabel: {hideOverlap: true}},
      yAxis: {type: "category", inverse: true, data: names, axisLabel: labels},
      series: [{name: "messages delivered per second", type: "bar", data: perSecond}],
    };
    if (lag) { lag.update(lagOption); rate.update(rateOption); } else {
      lag = chart(lagEl, lagOption, ctx.cleanup);
      rate = chart(rateEl, rateOption, ctx.cleanup);
    }
    fill(stages, table([
      {label: "Function", key: "function"},
      {label: "Topic", render: (x) => ident(x.topic), mono: true, phone: false},
      {label: "Pending", render: (x) => number(x.pending), num: true},
      {label: "In flight", render: (x) => number(x.ack_pending), num: true, phone: false},
      {label: "Delivered", render: (x) => number(x.delivered), num: true},
      {label: "Redelivered", render: (x) => number(x.redelivered), num: true, phone: false},
      {label: "Invocations", render: (x) => number(x.invocations), num: true, phone: false},
      {label: "Errors", render: (x) => number(x.errors), num: true},
      {label: "Last active", render: (x) => when(x.last_active), phone: false},
    ], items, (x) => ({dataset: {stage: x.function}})));
    const d = p.dlq || {};
    fill(dlq,
      (d.by_reason || []).length ? table([
        {label: "Reason", key: "reason"}, {label: "Count", render: (r) => number(r.count), num: true},
      ], d.by_reason) : h("p.empty", {}, "No dead letters."),
      (d.recent || []).length ? h("div", {}, h("h2", {}, "Recent"), table([
        {label: "Time", render: (r) => when(r.time)},
        {label: "Stage", key: "stage"},
        {label: "Reason", key: "reason"},
        {label: "Batch", render: (r) => ident(r.batch_id || ""), mono: true, phone: false},
        {label: "Events", render: (r) => number(r.events), num: true, phone: false},
      ], d.recent)) : null);
  }

  ctx.every(REFRESH_MS, load);
  await load();
}
