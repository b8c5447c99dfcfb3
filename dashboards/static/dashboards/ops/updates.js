// The live channel's messages applied to the dashboard: a snapshot replaces what the page
// knows; an event changes one device, alert, incident or request. Each then redraws the
// parts it changed. It reads only the fields ioc/realtime/event_types.py declares
// (tests/dashboards/test_live_contract.py checks that, here and in the other readers).
import { SEVERITIES, isOpen } from "./state.js";

export class LiveUpdates {
  /**
   * @param {object} parts the dashboard's state and parts, from the entry module:
   *   root, state, mapLabels, opsMap, viewport, kpis, feed, sound, card, incidents, requests
   */
  constructor(parts) {
    Object.assign(this, parts);
  }

  /** A snapshot (the page's rendered one, `live` false, or the channel's). */
  snapshot(snapshot, { live }) {
    const { state } = this;
    if (snapshot.kpis) state.kpis = snapshot.kpis;
    if (snapshot.devices_embedded === false) {
      // Counts only: the viewport's devices come from the map endpoint, reloaded now so the
      // map is as fresh as the snapshot.
      state.embedded = false;
      if (this.opsMap.map && live) this.viewport.load();
    }
    const devices = state.embedded ? snapshot.devices || {} : state.devices;
    const next = {};
    for (const [code, device] of Object.entries(devices)) {
      // An older server's snapshot has no position or name: keep what the page already knows.
      const known = state.devices[code] || {};
      next[code] = { ...known, ...device, lat: device.lat ?? known.lat, lon: device.lon ?? known.lon, name: device.name ?? known.name };
    }
    state.devices = next;
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
    this.incidents.applySnapshot(snapshot, at);
    this.requests.applySnapshot(snapshot, at);
    this.kpis.renderRequests(snapshot.kpis?.requests);
    this.opsMap.drawAll();
    this.opsMap.styleWards();
    this.kpis.render();
    this.feed.render();
    if (state.selected) this.card.show(state.selected);
  }

  /** One event of the channel. */
  event(event) {
    const type = String(event.type);
    if (type.startsWith("device.")) this.#device(event);
    else if (type.startsWith("alert.")) this.#alert(event);
    else if (type === "incident.updated") this.incidents.applyEvent(event);
    else if (type.startsWith("request.")) {
      this.requests.applyEvent(event);
      this.kpis.scheduleRequests();
    }
  }

  #device(event) {
    const { state } = this;
    const data = event.data || {};
    const code = data.device;
    if (!code) return;
    if (!state.embedded && event.type === "device.status") this.kpis.scheduleDevices();
    // A large city: only loaded devices are drawn; the others show at the next view load.
    if (!state.embedded && !state.devices[code]) return;
    const device = state.devices[code] || (state.devices[code] = { ward: event.ward });
    if (event.type === "device.status") {
      if (data.status) device.status = data.status;
      if (data.kind != null) device.kind = data.kind;
      if (data.last_seen_at != null) device.last_seen_at = data.last_seen_at;
    } else if (event.type === "device.reading" && event.at) {
      device.last_seen_at = event.at;
    }
    if (event.ward) device.ward = event.ward;
    state.updated.devices = new Date();
    this.opsMap.drawDevice(code);
    this.kpis.render();
    this.#deviceRow(code, device);
    if (state.selected === code) this.card.show(code);
  }

  // A ward's page lists its devices under the map: keep each row's status current.
  #deviceRow(code, device) {
    const badge = this.root.querySelector(`[data-device-status-of="${CSS.escape(code)}"]`);
    if (!badge || !device.status) return;
    badge.className = `badge status-${device.status}`;
    badge.textContent = (this.mapLabels.status || {})[device.status] || device.status;
  }

  #alert(event) {
    const { state } = this;
    const alert = { ...(event.data || {}), ward: event.ward };
    if (alert.id == null) return;
    const known = state.alerts.get(alert.id);
    if (isOpen(alert)) {
      state.alerts.set(alert.id, { ...(known || {}), ...alert });
      if (event.type === "alert.raised" && !known && alert.severity === "critical") this.sound.chime();
    } else if (known) {
      state.alerts.delete(alert.id);
    } else if (state.unseen[alert.severity] > 0) {
      state.unseen[alert.severity] -= 1; // closed an alert the feed did not list
    }
    state.updated.alerts = new Date();
    this.opsMap.styleWards();
    this.kpis.render();
    this.feed.render();
  }
}
