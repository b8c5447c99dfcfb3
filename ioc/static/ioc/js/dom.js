// Building the page from data without HTML (the house rule: data goes in as text, never
// through innerHTML or an API that takes HTML; no script here parses markup at all), and
// reading the json_script data islands.

/** The JSON of the page's `json_script` island `id`; `fallback` when the page has none. */
export function readJSON(id, fallback = {}) {
  const text = document.getElementById(id)?.textContent;
  return text ? JSON.parse(text) : fallback;
}

/** An element: `attrs` set as attributes ("class" and "text" as className and textContent), then `children` appended. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

/** `text` as an element, for Leaflet's tooltips, popups and icons, which read a string as HTML. */
export function plain(text) {
  return el("span", { text: String(text ?? "") });
}
