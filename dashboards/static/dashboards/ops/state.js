// What the operations dashboard knows, in one object that the entry module creates and
// hands to each part (map, viewport, search, KPIs, feed, live updates); no part keeps
// any of it in a module variable.

export const KINDS = ["camera", "sensor", "signal"];
export const SEVERITIES = ["critical", "warning", "info"];

/** The dashboard's state for the page `root` and its map element. */
export function createState(root, mapElement) {
  return {
    devices: {}, // by code: status, kind, ward, name, lat, lon, last_seen_at
    alerts: new Map(), // open alerts by id
    unseen: { critical: 0, warning: 0, info: 0 }, // open alerts counted by the server but not listed
    updated: { devices: null, alerts: null }, // when each source was last known current
    // A ward's page is that ward's dashboard: its filter is fixed.
    filters: { kinds: new Set(KINDS), ward: root.dataset.ward || "", status: "" },
    selected: null, // the code of the device in the side panel
    // A large city: the page carries KPIs and counts only, and the map loads the devices
    // (or per-cell counts) of its viewport from the server as it moves.
    embedded: mapElement.dataset.embedded !== "false",
    kpis: null, // the server's figures (snapshot, KPI endpoint)
  };
}

/** Whether `device` passes the map's filters. */
export function isVisible(filters, device) {
  return filters.kinds.has(device.kind) && (!filters.ward || device.ward === filters.ward) && (!filters.status || device.status === filters.status);
}

/** Whether `alert` is still open (the feed lists only those). */
export function isOpen(alert) {
  return alert && alert.status !== "resolved";
}

/** A device as the state keeps it, from a row of the map or search endpoint. */
export function deviceFromRow(row) {
  return { status: row.status, kind: row.kind, ward: row.ward, last_seen_at: row.last_seen_at, lat: row.lat, lon: row.lon, name: row.name };
}

/** The rows of a columnar answer (`{fields: [...], devices: [[...], ...]}`) as objects. */
export function rowsOf(body) {
  return (body.devices || []).map((row) => Object.fromEntries(body.fields.map((f, i) => [f, row[i]])));
}
