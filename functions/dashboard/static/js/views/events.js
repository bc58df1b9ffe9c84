// Live events: the newest events matching the filters, polled every few seconds; new rows highlighted.

import {api} from "../api.js";
import {entityLink, errorBox, fill, h, table, traceLink, when} from "../dom.js";

const POLL_MS = 4000;
const FILTERS = [
  ["entity_id", "Entity id"], ["domain", "Domain"], ["event_type", "Event type"], ["area_id", "Area"],
  ["q", "Search name or state"],
];

function fromHash(arg) {
  return Object.fromEntries(new URLSearchParams(arg || ""));
}

export async function render(root, ctx) {
  const filters = fromHash(ctx.arg);
  const inputs = Object.fromEntries(FILTERS.map(([name, label]) =>
    [name, h("input", {name, placeholder: label, "aria-label": label, value: filters[name] || ""})]));
  const status = h("span.muted");
  const pause = h("button", {type: "button", id: "pause"}, "Pause");
  const list = h("div");
  const more = h("div");
  const seen = new Set();
  let paused = false;
  let first = true;
  let loading = false;

  const form = h("form.filters", {onsubmit: (e) => {
    e.preventDefault();
    const values = Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value.trim()]));
    history.replaceState(null, "", `#/events/${new URLSearchParams(Object.entries(values).filter(([, v]) => v))}`);
    seen.clear();
    first = true;
    load();
  }}, Object.values(inputs), h("button.primary", {type: "submit"}, "Filter"));
  pause.addEventListener("click", () => {
    paused = !paused;
    pause.textContent = paused ? "Resume" : "Pause";
    pause.setAttribute("aria-pressed", String(paused));
  });
  root.append(h("h1", {}, "Live events"), form, h("div.toolbar", {}, pause, status), list, more);

  const columns = [
    {label: "Time", render: (e) => when(e.time_fired)},
    {label: "Entity", render: (e) => (e.entity_id ? entityLink(e.entity_id) : e.event_type), mono: true},
    {label: "State", render: (e) => (e.entity_id ? `${e.old_state ?? "∅"} → ${e.state ?? "∅"}` : "")},
    {label: "Name", key: "friendly_name", phone: false},
    {label: "Area", key: "area_id", phone: false},
    {label: "Type", key: "event_type", phone: false},
    {label: "Context", render: (e) => (e.context && e.context.id ? traceLink(e.context.id, "trace") : ""),
      phone: false},
  ];

  function params(cursor) {
    const values = Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value.trim()]));
    return {...values, start: ctx.range, limit: 100, cursor};
  }

  async function load() {
    if (loading) return;
    loading = true;
    try {
      const page = await api("query/events", {params: params()});
      if (!ctx.current()) return;
      const items = page.items || [];
      const fresh = items.filter((e) => !seen.has(e.event_id));
      for (const e of items) seen.add(e.event_id);
      fill(list, items.length ? table(columns, items, (e) => ({
        class: !first && fresh.includes(e) ? "new" : null, dataset: {eventId: e.event_id},
      })) : h("p.empty", {}, "No events match."));
      fill(status, `${items.length} shown, updated ${new Date().toLocaleTimeString()}` +
        (!first && fresh.length ? `, ${fresh.length} new` : ""));
      fill(more, page.next_cursor ? h("button", {type: "button", onclick: () => loadMore(page.next_cursor)},
        "Older events") : null);
      first = false;
    } catch (err) {
      if (ctx.current()) fill(list, errorBox(err, "Events"));
    } finally {
      loading = false;
    }
  }

  async function loadMore(cursor) {
    if (!paused) pause.click();  // a refresh would drop the older rows being read
    try {
      const page = await api("query/events", {params: params(cursor)});
      const tbody = list.querySelector("tbody");
      const extra = table(columns, page.items || [], (e) => ({dataset: {eventId: e.event_id}}));
      for (const row of extra.querySelectorAll("tbody tr")) tbody.append(row);
      fill(more, page.next_cursor ? h("button", {type: "button", onclick: () => loadMore(page.next_cursor)},
        "Older events") : null);
    } catch (err) {
      fill(more, errorBox(err, "Older events"));
    }
  }

  ctx.every(POLL_MS, () => !paused && load());
  await load();
}
