// A camera played live: the platform issues a short-lived address (/ops/devices/<code>/stream,
// scoped like the device page), the relay's websocket sends the stream as MPEG-TS, and
// mpegts.js (vendored, window.mpegts) plays it through Media Source Extensions. The relay's
// text frames (state, codec, reason) reach this module through mpegts.js's documented
// customLoader hook. The element says connecting / live / stalled / unavailable with the
// reason, shows the snapshot while it cannot play, says when the platform transcodes the
// stream (an administrator's setting for the camera), and reconnects by itself.

const RETRY_FIRST_MS = 2000;
const RETRY_MAX_MS = 30000;
const STALL_MS = 6000;
// Reasons a new attempt cannot fix: the element says so and stops.
// ("busy": the relay transcodes as many cameras as it may; the sub-stream is offered.)
const FINAL = new Set(["not_rtsp", "outside_network", "no_stream", "scope", "not_allowed", "hevc", "unsupported", "busy"]);
// Reasons of a refused address: ask for a new one at once.
const ADDRESS = new Set(["expired", "path", "signature", "audience", "issuer", "malformed", "user"]);
const HEVC_TYPE = 'video/mp4; codecs="hvc1.1.6.L93.B0"';

function format(template, values) {
  return String(template || "").replace(/%\((\w+)\)s/g, (_m, key) => (key in values ? values[key] : ""));
}

/** A mpegts.js loader reading the relay's websocket: binary frames to the player, text
 *  frames (JSON states) and the close to `live`. */
function relayLoader(live) {
  const { BaseLoader, LoaderStatus } = window.mpegts;
  return class RelayLoader extends BaseLoader {
    static isSupported() {
      return typeof WebSocket !== "undefined";
    }

    constructor() {
      super("ioc-relay");
      this._socket = null;
      this._received = 0;
      this._aborted = false;
    }

    open(dataSource) {
      this._status = LoaderStatus.kConnecting;
      const socket = new WebSocket(dataSource.url);
      socket.binaryType = "arraybuffer";
      this._socket = socket;
      socket.onopen = () => {
        this._status = LoaderStatus.kBuffering;
      };
      socket.onmessage = (frame) => {
        if (typeof frame.data === "string") {
          try {
            live.relayState(JSON.parse(frame.data));
          } catch (error) {
            console.error(error);
          }
          return;
        }
        const start = this._received;
        this._received += frame.data.byteLength;
        if (this._onDataArrival) this._onDataArrival(frame.data, start, this._received);
      };
      socket.onclose = () => {
        if (this._aborted) return;
        this._status = LoaderStatus.kComplete;
        live.relayClosed();
      };
    }

    abort() {
      this._aborted = true;
      if (this._socket) this._socket.close();
      this._status = LoaderStatus.kComplete;
    }

    destroy() {
      if (this._socket && !this._aborted) this.abort();
      super.destroy();
    }
  };
}

export class LiveVideo {
  /**
   * @param {HTMLElement} root the element holding a <video data-video>, a [data-video-state]
   *   and optionally a fallback [data-video-fallback] (the snapshot), buttons
   *   [data-video-quality] (the other stream) and [data-video-fullscreen], and a note
   *   [data-video-transcoded] shown while a stream the relay transcodes plays
   * @param {object} labels the server's translated labels (states and reasons)
   */
  constructor(root, labels) {
    this.root = root;
    this.labels = labels;
    this.video = root.querySelector("video[data-video]");
    this.stateText = root.querySelector("[data-video-state]");
    // The snapshot shown while the stream cannot play: inside the element (a wall tile)
    // or beside it (the device page's snapshot figure).
    this.fallback =
      root.querySelector("[data-video-fallback]") || root.parentElement?.querySelector("[data-video-fallback-for]");
    this.qualityButton = root.querySelector("[data-video-quality]");
    this.transcodedNote = root.querySelector("[data-video-transcoded]");
    this.transcoded = false;
    this.quality = root.dataset.quality || "sub";
    this.player = null;
    this.attempt = 0;
    this.timer = null;
    this.lastTime = 0;
    this.lastProgress = 0;
    this.stopped = false;
    this.run = 0; // counts starts: an attempt overtaken (restart, stop) while it awaited gives up
    this.watchdog = window.setInterval(() => this.check(), 1000);
    const full = root.querySelector("[data-video-fullscreen]");
    if (full) full.addEventListener("click", () => this.video.requestFullscreen?.());
    if (this.qualityButton) {
      this.qualityButton.addEventListener("click", () => {
        this.quality = this.quality === "main" ? "sub" : "main";
        this.restart(0);
      });
    }
  }

