// ECharts (vendored, loaded as a classic script: window.echarts) behind a tiny lifecycle:
// charts follow the theme, resize with their container, and report their first real render.

import {theme} from "./theme.js";

const live = new Set();
window.__dashboard = window.__dashboard || {chartsRendered: 0, firstChartAt: null};

const palette = ["#1f6fd1", "#e8743b", "#19a979", "#945ecf", "#ed4a7b", "#13a4b4", "#bf399e", "#6c8893", "#ee6868",
  "#2f6497"];

function baseOption() {
  const dark = theme() === "dark";
  return {
    backgroundColor: "transparent", color: palette, animation: false,
    textStyle: {fontFamily: "system-ui, sans-serif"},
    grid: {left: 48, right: 16, top: 30, bottom: 40, containLabel: true},
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

export const timeAxis = (name) => ({type: "time", name, axisLabel: {hideOverlap: true}});
