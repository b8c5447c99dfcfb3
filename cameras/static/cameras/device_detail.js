// Device page: play a camera live (live_video.js, through the video relay), refresh its
// snapshot every few seconds (through the server's proxy, which holds the camera's login),
// and draw a sensor's last 24 hours per metric with uPlot
// from the readings API. Both parts are shared modules (the /ops/ side panel uses them).
import { startLiveVideos } from "./live_video.js";
import { drawReadingsChart } from "./readings_chart.js";
import { refreshImage } from "./snapshots.js";

const CHART_POINTS = 288; // 5-minute buckets over 24 hours

function startSnapshots() {
  for (const img of document.querySelectorAll("img[data-snapshot]")) {
    const figure = img.closest("figure");
    const error = figure ? figure.querySelector("[data-snapshot-error]") : null;
    refreshImage(img, {
      seconds: Number(img.dataset.refreshSeconds) || 10,
      onState: (failed) => {
        if (figure) figure.classList.toggle("failed", failed);
        if (error) error.hidden = !failed;
      },
    });
  }
}

async function startCharts() {
  const container = document.querySelector("[data-readings-charts]");
  const source = document.getElementById("device-chart-config");
  if (!container || !source || typeof uPlot === "undefined") return;
  const config = JSON.parse(source.textContent);
  for (const metric of config.metrics) await drawReadingsChart(container, config, metric, { points: CHART_POINTS });
  container.dataset.ready = "true";
}

startSnapshots();
startLiveVideos();
startCharts().catch((error) => console.error(error));
