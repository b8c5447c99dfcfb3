// The operations dashboard at /ops/: map, KPI tiles, alert feed and device panel, drawn
// from the state the server rendered and kept current by the live channel (live.js).
// Works without map tiles: ward boundaries and devices are the platform's own data.
import { CaseLayer } from "./cases.js";
import { LiveChannel, liveURL } from "./live.js";
import { DevicePanel, exportFollowsFilters } from "./panel.js";

const readJSON = (id) => JSON.parse(document.getElementById(id)?.textContent || "{}");
const mapLabels = readJSON("ioc-map-labels");
const labels = readJSON("ioc-live-labels");
const initial = readJSON("ioc-live-initial");

const STATUS_COLOURS = { online: "#1a9850", offline: "#7f8c8d", fault: "#d73027", maintenance: "#e08e0b" };
const KIND_RADIUS = { camera: 5, sensor: 6, signal: 7 };
const SEVERITIES = ["critical", "warning", "info"];
const FEED_MAX = 100;
const MUTE_KEY = "ioc.dashboard.muted";
const VIEW_DEBOUNCE_MS = 250;
const KPI_REFRESH_MS = 2000;
const TIME_ZONE = "Asia/Ho_Chi_Minh";

const root = document.querySelector("[data-dashboard]");
const mapElement = root.querySelector("[data-dashboard-map]");

// --- Small helpers ---------------------------------------------------------------------

function format(template, values) {
  return String(template || "").replace(/%\((\w+)\)s/g, (_m, key) => String(values[key] ?? ""));
}

function dateParts(value) {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return null;
  const parts = new Intl.DateTimeFormat("en-GB", {
    timeZone: TIME_ZONE, hour12: false, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  }).formatToParts(date);
  return Object.fromEntries(parts.map((p) => [p.type, p.value]));
}

/** "hh:mm" in Vietnam time (24 h). */
function clock(value) {
  const p = dateParts(value);
  return p ? `${p.hour}:${p.minute}` : "–";
}

/** "hh:mm dd/mm/yyyy" in Vietnam time. */
function stamp(value) {
  const p = dateParts(value);
  return p ? `${p.hour}:${p.minute} ${p.day}/${p.month}/${p.year}` : (labels.never || "–");
}

function age(since) {
  const seconds = Math.max(0, Math.round((Date.now() - since.getTime()) / 1000));
  if (seconds < 90) return format(labels.seconds, { n: seconds });
  if (seconds < 5400) return format(labels.minutes, { n: Math.round(seconds / 60) });
  return format(labels.hours, { n: Math.round(seconds / 3600) });
}

function fold(text) {
  return String(text || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/đ/g, "d").replace(/Đ/g, "D").toLowerCase();
}

