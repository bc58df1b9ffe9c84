// Alerts: the active alerts (severity, rule, subject, since when, what was seen) and every alert's history with
// its start, end and duration, newest first; the rules' thresholds. The health function evaluates the rules on
// its cron tick and serves both lists (docs/alerts.md).

import {api} from "../api.js";
import {duration, errorBox, facts, fill, h, ident, panel, plain, statusBadge, table, when} from "../dom.js";

const REFRESH_MS = 15000;
const PAGE = 50;
const RULES = {sensor_silent: "Sensor silent", unavailable_spike: "Unavailable spike", low_battery: "Low battery",
  energy_outlier: "Energy outlier",
  bridge_down: "Bridge down", store_down: "Event store down", nats_down: "NATS down", pipeline_lag: "Pipeline lag",
  dead_letters: "Dead letters"};

const severity = (a) => statusBadge(a.severity === "critical" ? "unhealthy" : "degraded", a.severity);
const lasted = (a) => duration(((a.ended_at ? new Date(a.ended_at) : new Date()) - new Date(a.started_at)) / 1000);
const ISO = /^\d{4}-\d\d-\d\dT[\d:.]+Z$/;
// what the rule saw, as key/value rows that wrap at their separators on a phone; times as people read them
const evidence = (a) => h("details", {}, h("summary", {}, ident(a.summary)),
  h("table.facts", {}, h("tbody", {}, Object.entries({...a.evidence, ...(a.end_evidence ? {ended: a.end_evidence} : {})})
    .map(([key, value]) => h("tr", {dataset: {key}}, h("th", {scope: "row"}, ident(key)),
      h("td", {}, ISO.test(String(value)) ? when(value) : ident(plain(value))))))));

const ACTIVE = [
  {label: "Severity", render: severity},
  {label: "Rule", render: (a) => RULES[a.rule] || a.rule, phone: false},
  {label: "Subject", render: (a) => ident(a.subject)},
  {label: "Since", render: (a) => when(a.started_at), phone: false},
  {label: "For", render: lasted, num: true, phone: false},
  {label: "What was seen", render: evidence},
];
// on a phone the history keeps severity, subject and when (start above end); the rest needs a wider screen
const HISTORY = [
  {label: "Severity", render: severity},
  {label: "Rule", render: (a) => RULES[a.rule] || a.rule, phone: false},
  {label: "Subject", render: (a) => ident(a.subject)},
  {label: "Started – ended", render: (a) => h("div", {}, h("div", {}, when(a.started_at)),
    h("div", {}, a.ended_at ? when(a.ended_at) : statusBadge("degraded", "active")))},
  {label: "Lasted", render: lasted, num: true, phone: false},
  {label: "What was seen", render: evidence, phone: false},
];
const rowOf = (a) => ({dataset: {alert: a.id, rule: a.rule}});

export async function render(root, ctx) {
  const problem = h("div");
  const active = h("div", {id: "alerts-active"});
  const history = h("div", {id: "alerts-history"});
  const more = h("div");
  const thresholds = h("div");
  root.append(h("h1", {}, "Alerts"), problem, panel("Active", active), panel("History", history, more),
    panel("Thresholds", thresholds));
  let shown = [];

  async function load() {
    let now;
    let past;
    try {
      [now, past] = await Promise.all([api("health/alerts"), api("health/alerts/history", {params: {limit: PAGE}})]);
    } catch (err) {
      if (ctx.current()) fill(problem, errorBox(err, "Alerts"));
      return;
    }
    if (!ctx.current()) return;
    fill(problem);
    fill(active, now.alerts.length ? table(ACTIVE, now.alerts, rowOf) : h("p.empty", {}, "No active alert."));
    shown = past.alerts;
    showHistory(past.next_cursor);
    const changed = now.changed || [];
    fill(thresholds, facts(now.thresholds || {}), h("p.muted", {}, changed.length
      ? `Changed through the API: ${changed.join(", ")}; the others are the environment's (stack.yml).`
      : "From the environment (stack.yml); PUT /function/health/alerts/thresholds changes them with the key."));
  }

  function showHistory(cursor) {
    fill(history, shown.length ? table(HISTORY, shown, rowOf) : h("p.empty", {}, "No alert has been raised yet."));
    fill(more, cursor ? h("button", {type: "button", id: "alerts-more", onclick: () => older(cursor)}, "Older")
      : null);
  }

  async function older(cursor) {
    try {
      const page = await api("health/alerts/history", {params: {limit: PAGE, before: cursor}});
      if (!ctx.current()) return;
      shown = shown.concat(page.alerts);
      showHistory(page.next_cursor);
    } catch (err) {
      if (ctx.current()) fill(more, errorBox(err, "Older alerts"));
    }
  }

  await load();
  ctx.every(REFRESH_MS, load);
}
