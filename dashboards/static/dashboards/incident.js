// Incident pages: pick the place on the map (new incident), show the incident with its
// linked and nearby alerts (incident page), and tell the operator when someone else
// changed the incident they are looking at.
import { plain, readJSON } from "../ioc/js/dom.js";
import { whenMapReady as whenReady } from "../ioc/js/map.js";
import { LiveChannel } from "./live.js";

const mapElement = document.querySelector("[data-ioc-map]");
const whenMapReady = (fn) => whenReady(mapElement, fn);

const incidentIcon = () => L.divIcon({ className: "incident-marker", html: plain("!"), iconSize: [26, 26], iconAnchor: [13, 13] });

// --- New incident: the place is where the operator clicks -------------------------------------
const latInput = document.querySelector("#id_latitude");
const lonInput = document.querySelector("#id_longitude");
if (latInput && lonInput) {
  whenMapReady((map) => {
    let marker = null;
    const place = (lat, lon, pan) => {
      if (!Number.isFinite(lat) || !Number.isFinite(lon)) return;
      if (!marker) marker = L.marker([lat, lon], { icon: incidentIcon(), keyboard: false }).addTo(map);
      marker.setLatLng([lat, lon]);
      if (pan) map.setView([lat, lon], Math.max(map.getZoom(), 15));
    };
    place(parseFloat(latInput.value), parseFloat(lonInput.value), true);
    map.on("click", ({ latlng }) => {
      latInput.value = latlng.lat.toFixed(6);
      lonInput.value = latlng.lng.toFixed(6);
      place(latlng.lat, latlng.lng, false);
    });
    for (const input of [latInput, lonInput]) {
      input.addEventListener("change", () => place(parseFloat(latInput.value), parseFloat(lonInput.value), true));
    }
  });
}

// --- Incident page: the incident, its linked alerts (filled) and nearby ones (hollow) -------
const data = readJSON("incident-map-data", null);
if (data) {
  whenMapReady((map) => {
    const { lat, lon, title } = data.incident;
    L.marker([lat, lon], { icon: incidentIcon(), title }).addTo(map).bindTooltip(plain(title));
    for (const alert of data.alerts) {
      L.circleMarker([alert.lat, alert.lon], {
        radius: 7, color: "#d73027", weight: 2, fillColor: "#d73027", fillOpacity: alert.linked ? 0.9 : 0,
      }).addTo(map).bindTooltip(plain(alert.title));
    }
    map.setView([lat, lon], 15);
  });
}

// --- Someone else changed this incident: offer a reload -----------------------------------
const head = document.querySelector("[data-incident-id]");
if (head) {
  const id = Number(head.dataset.incidentId);
  const shownAt = Date.parse(head.dataset.incidentUpdated);
  const note = document.querySelector("[data-incident-changed]");
  const check = (incident) => {
    if (incident && incident.id === id && Date.parse(incident.updated_at) > shownAt) note.hidden = false;
  };
  const channel = new LiveChannel();
  channel.onEvent((event) => { if (event.type === "incident.updated") check(event.data); });
  channel.onSnapshot((snapshot) => (snapshot.incidents || []).forEach(check));
  channel.start();
}
