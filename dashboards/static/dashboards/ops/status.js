// The live channel's state in the header (live, reconnecting, stale since hh:mm) and how
// long ago each source (devices, alerts) was last known current.
import { age, clock, format, stamp } from "./labels.js";

export class LiveStatus {
  /**
   * @param {object} options
   * @param {HTMLElement} options.root the dashboard element, holding the [data-age] spans
   * @param {object} options.state the dashboard's state (state.js): its `updated` times
   * @param {object} options.labels the live labels
   */
  constructor({ root, state, labels }) {
    Object.assign(this, { root, state, labels });
    this.indicator = document.querySelector("[data-live-status]");
  }

  /** Show `channel`'s state. */
  render(channel) {
    const { indicator, labels } = this;
    if (!indicator) return;
    indicator.dataset.state = channel.state;
    if (channel.state === "live") indicator.textContent = labels.live || "Live";
    else if (channel.state === "reconnecting") indicator.textContent = labels.reconnecting || "Reconnecting…";
    else if (channel.state === "stale") indicator.textContent = format(labels.staleSince, { time: clock(channel.since) });
    else indicator.textContent = labels.connecting || "Connecting…";
    indicator.title = stamp(channel.since, labels.never);
  }

  /** Say that the page is history, with no live channel. */
  renderHistory() {
    if (!this.indicator) return;
    this.indicator.dataset.state = "history";
    this.indicator.textContent = this.labels.history || "History";
    this.indicator.title = "";
  }

  renderAges() {
    for (const [source, at] of Object.entries(this.state.updated)) {
      const target = this.root.querySelector(`[data-age="${source}"]`);
      if (target && at) target.textContent = format(this.labels.updatedAgo, { age: age(at, this.labels) });
    }
  }
}
