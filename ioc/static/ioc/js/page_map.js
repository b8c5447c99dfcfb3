// Draws every map of a page that has no script of its own for it (the portal, incident and
// request pages): `[data-ioc-map]` elements, with the labels of the ioc-map-labels island.
// The page's own script waits for it with whenMapReady (map.js).
import { readJSON } from "./dom.js";
import { drawPageMap } from "./map.js";

const labels = readJSON("ioc-map-labels");

for (const element of document.querySelectorAll("[data-ioc-map]:not([data-dashboard-map])")) {
  drawPageMap(element, labels).catch((error) => {
    element.dataset.error = String(error);
    console.error(error);
  });
}
