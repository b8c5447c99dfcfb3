// The staff page of a request: its place on the map, and response templates that fill
// the answer box (the text stays editable).
import { plain, readJSON } from "../ioc/js/dom.js";
import { whenMapReady } from "../ioc/js/map.js";

const mapElement = document.querySelector("[data-ioc-map]");
const data = readJSON("request-map-data", null);

if (data) {
  whenMapReady(mapElement, (map) => {
    L.circleMarker([data.lat, data.lon], { radius: 9, color: "#fff", weight: 2, fillColor: "#6a3d9a", fillOpacity: 1 })
      .addTo(map).bindTooltip(plain(data.title));
    map.setView([data.lat, data.lon], 16);
  });
}

for (const picker of document.querySelectorAll("[data-template]")) {
  picker.addEventListener("change", () => {
    const box = picker.closest("form").querySelector("textarea[name=text]");
    if (picker.value && box) box.value = picker.value;
  });
}
