// A camera played live: the platform issues a short-lived address (/ops/devices/<code>/stream,
// scoped like the device page), the relay's websocket sends the stream as MPEG-TS, and
// mpegts.js (vendored, window.mpegts) plays it through Media Source Extensions. The relay's
// text frames (state, codec, reason) reach this module through mpegts.js's documented
// customLoader hook. The element says connecting / live / stalled / unavailable with the
// reason, shows the snapshot while it cannot play, says when the platform transcodes the
// stream (an administrator's setting for the camera), and reconnects by itself.
// An installation with MediaMTX instead of the relay (IOC_VIDEO_MEDIA_SERVER) gets "hls"
// addresses: the vendored hls.js (loaded on first need) plays MediaMTX's low-latency HLS,
// the token sent as an Authorization header on every request and never in a URL, and a new
// token asked for before the current one expires (HLS asks for the playlist all along).
import { loadScript } from "../ioc/js/scripts.js";

const RETRY_FIRST_MS = 2000;
const RETRY_MAX_MS = 30000;
const STALL_MS = 6000;
// Reasons a new attempt cannot fix: the element says so and stops.
// ("busy": the relay transcodes as many cameras as it may; the sub-stream is offered.)
const FINAL = new Set(["not_rtsp", "outside_network", "no_stream", "scope", "not_allowed", "hevc", "unsupported", "busy"]);
// Reasons of a refused address: ask for a new one at once.
const ADDRESS = new Set(["expired", "path", "signature", "audience", "issuer", "malformed", "user"]);
const HEVC_TYPE = 'video/mp4; codecs="hvc1.1.6.L93.B0"';
const HEVC_CODEC = /\b(hvc1|hev1)\b/i;
// An HLS token is renewed when this share of its lifetime has passed; a renewal that fails
// (the network, the rate limit) is tried again this soon, while the current token lasts.
const RENEW_AT = 0.5;
const RENEW_RETRY_MS = 2000;

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
   * @param {object} [address] a stream address issued with the page (what the element's
   *   data-stream-url answers): the first attempt uses it rather than ask
   */
  constructor(root, labels, address = null) {
    this.root = root;
    this.labels = labels;
    this.address = address;
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
    this.player = null; // { close() } of the playing engine (mpegts.js or hls.js)
    this.token = ""; // the HLS token sent on every request to the media server
    this.attempt = 0;
    this.timer = null;
    this.renewTimer = null;
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
    this.show("connecting");
    // The address issued with the page, if any (the wall's tiles start at once); else ask.
    let grant = this.issuedAddress();
    if (!grant) {
      let answer;
      try {
        answer = await this.requestAddress();
      } catch (error) {
        if (run !== this.run) return;
        console.error(error);
        this.fail("no_relay");
        return;
      }
      // Stopped (a closed panel) or restarted (the other stream chosen) meanwhile: no
      // player, no socket left behind.
      if (run !== this.run) return;
      if (answer.status === 404 || answer.status === 403) {
        this.show("unavailable", "not_allowed");
        return;
      }
      if (!answer.grant) {
        console.error(`stream address: HTTP ${answer.status}`);
        this.fail("no_relay");
        return;
      }
      grant = answer.grant;
    }
    if (grant.protocol === "hls") await this.playHls(grant, run);
    else this.playRelay(grant);
  }

  /** A new address of this stream from the platform: `{grant}`, or `{status}` when refused. */
  async requestAddress() {
    const url = `${this.root.dataset.streamUrl}?quality=${encodeURIComponent(this.quality)}`;
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) return { status: response.status };
    return { grant: await response.json() };
  }

  /** Play the relay's MPEG-TS websocket with mpegts.js (loaded with the page). */
  playRelay(grant) {
    if (!window.mpegts || !window.mpegts.getFeatureList().mseLivePlayback) {
      this.show("unavailable", "unsupported");
      return;
    }
    const mpegts = window.mpegts;
    const player = mpegts.createPlayer(
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
    this.player = {
      close() {
        player.pause();
        player.unload();
        player.detachMediaElement();
        player.destroy();
      },
    };
    player.on(mpegts.Events.ERROR, (type, detail) => {
      console.warn("live video", type, detail);
      this.fail(type === mpegts.ErrorTypes.MEDIA_ERROR ? "invalid" : "failed");
    });
    player.attachMediaElement(this.video);
    player.load();
    this.lastProgress = Date.now();
    const playing = player.play();
    if (playing && playing.catch) playing.catch(() => {});
  }

  /** Play MediaMTX's HLS with hls.js, the grant's token in an Authorization header. */
  async playHls(grant, run) {
    let Hls = null;
    try {
      Hls = await loadScript(grant.script, "Hls");
    } catch (error) {
      console.error(error);
    }
    if (run !== this.run) return;
    if (!Hls || !Hls.isSupported()) {
      this.show("unavailable", "unsupported");
      return;
    }
    this.token = grant.token;
    const hls = new Hls({
      lowLatencyMode: true,
      backBufferLength: 30,
      // Every request (playlists, segments, parts) carries the latest token, as a header:
      // a URL would leave it in the media server's and proxies' logs.
      xhrSetup: (xhr, url) => {
        xhr.open("GET", url, true);
        xhr.setRequestHeader("Authorization", `Bearer ${this.token}`);
      },
    });
    const engine = { close: () => hls.destroy() };
    this.player = engine;
    hls.on(Hls.Events.MANIFEST_LOADED, (_event, data) => {
      const codecs = (data.levels || []).map((level) => level.videoCodec || level.attrs?.CODECS || "");
      if (!codecs.some((codec) => HEVC_CODEC.test(codec)) || this.canPlayHevc()) return;
      // Out of hls.js's own event: it is destroyed here.
      window.setTimeout(() => this.player === engine && this.unplayableHevc(), 0);
    });
    hls.on(Hls.Events.MANIFEST_PARSED, () => {
      const playing = this.video.play();
      if (playing && playing.catch) playing.catch(() => {});
    });
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (!data.fatal || this.player !== engine) return;
      console.warn("live video", data.type, data.details);
      this.fail(this.hlsReason(Hls, data));
    });
    hls.loadSource(grant.url);
    hls.attachMedia(this.video);
    this.lastProgress = Date.now();
    this.scheduleRenewal(grant, run);
  }

  /** Why hls.js gave up, as the element says it. */
  hlsReason(Hls, data) {
    const status = data.response?.code ?? data.networkDetails?.status;
    // The media server refused the token (expired, another path, a key it does not know):
    // a new one is asked for after a pause, never in a tight loop.
    if (status === 401 || status === 403) return "media_server_refused";
    if (status === 404) return "not_found";
    const described = `${data.mimeType || ""} ${data.error?.message || ""} ${data.reason || ""}`;
    if (HEVC_CODEC.test(described) && !this.canPlayHevc()) return "hevc";
    if (data.details === Hls.ErrorDetails.MANIFEST_INCOMPATIBLE_CODECS_ERROR) return "invalid";
    if (data.type === Hls.ErrorTypes.MEDIA_ERROR) return "invalid";
    if (data.type === Hls.ErrorTypes.NETWORK_ERROR) return status ? "failed" : "no_relay";
    return "failed";
  }

  /** Ask for the next token before this one expires and send it from then on: playback
   *  goes on (hls.js is not touched); a camera no longer in the viewer's scope stops. */
  scheduleRenewal(grant, run) {
    window.clearTimeout(this.renewTimer);
    const lifetime = (Number(grant.expires_in) || 60) * 1000;
    this.renewTimer = window.setTimeout(() => this.renew(run), Math.max(1000, lifetime * RENEW_AT));
  }

  async renew(run) {
    let answer = null;
    try {
      answer = await this.requestAddress();
    } catch (error) {
      console.warn(error);
    }
    if (run !== this.run || !this.player) return;
    if (answer?.grant?.token) {
      this.token = answer.grant.token;
      this.scheduleRenewal(answer.grant, run);
    } else if (answer?.status === 404 || answer?.status === 403) {
      this.teardown();
      this.show("unavailable", "scope");
    } else {
      this.renewTimer = window.setTimeout(() => this.renew(run), RENEW_RETRY_MS);
    }
  }

  canPlayHevc() {
    return Boolean(window.MediaSource && MediaSource.isTypeSupported(HEVC_TYPE));
  }

  /** An H.265 stream this browser cannot play: said, the sub-stream offered. */
  unplayableHevc() {
    this.teardown();
    this.show("unavailable", "hevc");
  }

  /** The address issued with the page, once, if it is still for this stream and time. */
  issuedAddress() {
    const address = this.address;
    this.address = null;
    if (!address || address.quality !== this.quality) return null;
    return Date.parse(address.expires_at) > Date.now() ? address : null;
  }

  /** A state the relay sent. */
  relayState(message) {
    if (message.codec === "hevc" && !this.canPlayHevc()) {
      this.unplayableHevc();
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
    window.clearTimeout(this.renewTimer);
    if (!this.player) return;
    const player = this.player;
    this.player = null;
    this.token = "";
    this.lastTime = 0;
    this.transcoded = false;
    try {
      player.close();
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

/** Start every [data-live-video] element on the page with the labels in #ioc-video-labels
 *  and the stream addresses issued with the page in #ioc-video-addresses (if any). */
export function startLiveVideos(root = document) {
  const island = document.getElementById("ioc-video-labels");
  if (!island) return [];
  const labels = JSON.parse(island.textContent);
  const addresses = JSON.parse(document.getElementById("ioc-video-addresses")?.textContent || "{}");
  return [...root.querySelectorAll("[data-live-video]")].map((element) => {
    const live = new LiveVideo(element, labels, addresses[element.dataset.streamUrl]);
    element.iocLiveVideo = live;
    live.start();
    return live;
  });
}
