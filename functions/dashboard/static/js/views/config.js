// Configuration: the system's settings as the health function reports them (every secret already masked by the
// API: passwords in URLs as ***, keys to their last 4 characters, secrets by name only), the context sources and
// their state, and the query function's own settings; as tables people read, not raw JSON.

import {api} from "../api.js";
import {SETTING_LABELS} from "./archive.js";
import {bytes, duration, errorBox, facts, fill, h, ident, panel, plain, statusBadge, table, when} from "../dom.js";

const ENDPOINTS = {gateway: "Gateway", bridge: "Bridge (Home Assistant)", nats: "NATS", event_store: "Event store",
  metadata_db: "Metadata DB", connector_metrics: "Connector metrics"};
const HEALTH = {probe_timeout_s: "Probe timeout (s)", cache_s: "Answer cached (s)",
  lag_pending: "Backlog before degraded (messages)", lag_stall_s: "No ack before degraded (s)",
  dlq_window_s: "Dead letters count for (s)", dlq_recent: "Recent dead letters listed",
  dlq_scan: "Dead letters read by reason", dlq_max_bytes: "Dead letters read at most (bytes)",
  bridge_grace_s: "Reconnecting before unhealthy (s)"};

function functionsTable(items) {
  return table([
    {label: "Function", key: "name"},
    {label: "Triggered by", render: (f) => (f.schedule ? `cron ${f.schedule}`
      : f.topics.length ? ident(f.topics.join(", ")) : "HTTP")},
    {label: "Replicas", render: (f) => `${f.available_replicas ?? "?"} of ${f.replicas ?? "?"}`, num: true,
      phone: false},
    {label: "Connector", render: (f) => plain(f.connector), phone: false,
      title: "the topic connector's settings for this function (timeout, max-deliver, concurrency, backoff)"},
    {label: "Secrets", render: (f) => plain(f.secrets), phone: false, title: "names only: values never leave"},
  ], items, (f) => ({dataset: {function: f.name}}));
}

function streamFacts(s) {
  return facts({name: s.name, subjects: s.subjects, kept_for: duration(s.max_age_s), size_limit: bytes(s.max_bytes),
    duplicate_window: duration(s.duplicate_window_s), storage: s.storage, retention: s.retention},
  {name: "Stream", subjects: "Subjects", kept_for: "Messages kept for", size_limit: "Size limit",
    duplicate_window: "Duplicate window", storage: "Storage", retention: "Retention"});
}

function contextFacts(c) {
  const sources = Object.entries(c.sources || {}).map(([name, s]) => [name, `${s.provider}, every ${duration(s.refresh_s)}` +
    (s.api_key ? `, key ${s.api_key}` : "")]);
  return facts({...Object.fromEntries(sources), ...Object.fromEntries(Object.entries(c.problems || {})
    .map(([name, problem]) => [name, `cannot run: ${problem}`])),
  breaker: `opens after ${c.breaker.threshold} failures, retries after ${duration(c.breaker.reset_s)}`});
}

export async function render(root) {
  const problems = h("div");
  const endpoints = h("div", {id: "config-endpoints"});
  const functions = h("div", {id: "config-functions"});
  const stream = h("div", {id: "config-stream"});
  const sources = h("div", {id: "config-context"});
  const archive = h("div", {id: "config-archive"});
  const health = h("div", {id: "config-health"});
  const query = h("div", {id: "config-query"});
  root.append(h("h1", {}, "Configuration"), problems,
    h("p.muted", {}, "Secrets are never shown: passwords in URLs read ***, keys their last 4 characters, " +
      "secret files their names."),
    panel("Endpoints", endpoints), panel("Functions", functions),
    panel("Context sources", sources),
    h("div.grid", {}, panel("Event stream", stream), panel("Query API", query)),
    h("div.grid", {}, panel("Archive", archive), panel("Health thresholds", health)));
  await Promise.all([
    (async () => {
      try {
        const c = await api("health/config");
        fill(problems, (c.problems || []).map((p) => h("div.error", {role: "alert"}, p)));
        fill(endpoints, facts(c.endpoints, ENDPOINTS));
        fill(functions, (c.functions || []).length ? functionsTable(c.functions) : h("p.empty", {}, "No functions listed."));
        fill(stream, c.stream ? streamFacts(c.stream) : h("p.empty", {}, "Stream not readable."));
        fill(archive, c.archive ? facts(c.archive, SETTING_LABELS) : h("p.empty", {}, "retention-archive not readable."));
        fill(health, facts(c.health, HEALTH));
        if (c.context) sources.prepend(h("div", {}, contextFacts(c.context)));
      } catch (err) {
        fill(endpoints, errorBox(err, "System configuration"));
      }
    })(),
    (async () => {
      try {
        const q = await api("query/config");
        fill(query, facts({backend: q.event_store.backend, event_store: q.event_store.url, metadata_db: q.metadata_db.url,
          ...q.limits}, {backend: "Backend", event_store: "Event store", metadata_db: "Metadata DB",
          max_points: "Points per chart at most", trace_max_events: "Trace: events at most",
          trace_max_nodes: "Trace: contexts at most", duration_samples: "Durations read at most",
          unavailable_transitions: "Unavailable changes read at most", events_page_max: "Events per page at most",
          history_max: "History changes at most"}));
      } catch (err) {
        fill(query, errorBox(err, "Query configuration"));
      }
    })(),
    (async () => {
      try {
        const s = await api("context-poll/status");
        const rows = Object.entries(s || {}).map(([name, v]) => ({name, ...v}));
        sources.append(rows.length ? table([
          {label: "Source", key: "name"},
          {label: "Provider", render: (r) => r.provider || "-", phone: false},
          {label: "State", render: (r) => statusBadge(r.problem || r.breaker !== "closed" ? "degraded"
            : r.fetched_at ? "ok" : "unknown", r.problem ? "cannot run" : r.breaker !== "closed" ? `breaker ${r.breaker}`
            : r.fetched_at ? "fetching" : (r.last_poll || {}).result === "no_location" ? "no location" : "not fetched")},
          {label: "Fetched", render: (r) => when(r.fetched_at), phone: false},
          {label: "Last error", render: (r) => r.problem || r.last_error || "", phone: false},
        ], rows, (r) => ({dataset: {source: r.name}})) : h("p.empty", {}, "No context sources configured."));
      } catch (err) {
        sources.append(errorBox(err, "Context sources"));
      }
    })(),
  ]);
}