function deviceURL(code) {
  return root.dataset.deviceUrl.replace("__code__", encodeURIComponent(code));
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

// --- State -----------------------------------------------------------------------------

const state = {
  devices: {},
  alerts: new Map(), // open alerts by id
  unseen: { critical: 0, warning: 0, info: 0 }, // open alerts counted by the server but not listed
  updated: { devices: null, alerts: null },
  // A ward's page is that ward's dashboard: its filter is fixed.
  filters: { kinds: new Set(["camera", "sensor", "signal"]), ward: root.dataset.ward || "", status: "" },
  selected: null,
  // A large city: the page carries KPIs and counts only, and the map loads the devices
  // (or per-cell counts) of its viewport from the server as it moves.
  embedded: mapElement.dataset.embedded !== "false",
  kpis: null,
};

const markers = new Map(); // code -> L.CircleMarker
const incidents = new CaseLayer({
  root, name: "incidents", kpiKey: "incidents_open", open: new Set(["open", "in_progress"]),
  urlTemplate: (root.dataset.incidentUrl || "").replace(/0\/$/, "__id__/"),
  label: (i) => `${i.reference} · ${i.title} (${(labels.incidentStatus || {})[i.status] || i.status})`,
  iconClass: (i) => `incident-marker severity-${i.severity}`,
});
const requests = new CaseLayer({
  root, name: "requests", kpiKey: "requests.open",
  open: new Set(["new", "triaged", "assigned", "in_progress", "reopened"]),
  urlTemplate: root.dataset.requestUrl || "",
  label: (r) => `${r.code} · ${r.category_name} (${(labels.requestStatus || {})[r.status] || r.status})`,
  iconClass: (r) => `request-marker${r.overdue ? " overdue" : ""}`,
});
let map = null;
let wardsLayer = null;
let devicesLayer = null;
let renderer = null;
let gridLayer = null;
let viewRequest = null; // the AbortController of the viewport load in flight
let viewTimer = null;
let kpiTimer = null;

const isOpen = (alert) => alert && alert.status !== "resolved";

// --- Map -------------------------------------------------------------------------------

function addBaseMap() {
  const url = mapElement.dataset.tileUrl;
  if (!url) return;
  let failures = 0;
  const layer = L.tileLayer(url, { maxZoom: 19, attribution: mapElement.dataset.tileAttribution || "" });
  layer.on("tileerror", () => {
    failures += 1;
    if (failures === 4) {
      // Tiles are unreachable (offline intranet): say so once and keep the vector layers.
      const note = L.control({ position: "bottomleft" });
      note.onAdd = () => Object.assign(L.DomUtil.create("div", "map-note"), { textContent: mapLabels.noTiles || "" });
      note.addTo(map);
      mapElement.classList.add("no-tiles");
    }
  });
  layer.addTo(map);
}

function wardAlertCounts() {
  const counts = {};
  for (const alert of state.alerts.values()) {
    if (alert.ward) counts[alert.ward] = (counts[alert.ward] || 0) + 1;
  }
  return counts;
}

function choropleth(count) {
  if (!count) return { fillColor: "#2a6fb0", fillOpacity: 0.05 };
  if (count === 1) return { fillColor: "#fdd835", fillOpacity: 0.3 };
  if (count <= 3) return { fillColor: "#fb8c00", fillOpacity: 0.35 };
  return { fillColor: "#d73027", fillOpacity: 0.4 };
}

function styleWards() {
  if (!wardsLayer) return;
  const counts = wardAlertCounts();
  wardsLayer.eachLayer((layer) => {
    const code = layer.feature.properties.code;
    const focused = !state.filters.ward || state.filters.ward === code;
    layer.setStyle({
      color: "#0b3d6e", weight: focused ? 1.6 : 0.8, opacity: focused ? 0.9 : 0.4, ...choropleth(counts[code] || 0),
    });
    const name = layer.feature.properties.title || layer.feature.properties.name;
    layer.setTooltipContent(counts[code] ? `${name} · ${counts[code]}` : name);
  });
}

async function loadWards() {
  const response = await fetch(mapElement.dataset.wardsUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`wards: HTTP ${response.status}`);
  const geojson = await response.json();
  wardsLayer = L.geoJSON(geojson, {
    // The markers' canvas: with a canvas of their own, the wards (drawn later, on top)
    // took every click, and a marker could not be clicked.
    renderer,
    onEachFeature: (feature, layer) => {
      layer.bindTooltip(feature.properties.title || feature.properties.name || "", { sticky: true });
      layer.on("click", () => selectWard(feature.properties.code));
    },
  }).addTo(map);
  wardsLayer.bringToBack();
  mapElement.iocWards = wardsLayer;
  styleWards();
  const focus = root.dataset.ward
    ? wardsLayer.getLayers().find((layer) => layer.feature.properties.code === root.dataset.ward)
    : null;
  const bounds = (focus || wardsLayer).getBounds();
  if (bounds.isValid()) map.fitBounds(bounds, { padding: [12, 12], animate: false });
}

function markerStyle(device) {
  return {
    renderer, radius: KIND_RADIUS[device.kind] || 5, weight: device.kind === "signal" ? 2.5 : 1,
    color: device.kind === "signal" ? "#072a4d" : "#ffffff",
    fillColor: STATUS_COLOURS[device.status] || "#555", fillOpacity: 0.95,
  };
}

function visible(device) {
  const f = state.filters;
  return f.kinds.has(device.kind) && (!f.ward || device.ward === f.ward) && (!f.status || device.status === f.status);
}

function drawDevice(code) {
  const device = state.devices[code];
  let marker = markers.get(code);
  if (!device || device.lat == null || device.lon == null) {
    if (marker) { devicesLayer.removeLayer(marker); markers.delete(code); }
    return;
  }
  if (!marker) {
    marker = L.circleMarker([device.lat, device.lon], markerStyle(device));
    marker.deviceCode = code;
    marker.on("click", () => showDevice(code));
    markers.set(code, marker);
  } else {
    marker.setLatLng([device.lat, device.lon]);
    marker.setStyle(markerStyle(device));
  }
  const title = device.name ? `${code} · ${device.name}` : code;
  if (marker.getTooltip()) marker.setTooltipContent(title);
  else marker.bindTooltip(title);
  if (visible(device)) devicesLayer.addLayer(marker);
  else devicesLayer.removeLayer(marker);
}

function drawAllDevices() {
  if (!devicesLayer) return;
  for (const code of markers.keys()) if (!state.devices[code]) drawDevice(code);
  for (const code of Object.keys(state.devices)) drawDevice(code);
  fillSearchList();
}

function initMap() {
  map = L.map(mapElement, { preferCanvas: true, zoomControl: true }).setView([21.5928, 105.8442], 12);
  mapElement.iocMap = map;
  renderer = L.canvas({ padding: 0.3 });
  addBaseMap();
  devicesLayer = L.featureGroup().addTo(map);
  mapElement.iocDevices = devicesLayer;
  incidents.attach(map);
  requests.attach(map);
  gridLayer = L.featureGroup().addTo(map);
  mapElement.iocGrid = gridLayer;
  drawAllDevices();
  if (!state.embedded) map.on("moveend", scheduleViewLoad);
  loadWards()
    .catch((error) => { mapElement.dataset.error = String(error); console.error(error); })
    .finally(() => {
      devicesLayer.bringToFront?.();
      mapElement.dataset.ready = "true";
    });
}

// --- Viewport loading (large cities) ----------------------------------------------------

function filterParams() {
  const params = new URLSearchParams();
  const kinds = [...state.filters.kinds];
  if (kinds.length < 3) params.set("kind", kinds.join(","));
  if (state.filters.ward) params.set("ward", state.filters.ward);
  if (state.filters.status) params.set("status", state.filters.status);
  return params;
}

function scheduleViewLoad() {
  window.clearTimeout(viewTimer);
  viewTimer = window.setTimeout(loadView, VIEW_DEBOUNCE_MS);
}

/** The devices (or per-cell counts) of the visible bounds; a newer move aborts this one. */
async function loadView() {
  if (state.embedded || !map) return;
  viewRequest?.abort();
  const controller = new AbortController();
  viewRequest = controller;
  if (!state.filters.kinds.size) { showPoints([]); return; }
  const b = map.getBounds().pad(0.1);
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
  const bbox = [clamp(b.getWest(), -180, 180), clamp(b.getSouth(), -90, 90), clamp(b.getEast(), -180, 180), clamp(b.getNorth(), -90, 90)];
  const params = filterParams();
  params.set("bbox", bbox.map((v) => v.toFixed(6)).join(","));
  params.set("grid", "32");
  try {
    const response = await fetch(`${mapElement.dataset.devicesUrl}?${params}`, {
      credentials: "same-origin", headers: { Accept: "application/json" }, signal: controller.signal,
    });
    if (!response.ok) throw new Error(`devices: HTTP ${response.status}`);
    const body = await response.json();
    if (controller !== viewRequest) return;
    if (body.mode === "grid") showGrid(body.cells || []);
    else showPoints((body.devices || []).map((row) => Object.fromEntries(body.fields.map((f, i) => [f, row[i]]))));
    mapElement.dataset.view = body.mode;
  } catch (error) {
    if (error.name !== "AbortError") { mapElement.dataset.error = String(error); console.error(error); }
  }
}

function deviceFromRow(row) {
  return { status: row.status, kind: row.kind, ward: row.ward, last_seen_at: row.last_seen_at, lat: row.lat, lon: row.lon, name: row.name };
}

/** The loaded devices become the visible ones (the selected one stays known). */
function showPoints(rows) {
  gridLayer.clearLayers();
  const next = {};
  for (const row of rows) next[row.code] = { ...(state.devices[row.code] || {}), ...deviceFromRow(row) };
  if (state.selected && state.devices[state.selected] && !next[state.selected]) next[state.selected] = state.devices[state.selected];
  state.devices = next;
  window.iocDashboard.devices = next;
  drawAllDevices();
}

function cellLabel(cell) {
  const names = mapLabels.status || {};
  const parts = Object.entries(cell.status || {}).filter(([, n]) => n > 0).map(([status, n]) => `${names[status] || status}: ${n.toLocaleString("vi-VN")}`);
  return `${cell.count.toLocaleString("vi-VN")} · ${parts.join(", ")}`;
}

function shortCount(n) {
  return n >= 10000 ? `${Math.round(n / 1000)}k` : n >= 1000 ? `${(n / 1000).toFixed(1)}k` : String(n);
}

/** Too many devices for the view: one disc per grid cell with its count, sized by it and
 * coloured by the share of devices not online; a click zooms into the cell. */
function showGrid(cells) {
  state.devices = state.selected && state.devices[state.selected] ? { [state.selected]: state.devices[state.selected] } : {};
  window.iocDashboard.devices = state.devices;
  drawAllDevices();
  gridLayer.clearLayers();
  const max = Math.max(1, ...cells.map((c) => c.count));
  for (const cell of cells) {
    const status = cell.status || {};
    const troubled = (status.fault || 0) + (status.offline || 0);
    const level = troubled === 0 ? "ok" : troubled / cell.count > 0.2 ? "bad" : "some";
    const size = Math.round(24 + 20 * Math.sqrt(cell.count / max));
    const disc = L.marker([cell.lat, cell.lon], {
      icon: L.divIcon({ className: `grid-cell grid-${level}`, html: `<span>${shortCount(cell.count)}</span>`, iconSize: [size, size] }),
      keyboard: false,
    });
    disc.bindTooltip(cellLabel(cell));
    const [w, s, e, n] = cell.bounds;
    disc.on("click", () => map.fitBounds([[s, w], [n, e]]));
    gridLayer.addLayer(disc);
  }
}

function scheduleKpiRefresh() {
  if (state.embedded || kpiTimer) return;
  kpiTimer = window.setTimeout(async () => {
    kpiTimer = null;
    try {
      const response = await fetch(mapElement.dataset.kpisUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.ok) { state.kpis = await response.json(); renderKpis(); }
    } catch (error) { console.error(error); }
  }, KPI_REFRESH_MS);
}

// --- Filters and search ----------------------------------------------------------------

function selectWard(code) {
  const select = root.querySelector("#filter-ward");
  select.value = code;
  applyFilters();
}

function applyFilters() {
  const form = root.querySelector("[data-map-tools]");
  state.filters.kinds = new Set([...form.querySelectorAll("input[name=kind]:checked")].map((i) => i.value));
  state.filters.ward = form.elements.ward.value;
  state.filters.status = form.elements.status.value;
  drawAllDevices();
  scheduleViewLoad();
  styleWards();
  if (state.filters.ward && wardsLayer) {
    const ward = wardsLayer.getLayers().find((layer) => layer.feature.properties.code === state.filters.ward);
    if (ward) map.fitBounds(ward.getBounds(), { padding: [16, 16] });
  }
}

function fillSearchList() {
  const list = root.querySelector("#device-search-list");
  const codes = Object.keys(state.devices).sort();
  if (list.childElementCount === codes.length) return;
  list.replaceChildren(...codes.map((code) => el("option", { value: code, label: state.devices[code].name || code })));
}

function findDevice(query) {
  const q = fold(query.trim());
  if (!q) return null;
  const codes = Object.keys(state.devices);
  return codes.find((code) => fold(code) === q)
    || codes.find((code) => fold(code).startsWith(q))
    || codes.find((code) => fold(state.devices[code].name).includes(q))
    || codes.find((code) => fold(code).includes(q))
    || null;
}

/** A device the loaded set does not hold, found by the server (scoped to the user). */
async function findOnServer(query) {
  if (!query.trim()) return null;
  const url = `${mapElement.dataset.searchUrl}?${new URLSearchParams({ q: query.trim() })}`;
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) return null;
  const body = await response.json();
  const row = (body.devices || [])[0];
  if (!row) return null;
  const device = Object.fromEntries(body.fields.map((f, i) => [f, row[i]]));
  state.devices[device.code] = { ...(state.devices[device.code] || {}), ...deviceFromRow(device) };
  return device.code;
}

