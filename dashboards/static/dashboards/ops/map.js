// The operations map: wards shaded by their open alerts, one circle per device (coloured by
// status, shown or hidden by the filters), and in a large city's wide views one disc per
// grid cell with its count. Built on the platform's map module; owns the Leaflet map and
// its layers, and reads the devices, alerts and filters from the dashboard's state.
import { plain } from "../../ioc/js/dom.js";
import { addBaseMap, createMap, deviceMarkerStyle, fitWards, loadWards, markReady, wardLayer, wardName } from "../../ioc/js/map.js";
import { isVisible } from "./state.js";

function choropleth(count) {
  if (!count) return { fillColor: "#2a6fb0", fillOpacity: 0.05 };
  if (count === 1) return { fillColor: "#fdd835", fillOpacity: 0.3 };
  if (count <= 3) return { fillColor: "#fb8c00", fillOpacity: 0.35 };
  return { fillColor: "#d73027", fillOpacity: 0.4 };
}

function shortCount(n) {
  return n >= 10000 ? `${Math.round(n / 1000)}k` : n >= 1000 ? `${(n / 1000).toFixed(1)}k` : String(n);
}

/** Give `layer` the tooltip `text`, touching the DOM only when the text changed. */
function setTooltip(layer, text) {
  if (layer.iocTooltip === text) return;
  layer.iocTooltip = text;
  if (layer.getTooltip()) layer.setTooltipContent(plain(text));
  else layer.bindTooltip(plain(text));
}

export class OpsMap {
  /**
   * @param {object} options
   * @param {HTMLElement} options.element the map element ([data-dashboard-map])
   * @param {object} options.state the dashboard's state (state.js)
   * @param {object} options.labels the map's labels (the ioc-map-labels island)
   * @param {string} [options.focusWard] the ward the first view shows (a ward's page)
   * @param {(code: string) => void} options.onDevice a device's marker was clicked
   * @param {(code: string) => void} options.onWard a ward was clicked
   * @param {() => void} [options.onDrawn] the devices were drawn again
   */
  constructor({ element, state, labels, focusWard, onDevice, onWard, onDrawn }) {
    Object.assign(this, { element, state, labels, focusWard, onDevice, onWard, onDrawn });
    this.map = null;
    this.renderer = null;
    this.wards = null;
    this.devices = null;
    this.grid = null;
    this.markers = new Map(); // code -> L.CircleMarker
  }

  /** Draw the map, with `overlays` (objects with attach(map)) between devices and grid. */
  start(overlays = []) {
    const map = createMap(this.element);
    this.map = map;
    this.renderer = L.canvas({ padding: 0.3 });
    addBaseMap(map, this.element, this.labels);
    this.devices = L.featureGroup().addTo(map);
    this.element.iocDevices = this.devices;
    for (const overlay of overlays) overlay.attach(map);
    this.grid = L.featureGroup().addTo(map);
    this.element.iocGrid = this.grid;
    this.drawAll();
    this.#drawWards()
      .catch((error) => { this.element.dataset.error = String(error); console.error(error); })
      .finally(() => {
        this.devices.bringToFront?.();
        markReady(this.element, map);
      });
    return map;
  }

  async #drawWards() {
    this.wards = await loadWards(this.element, {
      // The markers' canvas: with a canvas of their own, the wards (drawn later, on top)
      // took every click, and a marker could not be clicked.
      renderer: this.renderer,
      onClick: (code) => this.onWard(code),
    });
    this.wards.addTo(this.map);
    this.wards.bringToBack();
    this.styleWards();
    fitWards(this.map, this.wards, this.focusWard);
  }

  /** Shade each ward by its open alerts; the ward the filter chose stands out. */
  styleWards() {
    if (!this.wards) return;
    const counts = {};
    for (const alert of this.state.alerts.values()) {
      if (alert.ward) counts[alert.ward] = (counts[alert.ward] || 0) + 1;
    }
    const chosen = this.state.filters.ward;
    this.wards.eachLayer((layer) => {
      const code = layer.feature.properties.code;
      const focused = !chosen || chosen === code;
      layer.setStyle({
        color: "#0b3d6e", weight: focused ? 1.6 : 0.8, opacity: focused ? 0.9 : 0.4, ...choropleth(counts[code] || 0),
      });
      const name = wardName(layer.feature);
      setTooltip(layer, counts[code] ? `${name} · ${counts[code]}` : name);
    });
  }

  /** Zoom to ward `code` (the filter chose it). */
  showWard(code) {
    const ward = this.wards && wardLayer(this.wards, code);
    if (ward) this.map.fitBounds(ward.getBounds(), { padding: [16, 16] });
  }

  /** Centre on `device`, close enough to tell it from its neighbours. */
  showPlace(device) {
    if (device.lat != null && device.lon != null) this.map.setView([device.lat, device.lon], Math.max(this.map.getZoom(), 16));
  }

  /** Draw device `code` as the state has it: placed, styled, shown if the filters allow. */
  drawDevice(code) {
    if (!this.devices) return;
    const device = this.state.devices[code];
    let marker = this.markers.get(code);
    if (!device || device.lat == null || device.lon == null) {
      if (marker) { this.devices.removeLayer(marker); this.markers.delete(code); }
      return;
    }
    const style = deviceMarkerStyle(device, this.renderer);
    if (!marker) {
      marker = L.circleMarker([device.lat, device.lon], style);
      marker.deviceCode = code;
      marker.on("click", () => this.onDevice(code));
      this.markers.set(code, marker);
    } else {
      marker.setLatLng([device.lat, device.lon]);
      marker.setStyle(style);
    }
    setTooltip(marker, device.name ? `${code} · ${device.name}` : code);
    if (isVisible(this.state.filters, device)) this.devices.addLayer(marker);
    else this.devices.removeLayer(marker);
  }

  /** Draw every device of the state, and drop the markers of those it no longer has. */
  drawAll() {
    if (!this.devices) return;
    for (const code of this.markers.keys()) if (!this.state.devices[code]) this.drawDevice(code);
    for (const code of Object.keys(this.state.devices)) this.drawDevice(code);
    this.onDrawn?.();
  }

  clearGrid() {
    this.grid.clearLayers();
  }

  /** Too many devices for the view: one disc per grid cell with its count, sized by it and
   * coloured by the share of devices not online; a click zooms into the cell. */
  drawGrid(cells) {
    this.grid.clearLayers();
    const max = Math.max(1, ...cells.map((c) => c.count));
    for (const cell of cells) {
      const status = cell.status || {};
      const troubled = (status.fault || 0) + (status.offline || 0);
      const level = troubled === 0 ? "ok" : troubled / cell.count > 0.2 ? "bad" : "some";
      const size = Math.round(24 + 20 * Math.sqrt(cell.count / max));
      const disc = L.marker([cell.lat, cell.lon], {
        icon: L.divIcon({ className: `grid-cell grid-${level}`, html: plain(shortCount(cell.count)), iconSize: [size, size] }),
        keyboard: false,
      });
      disc.bindTooltip(plain(this.#cellLabel(cell)));
      const [w, s, e, n] = cell.bounds;
      disc.on("click", () => this.map.fitBounds([[s, w], [n, e]]));
      this.grid.addLayer(disc);
    }
  }

  #cellLabel(cell) {
    const names = this.labels.status || {};
    const parts = Object.entries(cell.status || {})
      .filter(([, n]) => n > 0)
      .map(([status, n]) => `${names[status] || status}: ${n.toLocaleString("vi-VN")}`);
    return `${cell.count.toLocaleString("vi-VN")} · ${parts.join(", ")}`;
  }
}
