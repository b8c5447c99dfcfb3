// The /ops/ side panel's live parts (device_card.js shows the device's name, status and
// snapshot; this module adds the rest). The server answers the selected device's panel as
// JSON (/ops/panel/<code>/, scoped and permission-aware like the device page) and this
// module builds it with dom.js's el(), every string from the server set as text, never
// parsed as HTML; then it brings it to life: a camera with an RTSP stream plays its
// sub-stream live through the relay (live_video.js, the vendored mpegts.js loaded only
// then; the snapshot stands in while it cannot play), an HLS-only camera plays with the
// browser's HLS or the vendored hls.js, another camera's snapshot refreshes, a sensor's
// chart grows with each device.reading, and alert actions and signal commands go through
// the existing APIs. Closing the panel or choosing another device stops the player.
import { LiveVideo } from "../../cameras/live_video.js";
import { drawReadingsChart } from "../../cameras/readings_chart.js";
import { refreshImage } from "../../cameras/snapshots.js";
import { el, readJSON } from "../../ioc/js/dom.js";
import { loadScript } from "../../ioc/js/scripts.js";
import { format, stamp } from "./labels.js";

const REFRESH_DELAY_MS = 250;
const NOTE_MAX_LENGTH = 500; // an alert's resolution note, as the device page's form
const DASH = "–";

/** Whether a live video element shows frames (live_video.js sets its state). */
function playing(root) {
  return root.dataset.state === "live" || root.dataset.state === "stalled";
}

/**
 * The CSRF token the platform's POSTs carry: Django's csrftoken cookie (the panel's answer
 * sets it when it offers an action), else the page's own form token.
 */
function csrfToken() {
  const cookie = document.cookie.split(";").map((item) => item.trim()).find((item) => item.startsWith("csrftoken="));
  if (cookie) return decodeURIComponent(cookie.slice("csrftoken=".length));
  return document.querySelector("[name=csrfmiddlewaretoken]")?.value || "";
}

function errorText(body, fallback) {
  if (!body || typeof body !== "object") return fallback;
  const parts = [];
  for (const value of Object.values(body)) parts.push(...(Array.isArray(value) ? value : [value]));
  return parts.filter((part) => typeof part === "string").join(" ") || fallback;
}

// --- Building the parts from the panel's JSON (dashboards/panel_views.py) ------------------

/**
 * A camera played live (live_video.js's markup, as a camera wall tile): the video over its
 * frame, the snapshot under it as the fallback, the state said over both; the main
 * stream and full screen a click away.
 */
function liveVideoPart(device, camera, labels) {
  const video = el("video", {
    "data-video": "", muted: "", playsinline: "", width: "640", height: "360",
    "aria-label": format(labels.liveStreamOf, { name: device.name }),
  });
  video.muted = true; // the attribute alone mutes only an element the parser made
  const fallback = el(
    "span", { class: "panel-fallback", "data-video-fallback": "" },
    camera.snapshot_url
      ? el("img", { src: camera.snapshot_url, alt: format(labels.snapshotAlt, { name: device.name }), width: "640", height: "360", "data-panel-snapshot": "" })
      : null,
    el("span", { class: "panel-noimage", "data-panel-noimage": "", hidden: camera.snapshot_url ? "" : null, text: labels.noImage }),
  );
  return el(
    "figure",
    { class: "panel-video", "data-live-video": "", "data-quality": "sub", "data-state": "connecting", "data-stream-url": camera.stream_url },
    el("div", { class: "panel-frame" }, fallback, video,
      el("span", { class: "panel-video-state", "data-video-state": "", role: "status", text: labels.video.connecting })),
    el("figcaption", {},
      el("button", { type: "button", class: "button quiet", "data-video-quality": "", text: labels.video.showMain }),
      el("button", { type: "button", class: "button quiet", "data-video-fullscreen": "", text: labels.fullscreen })),
  );
}

function cameraPart(device, camera, labels) {
  const section = el("section", { class: "panel-part", "data-panel-part": "camera" });
  if (camera?.live && camera.stream_url) {
    section.append(liveVideoPart(device, camera, labels));
  } else if (camera?.hls_url) {
    const video = el("video", {
      class: "panel-player", "data-hls-player": "", controls: "", muted: "", playsinline: "", preload: "none",
      width: "640", height: "360", "aria-label": format(labels.liveStreamOf, { name: device.name }),
    });
    video.muted = true; // the attribute alone mutes only an element the parser made
    section.append(
      el("h3", { text: labels.liveStream }),
      video,
      el("p", { class: "muted panel-note", "data-player-error": "", hidden: "", text: labels.streamFailed }),
    );
  } else if (camera) {
    section.append(el("p", { class: "muted panel-note", text: format(labels.noBrowserStream, { protocol: camera.stream_protocol_label || DASH }) }));
  }
  return section;
}

