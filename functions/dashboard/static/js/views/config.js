// Configuration: the system's settings as the health function reports them (every secret masked),
// the query function's own, and the context sources' state.

import {api} from "../api.js";
import {errorBox, fill, h, panel, statusBadge, table, when} from "../dom.js";

function jsonPanel(title, id) {
  const el = h("div", {id});
  return [panel(title, el), el];
}

async function into(el, what, path) {
  try {
    const data = await api(path);
    fill(el, h("pre.json", {}, JSON.stringify(data, null, 2)));
    return data;
  } catch (err) {
    fill(el, errorBox(err, what));
    return null;
  }
}

export async function render(root) {
  const [systemPanel, system] = jsonPanel("System", "config-system");
  const [queryPanel, query] = jsonPanel("Query API", "config-query");
  const sources = h("div", {id: "config-context"});
  root.append(h("h1", {}, "Configuration"), systemPanel, panel("Context sources", sources), queryPanel);
  await Promise.all([
    into(system, "System configuration", "health/config"),
    into(query, "Query configuration", "query/config"),
    (async () => {
      try {
        const s = await api("context-poll/status");
        const rows = Object.entries(s || {}).map(([name, v]) => ({name, ...v}));
        fill(sources, rows.length ? table([
          {label: "Source", key: "name"},
          {label: "Provider", key: "provider"},
          {label: "Breaker", render: (r) => statusBadge(r.breaker === "closed" ? "ok" : "degraded")},
          {label: "Failures", key: "failures", num: true},
          {label: "Fetched", render: (r) => when(r.fetched_at), phone: false},
          {label: "Last error", key: "last_error", phone: false},
        ], rows) : h("p.empty", {}, "No context sources configured."));
      } catch (err) {
        fill(sources, errorBox(err, "Context sources"));
      }
    })(),
  ]);
}
