// Devices and entities from Home Assistant's registry (metadata-sync), by area. A device opens its entities beside
// the list (above it on a phone, scrolled into view), so the detail is where the eye already is.

import {api} from "../api.js";
import {card, entityCell, errorBox, fill, h, link, number, panel, table, withUnit} from "../dom.js";

const plural = (n, one, many = `${one}s`) => `${number(n)} ${n === 1 ? one : many}`;

async function showDevice(el, id, scroll) {
  try {
    const d = await api(`query/devices/${encodeURIComponent(id)}`);
    fill(el, h("h2", {id: "device-title"}, d.name || d.device_id),
      h("p.muted", {}, [d.manufacturer, d.model, d.sw_version && `firmware ${d.sw_version}`, d.area_name || d.area_id]
        .filter(Boolean).join(" · ")),
      table([
        {label: "Entity", render: (e) => entityCell(e.entity_id, e.name)},
        {label: "State", render: (e) => withUnit(e.state, e.unit_of_measurement), phone: false},
        {label: "Platform", key: "platform", phone: false},
        {label: "Disabled", render: (e) => (e.disabled ? "yes" : ""), phone: false},
      ], d.entities || []));
    if (scroll) el.scrollIntoView({block: "start"});
  } catch (err) {
    fill(el, errorBox(err, "Device"));
  }
}

export async function render(root, ctx) {
  const areas = h("div");
  const devices = h("div");
  const detail = h("div");
  const entities = h("div");
  const search = h("input", {name: "q", placeholder: "Search devices", "aria-label": "Search devices"});
  const entitySearch = h("input", {name: "eq", placeholder: "Search entities", "aria-label": "Search entities"});
  root.append(h("h1", {}, "Devices & entities"), panel("Areas", areas),
    h("div.split", {},
      h("section.panel.detail", {id: "device-detail"}, detail),
      panel("Devices", h("form.filters", {onsubmit: (e) => { e.preventDefault(); loadDevices(); }}, search,
        h("button.primary", {type: "submit"}, "Search")), devices)),
    panel("Entities", h("form.filters", {onsubmit: (e) => { e.preventDefault(); loadEntities(); }}, entitySearch,
      h("button.primary", {type: "submit"}, "Search")), entities));
  fill(detail, h("p.muted", {}, "Select a device to see its entities."));

  async function loadAreas() {
    try {
      const a = await api("query/areas");
      fill(areas, (a.items || []).length ? h("div.cards", {}, a.items.map((x) => card(x.name || x.area_id,
        `${plural(x.device_count, "device")} · ${plural(x.entity_count, "entity", "entities")}`, {class: "card small", dataset: {area: x.area_id}})))
        : h("p.empty", {}, "No areas known yet."));
    } catch (err) {
      fill(areas, errorBox(err, "Areas"));
    }
  }

  async function loadDevices() {
    try {
      const d = await api("query/devices", {params: {q: search.value.trim(), limit: 200}});
      if (!ctx.current()) return;
      fill(devices, (d.items || []).length ? table([
        {label: "Device", render: (x) => link(`#/devices/${encodeURIComponent(x.device_id)}`, x.name || x.device_id)},
        {label: "Manufacturer", key: "manufacturer", phone: false},
        {label: "Model", key: "model", phone: false},
        {label: "Area", render: (x) => x.area_name || x.area_id || ""},
        {label: "Entities", render: (x) => number(x.entity_count), num: true},
      ], d.items, (x) => ({class: x.device_id === ctx.arg ? "selected" : null})) : h("p.empty", {}, "No devices match."));
    } catch (err) {
      fill(devices, errorBox(err, "Devices"));
    }
  }

  async function loadEntities() {
    try {
      const e = await api("query/entities", {params: {q: entitySearch.value.trim(), limit: 200}});
      if (!ctx.current()) return;
      fill(entities, (e.items || []).length ? table([
        {label: "Entity", render: (x) => entityCell(x.entity_id, x.name)},
        {label: "Domain", key: "domain", phone: false},
        {label: "Area", render: (x) => x.area_name || x.area_id || ""},
        {label: "Device", render: (x) => x.device_name || "", phone: false},
      ], e.items) : h("p.empty", {}, "No entities match."));
    } catch (err) {
      fill(entities, errorBox(err, "Entities"));
    }
  }

  const phone = window.matchMedia("(max-width: 760px)").matches;
  await Promise.all([loadAreas(), loadDevices(), loadEntities(), ctx.arg ? showDevice(detail, ctx.arg, phone) : null]);
}
