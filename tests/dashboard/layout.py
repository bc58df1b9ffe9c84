"""What a person sees, measured in the page: text that overflows its box, words broken in the middle, chart labels
that overlap one another or leave their chart, and what a chart draws (its axes and series, from ECharts itself).

Each check returns the offenders with enough context to find them (empty: nothing wrong), so a failing test says
what and where.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page

# Boxes (not inline runs) whose content is wider than the box: text that spills out or is cut. Scroll containers
# that scroll on purpose are none: tables must fit, and .table-wrap is measured like the rest.
_OVERFLOWS = """() => {
  const out = [];
  for (const el of document.querySelectorAll("main *")) {
    const style = getComputedStyle(el);
    if (style.display === "inline" || style.display === "none" || !el.getClientRects().length) continue;
    if (el.closest(".chart") || el.matches("input, select, textarea")) continue;  // canvases; fields scroll
    if (el.scrollWidth > el.clientWidth + 1) {
      out.push({tag: el.tagName.toLowerCase(), cls: el.className, text: el.textContent.trim().slice(0, 60),
                scroll: el.scrollWidth, client: el.clientWidth});
    }
  }
  const page = document.documentElement;
  if (page.scrollWidth > window.innerWidth) out.push({tag: "html", text: "the page scrolls sideways",
    scroll: page.scrollWidth, client: window.innerWidth});
  return out;
}"""

# Line breaks inside a word ("sensor.grid_powe|r", "11/29/202|6"): a character on a lower line than the one before
# it, both letters or digits, in one text node. Breaks after separators (<wbr>, spaces, . _ / - :) are fine.
_BROKEN_WORDS = """() => {
  const out = [];
  const range = document.createRange();
  const walker = document.createTreeWalker(document.querySelector("main"), NodeFilter.SHOW_TEXT);
  const word = /[\\p{L}\\p{N}]/u;
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent;
    if (text.length < 2 || !node.parentElement || !node.parentElement.getClientRects().length) continue;
    let previous = null;
    for (let i = 0; i < text.length; i++) {
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      const rect = range.getClientRects()[0];
      if (!rect) continue;
      if (previous && rect.top > previous.top + previous.height / 2 && word.test(text[i - 1]) && word.test(text[i])) {
        out.push(`${text.slice(Math.max(0, i - 16), i)}|${text.slice(i, i + 16)}`);
      }
      previous = rect;
    }
  }
  return out;
}"""

# Every text ECharts drew in each chart, as boxes in the chart's own pixels (the glyph box: font size high), then
# pairs that overlap by more than a pixel each way, and texts that leave the chart (cut at its edge).
_CHART_TEXTS = """() => {
  const charts = {};
  for (const el of document.querySelectorAll(".chart[data-rendered='1']")) {
    const inst = echarts.getInstanceByDom(el);
    if (!inst) continue;
    const boxes = [];
    for (const d of inst.getZr().storage.getDisplayList(true)) {
      if (d.type !== "tspan" || d.invisible || d.ignore || !d.style.text || d.style.opacity === 0) continue;
      const size = parseFloat(/(\\d+(?:\\.\\d+)?)px/.exec(d.style.font || "12px")[1]);
      const r = d.getBoundingRect();
      const mid = r.y + r.height / 2;
      const corners = [[r.x, mid - size / 2], [r.x + r.width, mid - size / 2], [r.x, mid + size / 2],
                       [r.x + r.width, mid + size / 2]];
      const m = d.getComputedTransform() || [1, 0, 0, 1, 0, 0];
      const xs = corners.map(([x, y]) => m[0] * x + m[2] * y + m[4]);
      const ys = corners.map(([x, y]) => m[1] * x + m[3] * y + m[5]);
      boxes.push({text: d.style.text, x0: Math.min(...xs), x1: Math.max(...xs), y0: Math.min(...ys),
                  y1: Math.max(...ys)});
    }
    charts[el.id || "(chart)"] = {boxes, width: el.clientWidth, height: el.clientHeight};
  }
  return charts;
}"""


def overflows(page: Page) -> list[dict[str, Any]]:
    return page.evaluate(_OVERFLOWS)


def broken_words(page: Page) -> list[str]:
    return page.evaluate(_BROKEN_WORDS)


def chart_texts(page: Page) -> dict[str, Any]:
    return page.evaluate(_CHART_TEXTS)


def label_problems(page: Page) -> list[str]:
    """Chart texts overlapping another text of the same chart, or reaching past the chart's edge."""
    problems = []
    for chart_id, found in chart_texts(page).items():
        boxes = found["boxes"]
        for i, a in enumerate(boxes):
            if a["x0"] < -1 or a["y0"] < -1 or a["x1"] > found["width"] + 1 or a["y1"] > found["height"] + 1:
                problems.append(f"{chart_id}: {a['text']!r} leaves the chart")
            for b in boxes[i + 1:]:
                wide = min(a["x1"], b["x1"]) - max(a["x0"], b["x0"])
                high = min(a["y1"], b["y1"]) - max(a["y0"], b["y0"])
                if wide > 1 and high > 1:
                    problems.append(f"{chart_id}: {a['text']!r} overlaps {b['text']!r}")
    return problems


def chart_option(page: Page, chart_id: str) -> dict[str, Any]:
    """The option ECharts holds for a chart (after merging): its axes, series and their data, as JSON."""
    return page.evaluate("""(id) => {
      const option = echarts.getInstanceByDom(document.getElementById(id)).getOption();
      return JSON.parse(JSON.stringify(option, (k, v) => (typeof v === "function" ? undefined : v)));
    }""", chart_id)
