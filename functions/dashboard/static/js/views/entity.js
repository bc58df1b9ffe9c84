// Entity history, charted by the kind of entity as HA's history panel does: a numeric sensor (a unit or a
// state_class) as a line of its values over time, held from one change to the next (the min/mean/max band of
// buckets when the range holds more changes than the API returns); on/off and other states as a timeline with
// one row per state. Both on a time axis spanning exactly the selected range.

import {api} from "../api.js";
import {bucketName, chart, rowsHeight, timeAxis} from "../charts.js";
import {card, duration, errorBox, fill, h, ident, number, panel, span, table, when, withUnit} from "../dom.js";

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
  return h("form.filters", {onsubmit: (e) => {
    e.preventDefault();
    if (input.value.trim()) location.hash = `#/entity/${encodeURIComponent(input.value.trim())}`;
  }}, input, list, h("button.primary", {type: "submit"}, "Show"));
}

const COLORS = ["#1f6fd1", "#e8743b", "#19a979", "#945ecf", "#ed4a7b", "#13a4b4", "#6c8893"];
const PAIRS = [["on", "off"], ["open", "closed"], ["home", "not_home"], ["detected", "clear"], ["locked", "unlocked"],
  ["true", "false"], ["yes", "no"], ["heat", "off"], ["playing", "paused", "idle"]];
const MISSING = new Set(["unavailable", "unknown"]);
const asNumber = (s) => (s === null || s === undefined || s.trim() === "" || Number.isNaN(Number(s)) ? null
  : Number(s));

/** The rows of a timeline, top first: the usual "active" state above its opposite, numbers in order, the rest by
 * how long the entity spent in them; unavailable and unknown last. */
export function stateOrder(timeline) {
  const total = new Map();
  for (const s of timeline) total.set(s.state, (total.get(s.state) || 0) + (s.duration_s || 0));
  const states = [...total.keys()];
  const rank = (state) => {
    if (MISSING.has(state)) return [2, 0];
    for (const pair of PAIRS) if (pair.includes(state)) return [0, pair.indexOf(state)];
    return [1, 0];
  };
  const numeric = states.every((s) => MISSING.has(s) || asNumber(s) !== null);
  return states.sort((a, b) => {
    const [ra, rb] = [rank(a), rank(b)];
    if (ra[0] !== rb[0]) return ra[0] - rb[0];
    if (ra[1] !== rb[1]) return ra[1] - rb[1];
    if (numeric) return (asNumber(b) ?? 0) - (asNumber(a) ?? 0);
    return (total.get(b) - total.get(a)) || String(a).localeCompare(String(b));
  });
}

function timelineOption(timeline, win, unit) {
  const states = stateOrder(timeline);
  const esc = window.echarts.format.encodeHTML;
  return {
    tooltip: {formatter: (p) => `${esc(withUnit(p.value[3], unit))}<br>${new Date(p.value[1]).toLocaleString()} – ` +
      `${new Date(p.value[2]).toLocaleString()}<br>${duration(p.value[4])}`},
    grid: {left: 8, right: 16, top: 10, bottom: 8, containLabel: true},
    xAxis: timeAxis(win), yAxis: {type: "category", data: states, inverse: true, axisLabel: {width: 120,
      overflow: "truncate", formatter: (s) => withUnit(s, unit)}},
    series: [{type: "custom", name: "state", encode: {x: [1, 2], y: 0}, clip: true,
      renderItem: (params, api) => {
        const start = api.coord([api.value(1), api.value(0)]);
        const end = api.coord([api.value(2), api.value(0)]);
        const height = api.size([0, 1])[1] * 0.6;
        return {type: "rect", shape: {x: start[0], y: start[1] - height / 2, width: Math.max(end[0] - start[0], 1),
          height}, style: api.style()};
      },
      data: timeline.map((s) => {
        const i = states.indexOf(s.state);
        return {value: [i, Date.parse(s.start), Date.parse(s.end), s.state, s.duration_s],
          itemStyle: {color: MISSING.has(s.state) ? "#9aa3b5" : COLORS[i % COLORS.length]}};
      }),
    }],
  };
}

/** Each value held from its change to the next: [time, value] pairs, a gap (null) while not a number. */
function heldValues(timeline) {
  const points = [];
  for (const s of timeline) points.push([Date.parse(s.start), asNumber(s.state)]);
  const last = timeline[timeline.length - 1];
  if (last) points.push([Date.parse(last.end), asNumber(last.state)]);
  return points;
}

