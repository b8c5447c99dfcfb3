// Text of the operations screens: the server's translated templates ("%(n)s ago") filled
// in, and times shown in Vietnam time (24 h, dd/mm/yyyy) whatever the browser's zone.
const TIME_ZONE = "Asia/Ho_Chi_Minh";

/** `template` with each `%(key)s` replaced by `values[key]`. */
export function format(template, values) {
  return String(template || "").replace(/%\((\w+)\)s/g, (_m, key) => String(values[key] ?? ""));
}

function dateParts(value) {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return null;
  const parts = new Intl.DateTimeFormat("en-GB", {
    timeZone: TIME_ZONE, hour12: false, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  }).formatToParts(date);
  return Object.fromEntries(parts.map((p) => [p.type, p.value]));
}

/** "hh:mm" in Vietnam time (24 h). */
export function clock(value) {
  const p = dateParts(value);
  return p ? `${p.hour}:${p.minute}` : "–";
}

/** "hh:mm dd/mm/yyyy" in Vietnam time; `never` when there is no valid time. */
export function stamp(value, never) {
  const p = dateParts(value);
  return p ? `${p.hour}:${p.minute} ${p.day}/${p.month}/${p.year}` : (never || "–");
}

/** How long ago `since` was, in the labels' seconds, minutes or hours. */
export function age(since, labels) {
  const seconds = Math.max(0, Math.round((Date.now() - since.getTime()) / 1000));
  if (seconds < 90) return format(labels.seconds, { n: seconds });
  if (seconds < 5400) return format(labels.minutes, { n: Math.round(seconds / 60) });
  return format(labels.hours, { n: Math.round(seconds / 3600) });
}
