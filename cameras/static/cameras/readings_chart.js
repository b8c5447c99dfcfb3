// A sensor metric's readings drawn with uPlot (served from cameras/vendor/uplot) from the
// readings API, downsampled in the database: average line, min-max band, alert limits.
// Shared by the device page (24 hours) and the /ops/ side panel (a few hours, live).

const COLOURS = { avg: "#0b3d6e", band: "rgba(42, 111, 176, 0.14)", edge: "#8fb1d3", high: "#d73027", low: "#e08e0b" };

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

// Buckets further apart than this many bucket widths are a gap in the readings (a device
// offline, say): the line breaks there rather than joining the two sides.
const GAP_BUCKETS = 3;

/** The buckets' times and rows, with an empty row in each gap (uPlot breaks its line on it). */
export function withGaps(buckets, bucketSeconds) {
  const xs = [];
  const rows = [];
  const empty = { avg: null, min: null, max: null };
  let previous = null;
  for (const bucket of buckets) {
    const ts = Date.parse(bucket.start) / 1000;
    if (previous != null && bucketSeconds > 0 && ts - previous > GAP_BUCKETS * bucketSeconds) {
      xs.push(previous + bucketSeconds);
      rows.push(empty);
    }
    xs.push(ts);
    rows.push(bucket);
    previous = ts;
  }
  return { xs, rows };
}

function chartOptions(series, config, width, height, range) {
  const parts = clockParts(config.timeZone);
  const number = new Intl.NumberFormat(document.documentElement.lang || "vi", { maximumFractionDigits: 2 });
  const show = (u, v) => (v == null ? "–" : number.format(v));
  const lines = [
    {
      label: config.labels.time || "Time",
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
    height,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), config.timeZone),
    series: lines,
    bands: [{ series: [3, 2], fill: COLOURS.band }],
    scales: { x: { time: true, range: () => [range.from, range.to] } },
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

/**
 * Draw one metric's chart in a new box appended to `container`. `config` is the server's
 * chart config (url, timeZone, labels, optional hours); returns { append(ts, value) } for
 * live readings, or null when there is nothing to draw (with `live`, an empty chart is
 * drawn all the same, for the readings to come).
 */
export async function drawReadingsChart(container, config, metric, { points = 288, height = 220, live = false } = {}) {
  const box = document.createElement("div");
  box.className = "chart";
  box.dataset.metric = metric.metric;
  const title = document.createElement("h3");
  title.textContent = metric.unit ? `${metric.metric} (${metric.unit})` : metric.metric;
  box.append(title);
  container.append(box);
  let url = `${config.url}?metric=${encodeURIComponent(metric.metric)}&points=${points}`;
  if (config.hours) url += `&from=${encodeURIComponent(new Date(Date.now() - config.hours * 3600e3).toISOString())}`;
  let series;
  try {
    series = await fetchJSON(url);
  } catch (error) {
    console.error(error);
    note(box, config.labels.error);
    return null;
  }
  let empty = null;
  if (!series.buckets.length) {
    note(box, config.labels.empty);
    box.dataset.ready = "empty";
    if (!live) return null;
    empty = box.querySelector(".chart-note"); // a live chart starts empty and grows
  }
  const { xs, rows } = withGaps(series.buckets, series.bucket_seconds);
  const data = [xs, rows.map((b) => b.avg), rows.map((b) => b.min), rows.map((b) => b.max)];
  const limits = [series.high, series.low].filter((v) => v != null);
  for (const limit of limits) data.push(xs.map(() => limit));
  const range = { from: Date.parse(series.from) / 1000, to: Date.parse(series.to) / 1000 };
  const plot = new uPlot(chartOptions(series, config, box.clientWidth || 600, height, range), data, box);
  new ResizeObserver(() => plot.setSize({ width: box.clientWidth, height })).observe(box);
  if (!empty) box.dataset.ready = "true";
  return {
    box,
    /** Add a live reading (epoch seconds, value): the window slides to keep its length. */
    append(ts, value) {
      if (typeof value !== "number" || !Number.isFinite(value)) return;
      const span = range.to - range.from;
      range.to = Math.max(range.to, ts);
      range.from = range.to - span;
      data[0].push(ts);
      data[1].push(value);
      data[2].push(value);
      data[3].push(value);
      limits.forEach((limit, i) => data[4 + i].push(limit));
      plot.setData(data);
      if (empty) { empty.remove(); empty = null; box.dataset.ready = "true"; }
      box.dataset.live = String(data[0].length);
    },
  };
}
