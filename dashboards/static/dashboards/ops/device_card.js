// The side panel's head for the selected device: name, code, kind, status, last seen, a
// link to its page and a camera's snapshot (unless the panel plays the camera live and
// shows the snapshot under its video). The rest of the panel (player, chart, signal
// control, alerts) is panel.js's. The selection is the state's `selected`.
import { format, stamp } from "./labels.js";

export class DeviceCard {
  /**
   * @param {object} options
   * @param {HTMLElement} options.root the dashboard element, holding [data-device-panel]
   * @param {object} options.state the dashboard's state (state.js)
   * @param {object} options.labels the live labels (never, snapshotAlt)
   * @param {object} options.mapLabels the map labels (kind and status names)
   * @param {(code: string) => string} options.deviceURL the page of device `code`
   * @param {import("./panel.js").DevicePanel} options.panel the panel's live parts
   */
  constructor({ root, state, labels, mapLabels, deviceURL, panel }) {
    Object.assign(this, { root, state, labels, mapLabels, deviceURL, panel });
    this.element = root.querySelector("[data-device-panel]");
  }

  listen() {
    this.root.querySelector("[data-device-close]").addEventListener("click", () => this.close());
  }

  close() {
    this.element.hidden = true;
    this.state.selected = null;
  }

  /** Show device `code` (again, with what the state now knows of it). */
  show(code) {
    const device = this.state.devices[code];
    const panel = this.element;
    if (!device) { this.close(); return; }
    const changed = this.state.selected !== code;
    this.state.selected = code;
    panel.hidden = false;
    panel.dataset.device = code;
    panel.querySelector("[data-device-name]").textContent = device.name || code;
    panel.querySelector("[data-device-code]").textContent = code;
    panel.querySelector("[data-device-kind]").textContent = (this.mapLabels.kind || {})[device.kind] || device.kind || "";
    const badge = panel.querySelector("[data-device-status]");
    badge.className = `badge status-${device.status}`;
    badge.textContent = (this.mapLabels.status || {})[device.status] || device.status || "";
    panel.querySelector("[data-device-seen]").textContent = device.last_seen_at ? stamp(device.last_seen_at, this.labels.never) : (this.labels.never || "–");
    panel.querySelector("[data-device-link]").href = this.deviceURL(code);
    const figure = panel.querySelector("[data-device-snapshot]");
    // A camera the panel plays live shows its snapshot under the video (panel.js), not here.
    figure.hidden = device.kind !== "camera" || (!changed && this.panel.showsSnapshot);
    if (device.kind === "camera" && changed) {
      const image = figure.querySelector("[data-device-image]");
      const error = figure.querySelector("[data-device-image-error]");
      image.hidden = false;
      error.hidden = true;
      image.onerror = () => { image.hidden = true; error.hidden = false; };
      image.alt = format(this.labels.snapshotAlt, { name: device.name || code });
      image.src = `${this.root.dataset.snapshotUrl.replace("__code__", encodeURIComponent(code))}?t=${Date.now()}`;
    }
    if (changed) this.panel.open(code);
    if (changed && window.matchMedia("(max-width: 900px)").matches) panel.scrollIntoView({ behavior: "smooth", block: "nearest" });
  }
}
