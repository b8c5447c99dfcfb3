// The KPI tiles: devices online per kind, open alerts per severity, and citizen requests'
// figures (overdue, on-time rate, satisfaction). Counted from the state when the page holds
// every device; in a large city, and for rates, the server's figures, fetched again after a
// burst of changes. Owns those two refresh timers.
const DEVICE_REFRESH_MS = 2000;
const REQUEST_REFRESH_MS = 1500;

const number = (value) => Number(value).toLocaleString("vi-VN");

export class Kpis {
  /**
   * @param {object} options
   * @param {HTMLElement} options.root the dashboard element, holding the tiles
   * @param {object} options.state the dashboard's state (state.js)
   * @param {string} options.url the KPI endpoint (the map element's data-kpis-url)
   */
  constructor({ root, state, url }) {
    Object.assign(this, { root, state, url });
    this.deviceTimer = null;
    this.requestTimer = null;
  }

  /** The device and alert tiles. */
  render() {
    const { state } = this;
    for (const tile of this.root.querySelectorAll("[data-kpi-kind]")) {
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
    for (const tile of this.root.querySelectorAll("[data-kpi-severity]")) {
      const count = counts[tile.dataset.kpiSeverity] || 0;
      tile.querySelector("[data-kpi-value]").textContent = count.toLocaleString("vi-VN");
      tile.classList.toggle("has-alerts", count > 0);
    }
  }

  /** The citizen requests' tiles, from the server's `figures`. */
  renderRequests(figures) {
    if (!figures) return;
    for (const tile of this.root.querySelectorAll("[data-kpi-request]")) {
      const key = tile.dataset.kpiRequest;
      const value = figures[key];
      const text = value == null ? "–" : key === "on_time_pct" ? `${Math.round(value)}%`
        : key === "satisfaction" ? `${value.toLocaleString("vi-VN", { maximumFractionDigits: 1 })}/5`
          : number(value);
      tile.querySelector("[data-kpi-value]").textContent = text;
      if (key === "overdue") tile.classList.toggle("has-overdue", Number(value) > 0);
    }
  }

  /** A device changed status in a large city: the server's counts, once the burst is over. */
  scheduleDevices() {
    if (this.state.embedded || this.deviceTimer) return;
    this.deviceTimer = window.setTimeout(async () => {
      this.deviceTimer = null;
      try {
        const kpis = await this.#fetch();
        if (kpis) { this.state.kpis = kpis; this.render(); }
      } catch (error) { console.error(error); }
    }, DEVICE_REFRESH_MS);
  }

  /** Rates need the server: ask for the figures once a burst of request events is over. */
  scheduleRequests() {
    window.clearTimeout(this.requestTimer);
    this.requestTimer = window.setTimeout(async () => {
      try {
        const kpis = await this.#fetch();
        if (kpis) this.renderRequests(kpis.requests);
      } catch (error) { console.error(error); }
    }, REQUEST_REFRESH_MS);
  }

  /** The server's figures, or null when it would not give them. */
  async #fetch() {
    const response = await fetch(this.url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    return response.ok ? response.json() : null;
  }
}