function readingsPart(readings, labels) {
  return el(
    "section",
    { class: "panel-part", "data-panel-part": "readings" },
    el("h3", { text: labels.readings }),
    readings.chart
      ? el("div", { class: "charts panel-charts", "data-readings-charts": "" })
      : el("p", { class: "muted", text: labels.noReadings }),
  );
}

function row(header, cell) {
  return el("tr", {}, el("th", { text: header }), cell);
}

function signalState(state, labels) {
  const rows = [
    row(labels.intersection, el("td", { text: state.intersection })),
    row(labels.mode, el("td", { "data-signal": "mode", text: state.mode_label })),
    row(labels.plan, el("td", { class: "mono", "data-signal": "plan", text: state.plan || DASH })),
    row(labels.phase, el("td", { class: "mono", "data-signal": "phase", text: state.phase || DASH })),
    row(labels.communication, el(
      "td", {},
      el("span", { class: `badge ${state.comm_status === "ok" ? "status-online" : "status-fault"}`, text: state.comm_status_label }),
      " ",
      el("small", { class: "muted", text: state.state_at ? stamp(state.state_at) : "" }),
    )),
  ];
  if (state.faults?.length) rows.push(row(labels.activeFaults, el("td", { class: "warn", text: state.faults.join(", ") })));
  return el("table", { class: "table signal-state" }, el("tbody", {}, ...rows));
}

function liveCommand(command, labels) {
  const line = el("p", { class: "warn", "data-testid": "live-command" },
    format(labels.inForce, { action: command.action_label, status: command.status_label, who: command.requested_by }));
  if (command.plan) line.append(" ", el("span", { class: "mono", text: command.plan }));
  if (command.expires_at) line.append(" ", format(labels.returnsAt, { until: stamp(command.expires_at) }));
  if (command.error) line.append(el("br"), el("span", { class: "error", text: command.error }));
  return line;
}

function commandForm(signal, device, labels) {
  const form = signal.form;
  const plans = `signal-plans-${device.code}`;
  const duration = form.duration_minutes;
  return el(
    "form",
    { method: "post", class: "form", "data-testid": "signal-command-form", "data-url": signal.commands_url },
    el("label", {}, labels.action, el(
      "select", { name: "action", required: "" },
      ...form.actions.map((action) => el("option", { value: action.value, selected: action.value === form.action ? "" : null, text: action.label })),
    )),
    el("label", {}, labels.plan, " ", el("small", { class: "muted", text: labels.planHint }), el("input", {
      type: "text", name: "plan", maxlength: String(form.plan_max_length), pattern: form.plan_pattern,
      placeholder: form.plan_placeholder, list: plans,
    })),
    el("datalist", { id: plans }, ...form.plans.map((plan) => el("option", { value: plan }))),
    el("label", {}, labels.duration, el("input", {
      type: "number", name: "duration_minutes", min: String(duration.min), max: String(duration.max), value: String(duration.default), required: "",
    })),
    el("p", { class: "muted", text: labels.overrideNote }),
    el("label", {}, labels.reason, el("textarea", { name: "reason", rows: "3", maxlength: String(form.reason_max_length), required: "" })),
    el(
      "details", {},
      el("summary", { class: "button", text: labels.confirm }),
      el("p", { text: format(labels.confirmText, { intersection: signal.state?.intersection || device.name }) }),
      el("label", {}, el("input", { type: "checkbox", name: "confirm", value: "1", required: "" }), " ", labels.iConfirm),
      el("button", { type: "submit", class: "button", text: labels.send }),
    ),
  );
}

/** The signal's section (state, command in force, the form or why there is none). */
function signalPart(signal, device, labels) {
  const section = el("section", { class: "panel signal-command", "data-testid": "signal-command", "data-device": device.code },
    el("h2", { text: labels.signalControl }));
  if (signal.state) section.append(signalState(signal.state, labels));
  if (signal.live_command) section.append(liveCommand(signal.live_command, labels));
  section.append(signal.form ? commandForm(signal, device, labels) : el("p", { class: "muted", text: labels.mayNotCommand }));
  return section;
}

