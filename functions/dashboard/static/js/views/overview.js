// Overview: system health, totals, the event rate over the range and events by domain.
// Each panel loads on its own, so one API being down leaves the others working. The rate cards and the rate
// chart come from the same buckets (query/stats/trend over the same range), so they cannot disagree.

import {api} from "../api.js";
import {bucketName, chart, rowsHeight, timeAxis} from "../charts.js";
import {card, errorBox, fill, h, ident, number, panel, statusBadge, table, when} from "../dom.js";

const REFRESH_MS = 10000;
const STATUS_ORDER = {unhealthy: 0, degraded: 1, ok: 2, unknown: 3};  // what needs attention first

/** Events per minute in each bucket, drawn as a step that holds each bucket's rate across its width. */
function rateOption(t, win) {
  const perMin = t.bucket_s / 60;
  const points = t.points.map((p) => [Date.parse(p.t), +(p.count / perMin).toFixed(3), p.count]);
  if (points.length) {  // the last bucket's rate holds until the range ends
    const last = points[points.length - 1];
    points.push([Math.min(last[0] + t.bucket_s * 1000, win.end.getTime()), last[1], null]);
  }
  return {
    grid: {left: 8, right: 16, top: 30, bottom: 8, containLabel: true},
    tooltip: {trigger: "axis", formatter: (ps) => {
      const p = ps[0];
      if (p.value[2] === null) return "";
      return `${new Date(p.value[0]).toLocaleString()}<br>${p.value[2]} events in ${bucketName(t.bucket_s)} bucket ` +
        `(${p.value[1]}/min)`;
    }},
    xAxis: timeAxis(win), yAxis: {type: "value", minInterval: 1},
    series: [{name: "events/min", type: "line", step: "end", showSymbol: false, smooth: false,
      areaStyle: {opacity: 0.15}, lineStyle: {width: 1.5}, data: points}],
  };
}

function domainOption(s) {
  const items = (s.by_domain || []).slice(0, 12).reverse();
  return {
    grid: {left: 8, right: 40, top: 8, bottom: 8, containLabel: true},
    tooltip: {trigger: "axis", axisPointer: {type: "shadow"}},
    xAxis: {type: "value", minInterval: 1, axisLabel: {hideOverlap: true}},
    yAxis: {type: "category", data: items.map((d) => d.key ?? "(none)")},
    series: [{type: "bar", name: "events", data: items.map((d) => d.count),
      label: {show: true, position: "right", formatter: (p) => number(p.value)}}],
  };
}

export async function render(root, ctx) {
  const health = h("div");
  const totals = h("div.cards");
  const rateEl = h("div.chart", {id: "chart-rate"});
  const rateNote = h("p.muted.chart-note", {id: "rate-note"});
  const domainEl = h("div.chart", {id: "chart-domains"});
  const rateError = h("div");
  const summaryError = h("div");
  const domainError = h("div");
  root.append(h("h1", {}, "Overview"), totals, summaryError,
    h("div.grid", {}, panel("Event rate", rateError, rateNote, rateEl),
      panel("Events by domain", domainError, domainEl)),
    panel("Health", health));

  let rate = null;
  let domains = null;
  let trend = null;
  let summary = null;

  function showTotals(win) {
    if (!trend) return;
    const minutes = win.seconds / 60;
    const points = trend.points || [];
    const lastFull = points.length > 1 ? points[points.length - 2] : points[0];  // the newest complete bucket
    fill(totals,
      card("Events", number(trend.total), {id: "total-events"}, `last ${win.label}`),
      card("Per minute", number(trend.total / minutes, 2), {id: "rate-average"}, `average over the last ${win.label}`),
      card("Latest bucket", lastFull ? `${number(lastFull.count / (trend.bucket_s / 60), 1)}/min` : "-",
        {id: "rate-latest"}, lastFull ? `${bucketName(trend.bucket_s)} from ${
          new Date(lastFull.t).toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"})}` : null),
      card("Top entity", summary && (summary.top_entities || [])[0] ? (summary.top_entities[0].name ||
        ident(summary.top_entities[0].key)) : "-", {id: "top-entity"},
      summary && (summary.top_entities || [])[0] ? `${number(summary.top_entities[0].count)} events` : null));
  }

  async function loadTrend(win) {
    try {
      const t = await api("query/stats/trend", {params: win.params});
      if (!ctx.current()) return;
      trend = t;
      fill(rateError);
      fill(rateNote, `Last ${win.label}, ${bucketName(t.bucket_s)} buckets: events per minute in each`);
      const option = rateOption(t, win);
      if (rate) rate.update(option);
      else rate = chart(rateEl, option, ctx.cleanup);
    } catch (err) {
      if (ctx.current()) fill(rateError, errorBox(err, "Event rate"));
    }
  }

  async function loadSummary(win) {
    try {
      const s = await api("query/stats/summary", {params: {...win.params, top: 1}});
      if (!ctx.current()) return;
      summary = s;
      fill(summaryError);
      fill(domainError);
      domainEl.style.height = rowsHeight(Math.min(12, (s.by_domain || []).length || 1), {per: 28, extra: 40});
      const option = domainOption(s);
      if (domains) domains.update(option);
      else domains = chart(domainEl, option, ctx.cleanup);
    } catch (err) {
      if (ctx.current()) {
        fill(summaryError, errorBox(err, "Totals"));
        fill(domainError, errorBox(err, "Events by domain"));
      }
    }
  }

  async function loadHealth() {
    try {
      const s = await api("health/");
      if (!ctx.current()) return;
      const components = (s.components || []).slice()
        .sort((a, b) => (STATUS_ORDER[a.status] ?? 4) - (STATUS_ORDER[b.status] ?? 4));
      fill(health,
        h("p", {id: "system-status"}, "System: ", statusBadge(s.status), " ",
          h("span.muted", {}, "checked ", when(s.checked_at))),
        table([
          {label: "Component", key: "name"},
          {label: "Kind", key: "kind", phone: false},
          {label: "Status", render: (c) => statusBadge(c.status)},
          {label: "Reasons", render: (c) => ident((c.reasons || []).join("; "))},
        ], components, (c) => ({dataset: {component: c.name}})));
    } catch (err) {
      if (ctx.current()) fill(health, errorBox(err, "Health"));
    }
  }

  async function all() {
    const win = ctx.window();
    await Promise.all([loadTrend(win), loadSummary(win), loadHealth()]);
    if (ctx.current()) showTotals(win);
  }

  ctx.every(REFRESH_MS, all);
  await all();
}