function lineOption(history, win, unit) {
  return {
    tooltip: {trigger: "axis", valueFormatter: (v) => (v === null || v === undefined ? "-" : withUnit(v, unit))},
    grid: {left: 8, right: 16, top: 30, bottom: 8, containLabel: true},
    xAxis: timeAxis(win), yAxis: {type: "value", name: unit || "", scale: true},
    series: [{name: "value", type: "line", step: "end", showSymbol: history.timeline.length < 60, smooth: false,
      connectNulls: false, data: heldValues(history.timeline)}],
  };
}

function bandOption(history, win, unit) {
  const series = history.series.filter((p) => p.mean !== null);
  return {
    tooltip: {trigger: "axis", valueFormatter: (v) => (v === null || v === undefined ? "-" : withUnit(v, unit))},
    legend: {bottom: 0, data: ["mean", "min – max"]},
    grid: {left: 8, right: 16, top: 30, bottom: 30, containLabel: true},
    xAxis: timeAxis(win), yAxis: {type: "value", name: unit || "", scale: true},
    series: [
      {name: "min", type: "line", showSymbol: false, lineStyle: {opacity: 0}, stack: "band", tooltip: {show: false},
        data: series.map((p) => [Date.parse(p.t), p.min])},
      {name: "min – max", type: "line", showSymbol: false, lineStyle: {opacity: 0}, stack: "band",
        areaStyle: {opacity: 0.25}, tooltip: {show: false}, data: series.map((p) => [Date.parse(p.t), p.max - p.min])},
      {name: "mean", type: "line", step: "end", showSymbol: false, smooth: false,
        data: series.map((p) => [Date.parse(p.t), p.mean])},
    ],
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
  const win = ctx.window();
  let history;
  try {
    history = await api(`query/entities/${encodeURIComponent(id)}/history`, {params: win.params});
  } catch (err) {
    fill(body, errorBox(err, id));
    return;
  }
  if (!ctx.current()) return;
  const timeline = history.timeline || [];
  const unit = history.unit_of_measurement;
  const last = timeline[timeline.length - 1];
  const where = [history.area_name, history.device_name].filter(Boolean).join(" · ");
  fill(body,
    h("h2", {id: "entity-title"}, history.friendly_name || ident(id)),
    h("p.muted", {id: "entity-where"}, ident(id), where ? ` · ${where}` : ""),
    h("div.cards", {},
      card("Current state", last ? withUnit(last.state, unit) : "-", {id: "current-state"},
        last ? h("span", {}, "since ", when(last.start)) : null),
      card("State changes", number(history.changes), {id: "state-changes"},
        history.truncated ? `the newest ${number(history.changes)} of more` : `last ${win.label}`),
      card("Range", win.label, {id: "entity-range"}, span(win.start, win.end))),
    history.truncated ? h("p.muted", {}, "The range holds more changes than listed; the chart shows " +
      `${bucketName(history.bucket_s)} minimum, mean and maximum.`) : null);
  if (history.numeric) {
    const el = h("div.chart", {id: "chart-series", dataset: {kind: history.truncated ? "band" : "line"}});
    const what = history.truncated ? `${bucketName(history.bucket_s)} min, mean and max` : "each value until the next";
    body.append(panel(`Value${unit ? ` (${unit})` : ""}`,
      h("p.muted.chart-note", {}, `Last ${win.label}: ${what}`), el));
    if (timeline.length || history.series.length) {
      chart(el, history.truncated ? bandOption(history, win, unit) : lineOption(history, win, unit), ctx.cleanup);
    } else {
      el.replaceWith(h("p.empty", {}, "No values in this range."));
    }
  } else if (timeline.length) {
    const el = h("div.chart", {id: "chart-timeline"});
    el.style.height = rowsHeight(stateOrder(timeline).length, {per: 34, extra: 50, min: 120});
    body.append(panel("State timeline", h("p.muted.chart-note", {}, `Last ${win.label}: one row per state`), el));
    chart(el, timelineOption(timeline, win, unit), ctx.cleanup);
  }
  body.append(panel("State changes", timeline.length ? table([
    {label: "From", render: (s) => when(s.start)},
    {label: "To", render: (s) => when(s.end), phone: false},
    {label: "State", render: (s) => withUnit(s.state, unit)},
    {label: "Lasted", render: (s) => duration(s.duration_s), num: true},
  ], timeline.slice(-50).reverse()) : h("p.empty", {}, "No state changes in this range.")));
}
