// Energy: today's energy per meter and the current power (its last reading), energy and cost per hour or day
// over the selected range, the top consumers with their shares, and how hourly energy correlates with outdoor
// temperature, price and carbon intensity (always with the hours it rests on). Every figure says its window and
// its unit as the API gives them (kWh; the tariff's own price and cost units).

import {api} from "../api.js";
import {chart, labelWidth, narrow, rowsHeight, timeAxis} from "../charts.js";
import {card, entityCell, errorBox, fill, h, number, panel, table, when, withUnit} from "../dom.js";

const EMPTY = "No energy entity: Home Assistant has no sensor with device_class energy or power, nor one measured " +
  "in Wh, kWh, W or kW. Add an energy meter (or an Integration helper over a power sensor) and it shows here.";

async function section(el, what, load) {
  try {
    await load();
  } catch (err) {
    fill(el, errorBox(err, what));
  }
}

const kwh = (v) => (v === null || v === undefined ? "-" : `${number(v, 3)} kWh`);
const amount = (v, unit) => (v === null || v === undefined ? "-" : `${number(v, 2)} ${unit || ""}`.trim());
// "Today" is the home's day (the API starts it at midnight in Home Assistant's time zone), shown on the home's
// clock; the zone is named when it is not the browser's, or when HA's is not known yet and UTC's day is shown.
const browserZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;
function sinceMidnight(s) {
  const zone = s.time_zone;
  const at = new Date(s.start).toLocaleTimeString([], {hour: "2-digit", minute: "2-digit", timeZone: zone.name});
  if (zone.source !== "home_assistant") return `since ${at} UTC (Home Assistant's time zone not known yet)`;
  return zone.name === browserZone() ? `since ${at}` : `since ${at} ${zone.name}`;
}

function energyOption(e, win) {
  // a bar stands at the middle of the part of its bucket inside the range (the first and last are partial)
  const [min, max] = [win.start.getTime(), win.end.getTime()];
  const middle = (t) => {
    const from = Date.parse(t);
    return (Math.max(from, min) + Math.min(from + e.bucket_s * 1000, max)) / 2;
  };
  const bars = e.points.map((p) => [middle(p.t), p.energy_kwh]);
  const cost = e.points.map((p) => [middle(p.t), p.cost === null ? null : +p.cost.toFixed(2)]);
  const hasCost = e.points.some((p) => p.cost !== null);
  return {
    grid: {left: 8, right: 16, top: 34, bottom: 8, containLabel: true},
    legend: {top: 0, left: "center", data: hasCost ? ["energy", "cost"] : ["energy"]},
    tooltip: {trigger: "axis", formatter: (ps) => {
      const i = ps[0].dataIndex;
      const p = e.points[i];
      return `${new Date(p.t).toLocaleString()}<br>${kwh(p.energy_kwh)}` +
        (p.cost !== null ? `<br>${amount(p.cost, e.units.cost)}` : "") +
        (p.carbon !== null ? `<br>${number(p.carbon, 0)} ${e.units.carbon || ""}` : "");
    }},
    xAxis: timeAxis(win),
    yAxis: [{type: "value", name: e.units.energy, nameTextStyle: {align: "left"}},
      ...(hasCost ? [{type: "value", name: e.units.cost || "", splitLine: {show: false},
        nameTextStyle: {align: "right"}}] : [])],
    series: [{name: "energy", type: "bar", data: bars, barMaxWidth: 18},
      ...(hasCost ? [{name: "cost", type: "line", yAxisIndex: 1, step: "middle", showSymbol: false, smooth: false,
        connectNulls: false, data: cost}] : [])],
  };
}

