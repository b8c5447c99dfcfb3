// The /ops/ side panel's live parts (device_card.js shows the device's name, status and
// snapshot; this module adds the rest): the server renders the panel's body for the
// selected device (/ops/panel/<code>/, scoped and permission-aware like the device page,
// every value escaped by its template; taken in through dom.js's serverFragment), and this
// module brings it to life: the snapshot refreshes, an HLS camera plays (natively
// or with the vendored hls.js, loaded only then), a sensor's chart grows with each
// device.reading, and alert actions and signal commands go through the existing APIs.
import { drawReadingsChart } from "../../cameras/readings_chart.js";
import { refreshImage } from "../../cameras/snapshots.js";
import { readJSON, serverFragment } from "../../ioc/js/dom.js";
import { format } from "./labels.js";

const ALERT_FORM_ACTION = /\/alerts\/(\d+)\/(\w+)\/?$/;
const REFRESH_DELAY_MS = 250;
let hlsScript = null;

/** The vendored hls.js, loaded once, on first need. */
function loadHls(src) {
  if (window.Hls) return Promise.resolve(window.Hls);
  if (!hlsScript) {
    hlsScript = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = src;
      script.onload = () => resolve(window.Hls);
      script.onerror = () => { hlsScript = null; reject(new Error(`could not load ${src}`)); };
      document.head.append(script);
    });
  }
  return hlsScript;
}

function errorText(body, fallback) {
  if (!body || typeof body !== "object") return fallback;
  const parts = [];
  for (const value of Object.values(body)) parts.push(...(Array.isArray(value) ? value : [value]));
  return parts.filter((part) => typeof part === "string").join(" ") || fallback;
}

