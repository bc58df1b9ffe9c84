// Live events: the newest events matching the filters, polled every few seconds; new rows highlighted. Each row
// says what happened in words: a state change with its unit, the service a call ran on the entity, an automation.

import {api} from "../api.js";
import {describe, entityCell, errorBox, fill, h, ident, table, traceLink, when} from "../dom.js";

const POLL_MS = 4000;
const FILTERS = [
  ["entity_id", "Entity id"], ["domain", "Domain"], ["event_type", "Event type"], ["area_id", "Area id"],
  ["q", "Search name or state"],
];

function fromHash(arg) {
  return Object.fromEntries(new URLSearchParams(arg || ""));
}

/** The entity as people know it; an event without one (a call naming none, a core event) by its kind. */
function subject(e) {
  if (e.entity_id) return entityCell(e.entity_id, e.entity_name);
  return h("span", {}, e.event_type === "call_service" ? "service call" : e.event_type.replace(/_/g, " "));
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
    {label: "Entity", render: subject},
    {label: "What", render: (e) => ident(describe(e))},
    {label: "Area", render: (e) => e.area_name || e.area_id || "", phone: false},
    {label: "Type", key: "event_type", phone: false},
    {label: "Context", render: (e) => (e.context && e.context.id ? traceLink(e.context.id, "trace") : ""),
      phone: false},
  ];

  let win = ctx.window();  // "Older events" pages through the range of the list they continue

  function params(cursor) {
    const values = Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value.trim()]));
    return {...values, ...win.params, limit: 100, cursor};
  }

  async function load() {
    if (loading) return;
    loading = true;
    try {
      win = ctx.window();
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