  /** What the element shows: `state` (connecting, live, stalled, unavailable) and why. */
  show(state, reason = "") {
    this.root.dataset.state = state;
    this.root.dataset.reason = reason;
    this.root.dataset.quality = this.quality;
    this.root.dataset.transcoded = String(this.transcoded);
    if (this.qualityButton) {
      this.qualityButton.textContent = this.quality === "main" ? this.labels.showSub : this.labels.showMain;
    }
    const playing = state === "live" || state === "stalled";
    this.video.hidden = !playing && state !== "connecting";
    if (this.transcodedNote) {
      this.transcodedNote.textContent = this.labels.transcoded || "";
      this.transcodedNote.hidden = !(playing && this.transcoded);
    }
    if (this.fallback) this.fallback.hidden = playing;
    if (!this.stateText) return;
    if (state === "unavailable") {
      const why = (this.labels.reasons || {})[reason] || this.labels.reasons.failed;
      this.stateText.textContent = format(this.labels.unavailable, { reason: why });
    } else {
      this.stateText.textContent = this.labels[state] || state;
    }
  }

  async start() {
    if (this.stopped) return;
    const run = ++this.run;
    if (!window.mpegts || !window.mpegts.getFeatureList().mseLivePlayback) {
      this.show("unavailable", "unsupported");
      return;
    }
    this.show("connecting");
    let grant;
    try {
      const url = `${this.root.dataset.streamUrl}?quality=${encodeURIComponent(this.quality)}`;
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (run !== this.run) return;
      if (response.status === 404 || response.status === 403) {
        this.show("unavailable", "not_allowed");
        return;
      }
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      grant = await response.json();
    } catch (error) {
      if (run !== this.run) return;
      console.error(error);
      this.fail("no_relay");
      return;
    }
    // Stopped (a closed panel) or restarted (the other stream chosen) meanwhile: no player,
    // no socket left behind.
    if (run !== this.run) return;
    const mpegts = window.mpegts;
    this.player = mpegts.createPlayer(
      { type: "mpegts", isLive: true, url: grant.url },
      {
        customLoader: relayLoader(this),
        enableWorker: false,
        enableStashBuffer: false,
        lazyLoad: false,
        liveBufferLatencyChasing: true,
        liveBufferLatencyMaxLatency: 1.5,
        liveBufferLatencyMinRemain: 0.3,
      },
    );
    this.player.on(mpegts.Events.ERROR, (type, detail) => {
      console.warn("live video", type, detail);
      this.fail(type === mpegts.ErrorTypes.MEDIA_ERROR ? "invalid" : "failed");
    });
    this.player.attachMediaElement(this.video);
    this.player.load();
    this.lastProgress = Date.now();
    const playing = this.player.play();
    if (playing && playing.catch) playing.catch(() => {});
  }

  /** A state the relay sent. */
  relayState(message) {
    if (message.codec === "hevc" && !(window.MediaSource && MediaSource.isTypeSupported(HEVC_TYPE))) {
      this.teardown();
      this.show("unavailable", "hevc");
      return;
    }
    if (message.state === "live") this.transcoded = message.transcoded === true;
    if (message.state === "unavailable") this.fail(message.reason || "failed");
  }

  /** The relay closed the stream (after saying why, or not). */
  relayClosed() {
    if (this.root.dataset.state !== "unavailable") this.fail("ended");
  }

  /** Frames advance: live; they stop: stalled, then a new attempt. */
  check() {
    if (!this.player || this.stopped) return;
    const now = Date.now();
    if (this.video.currentTime > 0 && this.video.currentTime > this.lastTime + 0.01) {
      this.lastTime = this.video.currentTime;
      this.lastProgress = now;
      this.attempt = 0;
      if (this.root.dataset.state !== "live") this.show("live");
    } else if (now - this.lastProgress > STALL_MS) {
      this.show("stalled");
      this.restart(0);
    }
  }

  fail(reason) {
    this.teardown();
    this.show("unavailable", reason);
    if (FINAL.has(reason) || this.stopped) return;
    this.restart(ADDRESS.has(reason) ? 0 : Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** this.attempt++));
  }

  restart(delay) {
    this.run += 1;
    this.teardown();
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.start(), delay);
  }

  teardown() {
    if (!this.player) return;
    const player = this.player;
    this.player = null;
    this.lastTime = 0;
    this.transcoded = false;
    try {
      player.pause();
      player.unload();
      player.detachMediaElement();
      player.destroy();
    } catch (error) {
      console.warn(error);
    }
  }

  stop() {
    this.stopped = true;
    this.run += 1;
    window.clearInterval(this.watchdog);
    window.clearTimeout(this.timer);
    this.teardown();
  }
}

/** Start every [data-live-video] element on the page with the labels in #ioc-video-labels. */
export function startLiveVideos(root = document) {
  const island = document.getElementById("ioc-video-labels");
  if (!island) return [];
  const labels = JSON.parse(island.textContent);
  return [...root.querySelectorAll("[data-live-video]")].map((element) => {
    const live = new LiveVideo(element, labels);
    element.iocLiveVideo = live;
    live.start();
    return live;
  });
}