function alertItem(alert, labels) {
  const meta = [alert.severity_label, alert.status_label, stamp(alert.raised_at)];
  if (alert.occurrences > 1) meta.push(`×${alert.occurrences}`);
  if (alert.assignee) meta.push(alert.assignee);
  const item = el("li", { class: `severity-${alert.severity}`, "data-alert": String(alert.id) },
    el("strong", { text: alert.title }), " ", el("span", { class: "muted", text: meta.join(" · ") }));
  const actions = alert.actions || {};
  if (actions.acknowledge || actions.assign) {
    item.append(el(
      "form", { class: "alert-actions" },
      actions.acknowledge ? el("button", { type: "submit", "data-url": actions.acknowledge, text: labels.acknowledge }) : null,
      actions.assign ? el("button", { type: "submit", "data-url": actions.assign, text: labels.take }) : null,
    ));
  }
  if (actions.resolve) {
    item.append(el(
      "form", { class: "alert-actions", "data-url": actions.resolve },
      el("input", { type: "text", name: "note", required: "", maxlength: String(NOTE_MAX_LENGTH), placeholder: labels.whatWasDone, "aria-label": labels.whatWasDone }),
      el("button", { type: "submit", text: labels.resolve }),
    ));
  }
  if (alert.incident_url) {
    item.append(el("a", { class: "incident-link", href: alert.incident_url, "data-testid": "alert-incident", text: labels.incident }));
  } else if (alert.open_incident_url) {
    // A plain form: the browser goes to the new incident's page (the token is set on submit).
    item.append(el(
      "form", { method: "post", action: alert.open_incident_url, class: "incident-action" },
      el("input", { type: "hidden", name: "csrfmiddlewaretoken" }),
      el("button", { type: "submit", "data-testid": "open-incident", text: labels.openIncident }),
    ));
  }
  return item;
}

/** The alerts section's heading and list. */
function alertsPart(alerts, labels) {
  const list = el("ul", { class: "alert-list" }, ...alerts.items.map((alert) => alertItem(alert, labels)));
  if (!alerts.items.length) list.append(el("li", { class: "muted", text: labels.noAlerts }));
  return [el("h3", {}, labels.openAlerts, " ", el("small", { class: "muted", text: `(${alerts.items.length})` })), list];
}

export class DevicePanel {
  /**
   * @param {HTMLElement} root the dashboard ([data-dashboard]) with data-panel-url
   * @param {object} options
   * @param {import("../live.js").LiveChannel} options.channel the page's live channel
   */
  constructor(root, { channel }) {
    this.root = root;
    this.element = root.querySelector("[data-device-panel]");
    this.labels = readJSON("ioc-panel-labels");
    this.code = null;
    this.device = null;
    this.stops = [];
    this.charts = new Map();
    this.hls = null;
    this.live = null;
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

  get kind() {
    return this.device?.kind || null;
  }

  /** Whether the panel shows the camera's snapshot itself (under its live video): the
   *  head's snapshot figure (device_card.js) then stays hidden. */
  get showsSnapshot() {
    return Boolean(this.body.querySelector("[data-live-video]"));
  }

  /** Show the live parts of device `code` (called by device_card.js when the selection changes). */
  async open(code) {
    this.close();
    const generation = ++this.generation;
    this.code = code;
    this.body.dataset.device = code;
    this.body.dataset.ready = "false";
    this.body.replaceChildren(el("p", { class: "muted", text: this.labels.loading || "" }));
    let panel;
    try {
      panel = await this.#get(this.#url(code));
    } catch (error) {
      console.error(error);
      if (generation === this.generation) this.body.replaceChildren(el("p", { class: "error", text: this.labels.loadError || "" }));
      return;
    }
    if (generation !== this.generation) return; // another device was chosen meanwhile
    this.device = panel.device;
    this.body.replaceChildren(this.#build(panel));
    this.#refreshSnapshot(panel.camera);
    this.#startLive(panel.camera, generation);
    this.#startPlayer(panel.camera);
    await this.#startCharts(panel.readings?.chart, generation);
    if (generation === this.generation) this.body.dataset.ready = "true";
  }

  /** Stop everything the open device started. */
  close() {
    this.generation += 1;
    for (const stop of this.stops.splice(0)) stop();
    this.charts.clear();
    if (this.live) { this.live.stop(); this.live = null; } // the websocket closes: the relay's viewer leaves
    if (this.hls) { this.hls.destroy(); this.hls = null; }
    for (const video of this.body.querySelectorAll("video")) { video.pause(); video.removeAttribute("src"); video.load(); }
    for (const timer of this.pending.values()) window.clearTimeout(timer);
    this.pending.clear();
    this.code = null;
    this.device = null;
    this.body.replaceChildren();
    delete this.body.dataset.device;
  }

  #url(code, part = "") {
    const url = this.root.dataset.panelUrl.replace("__code__", encodeURIComponent(code));
    return part ? `${url}?part=${part}` : url;
  }

  async #get(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return response.json();
  }

