// Webhooks: the registered webhooks (secrets masked) with their state and backlog, their delivery log,
// create / delete / resume. When the API answers 401 the view asks for the API key; it is kept for this
// tab only (sessionStorage).

import {api, apiKey, setApiKey} from "../api.js";
import {duration, errorBox, fill, h, ident, number, panel, statusBadge, table, when} from "../dom.js";

// active, failing (its last attempt failed, retrying), paused (failing for long: its events are held and
// the oldest is tried now and then), disabled.
function state(w) {
  if (w.state === "disabled" || !w.enabled) return statusBadge("unknown", "disabled");
  if (w.state === "paused" || w.paused) {
    return h("span", {title: w.paused_reason || ""}, statusBadge("degraded", "paused"),
      " since ", when(w.paused_since));
  }
  if (w.state === "failing") return h("span", {}, statusBadge("degraded", "failing"), " since ",
    when(w.failing_since));
  return statusBadge("ok", "active");
}

function backlog(w) {
  const parts = [];
  if (w.retry_backlog) parts.push(`${number(w.retry_backlog)} retrying`);
  if (w.held) parts.push(`${number(w.held)} held`);
  return parts.length ? parts.join(" · ") : "-";
}

const list = (value) => value.split(",").map((s) => s.trim()).filter(Boolean);

function keyForm(onDone, message) {
  const input = h("input", {type: "password", name: "api_key", autocomplete: "off", "aria-label": "API key",
    placeholder: "webhooks API key"});
  return h("form.filters", {id: "api-key-form", onsubmit: (e) => {
    e.preventDefault();
    setApiKey(input.value.trim());
    onDone();
  }}, h("span", {}, message), input, h("button.primary", {type: "submit"}, "Use key"));
}

function createForm(onCreated, report) {
  const field = (name, label, attrs = {}) => h("label", {}, label, h("input", {name, ...attrs}));
  const form = h("form.stack", {id: "webhook-create"},
    field("url", "URL", {required: true, type: "url", placeholder: "https://example.com/hook"}),
    field("name", "Name (optional)"),
    field("event_types", "Event types (comma separated)", {placeholder: "state_changed"}),
    field("entity_ids", "Entity ids, globs allowed", {placeholder: "light.*, sensor.kitchen_*"}),
    field("domains", "Domains", {placeholder: "light, switch"}),
    field("areas", "Areas", {placeholder: "kitchen"}),
    field("teams", "Teams (sports events)", {placeholder: "SF"}),
    h("button.primary", {type: "submit"}, "Create webhook"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const v = (n) => form.elements[n].value.trim();
    const filters = {};
    for (const n of ["event_types", "entity_ids", "domains", "areas", "teams"]) if (v(n)) filters[n] = list(v(n));
    const body = {url: v("url"), filters};
    if (v("name")) body.name = v("name");
    try {
      const made = await api("webhooks/webhooks", {method: "POST", body, key: true});
      form.reset();
      fill(report, made.secret && made.secret_generated ? h("div.secret-once", {},
        "Signing secret (shown once, store it now): ", h("code.mono", {id: "new-secret"}, made.secret)) : null);
      onCreated();
    } catch (err) {
      fill(report, errorBox(err, "Create"));
    }
  });
  return form;
}

export async function render(root, ctx) {
  const hooks = h("div");
  const deliveries = h("div", {id: "deliveries"});
  const report = h("div");
  root.append(h("h1", {}, "Webhooks"), panel("Registered", hooks), h("section.panel", {}, deliveries),
    panel("New webhook", report, createForm(() => load(), report)));

  async function action(what, fn) {
    try {
      await fn();
      await load();
    } catch (err) {
      fill(report, errorBox(err, what));
    }
  }

  async function showDeliveries(hook) {
    fill(deliveries, h("h2", {}, `Deliveries of ${hook.name || hook.url}`), h("p.muted", {}, "Loading…"));
    try {
      const d = await api(`webhooks/webhooks/${encodeURIComponent(hook.id)}/deliveries`, {params: {limit: 100},
        key: true});
      fill(deliveries, h("h2", {}, `Deliveries of ${hook.name || hook.url}`), (d.items || []).length ? table([
        {label: "At", render: (x) => when(x.at)},
        {label: "Event", render: (x) => x.event_type, phone: false},
        {label: "Attempt", key: "attempt", num: true},
        {label: "Status", render: (x) => (x.status_code ? String(x.status_code) : "-"), num: true},
        {label: "Latency", render: (x) => (x.latency_ms === null || x.latency_ms === undefined ? "-"
          : `${number(x.latency_ms, 1)} ms`), num: true, phone: false},
        {label: "Outcome", key: "outcome"},
        {label: "Error", key: "error", phone: false},
      ], d.items, (x) => ({dataset: {outcome: x.outcome || ""}})) : h("p.empty", {}, "No deliveries yet."));
    } catch (err) {
      fill(deliveries, errorBox(err, "Deliveries"));
    }
  }

  async function load() {
    let page;
    try {
      page = await api("webhooks/webhooks", {params: {limit: 100}, key: true});
    } catch (err) {
      if (!ctx.current()) return;
      if (err.status === 401) {
        fill(hooks, keyForm(load, apiKey() ? "That key was refused. API key:" : "This API needs its key:"));
        return;
      }
      fill(hooks, errorBox(err, "Webhooks"));
      return;
    }
    if (!ctx.current()) return;
    const items = page.items || [];
    fill(hooks, items.length ? table([
      {label: "Name", render: (w) => w.name || "-"},
      {label: "URL", render: (w) => ident(w.url), mono: true},
      {label: "Secret", key: "secret", mono: true, phone: false},
      {label: "State", render: state},
      {label: "Backlog", render: backlog, phone: false},
      {label: "Oldest undelivered", render: (w) => duration(w.oldest_undelivered_age_s), phone: false},
      {label: "Last", render: (w) => (w.last_status ? h("span", {}, `${w.last_status} · `, when(w.last_delivery_at)) : "-"),
        phone: false},
      {label: "Last error", render: (w) => w.last_error || "-", phone: false},
      {label: "", render: (w) => h("span", {}, h("button", {type: "button", onclick: () => showDeliveries(w)},
        "Deliveries"), " ",
      w.paused ? h("button", {type: "button", onclick: () => action("Resume", () =>
        api(`webhooks/webhooks/${encodeURIComponent(w.id)}/resume`, {method: "POST", key: true}))}, "Resume") : null,
      " ",
      h("button.danger", {type: "button", onclick: () => {
        if (confirm(`Delete the webhook to ${w.url}?`)) {
          action("Delete", () => api(`webhooks/webhooks/${encodeURIComponent(w.id)}`, {method: "DELETE", key: true}));
        }
      }}, "Delete"))},
    ], items, (w) => ({dataset: {webhookId: w.id}})) : h("p.empty", {}, "No webhooks registered."));
    if (items.length && !deliveries.firstChild) showDeliveries(items[0]);
  }

  await load();
}