async function search(query) {
  const note = root.querySelector("[data-search-note]");
  let code = findDevice(query);
  if (!code && !state.embedded) code = await findOnServer(query).catch(() => null);
  note.hidden = Boolean(code) || !query.trim();
  note.textContent = labels.noMatch || "";
  if (!code) return;
  const device = state.devices[code];
  if (!visible(device)) {
    // Show what was asked for, even when a filter hid it.
    const form = root.querySelector("[data-map-tools]");
    for (const box of form.querySelectorAll("input[name=kind]")) box.checked = true;
    form.elements.ward.value = "";
    form.elements.status.value = "";
    applyFilters();
  }
  if (device.lat != null && device.lon != null) map.setView([device.lat, device.lon], Math.max(map.getZoom(), 16));
  showDevice(code);
}

// --- Side panel ------------------------------------------------------------------------

function showDevice(code) {
  const device = state.devices[code];
  const panel = root.querySelector("[data-device-panel]");
  if (!device) { panel.hidden = true; state.selected = null; return; }
  const changed = state.selected !== code;
  state.selected = code;
  panel.hidden = false;
  panel.dataset.device = code;
  panel.querySelector("[data-device-name]").textContent = device.name || code;
  panel.querySelector("[data-device-code]").textContent = code;
  panel.querySelector("[data-device-kind]").textContent = (mapLabels.kind || {})[device.kind] || device.kind || "";
  const badge = panel.querySelector("[data-device-status]");
  badge.className = `badge status-${device.status}`;
  badge.textContent = (mapLabels.status || {})[device.status] || device.status || "";
  panel.querySelector("[data-device-seen]").textContent = device.last_seen_at ? stamp(device.last_seen_at) : (labels.never || "–");
  panel.querySelector("[data-device-link]").href = deviceURL(code);
  const figure = panel.querySelector("[data-device-snapshot]");
  figure.hidden = device.kind !== "camera";
  if (device.kind === "camera" && changed) {
    const image = figure.querySelector("[data-device-image]");
    const error = figure.querySelector("[data-device-image-error]");
    image.hidden = false;
    error.hidden = true;
    image.onerror = () => { image.hidden = true; error.hidden = false; };
    image.alt = format(labels.snapshotAlt, { name: device.name || code });
    image.src = `${root.dataset.snapshotUrl.replace("__code__", encodeURIComponent(code))}?t=${Date.now()}`;
  }
  if (changed) devicePanel.open(code); // panel.js: player, chart, signal control, alerts
  if (changed && window.matchMedia("(max-width: 900px)").matches) panel.scrollIntoView({ behavior: "smooth", block: "nearest" });
}

