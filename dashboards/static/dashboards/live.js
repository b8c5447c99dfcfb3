// The live channel of the staff screens: one websocket to /ws/ops/, a snapshot first and
// events after it. Reconnects with backoff, starts again from a fresh snapshot after every
// reconnect, asks for a resync when a sequence number shows a gap or a group's counter
// started again (another epoch: Redis came back empty), and calls the channel
// stale when it hears nothing for 2.5 heartbeats. Tolerates a server that sends no seq,
// no heartbeat_seconds and no heartbeats (it then pings to keep proof of life). When units
// are reorganised the server moves the socket to its new groups and sends a new snapshot;
// the page reloads soon after, to redraw what the server drew (its wards).

const DEFAULT_HEARTBEAT_SECONDS = 15;
const STALE_FACTOR = 2.5;
const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 30000;
const RESYNC_TIMEOUT_MS = 10000;
const RELOAD_SPREAD_MS = 60000;

/**
 * The websocket URL for `path`: same scheme family as the page, port per <meta name="ioc-ws-port">.
 * It asks for batched framing (`batch=1`): the server may then send several events in one
 * `{"type": "batch", "events": [...]}` message, which this client unpacks; without it every
 * event is its own message (the documented contract, for other clients).
 */
export function liveURL(path = "/ws/ops/") {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  const port = document.querySelector('meta[name="ioc-ws-port"]')?.content?.trim();
  const host = port ? `${window.location.hostname}:${port}` : window.location.host;
  const url = new URL(`${scheme}//${host}${path}`);
  url.searchParams.set("batch", "1");
  return url.toString();
}

/** Milliseconds to wait before reconnect attempt `attempt` (0-based): 1 s doubling to 30 s, ±25 % jitter. */
export function backoffDelay(attempt) {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** attempt);
  return Math.min(BACKOFF_MAX_MS, Math.round(base * (0.75 + Math.random() * 0.5)));
}

export class LiveChannel {
  /**
   * @param {object} options
   * @param {string} [options.url] websocket URL (default: liveURL())
   * @param {Date} [options.dataAt] when the data already on the page was true (server render time)
   */
  constructor({ url = liveURL(), dataAt = new Date() } = {}) {
    this.url = url;
    this.state = "connecting"; // then "live" | "reconnecting" | "stale"
    this.since = new Date();
    this.lastMessageAt = dataAt;
    this.lastSnapshotAt = null;
    this.heartbeatSeconds = DEFAULT_HEARTBEAT_SECONDS;
    this.serverHeartbeats = false;
    this.seq = {};
    this.epoch = {};
    this.socket = null;
    this.openedAt = 0;
    this.attempt = 0;
    this.everLive = false;
    this.resyncPendingSince = 0;
    this.listeners = { snapshot: [], event: [], state: [] };
    this.reconnectTimer = null;
    this.reloadTimer = null;
    this.watchdog = null;
    this.stopped = true;
  }

  onSnapshot(fn) { return this.#on("snapshot", fn); }
  onEvent(fn) { return this.#on("event", fn); }
  onState(fn) { return this.#on("state", fn); }

  #on(kind, fn) {
    this.listeners[kind].push(fn);
    return () => { this.listeners[kind] = this.listeners[kind].filter((f) => f !== fn); };
  }

  #emit(kind, payload) {
    for (const fn of this.listeners[kind]) {
      try { fn(payload, this); } catch (error) { console.error(error); }
    }
  }

  #setState(state, since = new Date()) {
    if (state === this.state) return;
    this.state = state;
    this.since = since;
    this.#emit("state", { state, since });
  }

