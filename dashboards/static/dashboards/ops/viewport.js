// A large city's map (more devices than a page should carry): the devices of the visible
// bounds, or per-cell counts when there are too many, loaded from the server as the map
// moves or the filters change. A newer load aborts the one in flight. Owns that request
// and the debounce timer; the loaded devices become the state's devices.
import { fetchJSON } from "../../ioc/js/map.js";
import { KINDS, deviceFromRow, rowsOf } from "./state.js";

const DEBOUNCE_MS = 250;
const GRID_CELLS = 32;

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

/** The query parameters of the map's filters (kind, ward, status). */
function filterParams(filters) {
  const params = new URLSearchParams();
  const kinds = [...filters.kinds];
  if (kinds.length < KINDS.length) params.set("kind", kinds.join(","));
  if (filters.ward) params.set("ward", filters.ward);
  if (filters.status) params.set("status", filters.status);
  return params;
}

export class Viewport {
  /**
   * @param {object} options
   * @param {object} options.state the dashboard's state (state.js)
   * @param {import("./map.js").OpsMap} options.opsMap the map it loads devices for
   */
  constructor({ state, opsMap }) {
    this.state = state;
    this.opsMap = opsMap;
    this.request = null; // the AbortController of the load in flight
    this.timer = null;
  }

  /** Load again whenever the map moves, and once it is ready. */
  follow() {
    this.opsMap.map.on("moveend", () => this.schedule());
    this.opsMap.map.whenReady(() => this.load());
  }

  /** Load soon: a burst of moves or filter changes makes one request. */
  schedule() {
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.load(), DEBOUNCE_MS);
  }

  /** The devices (or per-cell counts) of the visible bounds. */
  async load() {
    const { state } = this;
    const map = this.opsMap.map;
    if (state.embedded || !map) return;
    this.request?.abort();
    const controller = new AbortController();
    this.request = controller;
    if (!state.filters.kinds.size) { this.#showPoints([]); return; }
    const b = map.getBounds().pad(0.1);
    const bbox = [clamp(b.getWest(), -180, 180), clamp(b.getSouth(), -90, 90), clamp(b.getEast(), -180, 180), clamp(b.getNorth(), -90, 90)];
    const params = filterParams(state.filters);
    params.set("bbox", bbox.map((v) => v.toFixed(6)).join(","));
    params.set("grid", String(GRID_CELLS));
    const element = this.opsMap.element;
    try {
      const body = await fetchJSON(`${element.dataset.devicesUrl}?${params}`, { what: "devices", signal: controller.signal });
      if (controller !== this.request) return;
      if (body.mode === "grid") this.#showGrid(body.cells || []);
      else this.#showPoints(rowsOf(body));
      element.dataset.view = body.mode;
    } catch (error) {
      if (error.name !== "AbortError") { element.dataset.error = String(error); console.error(error); }
    }
  }

  /** The loaded devices become the visible ones (the selected one stays known). */
  #showPoints(rows) {
    const { state } = this;
    this.opsMap.clearGrid();
    const next = {};
    for (const row of rows) next[row.code] = { ...(state.devices[row.code] || {}), ...deviceFromRow(row) };
    if (state.selected && state.devices[state.selected] && !next[state.selected]) next[state.selected] = state.devices[state.selected];
    state.devices = next;
    this.opsMap.drawAll();
  }

  #showGrid(cells) {
    const { state } = this;
    state.devices = state.selected && state.devices[state.selected] ? { [state.selected]: state.devices[state.selected] } : {};
    this.opsMap.drawAll();
    this.opsMap.drawGrid(cells);
  }
}
