// Open cases on the operations map, kept live from the snapshot and their events:
// incidents (`incident.updated`) and citizen requests (`request.created`/`request.updated`).
// Each has a map layer, a toggle in the layer chips and a KPI tile with the open count.
import { plain } from "../../ioc/js/dom.js";

export class CaseLayer {
  /**
   * @param {object} options
   * @param {HTMLElement} options.root the dashboard element
   * @param {string} options.name "incidents" | "requests": the snapshot key and layer toggle
   * @param {Set<string>} options.open statuses that count as open
   * @param {string} options.urlTemplate the case page URL with `__id__` for the id
   * @param {(item: object) => string} options.label tooltip text
   * @param {(item: object) => string} options.iconClass the marker's CSS classes
   * @param {string} options.kpiKey the open count in snapshot.kpis (e.g. "incidents_open")
   */
  constructor({ root, name, open, urlTemplate, label, iconClass, kpiKey }) {
    Object.assign(this, { root, name, open, urlTemplate, label, iconClass, kpiKey });
    this.items = new Map(); // open cases by id
    this.unlisted = 0; // open cases counted by the server but not in the snapshot
    this.markers = new Map();
    this.layer = null;
    this.updatedAt = null;
  }

  url(item) {
    return this.urlTemplate.replace("__id__", encodeURIComponent(item.code || item.id));
  }

  /** Put the layer on `map` (call once the map exists). */
  attach(map) {
    this.layer = L.layerGroup().addTo(map);
    const toggle = this.root.querySelector(`input[name=layer][value=${this.name}]`);
    toggle?.addEventListener("change", () => {
      if (toggle.checked) this.layer.addTo(map); else this.layer.remove();
    });
    this.drawAll();
  }

  applySnapshot(snapshot, at) {
    const list = snapshot[this.name];
    if (!Array.isArray(list)) return;
    this.items = new Map(list.filter((i) => this.open.has(i.status)).map((i) => [i.id, i]));
    const total = this.kpiKey.split(".").reduce((v, k) => v?.[k], snapshot.kpis);
    this.unlisted = Number.isFinite(total) ? Math.max(0, total - this.items.size) : 0;
    this.updatedAt = at;
    this.drawAll();
    this.renderTile();
  }

  applyEvent(event) {
    const item = { ...(event.data || {}), ward: event.ward };
    if (item.id == null) return;
    if (this.open.has(item.status)) this.items.set(item.id, item);
    else this.items.delete(item.id);
    this.updatedAt = new Date();
    this.draw(item.id);
    this.renderTile();
  }

  count() {
    return this.items.size + this.unlisted;
  }

  renderTile() {
    const tile = this.root.querySelector(`[data-kpi-${this.name}]`);
    if (!tile) return;
    const count = this.count();
    tile.querySelector("[data-kpi-value]").textContent = count.toLocaleString("vi-VN");
    tile.classList.toggle(`has-${this.name}`, count > 0);
  }

  drawAll() {
    if (!this.layer) return;
    for (const id of [...this.markers.keys()]) if (!this.items.has(id)) this.draw(id);
    for (const id of this.items.keys()) this.draw(id);
  }

  draw(id) {
    if (!this.layer) return;
    const item = this.items.get(id);
    const old = this.markers.get(id);
    if (!item || !Number.isFinite(item.lat) || !Number.isFinite(item.lon)) {
      if (old) { this.layer.removeLayer(old); this.markers.delete(id); }
      return;
    }
    const icon = L.divIcon({ className: this.iconClass(item), html: plain("!"), iconSize: [22, 22], iconAnchor: [11, 11] });
    const tooltip = this.label(item);
    if (old) {
      old.setLatLng([item.lat, item.lon]).setIcon(icon).setTooltipContent(plain(tooltip));
      return;
    }
    const marker = L.marker([item.lat, item.lon], { icon, title: tooltip, zIndexOffset: 900 })
      .bindTooltip(plain(tooltip))
      .on("click", () => { window.location.href = this.url(this.items.get(id) || item); });
    marker.addTo(this.layer);
    this.markers.set(id, marker);
  }
}
