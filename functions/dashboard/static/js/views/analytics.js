// Analytics: events per area over time (heatmap), top entities, how long states last (and the outliers),
// device reliability, and a way into automation traces.

import {api} from "../api.js";
import {chart} from "../charts.js";
import {duration, entityLink, errorBox, fill, h, number, panel, table, when} from "../dom.js";



const HEAT_BUCKET = {"-1h": "5m", "-6h": "15m", "-24h": "1h", "-7d": "6h", "-30d": "1d"};

async function section(el, what, load) {
  try {
    await load();
  } catch (err) {
    fill(el, errorBox(err, what));
  }
}

export async function render(root, ctx) {
  const heat = h("div");
  const top = h("div");
  const durations = h("div");
  const anomalies = h("div");
  const reliability = h("div");
  const traceForm = h("form.filters", {onsubmit: (e) => {
    e.preventDefault();
    const id = e.target.elements.context_id.value.trim();
    if (id) location.hash = `#/trace/${encodeURIComponent(id)}`;
  }}, h("input", {name: "context_id", placeholder: "context id", "aria-label": "Context id"}),
  h("button.primary", {type: "submit"}, "Show trace"));
  root.append(h("h1", {}, "Analytics"),
    panel("Events per area", heat),
    h("div.grid", {}, panel("Top entities", top), panel("Time in state", durations)),
    panel("Unusual durations", anomalies),
    panel("Device reliability", reliability),
    panel("Automation trace", h("p.muted", {}, "Follow a chain of events caused by one another (context.parent_id)."),
      traceForm));
  const start = ctx.range;

  await Promise.all([
    section(heat, "Areas", async () => {
      const a = await api("query/analytics/areas", {params: {start, bucket: HEAT_BUCKET[start] || "1h"}});
      if (!ctx.current()) return;
      if (!(a.areas || []).length) return fill(heat, h("p.empty", {}, "No events with an area in this range."));
      const el = h("div.chart", {id: "chart-areas"});
      const names = a.areas.map((x) => x.name || x.area_id);
      fill(heat, h("p.muted", {}, a.areas.map((x) => `${x.name || x.area_id}: ${number(x.count)}`).join(" · ")), el);
      el.style.height = `${Math.max(220, 60 + names.length * 34)}px`;
      const max = Math.max(1, ...a.cells.map((c) => c[2]));
      chart(el, {
        tooltip: {position: "top"},
        grid: {left: 10, right: 16, top: 10, bottom: 60, containLabel: true},
        xAxis: {type: "category", data: a.buckets.map((b) => new Date(b).toLocaleString([], {month: "numeric",
          day: "numeric", hour: "2-digit", minute: "2-digit"})), splitArea: {show: true}},
        yAxis: {type: "category", data: names, splitArea: {show: true}},
        visualMap: {min: 0, max, calculable: true, orient: "horizontal", left: "center", bottom: 0,
          itemHeight: 120, inRange: {color: ["#e8f1fb", "#1f6fd1", "#0b2f66"]}},
        series: [{type: "heatmap", name: "events", data: a.cells.map((c) => [c[1], c[0], c[2]]),
          emphasis: {itemStyle: {borderColor: "#333", borderWidth: 1}}}],
      }, ctx.cleanup);
    }),
    section(top, "Top entities", async () => {
      const s = await api("query/stats/summary", {params: {start}});
      if (!ctx.current()) return;
      const items = (s.top_entities || []).slice(0, 10).reverse();
      if (!items.length) return fill(top, h("p.empty", {}, "No events in this range."));
      const el = h("div.chart", {id: "chart-top"});
      fill(top, el);
      chart(el, {
        tooltip: {trigger: "axis", axisPointer: {type: "shadow"}},
        grid: {left: 10, right: 24, top: 10, bottom: 20, containLabel: true},
        xAxis: {type: "value"}, yAxis: {type: "category", data: items.map((i) => i.key),
          axisLabel: {width: 160, overflow: "truncate"}},
        series: [{type: "bar", name: "events", data: items.map((i) => i.count)}],
      }, ctx.cleanup).on("click", (p) => { location.hash = `#/entity/${encodeURIComponent(p.name)}`; });
    }),
    section(durations, "Durations", async () => {
      const d = await api("query/analytics/durations", {params: {start, limit: 50}});
      if (!ctx.current()) return;
      const items = (d.items || []).slice().sort((x, y) => y.total_s - x.total_s).slice(0, 12).reverse();
      fill(anomalies, (d.anomalies || []).length ? table([
        {label: "When", render: (a) => when(a.time_fired)},
        {label: "Entity", render: (a) => entityLink(a.entity_id), mono: true},
        {label: "State", key: "state"},
        {label: "Lasted", render: (a) => duration(a.duration_s), num: true},
        {label: "Usually", render: (a) => duration(a.expected_s), num: true, phone: false},
        {label: "", render: (a) => (a.kind === "too_short" ? "too short" : "too long")},
      ], d.anomalies) : h("p.empty", {}, "Nothing unusual."));
      if (!items.length) return fill(durations, h("p.empty", {}, "No state durations in this range."));
      const el = h("div.chart", {id: "chart-durations"});
      fill(durations, el);
      const esc = window.echarts.format.encodeHTML;
      chart(el, {
        tooltip: {trigger: "axis", axisPointer: {type: "shadow"}, formatter: (ps) => {
          const it = items[ps[0].dataIndex];
          return `${esc(it.entity_id)} = ${esc(String(it.state))}<br>${it.count} times, mean ${duration(it.mean_s)}, ` +
            `total ${duration(it.total_s)}`;
        }},
        grid: {left: 10, right: 24, top: 10, bottom: 20, containLabel: true},
        xAxis: {type: "value", axisLabel: {formatter: (v) => duration(v)}},
        yAxis: {type: "category", data: items.map((i) => `${i.entity_id} = ${i.state}`),
          axisLabel: {width: 220, overflow: "truncate"}},
        series: [{type: "bar", name: "mean", data: items.map((i) => +Number(i.mean_s).toFixed(1))}],
      }, ctx.cleanup);
    }),
    section(reliability, "Reliability", async () => {
      const r = await api("query/analytics/reliability", {params: {start}});
      if (!ctx.current()) return;
      const items = r.items || [];
      fill(reliability, items.length ? table([
        {label: "Device", render: (x) => x.name || x.device_id},
        {label: "Model", render: (x) => [x.manufacturer, x.model].filter(Boolean).join(" "), phone: false},
        {label: "Area", key: "area_id", phone: false},
        {label: "Events", render: (x) => number(x.events), num: true},
        {label: "Per hour", render: (x) => number(x.events_per_hour, 2), num: true, phone: false},
        {label: "Unavailable", render: (x) => `${x.unavailable_periods || 0} × / ${duration(x.unavailable_s)}`,
          phone: false},
        {label: "Availability", render: (x) => (x.availability === null || x.availability === undefined ? "-" :
          `${(x.availability * 100).toFixed(1)} %`), num: true},
        {label: "Last seen", render: (x) => when(x.last_seen), phone: false},
      ], items) : h("p.empty", {}, "No devices yet (metadata-sync fills them from Home Assistant's registry)."));
    }),
  ]);
}
