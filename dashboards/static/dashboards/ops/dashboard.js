// The operations dashboard at /ops/ (and a ward's page): map, KPI tiles, alert feed and device
// panel, drawn from the state the server rendered and kept current by the live channel.
// This entry module creates the one state object, builds each part with it, wires them and
// starts; the parts are the modules next to it. Works without map tiles: ward boundaries
// and devices are the platform's own data.
import { readJSON } from "../../ioc/js/dom.js";
import { LiveChannel, liveURL } from "../live.js";
import { CaseLayer } from "./cases.js";
import { DeviceCard } from "./device_card.js";
import { AlertFeed } from "./feed.js";
import { Kpis } from "./kpis.js";
import { OpsMap } from "./map.js";
import { DevicePanel, exportFollowsFilters } from "./panel.js";
import { MapTools } from "./search.js";
import { AlertSound } from "./sound.js";
import { createState } from "./state.js";
import { LiveStatus } from "./status.js";
import { LiveUpdates } from "./updates.js";
import { Viewport } from "./viewport.js";

const AGES_EVERY_MS = 1000;

function caseLayers(root, labels) {
  const incidents = new CaseLayer({
    root, name: "incidents", kpiKey: "incidents_open", open: new Set(["open", "in_progress"]),
    urlTemplate: (root.dataset.incidentUrl || "").replace(/0\/$/, "__id__/"),
    label: (i) => `${i.reference} · ${i.title} (${(labels.incidentStatus || {})[i.status] || i.status})`,
    iconClass: (i) => `incident-marker severity-${i.severity}`,
  });
  const requests = new CaseLayer({
    root, name: "requests", kpiKey: "requests.open",
    open: new Set(["new", "triaged", "assigned", "in_progress", "reopened"]),
    urlTemplate: root.dataset.requestUrl || "",
    label: (r) => `${r.code} · ${r.category_name} (${(labels.requestStatus || {})[r.status] || r.status})`,
    iconClass: (r) => `request-marker${r.overdue ? " overdue" : ""}`,
  });
  return { incidents, requests };
}

function start(root) {
  const mapElement = root.querySelector("[data-dashboard-map]");
  const mapLabels = readJSON("ioc-map-labels");
  const labels = readJSON("ioc-live-labels");
  const initial = readJSON("ioc-live-initial");
  const state = createState(root, mapElement);
  const deviceURL = (code) => root.dataset.deviceUrl.replace("__code__", encodeURIComponent(code));

  const { incidents, requests } = caseLayers(root, labels);
  const channel = new LiveChannel({ dataAt: new Date(initial.at || Date.now()), url: liveURL(root.dataset.wsPath || "/ws/ops/") });
  // Parts call each other through these few callbacks, set once every part exists.
  let card = null;
  let tools = null;
  const opsMap = new OpsMap({
    element: mapElement, state, labels: mapLabels, focusWard: root.dataset.ward,
    onDevice: (code) => card.show(code),
    onWard: (code) => tools.selectWard(code),
    onDrawn: () => tools.fillList(),
  });
  // For the browser tests and a curious operator's console.
  window.iocDashboard = {
    get devices() { return state.devices; },
    get alerts() { return state.alerts; },
    state, channel, markers: opsMap.markers, incidents, requests,
  };
  const panel = new DevicePanel(root, { channel });
  exportFollowsFilters(root);
  const viewport = new Viewport({ state, opsMap });
  card = new DeviceCard({ root, state, labels, mapLabels, deviceURL, panel });
  tools = new MapTools({ root, state, opsMap, viewport, labels, onFound: (code) => card.show(code) });
  const kpis = new Kpis({ root, state, url: mapElement.dataset.kpisUrl });
  const feed = new AlertFeed({ root, state, labels, incidents, deviceURL });
  const sound = new AlertSound(root);
  const status = new LiveStatus({ root, state, labels });
  const updates = new LiveUpdates({ root, state, mapLabels, opsMap, viewport, kpis, feed, sound, card, incidents, requests });

  updates.snapshot(initial, { live: false });
  opsMap.start([incidents, requests]);
  if (!state.embedded) viewport.follow();
  sound.render();
  status.render(channel);
  status.renderAges();

  // A unit no longer in force is history: its page never goes live.
  if (root.dataset.live === "false") {
    status.renderHistory();
  } else {
    channel.onSnapshot((snapshot) => updates.snapshot(snapshot, { live: true }));
    channel.onEvent((event) => updates.event(event));
    channel.onState(() => status.render(channel));
    channel.start();
  }
  window.setInterval(() => {
    status.renderAges();
    if (channel.state === "stale") status.render(channel);
  }, AGES_EVERY_MS);

  tools.listen();
  card.listen();
  sound.listen();
}

start(document.querySelector("[data-dashboard]"));