// --- KPI tiles -------------------------------------------------------------------------

function renderKpis() {
  for (const tile of root.querySelectorAll("[data-kpi-kind]")) {
    const kind = tile.dataset.kpiKind;
    let total;
    let online;
    if (state.embedded || !state.kpis) {
      const all = Object.values(state.devices).filter((d) => d.kind === kind);
      total = all.length;
      online = all.filter((d) => d.status === "online").length;
    } else {
      // Not every device is loaded: the server's counts (refreshed after status changes).
      ({ total, online } = state.kpis.devices?.[kind] || { total: 0, online: 0 });
    }
    tile.querySelector("[data-kpi-value]").textContent = online.toLocaleString("vi-VN");
    tile.querySelector("[data-kpi-total]").textContent = total.toLocaleString("vi-VN");
    tile.querySelector("[data-kpi-pct]").textContent = total ? `${Math.round((100 * online) / total)}%` : "–";
  }
  const counts = { ...state.unseen };
  for (const alert of state.alerts.values()) counts[alert.severity] = (counts[alert.severity] || 0) + 1;
  for (const tile of root.querySelectorAll("[data-kpi-severity]")) {
    const count = counts[tile.dataset.kpiSeverity] || 0;
    tile.querySelector("[data-kpi-value]").textContent = count.toLocaleString("vi-VN");
    tile.classList.toggle("has-alerts", count > 0);
  }
}