function consumersOption(items) {
  return {
    grid: {left: 8, right: 64, top: 8, bottom: 8, containLabel: true},
    tooltip: {trigger: "axis", axisPointer: {type: "shadow"}, formatter: (ps) => {
      const it = items[ps[0].dataIndex];
      return `${window.echarts.format.encodeHTML(it.name || it.entity_id)}<br>${kwh(it.energy_kwh)}` +
        (it.share === null ? "" : ` (${(it.share * 100).toFixed(1)} %)`);
    }},
    xAxis: {type: "value", name: "kWh", splitNumber: narrow() ? 2 : 4, axisLabel: {hideOverlap: true}},
    yAxis: {type: "category", inverse: true, data: items.map((i) => i.name || i.entity_id),
      axisLabel: labelWidth(narrow() ? 110 : 200)},
    series: [{type: "bar", name: "energy", data: items.map((i) => i.energy_kwh),
      label: {show: true, position: "right",
        formatter: (p) => (items[p.dataIndex].share === null ? "" : `${(items[p.dataIndex].share * 100).toFixed(0)} %`)}}],
  };
}

const basis = (b) => Object.entries(b).map(([k, v]) => `${k.replace(/_/g, " ")} ${v}`).join(" · ");

function impactForm(win, out, ctx) {
  return h("form.filters", {onsubmit: async (e) => {
    e.preventDefault();
    const device = e.target.elements.device.value.trim();
    if (!device) return;
    await section(out, "Device impact", async () => {
      const d = await api("query/energy/impact", {params: {...win.params, device}});
      if (!ctx.current()) return;
      const perHour = d.per_hour === null ? `not enough hours (${d.min_hours} each needed)` :
        `${number(d.per_hour, 3)} kWh per hour on`;
      fill(out, h("p.muted", {}, `Last ${win.label}, ${d.device} ${d.on_state}: ${number(d.on_hours, 1)} h`),
        table([{label: "", key: "what"}, {label: "Hours", key: "hours", num: true},
          {label: "Mean", key: "mean", num: true}], [
          {what: "on", hours: number(d.hours_on), mean: kwh(d.mean_on)},
          {what: "off", hours: number(d.hours_off), mean: kwh(d.mean_off)}]),
        h("p", {id: "impact-result"}, d.attributed === null ? perHour :
          `${perHour}: ${kwh(d.attributed)} over the range`));
    });
  }}, h("input", {name: "device", placeholder: "switch.kettle", "aria-label": "Device entity"}),
  h("button.primary", {type: "submit"}, "Show impact"));
}

const FACTOR = {temperature: "Outdoor temperature", price: "Electricity price", carbon_intensity: "Carbon intensity"};

