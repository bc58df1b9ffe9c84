// Entity history: numeric series (mean with min/max band) and the state timeline of one entity.

import {api} from "../api.js";
import {chart, timeAxis} from "../charts.js";
import {card, duration, errorBox, fill, h, number, panel, table, when} from "../dom.js";

function picker(current) {
  const list = h("datalist", {id: "entity-options"});
  const input = h("input", {name: "entity_id", list: "entity-options", placeholder: "sensor.living_room_temperature",
    "aria-label": "Entity id", value: current || ""});
  let timer = null;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      try {
        const found = await api("query/entities", {params: {q: input.value.trim(), limit: 20}});
        fill(list, (found.items || []).map((e) => h("option", {value: e.entity_id}, e.name || e.entity_id)));
      } catch {
        fill(list);  // suggestions are a convenience; the history request reports real errors
      }
    }, 250);
  });
  const form = h("form.filters", {onsubmit: (e) => {
    e.preventDefault();
    if (input.value.trim()) location.hash = `#/entity/${encodeURIComponent(input.value.trim())}`;
  }}, input, list, h("button.primary", {type: "submit"}, "Show"));
  return form;
}

const COLORS = ["#1f6fd1", "#e8743b", "#19a979", "#945ecf", "#ed4a7b", "#13a4b4", "#6c8893"];

function timelineOption(timeline) {
  const states = [...new Set(timeline.map((s) => s.state))];
  const esc = window.echarts.format.encodeHTML;
  return {
    tooltip: {formatter: (p) => `${esc(String(p.value[3]))}<br>${new Date(p.value[1]).toLocaleString()} – ` +
      `${new Date(p.value[2]).toLocaleString()}<br>${duration(p.value[4])}`},
    grid: {left: 10, right: 16, top: 10, bottom: 30, containLabel: true},
    xAxis: timeAxis(), yAxis: {type: "category", data: states},
    series: [{type: "custom", encode: {x: [1, 2], y: 0},
      renderItem: (params, api) => {
        const start = api.coord([api.value(1), api.value(0)]);
        const end = api.coord([api.value(2), api.value(0)]);
        const height = api.size([0, 1])[1] * 0.6;
        return {type: "rect", shape: {x: start[0], y: start[1] - height / 2, width: Math.max(end[0] - start[0], 1),
          height}, style: api.style()};
      },
      data: timeline.map((s) => {
        const i = states.indexOf(s.state);
        return {value: [i, s.start, s.end || new Date().toISOString(), s.state, s.duration_s],
          itemStyle: {color: COLORS[i % COLORS.length]}};
      }),
    }],
  };
}

export async function render(root, ctx) {
  const id = ctx.arg;
  root.append(h("h1", {}, "Entity history"), picker(id));
  if (!id) {
    root.append(h("p.muted", {}, "Pick an entity (or follow a link from Live events)."));
    return;
  }
  const body = h("div");
  root.append(body);
  let history;
  try {
    history = await api(`query/entities/${encodeURIComponent(id)}/history`, {params: {start: ctx.range}});
  } catch (err) {
    fill(body, errorBox(err, id));
    return;
  }
  if (!ctx.current()) return;
  const timeline = history.timeline || [];
  const series = history.series || [];
  const last = timeline[timeline.length - 1];
  fill(body,
    h("h2", {id: "entity-title"}, history.friendly_name ? `${history.friendly_name} (${id})` : id),
    h("div.cards", {},
      card("Current state", last ? `${last.state}${history.unit ? ` ${history.unit}` : ""}` : "-", {id: "current-state"}),
      card("State changes", number(timeline.length)),
      card("Since", when(history.start))),
    history.truncated ? h("p.muted", {}, "The range holds more points than shown; narrow it for all of them.") : null);
  if (history.numeric && series.length) {
    const el = h("div.chart", {id: "chart-series"});
    body.append(panel(`Value${history.unit ? ` (${history.unit})` : ""}`, el));
    chart(el, {
      tooltip: {trigger: "axis"}, legend: {bottom: 0}, xAxis: timeAxis(), yAxis: {type: "value", scale: true},
      series: [
        {name: "min", type: "line", showSymbol: false, lineStyle: {opacity: 0}, stack: "band",
          data: series.map((p) => [p.t, p.min])},
        {name: "max-min", type: "line", showSymbol: false, lineStyle: {opacity: 0}, stack: "band",
          areaStyle: {opacity: 0.2}, data: series.map((p) => [p.t, p.max - p.min]), tooltip: {show: false}},
        {name: "mean", type: "line", showSymbol: series.length < 50, data: series.map((p) => [p.t, p.mean])},
      ],
    }, ctx.cleanup);
  }
  if (timeline.length) {
    const el = h("div.chart.short", {id: "chart-timeline"});
    body.append(panel("State timeline", el));
    chart(el, timelineOption(timeline), ctx.cleanup);
  }
  body.append(panel("State changes", table([
    {label: "From", render: (s) => when(s.start)},
    {label: "To", render: (s) => when(s.end), phone: false},
    {label: "State", key: "state"},
    {label: "Lasted", render: (s) => duration(s.duration_s), num: true},
  ], timeline.slice(-50).reverse())));
}