// --- Alert feed ------------------------------------------------------------------------

function feedItem(alert) {
  const meta = el("span", { class: "feed-meta muted" });
  meta.append(`${stamp(alert.raised_at)} · ${(labels.severity || {})[alert.severity] || alert.severity}`);
  if (alert.status && alert.status !== "active") meta.append(` · ${(labels.alertStatus || {})[alert.status] || alert.status}`);
  if (alert.occurrences > 1) meta.append(` · ${format(labels.occurrences, { n: alert.occurrences })}`);
  if (alert.device) {
    meta.append(" · ");
    meta.append(el("a", { href: deviceURL(alert.device), text: alert.device }));
  }
  meta.append(" · ");
  meta.append(incidentControl(alert));
  return el(
    "li",
    { class: `feed-item severity-${SEVERITIES.includes(alert.severity) ? alert.severity : "info"}`, "data-alert-id": String(alert.id) },
    el("strong", { class: "feed-title", text: alert.title || alert.cause || "" }),
    meta,
  );
}

// --- Citizen requests' figures: overdue, on-time rate, satisfaction (from the server) -------

function renderRequestKpis(figures) {
  if (!figures) return;
  for (const tile of root.querySelectorAll("[data-kpi-request]")) {
    const value = figures[tile.dataset.kpiRequest];
    const text = value == null ? "–" : tile.dataset.kpiRequest === "on_time_pct" ? `${Math.round(value)}%`
      : tile.dataset.kpiRequest === "satisfaction" ? `${value.toLocaleString("vi-VN", { maximumFractionDigits: 1 })}/5`
      : Number(value).toLocaleString("vi-VN");
    tile.querySelector("[data-kpi-value]").textContent = text;
    if (tile.dataset.kpiRequest === "overdue") tile.classList.toggle("has-overdue", Number(value) > 0);
  }
}