export async function render(root, ctx) {
  const today = h("div", {id: "energy-today"});
  const perHour = h("div");
  const consumers = h("div");
  const correlation = h("div");
  const advice = h("div");
  const impactOut = h("div", {id: "energy-impact"});
  root.append(h("h1", {}, "Energy"), today);
  const win = ctx.window();
  const now = await api("query/energy/summary", {params: {end: win.end.toISOString()}})
    .catch((err) => fill(today, errorBox(err, "Energy")));
  if (!now || !ctx.current()) return;
  if (!now.meters.length && !now.power.length) return fill(today, h("p.empty", {id: "energy-empty"}, EMPTY));
  root.append(panel("Energy and cost", perHour), h("div.grid", {}, panel("Top consumers", consumers),
    panel("What goes with it", correlation)), panel("Recommendations", advice),
    panel("Device impact", h("p.muted", {}, "The home's hourly energy while a device is on against while it is off, " +
      "from its state timeline."), impactForm(win, impactOut, ctx), impactOut));
  fill(today, h("div.cards", {},
    card("Today", kwh(now.total_kwh), {id: "energy-total"}, `${sinceMidnight(now)}, ${now.meters.length} ` +
      `meter${now.meters.length === 1 ? "" : "s"}`),
    ...now.power.map((p) => card(p.name || p.entity_id, p.current ? withUnit(p.current.value, p.current.unit) : "-",
      {dataset: {power: p.entity_id}}, p.current ? h("span", {}, "last reported ", when(p.current.time)) :
        "no reading yet"))),
  now.meters.length ? table([
    {label: "Meter", render: (m) => entityCell(m.entity_id, m.name)},
    {label: "Today", render: (m) => kwh(m.energy_kwh), num: true},
    {label: "Share", render: (m) => (m.share === null ? "-" : `${(m.share * 100).toFixed(1)} %`), num: true},
    {label: "Reading", render: (m) => (m.reading ? withUnit(m.reading.value, m.reading.unit) : "-"), num: true,
      phone: false},
    {label: "Resets", render: (m) => (m.resets ? number(m.resets) : "—"), num: true, phone: false,
      title: "new meter cycles today (a drop below 90 % of the previous reading, counted from zero as HA does)"},
  ], now.meters, (m) => ({dataset: {meter: m.entity_id}})) : null);

  const bucket = win.seconds > 7 * 86400 ? "1d" : "1h";
  await Promise.all([
    section(perHour, "Energy per hour", async () => {
      const e = await api("query/energy/hourly", {params: {...win.params, bucket}});
      if (!ctx.current()) return;
      const el = h("div.chart", {id: "chart-energy"});
      fill(perHour, h("p.muted.chart-note", {id: "energy-note"}, `Last ${win.label}, per ${bucket === "1d" ? "day" :
        "hour"}: ${kwh(e.total_kwh)}` + (e.total_cost !== null ? ` · ${amount(e.total_cost, e.units.cost)}` : "") +
        (e.total_carbon !== null ? ` · ${number(e.total_carbon / 1000, 2)} k${e.units.carbon}` : "") +
        (e.units.price ? ` (at the stored ${e.units.price} price)` : " (no price stored)")), el);
      chart(el, energyOption(e, win), ctx.cleanup);
    }),
    section(consumers, "Top consumers", async () => {
      const s = await api("query/energy/summary", {params: win.params});
      if (!ctx.current()) return;
      const items = s.meters.filter((m) => m.energy_kwh > 0).slice(0, 10);
      if (!items.length) return fill(consumers, h("p.empty", {}, `No energy measured in the last ${win.label}.`));
      const el = h("div.chart", {id: "chart-consumers"});
      el.style.height = rowsHeight(items.length);
      fill(consumers, h("p.muted.chart-note", {}, `Last ${win.label}, share of ${kwh(s.total_kwh)}`), el);
      chart(el, consumersOption(items), ctx.cleanup);
    }),
    section(correlation, "Correlation", async () => {
      const c = await api("query/energy/correlation", {params: win.params});
      if (!ctx.current()) return;
      fill(correlation, h("p.muted", {}, `Hourly energy against each factor, last ${win.label} ` +
        `(hours with a whole hour's energy: ${number(c.energy_hours)})`), table([
        {label: "Factor", render: (f) => FACTOR[f.factor] || f.factor},
        {label: "r", render: (f) => (f.r === null ? "—" : number(f.r, 2)), num: true,
          title: "Pearson correlation coefficient"},
        {label: "Hours", render: (f) => number(f.n), num: true, title: "hours behind the coefficient"},
        {label: "Significant", render: (f) => (f.r === null ? "too few hours" : f.significant ?
          `yes (p ${f.p_value < 0.001 ? "< 0.001" : `= ${number(f.p_value, 3)}`})` : `no (p = ${number(f.p_value, 2)})`)},
      ], c.factors, (f) => ({dataset: {factor: f.factor}})));
    }),
    section(advice, "Recommendations", async () => {
      const r = await api("query/energy/recommendations", {params: win.params});
      if (!ctx.current()) return;
      if (!r.items.length) {
        return fill(advice, h("p.empty", {}, `Nothing to recommend from the last ${win.label}: no figure is clear ` +
          "enough yet (see the thresholds in the API's description)."));
      }
      fill(advice, h("p.muted", {}, `From the last ${win.label}`), h("ul.advice", {}, r.items.map((i) =>
        h("li", {dataset: {kind: i.kind}}, i.text, h("div.muted.small", {}, `based on: ${basis(i.based_on)}`)))));
    }),
  ]);
}
