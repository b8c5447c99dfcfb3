// The staff page of a request: its place on the map, and response templates that fill
// the answer box (the text stays editable).
const mapElement = document.querySelector("[data-ioc-map]");
const data = JSON.parse(document.getElementById("request-map-data")?.textContent || "null");

function whenMapReady(fn) {
  if (!mapElement) return;
  if (mapElement.dataset.ready === "true") fn(mapElement.iocMap);
  else mapElement.addEventListener("ioc:map-ready", (event) => fn(event.detail.map), { once: true });
}

if (data) {
  whenMapReady((map) => {
    L.circleMarker([data.lat, data.lon], { radius: 9, color: "#fff", weight: 2, fillColor: "#6a3d9a", fillOpacity: 1 })
      .addTo(map).bindTooltip(data.title);
    map.setView([data.lat, data.lon], 16);
  });
}

for (const picker of document.querySelectorAll("[data-template]")) {
  picker.addEventListener("change", () => {
    const box = picker.closest("form").querySelector("textarea[name=text]");
    if (picker.value && box) box.value = picker.value;
  });
}
