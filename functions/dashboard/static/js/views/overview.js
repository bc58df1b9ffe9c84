// Overview: system health, totals, the event rate over the range and events by domain.
// Each panel loads on its own, so one API being down leaves the others working.

import {api} from "../api.js";
import {chart, timeAxis} from "../charts.js";
import {card, errorBox, fill, h, number, panel, statusBadge, table, when} from "../dom.js";

const REFRESH_MS = 10000;

export async function render(root, ctx) {
  const health = h("div");
  const totals = h("div.cards");
  const rateEl = h("div.chart", {id: "chart-rate"});
  const domainEl = h("div.chart", {id: "chart-domains"});
  const rateError = h("div");
  const summaryError = h("div");
  const domainError = h("div");
  root.append(h("h1", {}, "Overview"), totals, summaryError,
    h("div.grid", {}, panel("Event rate", rateError, rateEl), panel("Events by domain", domainError, domainEl)),
    panel("Health", health));

  let rate = null;
  let domains = null;

  async function loadSummary() {
    try {
      const s = await api("query/stats/summary", {params: {start: ctx.range}});
      if (!ctx.current()) return;
      fill(summaryError);
      fill(domainError);
      fill(totals,
        card("Events", number(s.total), {id: "total-events"}),
        card("Per minute", number(s.rate_per_min, 2)),
        card("Domains", number((s.by_domain || []).length)),
        card("Top entity", (s.top_entities || [])[0] ? s.top_entities[0].key : "-"));
      const option = {
        tooltip: {trigger: "item"}, legend: {type: "scroll", bottom: 0},
        series: [{type: "pie", radius: ["35%", "65%"], center: ["50%", "45%"],
          data: (s.by_domain || []).map((d) => ({name: d.key ?? "(none)", value: d.count}))}],
      };
      if (domains) domains.update(option);
      else domains = chart(domainEl, option, ctx.cleanup);
    } catch (err) {
      if (ctx.current()) {
        fill(summaryError, errorBox(err, "Totals"));
        fill(domainError, errorBox(err, "Events by domain"));
      }
    }
  }

  async function loadTrend() {
    try {
      const t = await api("query/stats/trend", {params: {start: ctx.range}});
      if (!ctx.current()) return;
      fill(rateError);
      const perMin = (t.bucket_s || 60) / 60;
      const option = {
        tooltip: {trigger: "axis"}, xAxis: timeAxis(), yAxis: {type: "value", name: "events/min"},
        series: [{name: "events/min", type: "line", smooth: true, showSymbol: false, areaStyle: {opacity: 0.15},
          data: (t.points || []).map((p) => [p.t, +(p.count / perMin).toFixed(3)])}],
      };
      if (rate) rate.update(option);
      else rate = chart(rateEl, option, ctx.cleanup);
    } catch (err) {
      if (ctx.current()) fill(rateError, errorBox(err, "Event rate"));
    }
  }

  async function loadHealth() {
    try {
      const s = await api("health/");
      if (!ctx.current()) return;
      fill(health,
        h("p", {}, "System: ", statusBadge(s.status), h("span.muted", {}, `  checked ${when(s.checked_at)}`)),
        table([
          {label: "Component", key: "name"},
          {label: "Kind", key: "kind", phone: false},
          {label: "Status", render: (c) => statusBadge(c.status)},
          {label: "Reasons", render: (c) => (c.reasons || []).join("; ")},
        ], s.components || [], (c) => ({dataset: {component: c.name}})));
    } catch (err) {
      if (ctx.current()) fill(health, errorBox(err, "Health"));
    }
  }

  const all = () => Promise.all([loadTrend(), loadSummary(), loadHealth()]);
  ctx.every(REFRESH_MS, all);
  await all();
}
