// Analytics: events per area over time (heatmap), top entities, how long states last (and the outliers),
// device reliability, and a way into automation traces. Areas, devices and entities by their names.

import {api} from "../api.js";
import {bucketName, chart, labelWidth, narrow, rowsHeight} from "../charts.js";
import {duration, entityCell, errorBox, fill, h, number, panel, table, when} from "../dom.js";

const HEAT_BUCKET = {"-1h": "5m", "-6h": "15m", "-24h": "1h", "-7d": "6h", "-30d": "1d"};

async function section(el, what, load) {
  try {
    await load();
  } catch (err) {
    fill(el, errorBox(err, what));
  }
}

const pad = (n) => String(n).padStart(2, "0");

function bucketLabel(iso, bucketS) {
  const d = new Date(iso);
  const day = d.toLocaleDateString(undefined, {month: "short", day: "numeric"});
  return bucketS >= 86400 ? day : `${day} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
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
  const win = ctx.window();
  const labels = narrow() ? 110 : 200;

  await Promise.all([
    section(heat, "Areas", async () => {
      const a = await api("query/analytics/areas", {params: {...win.params, bucket: HEAT_BUCKET[ctx.range] || "1h"}});
      if (!ctx.current()) return;
      if (!(a.areas || []).length) return fill(heat, h("p.empty", {}, "No events with an area in this range."));
      const el = h("div.chart", {id: "chart-areas"});
      const names = a.areas.map((x) => x.name || x.area_id || "(no area)");
      fill(heat, h("p.muted.chart-note", {}, `Last ${win.label}, ${bucketName(a.bucket_s)} buckets: ` +
        a.areas.map((x, i) => `${names[i]} ${number(x.count)}`).join(" · ")), el);
      el.style.height = rowsHeight(names.length, {per: 30, extra: 110, min: 200});
      const max = Math.max(1, ...a.cells.map((c) => c[2]));
      chart(el, {
        tooltip: {position: "top", formatter: (p) => `${window.echarts.format.encodeHTML(names[p.value[1]])}<br>` +
          `${bucketLabel(a.buckets[p.value[0]], a.bucket_s)}: ${number(p.value[2])} events`},
        grid: {left: 8, right: 44, top: 8, bottom: 56, containLabel: true},
        xAxis: {type: "category", data: a.buckets.map((b) => bucketLabel(b, a.bucket_s)), splitArea: {show: true},
          axisLabel: {hideOverlap: true}},
        yAxis: {type: "category", data: names, inverse: true, splitArea: {show: true},
          axisLabel: labelWidth(labels)},
        visualMap: {min: 0, max, calculable: false, orient: "horizontal", left: "center", bottom: 0, itemHeight: 120,
          itemWidth: 12, text: [number(max), "0"], inRange: {color: ["#e8f1fb", "#1f6fd1", "#0b2f66"]}},
        series: [{type: "heatmap", name: "events", data: a.cells.map((c) => [c[1], c[0], c[2]]),
          emphasis: {itemStyle: {borderColor: "#333", borderWidth: 1}}}],
      }, ctx.cleanup);
    }),
    section(top, "Top entities", async () => {
      const s = await api("query/stats/summary", {params: {...win.params, top: 10}});
      if (!ctx.current()) return;
      const items = (s.top_entities || []).filter((i) => i.key).slice(0, 10);
      if (!items.length) return fill(top, h("p.empty", {}, "No events in this range."));
      const el = h("div.chart", {id: "chart-top"});
      el.style.height = rowsHeight(items.length);
      fill(top, el);
      chart(el, {
        tooltip: {trigger: "axis", axisPointer: {type: "shadow"}, formatter: (ps) => {
          const it = items[ps[0].dataIndex];
          return `${window.echarts.format.encodeHTML(it.name || it.key)}<br>${window.echarts.format.encodeHTML(it.key)}` +
            `<br>${number(it.count)} events`;
        }},
        grid: {left: 8, right: 40, top: 8, bottom: 8, containLabel: true},
        xAxis: {type: "value", minInterval: 1, splitNumber: narrow() ? 3 : 5, axisLabel: {hideOverlap: true}},
        yAxis: {type: "category", inverse: true, data: items.map((i) => i.name || i.key), axisLabel: labelWidth(labels)},
        series: [{type: "bar", name: "events", data: items.map((i) => i.count),
          label: {show: true, position: "right", formatter: (p) => number(p.value)}}],
      }, ctx.cleanup).on("click", (p) => { location.hash = `#/entity/${encodeURIComponent(items[p.dataIndex].key)}`; });
    }),
    section(durations, "Durations", async () => {
      const d = await api("query/analytics/durations", {params: {...win.params, limit: 50}});
      if (!ctx.current()) return;
      const items = (d.items || []).slice().sort((x, y) => y.total_s - x.total_s).slice(0, 12);
      fill(anomalies, (d.anomalies || []).length ? table([
        {label: "When", render: (a) => when(a.time_fired)},
        {label: "Entity", render: (a) => entityCell(a.entity_id, a.name)},
        {label: "State", key: "state"},
        {label: "Lasted", render: (a) => duration(a.duration_s), num: true},
        {label: "Usually", render: (a) => duration(a.expected_s), num: true, phone: false,
          title: "the median of this entity's stays in this state"},
        {label: "", render: (a) => (a.kind === "too_short" ? "too short" : "too long")},
      ], d.anomalies) : h("p.empty", {}, "Nothing unusual."));
      if (!items.length) return fill(durations, h("p.empty", {}, "No state durations in this range."));
      const el = h("div.chart", {id: "chart-durations"});
      el.style.height = rowsHeight(items.length);
      fill(durations, h("p.muted.chart-note", {}, "Mean time per stay, longest total first"), el);
      const esc = window.echarts.format.encodeHTML;
      chart(el, {
        tooltip: {trigger: "axis", axisPointer: {type: "shadow"}, formatter: (ps) => {
          const it = items[ps[0].dataIndex];
          return `${esc(it.name || it.entity_id)}: ${esc(String(it.state))}<br>${esc(it.entity_id)}<br>` +
            `${it.count} times, mean ${duration(it.mean_s)}, ` +
            `total ${duration(it.total_s)}`;
        }},
        grid: {left: 8, right: 24, top: 8, bottom: 8, containLabel: true},
        xAxis: {type: "value", splitNumber: narrow() ? 2 : 4, axisLabel: {hideOverlap: true, formatter: (v) => duration(v)}},
        yAxis: {type: "category", inverse: true, data: items.map((i) => `${i.name || i.entity_id}: ${i.state}`),
          axisLabel: labelWidth(labels)},
        series: [{type: "bar", name: "mean", data: items.map((i) => +Number(i.mean_s).toFixed(1))}],
      }, ctx.cleanup);
    }),
    section(reliability, "Reliability", async () => {
      const r = await api("query/analytics/reliability", {params: win.params});
      if (!ctx.current()) return;
      const items = r.items || [];
      fill(reliability, items.length ? table([
        {label: "Device", render: (x) => x.name || x.device_id},
        {label: "Model", render: (x) => [x.manufacturer, x.model].filter(Boolean).join(" "), phone: false},
        {label: "Area", render: (x) => x.area_name || x.area_id || "", phone: false},
        {label: "Events", render: (x) => number(x.events), num: true},
        {label: "Per hour", render: (x) => number(x.events_per_hour, 2), num: true, phone: false},
        {label: "Outages", render: (x) => (x.unavailable_periods ? number(x.unavailable_periods) : "—"), num: true,
          phone: false, title: "times an entity of the device became unavailable in the range"},
        {label: "Unavailable", render: (x) => (x.unavailable_s ? duration(x.unavailable_s) : "—"), num: true,
          phone: false, title: "how long the device was unavailable in the range"},
        {label: "Availability", render: (x) => (x.availability === null || x.availability === undefined ? "-" :
          `${(x.availability * 100).toFixed(1)} %`), num: true},
        {label: "Last seen", render: (x) => when(x.last_seen), phone: false},
      ], items) : h("p.empty", {}, "No devices yet (metadata-sync fills them from Home Assistant's registry)."));
    }),
  ]);
}