let requestKpiTimer = null;
// Rates need the server: ask for the figures once a burst of request events is over.
function scheduleRequestKpis() {
  window.clearTimeout(requestKpiTimer);
  requestKpiTimer = window.setTimeout(async () => {
    try {
      const response = await fetch(mapElement.dataset.kpisUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.ok) renderRequestKpis((await response.json()).requests);
    } catch (error) { console.error(error); }
  }, 1500);
}

// An alert in an incident links to it; another gets a button that opens one from it. The
// form is built on click, outside the feed, which the live channel may redraw at any time.
function incidentControl(alert) {
  if (alert.incident) return el("a", { href: incidents.url({ id: alert.incident }), text: labels.incident || "" });
  const token = root.querySelector("[name=csrfmiddlewaretoken]");
  if (!token || !root.dataset.fromAlertUrl) return el("span");
  const button = el("button", { type: "button", class: "linklike feed-open-incident", text: labels.openIncident || "" });
  button.addEventListener("click", () => {
    const form = el("form", { method: "post", action: root.dataset.fromAlertUrl.replace(/0\/$/, `${alert.id}/`), hidden: "" });
    form.append(el("input", { type: "hidden", name: "csrfmiddlewaretoken", value: token.value }));
    document.body.append(form);
    form.submit();
  });
  return button;
}

function renderFeed() {
  const feed = root.querySelector("[data-feed]");
  const alerts = [...state.alerts.values()]
    .sort((a, b) => (Date.parse(b.raised_at) || 0) - (Date.parse(a.raised_at) || 0) || b.id - a.id)
    .slice(0, FEED_MAX);
  if (!alerts.length) {
    feed.replaceChildren(el("li", { class: "muted feed-empty", text: labels.noAlerts || "" }));
    return;
  }
  feed.replaceChildren(...alerts.map(feedItem));
}

