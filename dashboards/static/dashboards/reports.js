// The reports page: alerts (and incidents) per day and severity as stacked bars, drawn with
// the vendored uPlot from the figures the server rendered into the page (no second fetch). uPlot has no
// stacking of its own: each severity's bar is drawn as the sum of it and the ones below
// it, the tallest first, while the legend shows each severity's own count.


function dayStart(iso) {
  // Midnight of that day in the city (UTC+7, no daylight saving): the bar's position.
  return Date.parse(`${iso}T00:00:00+07:00`) / 1000;
}

function draw(box) {
  const config = JSON.parse(document.getElementById(box.dataset.reportChart)?.textContent || "{}");
  if (!box || typeof uPlot === "undefined" || !config.days) return;
  const xs = config.days.map(dayStart);
  const total = config.series.reduce((sum, s) => sum + s.counts.reduce((a, b) => a + b, 0), 0);
  if (!total) {
    const note = document.createElement("p");
    note.className = "muted";
    note.textContent = config.labels.empty;
    box.append(note);
    box.dataset.ready = "empty";
    return;
  }
  const bars = uPlot.paths.bars({ size: [0.7, 48], align: 0 });
  const stacked = config.series.map((_s, k) => xs.map((_x, i) => config.series.slice(k).reduce((sum, s) => sum + s.counts[i], 0)));
  const options = {
    width: box.clientWidth || 800,
    height: 300,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), config.timeZone),
    series: [
      {
        label: config.labels.day,
        value: (u, ts) => (ts == null ? "–" : new Date(ts * 1000).toLocaleDateString("en-GB", { timeZone: config.timeZone })),
      },
      ...config.series.map((s) => ({
        label: s.label,
        stroke: s.colour,
        fill: s.colour,
        width: 0,
        paths: bars,
        points: { show: false },
        value: (u, _v, _si, index) => (index == null ? "–" : String(s.counts[index])),
      })),
    ],
    scales: { x: { time: true, range: (u, min, max) => [min - 43200, max + 43200] }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
    axes: [
      {
        values: (u, splits) => splits.map((ts) => new Date(ts * 1000).toLocaleDateString("en-GB", { timeZone: config.timeZone, day: "2-digit", month: "2-digit" })),
      },
      { values: (u, splits) => splits.map((v) => (Number.isInteger(v) ? String(v) : "")) },
    ],
    cursor: { drag: { x: false, y: false } },
  };
  const data = [xs, ...stacked];
  const plot = new uPlot(options, data, box);
  new ResizeObserver(() => plot.setSize({ width: box.clientWidth, height: 300 })).observe(box);
  box.dataset.ready = "true";
}

for (const box of document.querySelectorAll("[data-report-chart]")) draw(box);
