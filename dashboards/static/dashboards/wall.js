// The camera wall: refresh the snapshots of the tiles on screen (cache-busted, through the
// server's proxy), mark offline and faulty cameras as device.status events arrive on the
// live channel, and put the wall in full screen for a wall display.
import { startLiveVideos } from "../cameras/live_video.js";
import { refreshImage } from "../cameras/snapshots.js";
import { LiveChannel } from "./live.js";

const wall = document.querySelector("[data-wall]");
const labels = JSON.parse(document.getElementById("ioc-wall-labels")?.textContent || "{}");
const seconds = Number(wall.dataset.refreshSeconds) || 5;
const DOWN = new Set(["offline", "fault"]);
const onScreen = new Set();

function tileOf(code) {
  return wall.querySelector(`[data-tile="${CSS.escape(code)}"]`);
}

function setStatus(tile, status) {
  tile.dataset.status = status;
  tile.className = tile.className.replace(/\bstatus-\S+/g, "").trim() + ` status-${status}`;
  tile.classList.toggle("down", DOWN.has(status));
  const badge = tile.querySelector("[data-wall-status]");
  badge.className = `badge wall-status status-${status}`;
  badge.textContent = (labels.status || {})[status] || status;
}

// Only tiles on screen refresh: a 4×4 wall on a phone loads what the phone shows.
const observer = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    if (entry.isIntersecting) onScreen.add(entry.target.dataset.tile);
    else onScreen.delete(entry.target.dataset.tile);
  }
});

/** Whether a tile plays its camera live (live_video.js sets its state). */
function playing(tile) {
  return tile.dataset.state === "live" || tile.dataset.state === "stalled";
}

for (const tile of wall.querySelectorAll("[data-tile]")) {
  observer.observe(tile);
  const image = tile.querySelector("[data-wall-image]");
  if (!image) continue;
  const code = tile.dataset.tile;
  const empty = tile.querySelector("[data-wall-noimage]");
  const loading = tile.querySelector("[data-wall-loading]");
  refreshImage(image, {
    seconds,
    // A tile playing live needs no snapshot; one that cannot play shows it.
    active: () => !document.hidden && onScreen.has(code) && !playing(tile),
    onState: (failed) => {
      image.hidden = failed || playing(tile);
      empty.hidden = !failed;
      if (loading) loading.hidden = true;
      tile.dataset.image = failed ? "failed" : "ok";
    },
  });
}

// Tiles of cameras with an RTSP stream play it live (the sub-stream), the snapshot standing in.
// Before the live channel: a browser opens one websocket to a host at a time, and the
// pictures are what a wall is opened for.
startLiveVideos(wall);

// --- Live status ---------------------------------------------------------------------------

const indicator = document.querySelector("[data-live-status]");
const liveLabels = { live: indicator?.dataset.live, connecting: indicator?.textContent };
const channel = new LiveChannel();
channel.onSnapshot((snapshot) => {
  for (const [code, device] of Object.entries(snapshot.devices || {})) {
    const tile = tileOf(code);
    if (tile && device.status && device.status !== tile.dataset.status) setStatus(tile, device.status);
  }
});
channel.onEvent((event) => {
  if (event.type !== "device.status") return;
  const data = event.data || {};
  const tile = data.device ? tileOf(data.device) : null;
  if (tile && data.status) setStatus(tile, data.status);
});
channel.onState(({ state }) => {
  if (!indicator) return;
  indicator.dataset.state = state;
  indicator.textContent = (state === "live" ? liveLabels.live : indicator.dataset[state]) || indicator.textContent;
});
channel.start();
window.iocWall = { channel, setStatus };

// --- Full screen ---------------------------------------------------------------------------

const button = wall.querySelector("[data-fullscreen]");
const renderButton = () => {
  button.textContent = document.fullscreenElement ? labels.exitFullscreen : labels.fullscreen;
};
if (!document.fullscreenEnabled) button.hidden = true;
button.addEventListener("click", () => {
  if (document.fullscreenElement) document.exitFullscreen();
  else wall.requestFullscreen?.().catch((error) => console.error(error));
});
document.addEventListener("fullscreenchange", renderButton);