// --- Sound for critical alerts (Web Audio: no file to serve) ----------------------------

let audio = null;
const muted = () => window.localStorage.getItem(MUTE_KEY) === "1";

function audioContext() {
  if (!audio && (window.AudioContext || window.webkitAudioContext)) {
    audio = new (window.AudioContext || window.webkitAudioContext)();
  }
  return audio;
}

function chime() {
  if (muted()) return;
  const context = audioContext();
  if (!context || context.state !== "running") return; // no user gesture yet: stay silent
  const start = context.currentTime;
  for (const [offset, frequency] of [[0, 880], [0.22, 660], [0.44, 880]]) {
    const oscillator = context.createOscillator();
    const gain = context.createGain();
    oscillator.type = "sine";
    oscillator.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, start + offset);
    gain.gain.exponentialRampToValueAtTime(0.25, start + offset + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.2);
    oscillator.connect(gain).connect(context.destination);
    oscillator.start(start + offset);
    oscillator.stop(start + offset + 0.21);
  }
}

function renderMute() {
  const button = root.querySelector("[data-mute]");
  button.setAttribute("aria-pressed", String(muted()));
  button.querySelector("[data-mute-on]").hidden = muted();
  button.querySelector("[data-mute-off]").hidden = !muted();
}

// --- Applying the live channel's messages ------------------------------------------------

function applySnapshot(snapshot, { live }) {
  if (snapshot.kpis) state.kpis = snapshot.kpis;
  if (snapshot.devices_embedded === false) {
    // Counts only: the viewport's devices come from the map endpoint, reloaded now so the
    // map is as fresh as the snapshot.
    state.embedded = false;
    if (map && live) loadView();
  }
  const devices = state.embedded ? snapshot.devices || {} : state.devices;
  const next = {};
  for (const [code, device] of Object.entries(devices)) {
    // An older server's snapshot has no position or name: keep what the page already knows.
    next[code] = { ...(state.devices[code] || {}), ...device };
    for (const key of ["lat", "lon", "name"]) if (device[key] == null && state.devices[code]) next[code][key] = state.devices[code][key];
  }
  state.devices = next;
  window.iocDashboard.devices = next;
  const at = live ? new Date() : new Date(snapshot.at || Date.now());
  state.updated.devices = at;
  if (Array.isArray(snapshot.alerts)) {
    state.alerts = new Map(snapshot.alerts.filter(isOpen).map((alert) => [alert.id, alert]));
    const listed = { critical: 0, warning: 0, info: 0 };
    for (const alert of state.alerts.values()) listed[alert.severity] = (listed[alert.severity] || 0) + 1;
    const total = snapshot.kpis?.alerts || listed;
    for (const severity of SEVERITIES) state.unseen[severity] = Math.max(0, (total[severity] || 0) - listed[severity]);
    state.updated.alerts = at;
  }
  window.iocDashboard.alerts = state.alerts;
  incidents.applySnapshot(snapshot, at);
  requests.applySnapshot(snapshot, at);
  renderRequestKpis(snapshot.kpis?.requests);
  drawAllDevices();
  styleWards();
  renderKpis();
  renderFeed();
  if (state.selected) showDevice(state.selected);
}

function applyDeviceEvent(event) {
  const data = event.data || {};
  const code = data.device;
  if (!code) return;
  if (!state.embedded && event.type === "device.status") scheduleKpiRefresh();
  // A large city: only loaded devices are drawn; the others show at the next view load.
  if (!state.embedded && !state.devices[code]) return;
  const device = state.devices[code] || (state.devices[code] = { ward: event.ward });
  if (event.type === "device.status" && data.status) device.status = data.status;
  for (const key of ["kind", "name", "lat", "lon", "last_seen_at"]) if (data[key] != null) device[key] = data[key];
  if (data.ward || event.ward) device.ward = data.ward || event.ward;
  if (event.type === "device.reading" && !data.last_seen_at && event.at) device.last_seen_at = event.at;
  state.updated.devices = new Date();
  drawDevice(code);
  renderKpis();
  renderDeviceRow(code, device);
  if (state.selected === code) showDevice(code);
}

