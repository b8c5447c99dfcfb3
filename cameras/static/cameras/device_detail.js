// Device page: refresh a camera's snapshot every few seconds (through the server's proxy,
// which holds the camera's login), and draw a sensor's last 24 hours per metric with uPlot
// from the readings API (downsampled in the database: avg line, min-max band, limits).

const CHART_POINTS = 288; // 5-minute buckets over 24 hours
const COLOURS = { avg: "#0b3d6e", band: "rgba(42, 111, 176, 0.14)", edge: "#8fb1d3", high: "#d73027", low: "#e08e0b" };

function startSnapshots() {
  for (const img of document.querySelectorAll("img[data-snapshot]")) {
    const base = img.getAttribute("src").split("?")[0];
    const seconds = Number(img.dataset.refreshSeconds) || 10;
    const figure = img.closest("figure");
    const error = figure ? figure.querySelector("[data-snapshot-error]") : null;
    const setFailed = (failed) => {
      if (figure) figure.classList.toggle("failed", failed);
      if (error) error.hidden = !failed;
    };
    img.addEventListener("error", () => setFailed(true));
    img.addEventListener("load", () => setFailed(false));
    window.setInterval(() => {
      if (document.hidden) return;
      // Load the next image off-screen and swap it in only once it has arrived: no flash
      // of a broken image while the camera answers.
      const next = new Image();
      next.onload = () => { img.src = next.src; };
      next.onerror = () => setFailed(true);
      next.src = `${base}?t=${Date.now()}`;
    }, seconds * 1000);
  }
}

async function fetchJSON(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

function clockParts(timeZone) {
  const format = new Intl.DateTimeFormat("en-GB", {
    timeZone, day: "2-digit", month: "2-digit", year: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });
  return (seconds) => Object.fromEntries(format.formatToParts(new Date(seconds * 1000)).map((p) => [p.type, p.value]));
}

function note(box, text) {
  const p = document.createElement("p");
  p.className = "muted chart-note";
  p.textContent = text;
  box.append(p);
}

function chartOptions(metric, series, config, width) {
  const parts = clockParts(config.timeZone);
  const number = new Intl.NumberFormat(document.documentElement.lang || "vi", { maximumFractionDigits: 2 });
  const show = (u, v) => (v == null ? "–" : number.format(v));
  const lines = [
    {
      value: (u, ts) => {
        if (ts == null) return "–";
        const p = parts(ts);
        return `${p.hour}:${p.minute} ${p.day}/${p.month}/${p.year}`;
      },
    },
    { label: config.labels.avg, stroke: COLOURS.avg, width: 2, value: show },
    { label: config.labels.min, stroke: COLOURS.edge, width: 1, value: show },
    { label: config.labels.max, stroke: COLOURS.edge, width: 1, value: show },
  ];
  if (series.high != null) lines.push({ label: config.labels.high, stroke: COLOURS.high, width: 1.5, dash: [6, 4], value: show, points: { show: false } });
  if (series.low != null) lines.push({ label: config.labels.low, stroke: COLOURS.low, width: 1.5, dash: [6, 4], value: show, points: { show: false } });
  return {
    width,
    height: 220,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), config.timeZone),
    series: lines,
    bands: [{ series: [3, 2], fill: COLOURS.band }],
    scales: { x: { time: true, range: () => [Date.parse(series.from) / 1000, Date.parse(series.to) / 1000] } },
    axes: [
      {
        values: (u, splits) => {
          let previousDay = null;
          return splits.map((ts) => {
            const p = parts(ts);
            const day = `${p.day}/${p.month}`;
            const label = day === previousDay ? `${p.hour}:${p.minute}` : `${p.hour}:${p.minute}\n${day}`;
            previousDay = day;
            return label;
          });
        },
      },
      { values: (u, splits) => splits.map((v) => number.format(v)), size: 56 },
    ],
    legend: { live: true },
    cursor: { drag: { x: false, y: false } },
  };
}

async function drawChart(container, config, metric) {
  const box = document.createElement("div");
  box.className = "chart";
  box.dataset.metric = metric.metric;
  const title = document.createElement("h3");
  title.textContent = metric.unit ? `${metric.metric} (${metric.unit})` : metric.metric;
  box.append(title);
  container.append(box);
  let series;
  try {
    series = await fetchJSON(`${config.url}?metric=${encodeURIComponent(metric.metric)}&points=${CHART_POINTS}`);
  } catch (error) {
    console.error(error);
    note(box, config.labels.error);
    return;
  }
  if (!series.buckets.length) {
    note(box, config.labels.empty);
    box.dataset.ready = "empty";
    return;
  }
  const xs = series.buckets.map((b) => Date.parse(b.start) / 1000);
  const data = [xs, series.buckets.map((b) => b.avg), series.buckets.map((b) => b.min), series.buckets.map((b) => b.max)];
  if (series.high != null) data.push(xs.map(() => series.high));
  if (series.low != null) data.push(xs.map(() => series.low));
  const plot = new uPlot(chartOptions(metric, series, config, box.clientWidth || 600), data, box);
  new ResizeObserver(() => plot.setSize({ width: box.clientWidth, height: 220 })).observe(box);
  box.dataset.ready = "true";
}

async function startCharts() {
  const container = document.querySelector("[data-readings-charts]");
  const source = document.getElementById("device-chart-config");
  if (!container || !source || typeof uPlot === "undefined") return;
  const config = JSON.parse(source.textContent);
  for (const metric of config.metrics) await drawChart(container, config, metric);
  container.dataset.ready = "true";
}

startSnapshots();
startCharts().catch((error) => console.error(error));
