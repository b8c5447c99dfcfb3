// The portal's maps: open requests as markers; on the feedback form, the pin (tap, the
// phone's location or typed coordinates) and the "already reported?" list. Needs no tiles.
import { el } from "../ioc/js/dom.js";
import { whenMapReady } from "../ioc/js/map.js";

async function addRequests(container) {
  const element = container.querySelector("[data-ioc-map]");
  whenMapReady(element, async (map) => {
    const response = await fetch(container.dataset.requestsUrl, { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const geojson = await response.json();
    L.geoJSON(geojson, {
      pointToLayer: (feature, latlng) => L.circleMarker(latlng, {
        radius: 6, weight: 1, color: "#fff", fillOpacity: 0.95,
        fillColor: feature.properties.open ? "#e08e0b" : "#1a9850",
      }),
      onEachFeature: (feature, layer) => {
        const p = feature.properties;
        layer.bindPopup(() => el(
          "div", {},
          el("a", { href: p.url ?? "" }, el("strong", { text: p.code ?? "" })), el("br"),
          p.category ?? "", el("br"), `${p.status_label ?? ""} · ${p.ward ?? ""}`,
        ));
      },
    }).addTo(map);
    element.dataset.requestsReady = "true";
  });
}

function pinForm(form) {
  const element = form.querySelector("[data-pin-map] [data-ioc-map]");
  const lat = form.querySelector("#id_latitude");
  const lon = form.querySelector("#id_longitude");
  const category = form.querySelector("#id_category");
  const nearby = form.querySelector("[data-nearby]");
  const status = form.querySelector("[data-locate-status]");
  let marker = null;
  let map = null;

  async function showNearby() {
    if (!lat.value || !lon.value || !category.value) { nearby.hidden = true; return; }
    const url = `${form.dataset.nearbyUrl}?lat=${encodeURIComponent(lat.value)}&lon=${encodeURIComponent(lon.value)}&category=${encodeURIComponent(category.value)}`;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      const data = await response.json();
      const list = nearby.querySelector("[data-nearby-list]");
      list.replaceChildren(...(data.requests || []).map((r) => el(
        "li", {},
        el("a", { href: r.url ?? "", text: r.code ?? "" }), ` · ${r.status ?? ""} · ${r.distance_m} m`, el("br"),
        el("span", { class: "muted", text: r.description ?? "" }),
      )));
      nearby.hidden = !(data.requests || []).length;
    } catch (error) { nearby.hidden = true; }
  }

  function place(latitude, longitude, pan) {
    if (!map || !Number.isFinite(latitude) || !Number.isFinite(longitude)) return;
    if (marker) marker.setLatLng([latitude, longitude]);
    else marker = L.marker([latitude, longitude], { draggable: true }).addTo(map)
      .on("dragend", () => { const p = marker.getLatLng(); setInputs(p.lat, p.lng); });
    if (pan) map.setView([latitude, longitude], Math.max(map.getZoom(), 15), { animate: false });
  }

  function setInputs(latitude, longitude) {
    lat.value = latitude.toFixed(6);
    lon.value = longitude.toFixed(6);
    showNearby();
  }

  whenMapReady(element, (ready) => {
    map = ready;
    map.on("click", (event) => { place(event.latlng.lat, event.latlng.lng, false); setInputs(event.latlng.lat, event.latlng.lng); });
    if (lat.value && lon.value) {
      // A pin refused as outside the city stays visible in the list, not as the map's view.
      const latitude = parseFloat(lat.value), longitude = parseFloat(lon.value);
      const inside = element.iocWards?.getBounds().contains([latitude, longitude]);
      place(latitude, longitude, Boolean(inside));
    }
  });

  for (const input of [lat, lon]) {
    input.addEventListener("change", () => { place(parseFloat(lat.value.replace(",", ".")), parseFloat(lon.value.replace(",", ".")), true); showNearby(); });
  }
  category.addEventListener("change", () => {
    const option = category.selectedOptions[0];
    if (option?.dataset.legal) { window.location.href = `${form.dataset.newUrl}?category=${encodeURIComponent(category.value)}`; return; }
    for (const fieldset of form.querySelectorAll("[data-questions-for]")) fieldset.hidden = fieldset.dataset.questionsFor !== category.value;
    showNearby();
  });
  form.querySelector("[data-locate]")?.addEventListener("click", () => {
    if (!navigator.geolocation) { status.textContent = status.dataset.unavailable || ""; return; }
    status.textContent = "…";
    navigator.geolocation.getCurrentPosition(
      (position) => { status.textContent = ""; place(position.coords.latitude, position.coords.longitude, true); setInputs(position.coords.latitude, position.coords.longitude); },
      () => { status.textContent = status.dataset.failed || ""; },
      { enableHighAccuracy: true, timeout: 15000 },
    );
  });
  showNearby();
}

for (const container of document.querySelectorAll("[data-requests-map]")) addRequests(container);
for (const form of document.querySelectorAll(".feedback-form")) pinForm(form);
