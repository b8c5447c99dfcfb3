// The incidents layer of the operations map and the "open incidents" KPI tile, kept live
// from the snapshot and `incident.updated` events (the incident pages do the work).

const OPEN = new Set(["open", "in_progress"]);

export class IncidentLayer {
  /**
   * @param {object} options
   * @param {HTMLElement} options.root the dashboard element
   * @param {object} options.labels interface text from the server
   * @param {string} options.urlTemplate the incident page URL with "0" for the id
   */
  constructor({ root, labels, urlTemplate }) {
    this.root = root;
    this.labels = labels;
    this.urlTemplate = urlTemplate;
    this.incidents = new Map(); // open incidents by id
    this.unlisted = 0; // open incidents counted by the server but not in the snapshot
    this.markers = new Map();
    this.layer = null;
    this.updatedAt = null;
  }

  url(id) {
    return this.urlTemplate.replace(/0\/$/, `${id}/`);
  }

  /** Put the layer on `map` (call once the map exists). */
  attach(map) {
    this.layer = L.layerGroup().addTo(map);
    this.map = map;
    const toggle = this.root.querySelector("input[name=layer][value=incidents]");
    toggle?.addEventListener("change", () => {
      if (toggle.checked) this.layer.addTo(map); else this.layer.remove();
    });
    this.drawAll();
  }

  applySnapshot(snapshot, at) {
    if (!Array.isArray(snapshot.incidents)) return;
    this.incidents = new Map(snapshot.incidents.filter((i) => OPEN.has(i.status)).map((i) => [i.id, i]));
    const total = snapshot.kpis?.incidents_open;
    this.unlisted = Number.isFinite(total) ? Math.max(0, total - this.incidents.size) : 0;
    this.updatedAt = at;
    this.drawAll();
    this.renderTile();
  }

  applyEvent(event) {
    const incident = { ...(event.data || {}), ward: event.ward };
    if (incident.id == null) return;
    if (OPEN.has(incident.status)) this.incidents.set(incident.id, incident);
    else this.incidents.delete(incident.id);
    this.updatedAt = new Date();
    this.draw(incident.id);
    this.renderTile();
  }

  count() {
    return this.incidents.size + this.unlisted;
  }

  renderTile() {
    const tile = this.root.querySelector("[data-kpi-incidents]");
    if (!tile) return;
    const count = this.count();
    tile.querySelector("[data-kpi-value]").textContent = count.toLocaleString("vi-VN");
    tile.classList.toggle("has-incidents", count > 0);
  }

  drawAll() {
    if (!this.layer) return;
    for (const id of [...this.markers.keys()]) if (!this.incidents.has(id)) this.draw(id);
    for (const id of this.incidents.keys()) this.draw(id);
  }

  draw(id) {
    if (!this.layer) return;
    const incident = this.incidents.get(id);
    const old = this.markers.get(id);
    if (!incident || !Number.isFinite(incident.lat) || !Number.isFinite(incident.lon)) {
      if (old) { this.layer.removeLayer(old); this.markers.delete(id); }
      return;
    }
    const icon = L.divIcon({
      className: `incident-marker severity-${incident.severity}`,
      html: "<span>!</span>", iconSize: [24, 24], iconAnchor: [12, 12],
    });
    const status = (this.labels.incidentStatus || {})[incident.status] || incident.status;
    const tooltip = `${incident.reference} · ${incident.title} (${status})`;
    if (old) {
      old.setLatLng([incident.lat, incident.lon]).setIcon(icon).setTooltipContent(tooltip);
      return;
    }
    const marker = L.marker([incident.lat, incident.lon], { icon, title: tooltip, zIndexOffset: 1000 })
      .bindTooltip(tooltip)
      .on("click", () => { window.location.href = this.url(id); });
    marker.addTo(this.layer);
    this.markers.set(id, marker);
  }
}
