// The platform's Leaflet map, one module for every page that shows a map (the portal, the
// incident and request pages, the operations dashboard): an optional base map, and ward
// boundaries and device markers from the platform's own endpoints, so the map still works
// when tiles cannot load. Leaflet (the global `L`) is loaded before it, served locally.
import { el, plain } from "./dom.js";

const STATUS_COLOURS = { online: "#1a9850", offline: "#7f8c8d", fault: "#d73027", maintenance: "#e08e0b" };
const KIND_RADIUS = { camera: 5, sensor: 6, signal: 7 };
const CITY_CENTRE = [21.5928, 105.8442];
const TILE_FAILURES_BEFORE_NOTE = 4;

/** GET `url` as JSON with the session's cookies; an HTTP error throws, named `what`. */
export async function fetchJSON(url, { what = url, signal } = {}) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" }, signal });
  if (!response.ok) throw new Error(`${what}: HTTP ${response.status}`);
  return response.json();
}

/** A map on `element` (also `element.iocMap`), on the city until the wards are drawn. */
export function createMap(element) {
  // Leaflet's own attribution control sets its text as HTML: addBaseMap shows it as text.
  const map = L.map(element, { preferCanvas: true, zoomControl: true, attributionControl: false }).setView(CITY_CENTRE, 12);
  element.iocMap = map;
  return map;
}

/** The tiles' attribution (a setting: shown as text, never as HTML) in the map's corner. */
function addAttribution(map, text) {
  const credit = L.control({ position: "bottomright" });
  credit.onAdd = () => el(
    "div", { class: "leaflet-control-attribution leaflet-control", "data-map-attribution": "" },
    el("a", { href: "https://leafletjs.com", text: "Leaflet" }), text ? ` | ${text}` : "",
  );
  credit.addTo(map);
}

/** The base map of data-tile-url, if the page names one. */
export function addBaseMap(map, element, labels) {
  const url = element.dataset.tileUrl;
  if (!url) return;
  let failures = 0;
  const layer = L.tileLayer(url, { maxZoom: 19 });
  addAttribution(map, element.dataset.tileAttribution || "");
  layer.on("tileerror", () => {
    failures += 1;
    if (failures === TILE_FAILURES_BEFORE_NOTE) {
      // Tiles are unreachable (offline intranet): say so once and keep the vector layers.
      const note = L.control({ position: "bottomleft" });
      note.onAdd = () => Object.assign(L.DomUtil.create("div", "map-note"), { textContent: labels.noTiles || "" });
      note.addTo(map);
      element.classList.add("no-tiles");
    }
  });
  layer.addTo(map);
}

/** A ward's name as its features carry it. */
export function wardName(feature) {
  return feature.properties.title || feature.properties.name || "";
}

/**
 * The wards of data-wards-url as a GeoJSON layer (also `element.iocWards`), not yet on the
 * map: each has its name as a tooltip and calls `onClick(code)`; other options are Leaflet's.
 */
export async function loadWards(element, { onClick, ...options } = {}) {
  const geojson = await fetchJSON(element.dataset.wardsUrl, { what: "wards" });
  const wards = L.geoJSON(geojson, {
    ...options,
    onEachFeature: (feature, layer) => {
      layer.bindTooltip(plain(wardName(feature)), { sticky: true });
      if (onClick) layer.on("click", () => onClick(feature.properties.code));
    },
  });
  element.iocWards = wards;
  return wards;
}

/** The layer of ward `code` among `wards`, or null. */
export function wardLayer(wards, code) {
  return wards.getLayers().find((layer) => layer.feature.properties.code === code) || null;
}

/** The first view: ward `code` when given and drawn, else every ward. */
export function fitWards(map, wards, code) {
  const bounds = ((code && wardLayer(wards, code)) || wards).getBounds();
  if (bounds.isValid()) map.fitBounds(bounds, { padding: [12, 12], animate: false });
}

/** A device's circle marker style: its kind sets the size and rim, its status the colour. */
export function deviceMarkerStyle({ kind, status }, renderer) {
  return {
    renderer, radius: KIND_RADIUS[kind] || 5, weight: kind === "signal" ? 2.5 : 1,
    color: kind === "signal" ? "#072a4d" : "#ffffff",
    fillColor: STATUS_COLOURS[status] || "#555", fillOpacity: 0.95,
  };
}

/** The map is drawn: data-ready="true", and the ioc:map-ready event for the page's scripts. */
export function markReady(element, map) {
  element.dataset.ready = "true";
  element.dispatchEvent(new CustomEvent("ioc:map-ready", { detail: { map } }));
}

/** Call `fn(map)` once the map of `element` is drawn (at once if it already is). */
export function whenMapReady(element, fn) {
  if (!element) return;
  if (element.dataset.ready === "true" && element.iocMap) fn(element.iocMap);
  else element.addEventListener("ioc:map-ready", (event) => fn(event.detail.map), { once: true });
}

// --- A page's map: wards, and devices as GeoJSON when the element names their URL ---------

function devicePopup(props, labels) {
  const status = (labels.status || {})[props.status] || props.status;
  const kind = (labels.kind || {})[props.kind] || props.kind;
  return el(
    "div", {},
    el("strong", { text: props.code }), el("br"), props.name ?? "", el("br"),
    `${kind ?? ""} · `, el("span", { "data-status": props.status ?? "", text: status ?? "" }),
  );
}

function deviceLayer(geojson, renderer, labels) {
  return L.geoJSON(geojson, {
    pointToLayer: (feature, latlng) => L.circleMarker(latlng, deviceMarkerStyle(feature.properties, renderer)),
    onEachFeature: (feature, layer) => {
      layer.bindPopup(() => devicePopup(feature.properties, labels));
      layer.feature = feature;
    },
  });
}

/**
 * Draw the map of `element` (data-wards-url, and optionally data-devices-url, data-highlight:
 * a ward drawn stronger and shown first, data-ward-link: where a click on a ward goes).
 */
export async function drawPageMap(element, labels) {
  const map = createMap(element);
  addBaseMap(map, element, labels);
  const renderer = L.canvas({ padding: 0.3 });
  const highlight = element.dataset.highlight;
  const link = element.dataset.wardLink;
  const wards = await loadWards(element, {
    style: (feature) => {
      const active = !highlight || feature.properties.code === highlight;
      return {
        color: "#0b3d6e", weight: active ? 2.2 : 1, opacity: active ? 0.9 : 0.4,
        fillColor: "#2a6fb0", fillOpacity: active ? 0.1 : 0.03,
      };
    },
    onClick: link ? (code) => { window.location.href = link.replace("__code__", encodeURIComponent(code)); } : null,
  });
  wards.addTo(map);
  fitWards(map, wards, highlight);
  if (element.dataset.devicesUrl) {
    const devices = await fetchJSON(element.dataset.devicesUrl);
    element.iocDevices = deviceLayer(devices, renderer, labels).addTo(map);
  }
  markReady(element, map);
}