// A ward's page lists its devices under the map: keep each row's status current.
function renderDeviceRow(code, device) {
  const badge = root.querySelector(`[data-device-status-of="${CSS.escape(code)}"]`);
  if (!badge || !device.status) return;
  badge.className = `badge status-${device.status}`;
  badge.textContent = (mapLabels.status || {})[device.status] || device.status;
}

function applyAlertEvent(event) {
  const alert = { ...(event.data || {}) };
  if (alert.id == null) return;
  alert.ward = alert.ward || event.ward;
  const known = state.alerts.get(alert.id);
  if (isOpen(alert)) {
    state.alerts.set(alert.id, { ...(known || {}), ...alert });
    if (event.type === "alert.raised" && !known && alert.severity === "critical") chime();
  } else if (known) {
    state.alerts.delete(alert.id);
  } else if (state.unseen[alert.severity] > 0) {
    state.unseen[alert.severity] -= 1; // closed an alert the feed did not list
  }
  state.updated.alerts = new Date();
  styleWards();
  renderKpis();
  renderFeed();
}

function applyEvent(event) {
  if (String(event.type).startsWith("device.")) applyDeviceEvent(event);
  else if (String(event.type).startsWith("alert.")) applyAlertEvent(event);
  else if (event.type === "incident.updated") incidents.applyEvent(event);
  else if (String(event.type).startsWith("request.")) {
    requests.applyEvent(event);
    scheduleRequestKpis();
  }
}

// --- Status indicator and ages -----------------------------------------------------------

const indicator = document.querySelector("[data-live-status]");

function renderIndicator(channel) {
  if (!indicator) return;
  indicator.dataset.state = channel.state;
  if (channel.state === "live") indicator.textContent = labels.live || "Live";
  else if (channel.state === "reconnecting") indicator.textContent = labels.reconnecting || "Reconnecting…";
  else if (channel.state === "stale") indicator.textContent = format(labels.staleSince, { time: clock(channel.since) });
  else indicator.textContent = labels.connecting || "Connecting…";
  indicator.title = stamp(channel.since);
}

function renderAges() {
  for (const [source, at] of Object.entries(state.updated)) {
    const target = root.querySelector(`[data-age="${source}"]`);
    if (target && at) target.textContent = format(labels.updatedAgo, { age: age(at) });
  }
}

// --- Start -------------------------------------------------------------------------------

const renderedAt = new Date(initial.at || Date.now());
const channel = new LiveChannel({ dataAt: renderedAt, url: liveURL(root.dataset.wsPath || "/ws/ops/") });
window.iocDashboard = { devices: state.devices, alerts: state.alerts, state, channel, markers, incidents, requests };
const devicePanel = new DevicePanel(root, { channel });
exportFollowsFilters(root);

applySnapshot(initial, { live: false });
initMap();
if (!state.embedded) map.whenReady(loadView);
renderMute();
renderIndicator(channel);
renderAges();

channel.onSnapshot((snapshot) => applySnapshot(snapshot, { live: true }));
channel.onEvent(applyEvent);
channel.onState(() => renderIndicator(channel));
channel.start();
window.setInterval(() => { renderAges(); if (channel.state === "stale") renderIndicator(channel); }, 1000);

const tools = root.querySelector("[data-map-tools]");
tools.addEventListener("change", (event) => { if (event.target.name !== "q") applyFilters(); });
tools.querySelector("#device-search").addEventListener("change", (event) => search(event.target.value));
tools.querySelector("#device-search").addEventListener("keydown", (event) => {
  if (event.key === "Enter") { event.preventDefault(); search(event.target.value); }
});
root.querySelector("[data-device-close]").addEventListener("click", () => {
  root.querySelector("[data-device-panel]").hidden = true;
  state.selected = null;
});
root.querySelector("[data-mute]").addEventListener("click", () => {
  window.localStorage.setItem(MUTE_KEY, muted() ? "0" : "1");
  renderMute();
  if (!muted()) audioContext()?.resume();
});
// Browsers start audio only after a gesture: the first click anywhere unlocks it.
document.addEventListener("pointerdown", () => { if (!muted()) audioContext()?.resume(); }, { once: true });
