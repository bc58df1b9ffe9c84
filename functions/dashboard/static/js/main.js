// The app shell: hash routing (#/<view>/<arg>), the time range, the theme, the phone menu.
// A view module exports `render(root, ctx)`; ctx.cleanup collects what to stop when the view is left.

import {errorBox, fill, h} from "./dom.js";
import {rethemeAll} from "./charts.js";
import {initTheme} from "./theme.js";

const VIEWS = {
  overview: () => import("./views/overview.js"),
  events: () => import("./views/events.js"),
  entity: () => import("./views/entity.js"),
  analytics: () => import("./views/analytics.js"),
  trace: () => import("./views/trace.js"),
  devices: () => import("./views/devices.js"),
  sports: () => import("./views/sports.js"),
  webhooks: () => import("./views/webhooks.js"),
  archive: () => import("./views/archive.js"),
  pipeline: () => import("./views/pipeline.js"),
  config: () => import("./views/config.js"),
};
const RANGE_STORAGE = "ha-ingestor.range";

const root = document.getElementById("view");
const nav = document.getElementById("nav");
const navToggle = document.getElementById("nav-toggle");
const rangeSelect = document.getElementById("range");
let cleanup = [];
let generation = 0;

function parseHash() {
  const [name, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  const arg = rest.length ? decodeURIComponent(rest.join("/")) : "";
  return {name: VIEWS[name] ? name : "overview", arg};
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
    const view = await VIEWS[name]();
    if (mine !== generation) return;
    fill(root);
    const ctx = {arg, range: rangeSelect.value, cleanup: owner, every: (ms, fn) => every(ms, fn, owner),
      current: () => mine === generation};
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