  #build({ device, camera, readings, signal, alerts }) {
    const body = el("div", { class: "panel-body", "data-panel-body": "", "data-device": device.code, "data-kind": device.kind },
      el("p", { class: "panel-message", "data-panel-message": "", role: "status", hidden: "" }));
    if (device.kind === "camera") body.append(cameraPart(device, camera, this.labels));
    if (readings) body.append(readingsPart(readings, this.labels));
    if (signal) body.append(el("div", { "data-panel-part": "signal" }, signalPart(signal, device, this.labels)));
    body.append(el("section", { class: "panel-part", "data-panel-part": "alerts" }, ...alertsPart(alerts, this.labels)));
    return body;
  }

  // --- Camera: refreshing snapshot (device_card.js's figure) and the live player -----------

  #refreshSnapshot(camera) {
    const live = this.body.querySelector("[data-live-video]");
    const figure = this.element.querySelector("[data-device-snapshot]");
    if (live && figure) figure.hidden = true; // the live video's own frame holds the snapshot
    const image = live
      ? live.querySelector("[data-panel-snapshot]")
      : this.element.querySelector("[data-device-snapshot]:not([hidden]) [data-device-image]");
    if (!image || !camera?.snapshot_url) return;
    const error = live ? live.querySelector("[data-panel-noimage]") : this.element.querySelector("[data-device-image-error]");
    this.stops.push(refreshImage(image, {
      seconds: camera.refresh_seconds || 5,
      // A camera playing live needs no snapshot; one that cannot play shows it, fresh.
      active: () => !document.hidden && !this.element.hidden && !(live && playing(live)),
      onState: (failed) => { image.hidden = failed; if (error) error.hidden = !failed; },
    }));
  }

  /** Play an RTSP camera's sub-stream through the relay, once mpegts.js is loaded. */
  async #startLive(camera, generation) {
    const root = this.body.querySelector("[data-live-video]");
    if (!root) return;
    try {
      await loadScript(camera.live_script, "mpegts");
    } catch (error) {
      console.error(error); // LiveVideo says the browser cannot play it
    }
    if (generation !== this.generation) return; // closed, or another device chosen meanwhile
    this.live = new LiveVideo(root, this.labels.video);
    root.iocLiveVideo = this.live;
    this.live.start();
  }

  #startPlayer(camera) {
    const video = this.body.querySelector("video[data-hls-player]");
    if (!video || !camera?.hls_url) return;
    const source = camera.hls_url;
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
    loadScript(camera.hls_script, "Hls").then((Hls) => {
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

  async #startCharts(config, generation) {
    const container = this.body.querySelector("[data-readings-charts]");
    if (!container || !config || typeof uPlot === "undefined") return;
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

  /** The children of part `part` built from its JSON. */
  #part(part, answer) {
    if (part === "alerts") return alertsPart(answer, this.labels);
    return answer ? [signalPart(answer, this.device, this.labels)] : [];
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
        const answer = await this.#get(this.#url(code, part));
        if (code === this.code) target.replaceChildren(...this.#part(part, answer[part]));
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

  async #post(url, body, contentType) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "Content-Type": contentType, "X-CSRFToken": csrfToken() },
      body,
    });
    let answer = null;
    try { answer = await response.json(); } catch { answer = null; }
    return { ok: response.ok, status: response.status, answer };
  }

  async #submit(event) {
    const form = event.target;
    if (form.matches(".incident-action")) {
      form.elements.csrfmiddlewaretoken.value = csrfToken(); // and the browser posts it
      return;
    }
    event.preventDefault();
    if (form.matches(".alert-actions")) {
      const url = event.submitter?.dataset.url || form.dataset.url;
      if (!url) return;
      const body = new URLSearchParams();
      const note = form.elements.note?.value;
      if (note) body.set("note", note);
      await this.#act(form, () => this.#post(url, body, "application/x-www-form-urlencoded"), "alerts",
        (answer) => format(this.labels.alertUpdated, { title: answer?.title || "" }));
    } else if (form.matches("[data-testid=signal-command-form]")) {
      const fields = new FormData(form);
      const payload = {
        action: fields.get("action"),
        plan: fields.get("plan") || "",
        reason: fields.get("reason") || "",
        duration_minutes: Number(fields.get("duration_minutes")) || undefined,
      };
      await this.#act(form, () => this.#post(form.dataset.url, JSON.stringify(payload), "application/json"), "signal",
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
