// Ward boundaries and device markers on a Leaflet map. Works with no base map at all:
// boundaries and markers come from the platform's own GeoJSON endpoints.
const labels = JSON.parse(document.getElementById("ioc-map-labels")?.textContent || "{}");
const STATUS_COLOURS = {
  online: "#1a9850", offline: "#7f8c8d", fault: "#d73027", maintenance: "#e08e0b",
};
const KIND_RADIUS = { camera: 5, sensor: 6, signal: 7 };

async function fetchJSON(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

function escapeHTML(text) {
  const div = document.createElement("div");
  div.textContent = text ?? "";
  return div.innerHTML;
}

function addBaseMap(map, element) {
  const url = element.dataset.tileUrl;
  if (!url) return;
  let failures = 0;
  const layer = L.tileLayer(url, { maxZoom: 19, attribution: element.dataset.tileAttribution || "" });
  layer.on("tileerror", () => {
    failures += 1;
    if (failures === 4) {
      // Tiles are unreachable (offline intranet): say so once and keep the vector layers.
      const note = L.control({ position: "bottomleft" });
      note.onAdd = () => Object.assign(L.DomUtil.create("div", "map-note"), { textContent: labels.noTiles || "" });
      note.addTo(map);
    }
  });
  layer.addTo(map);
}

function wardLayer(geojson, element) {
  const highlight = element.dataset.highlight;
  const link = element.dataset.wardLink;
  return L.geoJSON(geojson, {
    style: (feature) => {
      const active = !highlight || feature.properties.code === highlight;
      return {
        color: "#0b3d6e", weight: active ? 2.2 : 1, opacity: active ? 0.9 : 0.4,
        fillColor: "#2a6fb0", fillOpacity: active ? 0.1 : 0.03,
      };
    },
    onEachFeature: (feature, layer) => {
      const props = feature.properties;
      layer.bindTooltip(escapeHTML(props.title || props.name), { sticky: true });
      if (link) layer.on("click", () => { window.location.href = link.replace("__code__", encodeURIComponent(props.code)); });
    },
  });
}

function deviceLayer(geojson, renderer) {
  return L.geoJSON(geojson, {
    pointToLayer: (feature, latlng) => {
      const props = feature.properties;
      return L.circleMarker(latlng, {
        renderer, radius: KIND_RADIUS[props.kind] || 5, weight: props.kind === "signal" ? 2.5 : 1,
        color: props.kind === "signal" ? "#072a4d" : "#ffffff",
        fillColor: STATUS_COLOURS[props.status] || "#555", fillOpacity: 0.95,
      });
    },
    onEachFeature: (feature, layer) => {
      const p = feature.properties;
      const status = (labels.status || {})[p.status] || p.status;
      const kind = (labels.kind || {})[p.kind] || p.kind;
      layer.bindPopup(
        `<strong>${escapeHTML(p.code)}</strong><br>${escapeHTML(p.name)}<br>` +
        `${escapeHTML(kind)} · <span data-status="${escapeHTML(p.status)}">${escapeHTML(status)}</span>`,
      );
      layer.feature = feature;
    },
  });
}

async function initMap(element) {
  const map = L.map(element, { preferCanvas: true, zoomControl: true }).setView([21.5928, 105.8442], 12);
  element.iocMap = map;
  addBaseMap(map, element);
  const renderer = L.canvas({ padding: 0.3 });
  const wards = await fetchJSON(element.dataset.wardsUrl);
  const wardsLayer = wardLayer(wards, element).addTo(map);
  element.iocWards = wardsLayer;
  const focus = element.dataset.highlight
    ? wardsLayer.getLayers().find((layer) => layer.feature.properties.code === element.dataset.highlight)
    : null;
  const bounds = (focus || wardsLayer).getBounds();
  if (bounds.isValid()) map.fitBounds(bounds, { padding: [12, 12], animate: false });
  if (element.dataset.devicesUrl) {
    const devices = await fetchJSON(element.dataset.devicesUrl);
    element.iocDevices = deviceLayer(devices, renderer).addTo(map);
  }
  element.dataset.ready = "true";
  element.dispatchEvent(new CustomEvent("ioc:map-ready", { detail: { map } }));
}

for (const element of document.querySelectorAll("[data-ioc-map]")) {
  initMap(element).catch((error) => {
    element.dataset.error = String(error);
    console.error(error);
  });
}
