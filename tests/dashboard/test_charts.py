"""What the charts show, read from ECharts itself: the axis spans exactly the selected range, a numeric entity is a
line of its values in order, an on/off entity a state timeline, and the rate cards are the rate chart's buckets
summed over the window."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

from tests.dashboard import home, stack
from tests.dashboard.browser import Tab, tab
from tests.dashboard.layout import chart_option, label_problems

pytestmark = pytest.mark.integration
DAY_MS = 86400 * 1000


def span_ms(axis: dict) -> float:
    return axis["max"] - axis["min"]


def test_a_numeric_entity_is_a_line_of_its_values_in_order_over_exactly_the_range(view: Tab) -> None:
    view.open(f"entity/{home.TEMPERATURE}")
    view.rendered("chart-series")
    option = chart_option(view.page, "chart-series")
    [x], [y], [line] = option["xAxis"], option["yAxis"], option["series"]
    assert (x["type"], span_ms(x)) == ("time", DAY_MS)
    assert (y["type"], y["name"]) == ("value", "°C")
    assert (line["type"], line["smooth"], line["step"]) == ("line", False, "end")
    times = [p[0] for p in line["data"]]
    assert times == sorted(times) and x["min"] <= times[0] and times[-1] <= x["max"]
    # the value before the first change (its old state) from when it began, each change, held to the end
    assert [p[1] for p in line["data"]] == [19.0, *home.TEMPERATURES, home.TEMPERATURES[-1]]


def test_an_on_off_entity_is_a_state_timeline_with_one_row_per_state(view: Tab, house: stack.Home) -> None:
    view.open(f"entity/{home.LIGHT}")
    view.rendered("chart-timeline")
    assert view.page.locator("#chart-series").count() == 0, "an on/off entity is not a line"
    option = chart_option(view.page, "chart-timeline")
    [x], [y], [bars] = option["xAxis"], option["yAxis"], option["series"]
    assert (x["type"], span_ms(x)) == ("time", DAY_MS)
    assert (y["type"], y["data"]) == ("category", ["on", "off"])
    assert bars["type"] == "custom"
    segments = [d["value"] for d in bars["data"]]  # [row, start, end, state, seconds]
    assert x["min"] <= segments[0][1] and segments[-1][2] <= x["max"]
    assert all(a[2] == b[1] for a, b in zip(segments, segments[1:], strict=False)), "gaps between segments"
    history = house.get(f"query/entities/{home.LIGHT}/history?start=-24h")
    assert [s[3] for s in segments] == [s["state"] for s in history["timeline"]]
    assert {"on", "off"} == {s[3] for s in segments}
    assert all(y["data"][s[0]] == s[3] for s in segments)


def test_the_rate_cards_are_the_rate_chart_s_buckets_summed_over_the_window(view: Tab) -> None:
    view.open("overview")
    view.rendered("chart-rate")
    view.page.wait_for_selector("#rate-average", timeout=30000)
    option, cards = view.page.evaluate("""() => {
      const option = echarts.getInstanceByDom(document.getElementById('chart-rate')).getOption();
      const text = (id) => document.querySelector(`#${id} .value`).textContent;
      return [{x: option.xAxis[0], data: option.series[0].data, smooth: option.series[0].smooth},
              {total: text('total-events'), average: text('rate-average'),
               note: document.querySelector('#rate-average .note').textContent}];
    }""")
    x, points = option["x"], [p for p in option["data"] if p[2] is not None]  # the last point holds the last bucket
    assert (x["type"], span_ms(x)) == ("time", DAY_MS) and option["smooth"] is False
    bucket_ms = points[1][0] - points[0][0]
    assert all(b[0] - a[0] == bucket_ms for a, b in zip(points, points[1:], strict=False)), "every bucket, no gaps"
    assert all(p[1] == round(p[2] / (bucket_ms / 60000), 3) for p in points), "a bucket's rate is its count per min"
    total = sum(p[2] for p in points)
    average = view.page.evaluate("n => n.toLocaleString(undefined, {maximumFractionDigits: 2})", total / 1440)
    assert (cards["total"], cards["average"]) == (f"{total:,}", average)
    assert cards["note"] == "average over the last 24 hours"


@pytest.mark.parametrize("width", [1366, 390])
@pytest.mark.parametrize("minutes_to_the_hour", [1, 7, 30])
def test_time_labels_near_either_end_of_the_range_stay_clear_of_the_value_labels(
        browser: Browser, house: stack.Home, width: int, minutes_to_the_hour: int) -> None:
    """The first whole hour can fall a few minutes after the range's start: its label, centred on its tick, would
    sit over the value axis's labels (it did at 15:53 for '4:00 PM')."""
    with tab(browser, house.dashboard, viewport={"width": width, "height": 900}) as t:
        t.open("pipeline")
        t.rendered("chart-lag")
        t.page.evaluate("""async (minutes) => {
          const {chart, timeAxis} = await import(new URL("static/js/charts.js", document.baseURI));
          const end = new Date(2026, 10, 30, 16, 0, 0);
          end.setMinutes(-minutes);  // the range ends, and so starts, this many minutes before a whole hour
          const start = new Date(end.getTime() - 86400000);
          const el = document.createElement("div");
          el.className = "chart";
          el.id = "chart-probe";
          document.querySelector("main").prepend(el);
          chart(el, {xAxis: timeAxis({start, end, seconds: 86400}), yAxis: {type: "value", name: "°C", scale: true},
                     series: [{type: "line", data: [[start.getTime(), 19], [end.getTime(), 22.25]]}]}, []);
        }""", minutes_to_the_hour)
        t.rendered("chart-probe")
        assert [p for p in label_problems(t.page) if p.startswith("chart-probe")] == []
        assert t.problems == []
