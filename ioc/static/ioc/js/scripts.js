// Vendored classic scripts (hls.js, mpegts.js) loaded on first need rather than with every
// page: the /ops/ side panel and the live video player share them.
const scripts = new Map();

/** A vendored classic script setting `window[name]`, loaded once, on first need. */
export function loadScript(src, name) {
  if (window[name]) return Promise.resolve(window[name]);
  if (!src) return Promise.reject(new Error(`no address for ${name}`));
  if (!scripts.has(src)) {
    scripts.set(src, new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = src;
      script.onload = () => resolve(window[name]);
      script.onerror = () => { scripts.delete(src); reject(new Error(`could not load ${src}`)); };
      document.head.append(script);
    }));
  }
  return scripts.get(src);
}