  start() {
    this.stopped = false;
    this.#connect();
    this.watchdog = window.setInterval(() => this.#checkSilence(), 1000);
    return this;
  }

  stop() {
    this.stopped = true;
    window.clearInterval(this.watchdog);
    window.clearTimeout(this.reconnectTimer);
    this.socket?.close(1000);
  }

  send(message) {
    if (this.socket?.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  resync() {
    if (this.resyncPendingSince && Date.now() - this.resyncPendingSince < RESYNC_TIMEOUT_MS) return;
    if (this.send({ type: "resync" })) this.resyncPendingSince = Date.now();
  }

  #connect() {
    window.clearTimeout(this.reconnectTimer);
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch (error) {
      console.error(error);
      this.#scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.addEventListener("open", () => { this.openedAt = Date.now(); });
    socket.addEventListener("message", (message) => {
      if (socket === this.socket) this.#receive(message.data);
    });
    socket.addEventListener("close", () => {
      if (socket !== this.socket) return;
      this.socket = null;
      this.#lost();
      this.#scheduleReconnect();
    });
  }

  #lost() {
    if (this.stopped) return;
    if (this.state === "live") this.#setState("reconnecting");
    // Never connected: the page keeps what the server rendered, which is that old.
    else if (!this.everLive) this.#setState("stale", this.lastMessageAt);
  }

  #scheduleReconnect() {
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    this.reconnectTimer = window.setTimeout(() => this.#connect(), delay);
  }

  #checkSilence() {
    const limit = STALE_FACTOR * this.heartbeatSeconds * 1000;
    const silent = Date.now() - Math.max(this.lastMessageAt.getTime(), this.openedAt || 0);
    if (this.socket?.readyState === WebSocket.OPEN && !this.serverHeartbeats && this.lastSnapshotAt) {
      // An older server sends no heartbeats: a ping's pong is the proof of life.
      if (silent >= this.heartbeatSeconds * 1000 && Date.now() - (this.lastPingAt || 0) >= this.heartbeatSeconds * 1000) {
        this.lastPingAt = Date.now();
        this.send({ type: "ping" });
      }
    }
    if (silent < limit) return;
    if (this.state !== "stale") this.#setState("stale", this.lastMessageAt);
    if (this.socket?.readyState === WebSocket.OPEN) {
      // A half-open socket: drop it; the close handler reconnects.
      const socket = this.socket;
      this.socket = null;
      socket.close();
      this.#scheduleReconnect();
    }
  }

  #receive(raw) {
    let message;
    try { message = JSON.parse(raw); } catch { return; }
    if (!message || typeof message !== "object") return;
    this.lastMessageAt = new Date();
    switch (message.type) {
      case "snapshot": return this.#snapshot(message);
      case "heartbeat": return this.#heartbeat(message);
      case "pong": return undefined;
      case "batch":
        // Events of one group, each numbered: handled one by one, as if sent alone.
        for (const event of Array.isArray(message.events) ? message.events : []) this.#event(event);
        return undefined;
      default: return this.#event(message);
    }
  }

  #snapshot(snapshot) {
    this.lastSnapshotAt = new Date();
    this.resyncPendingSince = 0;
    this.attempt = 0;
    this.everLive = true;
    if (Number(snapshot.heartbeat_seconds) > 0) {
      this.heartbeatSeconds = Number(snapshot.heartbeat_seconds);
      this.serverHeartbeats = true;
    }
    this.seq = snapshot.seq && typeof snapshot.seq === "object" ? { ...snapshot.seq } : {};
    this.epoch = snapshot.epoch && typeof snapshot.epoch === "object" ? { ...snapshot.epoch } : {};
    this.#emit("snapshot", snapshot);
    this.#setState("live");
  }

  #heartbeat(beat) {
    this.serverHeartbeats = true;
    if (this.state !== "live" && this.lastSnapshotAt) this.#setState("live");
    if (typeof beat.seq !== "number" || !beat.group) return;
    if (this.#restarted(beat)) {
      this.seq[beat.group] = beat.seq;
      this.resync();
      return;
    }
    const last = this.seq[beat.group];
    if (last === undefined) this.seq[beat.group] = beat.seq;
    // Ahead: we missed events. Behind: the server's counter restarted (Redis came back
    // without its data), and events numbered again from 1 would look old: resync either way.
    else if (beat.seq !== last) this.resync();
  }

  /**
   * Whether `message` (an event or a heartbeat) was numbered by a counter other than the one
   * this client followed: another epoch than the last seen for its group. A group whose
   * epoch was not known yet (its first message, or a snapshot taken with Redis away)
   * takes the new one without resync; its seq then decides.
   */
  #restarted(message) {
    if (typeof message.epoch !== "string" || !message.epoch) return false;
    const known = this.epoch[message.group];
    this.epoch[message.group] = message.epoch;
    return Boolean(known) && known !== message.epoch;
  }

  #event(event) {
    if (this.state !== "live" && this.lastSnapshotAt) this.#setState("live");
    if (typeof event.seq === "number" && event.group) {
      if (this.#restarted(event)) {
        // The group's counter started again: its numbers say nothing of what we have seen.
        // The event is new; show it, and catch up on what the restart lost.
        this.seq[event.group] = event.seq;
        this.resync();
        this.#emit("event", event);
        return;
      }
      const last = this.seq[event.group];
      if (last !== undefined && event.seq <= last) return; // already in the snapshot
      if (last !== undefined && event.seq > last + 1) this.resync();
      this.seq[event.group] = event.seq;
    }
    if (event.type === "units.reorganised") this.#reloadSoon();
    this.#emit("event", event);
  }

  /**
   * The units were reorganised: the server has already moved this socket to its new scope
   * and sent a new snapshot, but the page's own parts (ward lists, boundaries, a retired
   * ward's page) are drawn by the server: load it again, once, at a moment of its own
   * within a minute so that every screen of the city does not ask at the same instant.
   */
  #reloadSoon() {
    if (this.reloadTimer) return;
    this.reloadTimer = window.setTimeout(() => window.location.reload(), Math.random() * RELOAD_SPREAD_MS);
  }
}
