// The map's tools: the filters (device kinds, ward, status) and the device search by code
// or name (the loaded devices first, then the server, scoped to the user). The filters'
// values live in the dashboard's state; the form is their only input.
import { el } from "../../ioc/js/dom.js";
import { fetchJSON } from "../../ioc/js/map.js";
import { deviceFromRow, isVisible, rowsOf } from "./state.js";

/** `text` without Vietnamese diacritics, lower case: what a search compares. */
function fold(text) {
  return String(text || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/đ/g, "d").replace(/Đ/g, "D").toLowerCase();
}

export class MapTools {
  /**
   * @param {object} options
   * @param {HTMLElement} options.root the dashboard element, holding the [data-map-tools] form
   * @param {object} options.state the dashboard's state (state.js)
   * @param {import("./map.js").OpsMap} options.opsMap the map
   * @param {import("./viewport.js").Viewport} options.viewport what loads a large city's devices
   * @param {object} options.labels the live labels (noMatch)
   * @param {(code: string) => void} options.onFound a search found device `code`
   */
  constructor({ root, state, opsMap, viewport, labels, onFound }) {
    Object.assign(this, { root, state, opsMap, viewport, labels, onFound });
    this.form = root.querySelector("[data-map-tools]");
  }

  listen() {
    // The form is never sent: the page filters and searches in place.
    this.form.addEventListener("submit", (event) => event.preventDefault());
    this.form.addEventListener("change", (event) => { if (event.target.name !== "q") this.apply(); });
    const box = this.form.querySelector("#device-search");
    // The box's change fires again when it loses focus after Enter searched: a second
    // search of the same words would reopen the panel just closed.
    box.addEventListener("change", (event) => { if (event.target.value !== this.searched) this.search(event.target.value); });
    box.addEventListener("keydown", (event) => {
      if (event.key === "Enter") { event.preventDefault(); this.search(event.target.value); }
    });
  }

  /** A ward was clicked on the map: filter on it. */
  selectWard(code) {
    this.root.querySelector("#filter-ward").value = code;
    this.apply();
  }

  /** Take the form's filters into the state and redraw what they change. */
  apply() {
    const { form, state } = this;
    state.filters.kinds = new Set([...form.querySelectorAll("input[name=kind]:checked")].map((i) => i.value));
    state.filters.ward = form.elements.ward.value;
    state.filters.status = form.elements.status.value;
    this.opsMap.drawAll();
    this.viewport.schedule();
    this.opsMap.styleWards();
    if (state.filters.ward) this.opsMap.showWard(state.filters.ward);
  }

  /** The search box's suggestions: the devices the page knows. */
  fillList() {
    const list = this.root.querySelector("#device-search-list");
    const codes = Object.keys(this.state.devices).sort();
    if (list.childElementCount === codes.length) return;
    list.replaceChildren(...codes.map((code) => el("option", { value: code, label: this.state.devices[code].name || code })));
  }

  #findLoaded(query) {
    const q = fold(query.trim());
    if (!q) return null;
    const devices = this.state.devices;
    const codes = Object.keys(devices);
    return codes.find((code) => fold(code) === q)
      || codes.find((code) => fold(code).startsWith(q))
      || codes.find((code) => fold(devices[code].name).includes(q))
      || codes.find((code) => fold(code).includes(q))
      || null;
  }

  /** A device the loaded set does not hold, found by the server (scoped to the user). */
  async #findOnServer(query) {
    if (!query.trim()) return null;
    const url = `${this.opsMap.element.dataset.searchUrl}?${new URLSearchParams({ q: query.trim() })}`;
    const device = rowsOf(await fetchJSON(url))[0];
    if (!device) return null;
    this.state.devices[device.code] = { ...(this.state.devices[device.code] || {}), ...deviceFromRow(device) };
    return device.code;
  }

  /**
   * The unit `query` names (its code or name, or a former unit's, which finds the unit it
   * went into), as /api/v1/wards/?q= gives it, if the ward filter offers it.
   */
  async #findWard(query) {
    const url = this.opsMap.element.dataset.wardSearchUrl;
    if (!url || !query.trim()) return null;
    const body = await fetchJSON(`${url}?${new URLSearchParams({ q: query.trim(), limit: "5" })}`);
    const offered = new Set([...this.form.elements.ward.options].map((option) => option.value));
    return (body.results || []).find((ward) => offered.has(ward.code)) || null;
  }

  /**
   * Find `query` and show that device, even when a filter hid it; else the ward it names.
   * A former unit's name or code comes first (devices may still bear it): the note says
   * where that unit went, and the map shows it.
   */
  async search(query) {
    this.searched = query;
    const note = this.root.querySelector("[data-search-note]");
    const wardFound = this.#findWard(query).catch(() => null);
    let code = this.#findLoaded(query);
    if (!code && !this.state.embedded) code = await this.#findOnServer(query).catch(() => null);
    const ward = await wardFound;
    if (ward && (ward.found_as?.length || !code)) {
      // "Phường Trưng Vương (cũ) → Phường Phan Đình Phùng": the server says it, translated.
      note.textContent = ward.found_as?.[0]?.text || ward.title;
      note.hidden = false;
      this.selectWard(ward.code);
      return;
    }
    note.hidden = Boolean(code) || !query.trim();
    note.textContent = this.labels.noMatch || "";
    if (!code) return;
    const device = this.state.devices[code];
    if (!isVisible(this.state.filters, device)) {
      for (const box of this.form.querySelectorAll("input[name=kind]")) box.checked = true;
      this.form.elements.ward.value = "";
      this.form.elements.status.value = "";
      this.apply();
    }
    this.opsMap.showPlace(device);
    this.onFound(code);
  }
}