export class DevicePanel {
  /**
   * @param {HTMLElement} root the dashboard ([data-dashboard]) with data-panel-url and data-alerts-api
   * @param {object} options
   * @param {import("../live.js").LiveChannel} options.channel the page's live channel
   */
  constructor(root, { channel }) {
    this.root = root;
    this.element = root.querySelector("[data-device-panel]");
    this.labels = readJSON("ioc-panel-labels");
    this.code = null;
    this.kind = null;
    this.stops = [];
    this.charts = new Map();
    this.hls = null;
    this.pending = new Map();
    this.generation = 0;
    this.body = document.createElement("div");
    this.body.className = "panel-live";
    this.body.dataset.panelLive = "";
    this.element.querySelector("[data-device-link]")?.closest("p")?.before(this.body);
    this.body.addEventListener("submit", (event) => this.#submit(event));
    channel.onEvent((event) => this.#onEvent(event));
    channel.onSnapshot(() => { if (this.code) this.#refresh("alerts"); });
    // device_card.js hides the panel (close button, device gone): stop timers and the player.
    new MutationObserver(() => { if (this.element.hidden) this.close(); }).observe(this.element, { attributes: true, attributeFilter: ["hidden"] });
  }

  /** Show the live parts of device `code` (called by device_card.js when the selection changes). */
  async open(code) {
    this.close();
    const generation = ++this.generation;
    this.code = code;
    this.body.dataset.device = code;
    this.body.dataset.ready = "false";
    this.body.replaceChildren(Object.assign(document.createElement("p"), { className: "muted", textContent: this.labels.loading || "" }));
    this.#refreshSnapshot();
    let html;
    try {
      html = await this.#get(this.#url(code));
    } catch (error) {
      console.error(error);
      if (generation === this.generation) this.body.replaceChildren(Object.assign(document.createElement("p"), { className: "error", textContent: this.labels.loadError || "" }));
      return;
    }
    if (generation !== this.generation) return; // another device was chosen meanwhile
    this.body.replaceChildren(serverFragment(html));
    const inner = this.body.querySelector("[data-panel-body]");
    this.kind = inner?.dataset.kind || null;
    this.#startPlayer();
    await this.#startCharts(generation);
    if (generation === this.generation) this.body.dataset.ready = "true";
  }

  /** Stop everything the open device started. */
  close() {
    this.generation += 1;
    for (const stop of this.stops.splice(0)) stop();
    this.charts.clear();
    if (this.hls) { this.hls.destroy(); this.hls = null; }
    for (const video of this.body.querySelectorAll("video")) { video.pause(); video.removeAttribute("src"); video.load(); }
    for (const timer of this.pending.values()) window.clearTimeout(timer);
    this.pending.clear();
    this.code = null;
    this.kind = null;
    this.body.replaceChildren();
    delete this.body.dataset.device;
  }

  #url(code, part = "") {
    const url = this.root.dataset.panelUrl.replace("__code__", encodeURIComponent(code));
    return part ? `${url}?part=${part}` : url;
  }

  async #get(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return response.text();
  }

  // --- Camera: refreshing snapshot (device_card.js's figure) and the live player -----------

  #refreshSnapshot() {
    const image = this.element.querySelector("[data-device-snapshot]:not([hidden]) [data-device-image]");
    if (!image) return;
    const error = this.element.querySelector("[data-device-image-error]");
    const seconds = Number(this.root.dataset.snapshotRefreshSeconds) || 5;
    this.stops.push(refreshImage(image, {
      seconds,
      active: () => !document.hidden && !this.element.hidden,
      onState: (failed) => { image.hidden = failed; if (error) error.hidden = !failed; },
    }));
  }

  #startPlayer() {
    const video = this.body.querySelector("video[data-hls-player]");
    if (!video) return;
    const source = video.dataset.src;
    const failed = () => {
      const note = this.body.querySelector("[data-player-error]");
      if (note) note.hidden = false;
      video.dataset.state = "error";
    };
    const play = () => { video.dataset.state = "playing"; video.play().catch(() => {}); };
    if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = source; // Safari, iOS: native HLS
      video.dataset.engine = "native";
      video.addEventListener("error", failed, { once: true });
      play();
      return;
    }
    const generation = this.generation;
    loadHls(video.dataset.hlsScript).then((Hls) => {
      if (generation !== this.generation) return;
      if (!Hls || !Hls.isSupported()) { failed(); return; }
      const hls = new Hls({ lowLatencyMode: true, backBufferLength: 30 });
      this.hls = hls;
      video.dataset.engine = "hls.js";
      hls.on(Hls.Events.ERROR, (_event, data) => {
        if (data.fatal) { hls.destroy(); if (this.hls === hls) this.hls = null; failed(); }
      });
      hls.loadSource(source);
      hls.attachMedia(video);
      hls.on(Hls.Events.MANIFEST_PARSED, play);
    }).catch((error) => { console.error(error); failed(); });
  }

  // --- Sensor: readings chart, live --------------------------------------------------------

  async #startCharts(generation) {
    const container = this.body.querySelector("[data-readings-charts]");
    const source = this.body.querySelector("#panel-chart-config");
    if (!container || !source || typeof uPlot === "undefined") return;
    const config = JSON.parse(source.textContent);
    for (const metric of config.metrics) {
      const chart = await drawReadingsChart(container, config, metric, { points: 120, height: 160, live: true });
      if (generation !== this.generation) return;
      if (chart) this.charts.set(metric.metric, chart);
    }
    container.dataset.ready = "true";
  }

  // --- Live events -----------------------------------------------------------------------

  #onEvent(event) {
    const data = event.data || {};
    if (!this.code || data.device !== this.code) return;
    if (event.type === "device.reading") {
      const ts = Date.parse(data.ts || event.at) / 1000;
      for (const [metric, value] of Object.entries(data.values || {})) this.charts.get(metric)?.append(ts, value);
    } else if (String(event.type).startsWith("alert.")) {
      this.#refresh("alerts");
    } else if (this.kind === "signal" && (event.type === "signal.command" || event.type === "device.status")) {
      this.#refresh("signal");
    }
  }

  /** Fetch one part again (debounced); a signal form being filled in is left alone. */
  #refresh(part) {
    if (this.pending.has(part)) return;
    const code = this.code;
    this.pending.set(part, window.setTimeout(async () => {
      this.pending.delete(part);
      const target = this.body.querySelector(`[data-panel-part="${part}"]`);
      if (!target || code !== this.code) return;
      if (part === "signal" && (target.contains(document.activeElement) || target.querySelector("details[open]"))) return;
      try {
        const html = await this.#get(this.#url(code, part));
        if (code === this.code) target.replaceChildren(serverFragment(html));
      } catch (error) {
        console.error(error);
      }
    }, REFRESH_DELAY_MS));
  }

  // --- Actions: alerts and signal commands through the APIs ---------------------------------

  #say(text, { error = false } = {}) {
    const message = this.body.querySelector("[data-panel-message]");
    if (!message) return;
    message.textContent = text;
    message.classList.toggle("error", error);
    message.hidden = !text;
    if (text) message.scrollIntoView({ block: "nearest" });
  }

  async #post(url, form, body, contentType) {
    const token = form.querySelector("input[name=csrfmiddlewaretoken]")?.value || "";
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "Content-Type": contentType, "X-CSRFToken": token },
      body,
    });
    let answer = null;
    try { answer = await response.json(); } catch { answer = null; }
    return { ok: response.ok, status: response.status, answer };
  }

  async #submit(event) {
    const form = event.target;
    if (form.matches(".alert-actions")) {
      event.preventDefault();
      const target = event.submitter?.getAttribute("formaction") || form.getAttribute("action") || "";
      const match = target.match(ALERT_FORM_ACTION);
      if (!match) return;
      const [, id, action] = match;
      const body = new URLSearchParams();
      const note = form.querySelector("input[name=note]")?.value;
      if (note) body.set("note", note);
      await this.#act(form, () => this.#post(`${this.root.dataset.alertsApi}${id}/${action}`, form, body, "application/x-www-form-urlencoded"), "alerts",
        (answer) => format(this.labels.alertUpdated, { title: answer?.title || "" }));
    } else if (form.matches("[data-testid=signal-command-form]")) {
      event.preventDefault();
      const fields = new FormData(form);
      const payload = {
        action: fields.get("action"),
        plan: fields.get("plan") || "",
        reason: fields.get("reason") || "",
        duration_minutes: Number(fields.get("duration_minutes")) || undefined,
      };
      const url = this.body.querySelector("[data-panel-body]").dataset.commandsUrl;
      await this.#act(form, () => this.#post(url, form, JSON.stringify(payload), "application/json"), "signal",
        (answer) => format(this.labels.commandSent, { status: (this.labels.commandStatus || {})[answer?.status] || answer?.status || "" }));
    }
  }

  async #act(form, send, part, success) {
    const buttons = [...form.querySelectorAll("button")];
    for (const button of buttons) button.disabled = true;
    try {
      const { ok, answer } = await send();
      if (ok) {
        this.#say(success(answer));
        form.closest("details")?.removeAttribute("open");
        form.reset?.();
        window.clearTimeout(this.pending.get(part));
        this.pending.delete(part);
        if (document.activeElement && form.contains(document.activeElement)) document.activeElement.blur();
        this.#refresh(part);
      } else {
        this.#say(errorText(answer, this.labels.actionFailed), { error: true });
      }
    } catch (error) {
      console.error(error);
      this.#say(this.labels.actionFailed || "", { error: true });
    } finally {
      for (const button of buttons) button.disabled = false;
    }
  }
}

/** Keep the alert feed's "Export CSV" link on the map's filters (ward, device kinds). */
export function exportFollowsFilters(root) {
  const link = root.querySelector("[data-alerts-export]");
  const form = root.querySelector("[data-map-tools]");
  if (!link || !form) return;
  const base = link.getAttribute("href").split("?")[0];
  const update = () => {
    const params = new URLSearchParams();
    if (form.elements.ward?.value) params.set("ward", form.elements.ward.value);
    const kinds = [...form.querySelectorAll("input[name=kind]")];
    const checked = kinds.filter((box) => box.checked).map((box) => box.value);
    if (checked.length < kinds.length) for (const kind of checked.length ? checked : ["none"]) params.append("kind", kind);
    link.href = params.toString() ? `${base}?${params}` : base;
  };
  form.addEventListener("change", update);
  update();
}
