// The app shell: hash routing (#/<view>/<arg>), the time range, the theme, the phone menu.
// A view is one entry of VIEWS (its route, its name in the navigation, its module); the module exports
// `render(root, ctx)`, and ctx.cleanup collects what to stop when the view is left. Adding a view is adding
// an entry here and its module in views/.

import {errorBox, fill, h} from "./dom.js";
import {rethemeAll} from "./charts.js";
import {initTheme} from "./theme.js";

const VIEWS = [
  {name: "overview", label: "Overview", load: () => import("./views/overview.js")},
  {name: "events", label: "Live events", load: () => import("./views/events.js")},
  {name: "entity", label: "Entity history", load: () => import("./views/entity.js")},
  {name: "analytics", label: "Analytics", load: () => import("./views/analytics.js")},
  {name: "energy", label: "Energy", load: () => import("./views/energy.js")},
  {name: "trace", label: "Automation trace", load: () => import("./views/trace.js")},
  {name: "devices", label: "Devices", load: () => import("./views/devices.js")},
  {name: "sports", label: "Sports", load: () => import("./views/sports.js")},
  {name: "webhooks", label: "Webhooks", load: () => import("./views/webhooks.js")},
  {name: "archive", label: "Archive", load: () => import("./views/archive.js")},
  {name: "alerts", label: "Alerts", load: () => import("./views/alerts.js")},
  {name: "pipeline", label: "Pipeline", load: () => import("./views/pipeline.js")},
  {name: "config", label: "Configuration", load: () => import("./views/config.js")},
];
const BY_NAME = Object.fromEntries(VIEWS.map((v) => [v.name, v]));
const RANGES = {"-1h": ["1 hour", 3600], "-6h": ["6 hours", 21600], "-24h": ["24 hours", 86400],
  "-7d": ["7 days", 604800], "-30d": ["30 days", 2592000]};
const RANGE_STORAGE = "ha-ingestor.range";

const root = document.getElementById("view");
const nav = document.getElementById("nav");
const navToggle = document.getElementById("nav-toggle");
const rangeSelect = document.getElementById("range");
let cleanup = [];
let generation = 0;

fill(nav, VIEWS.map((v) => h("a", {href: `#/${v.name}`, dataset: {view: v.name}}, v.label)));

function parseHash() {
  const [name, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  const arg = rest.length ? decodeURIComponent(rest.join("/")) : "";
  return {name: BY_NAME[name] ? name : "overview", arg};
}

/** The selected range as absolute times, fixed when asked: every request and every chart axis of one load of a
 * view use the same [start, end), so what a chart spans is exactly what the API answered for. */
function timeWindow(value) {
  const [label, seconds] = RANGES[value] || RANGES["-24h"];
  const end = new Date();
  const start = new Date(end.getTime() - seconds * 1000);
  return {start, end, seconds, label, params: {start: start.toISOString(), end: end.toISOString()}};
}

function stopView() {
  for (const fn of cleanup.splice(0)) {
    try {
      fn();
    } catch (err) {
      console.warn("cleanup failed", err);
    }
  }
}

/** Repeats `fn` every `ms` while the view is shown (and the tab visible). */
function every(ms, fn, owner) {
  const timer = setInterval(() => {
    if (!document.hidden) fn();
  }, ms);
  owner.push(() => clearInterval(timer));
}

async function show() {
  const mine = ++generation;
  stopView();
  const {name, arg} = parseHash();
  for (const a of nav.querySelectorAll("a")) a.classList.toggle("active", a.dataset.view === name);
  nav.classList.remove("open");
  navToggle.setAttribute("aria-expanded", "false");
  document.body.dataset.view = name;
  fill(root, h("p.muted", {}, "Loading…"));
  const owner = [];
  cleanup = owner;
  try {
    const view = await BY_NAME[name].load();
    if (mine !== generation) return;
    fill(root);
    const range = rangeSelect.value;
    const ctx = {arg, range, window: () => timeWindow(range), cleanup: owner,
      every: (ms, fn) => every(ms, fn, owner), current: () => mine === generation};
    await view.render(root, ctx);
  } catch (err) {
    if (mine === generation) fill(root, errorBox(err, `The ${name} view failed`));
  }
}

rangeSelect.value = localStorage.getItem(RANGE_STORAGE) || "-24h";
rangeSelect.addEventListener("change", () => {
  localStorage.setItem(RANGE_STORAGE, rangeSelect.value);
  show();
});
const toggleTheme = initTheme(rethemeAll);
document.getElementById("theme-toggle").addEventListener("click", toggleTheme);
navToggle.addEventListener("click", () => {
  const open = nav.classList.toggle("open");
  navToggle.setAttribute("aria-expanded", String(open));
});
window.addEventListener("hashchange", show);
if (!location.hash) history.replaceState(null, "", "#/overview");
show();
