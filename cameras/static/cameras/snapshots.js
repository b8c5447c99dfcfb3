// Refreshing camera snapshots, shared by the device page, the /ops/ side panel and the
// camera wall: the next image is loaded off-screen (cache-busted) and swapped in only once
// it has arrived, so a slow camera never flashes a broken image.

/**
 * Refresh `img` every `seconds` while `active()` says so (default: the page is visible).
 * `onState(failed)` hears whether the last load failed. Returns a function that stops it.
 */
export function refreshImage(img, { seconds = 10, active = () => !document.hidden, onState = () => {} } = {}) {
  const base = (img.getAttribute("src") || "").split("?")[0];
  let busy = false;
  const load = () => {
    if (busy || !base || !active()) return;
    busy = true;
    const next = new Image();
    next.onload = () => { busy = false; img.src = next.src; onState(false); };
    next.onerror = () => { busy = false; onState(true); };
    next.src = `${base}?t=${Date.now()}`;
  };
  const failed = () => onState(true);
  const loaded = () => onState(false);
  img.addEventListener("error", failed);
  img.addEventListener("load", loaded);
  // The first image may have settled before this script ran (a fast error, a cached
  // image): report it now rather than at the next refresh.
  if (base && img.complete) onState(img.naturalWidth === 0);
  const timer = window.setInterval(load, seconds * 1000);
  return () => {
    window.clearInterval(timer);
    img.removeEventListener("error", failed);
    img.removeEventListener("load", loaded);
  };
}
