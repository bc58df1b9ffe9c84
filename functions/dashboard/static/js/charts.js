// ECharts (vendored, loaded as a classic script: window.echarts) behind a tiny lifecycle:
// charts follow the theme, resize with their container, and report their first real render.
// And the shapes every view draws with: a time axis spanning exactly the selected range, value series that hold
// each value until the next (never smoothed), category axes sized to their labels.

import {theme} from "./theme.js";

const live = new Set();
window.__dashboard = window.__dashboard || {chartsRendered: 0, firstChartAt: null};

const palette = ["#1f6fd1", "#e8743b", "#19a979", "#945ecf", "#ed4a7b", "#13a4b4", "#bf399e", "#6c8893", "#ee6868",
  "#2f6497"];

export const narrow = () => window.matchMedia("(max-width: 760px)").matches;

function baseOption() {
  const dark = theme() === "dark";
  return {
    // ECharts' default font: it measures labels (containLabel, truncation) in the font of each label's own style,
    // so a family set only here would be drawn wider than measured and cut at the chart's edge
    backgroundColor: "transparent", color: palette, animation: false,
    grid: {left: 8, right: 16, top: 30, bottom: 8, containLabel: true},
    tooltip: {confine: true, backgroundColor: dark ? "#262a35" : "#fff", borderColor: dark ? "#3a4050" : "#ddd",
      textStyle: {color: dark ? "#e4e7ee" : "#1d2330"}},
  };
}

function markRendered(el) {
  if (el.dataset.rendered === "1") return;
  el.dataset.rendered = "1";
  const state = window.__dashboard;
  state.chartsRendered += 1;
  if (state.firstChartAt === null) state.firstChartAt = performance.now();
  el.dispatchEvent(new CustomEvent("chart-rendered", {bubbles: true}));
}

class Chart {
  constructor(el, option) {
    this.el = el;
    this.option = option;
    this.init();
    this.observer = new ResizeObserver(() => this.instance && this.instance.resize());
    this.observer.observe(el);
    live.add(this);
  }

  init() {
    this.instance = window.echarts.init(this.el, theme() === "dark" ? "dark" : null, {renderer: "canvas"});
    this.instance.on("finished", () => markRendered(this.el));
    this.instance.setOption({...baseOption(), ...this.option});
  }

  /** Replaces the data (keeps the instance, so a refresh does not flicker). */
  update(option) {
    this.option = option;
    this.instance.setOption({...baseOption(), ...option}, {replaceMerge: ["series", "xAxis", "yAxis"]});
  }

  on(name, fn) {
    this.instance.on(name, fn);
    return this;
  }

  retheme() {
    this.instance.dispose();
    this.init();
  }

  dispose() {
    if (this.disposed) return;
    this.disposed = true;
    live.delete(this);
    this.observer.disconnect();
    this.instance.dispose();
  }
}

/** A chart in `el` (a .chart element); disposed by the view's cleanup through `owner`. */
export function chart(el, option, owner) {
  const made = new Chart(el, option);
  if (owner) owner.push(() => made.dispose());
  return made;
}

export function rethemeAll() {
  for (const c of live) c.retheme();
}

const DAY = {month: "short", day: "numeric"};
const TIME = {hour: "numeric", minute: "2-digit"};

/** A time axis over exactly [window.start, window.end]: labels are times of day within two days, dates beyond
 * (in the reader's locale, as every other date of the app). */
export function timeAxis(win, name) {
  const long = win.seconds > 2 * 86400;
  const [min, max] = [win.start.getTime(), win.end.getTime()];
  // a tick this close to either end would centre its label over the value axis's labels or past the chart's edge
  const margin = (max - min) * (narrow() ? 0.09 : 0.04);
  return {
    type: "time", name, min, max,
    splitNumber: narrow() ? 3 : 6,
    axisLabel: {hideOverlap: true, formatter: (value) => {
      if (value - min < margin || max - value < margin) return "";
      const d = new Date(value);
      return long || (d.getHours() === 0 && d.getMinutes() === 0) ? d.toLocaleDateString(undefined, DAY)
        : d.toLocaleTimeString(undefined, TIME);
    }},
  };
}

/** Height for a chart of `rows` categories (one label each, never squeezed), within [min, max] px. */
export const rowsHeight = (rows, {per = 26, extra = 60, min = 160, max = 900} = {}) =>
  `${Math.max(min, Math.min(max, extra + rows * per))}px`;

/** What a bucket's width reads as: "5-minute", "1-hour", "1-day". */
export function bucketName(seconds) {
  if (seconds % 86400 === 0) return `${seconds / 86400}-day`;
  if (seconds % 3600 === 0) return `${seconds / 3600}-hour`;
  return `${Math.round(seconds / 60)}-minute`;
}

/** Category-axis labels of at most `width` px, cut with an ellipsis (the full text is in the tooltip). */
export const labelWidth = (width) => ({width, overflow: "truncate", ellipsis: "…"});
