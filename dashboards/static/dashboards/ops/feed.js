// The alert feed: the open alerts of the state, newest first, each with its severity,
// status, repeat count, device link, and a link to its incident or a button that opens one.
import { el } from "../../ioc/js/dom.js";
import { format, stamp } from "./labels.js";
import { SEVERITIES } from "./state.js";

const FEED_MAX = 100;

export class AlertFeed {
  /**
   * @param {object} options
   * @param {HTMLElement} options.root the dashboard element, holding [data-feed]
   * @param {object} options.state the dashboard's state (state.js)
   * @param {object} options.labels the live labels
   * @param {import("./cases.js").CaseLayer} options.incidents the incidents, for their pages' URLs
   * @param {(code: string) => string} options.deviceURL the page of device `code`
   */
  constructor({ root, state, labels, incidents, deviceURL }) {
    Object.assign(this, { root, state, labels, incidents, deviceURL });
    this.list = root.querySelector("[data-feed]");
  }

  render() {
    const alerts = [...this.state.alerts.values()]
      .sort((a, b) => (Date.parse(b.raised_at) || 0) - (Date.parse(a.raised_at) || 0) || b.id - a.id)
      .slice(0, FEED_MAX);
    if (!alerts.length) {
      this.list.replaceChildren(el("li", { class: "muted feed-empty", text: this.labels.noAlerts || "" }));
      return;
    }
    this.list.replaceChildren(...alerts.map((alert) => this.#item(alert)));
  }

  #item(alert) {
    const labels = this.labels;
    const meta = el("span", { class: "feed-meta muted" });
    meta.append(`${stamp(alert.raised_at, labels.never)} · ${(labels.severity || {})[alert.severity] || alert.severity}`);
    if (alert.status && alert.status !== "active") meta.append(` · ${(labels.alertStatus || {})[alert.status] || alert.status}`);
    if (alert.occurrences > 1) meta.append(` · ${format(labels.occurrences, { n: alert.occurrences })}`);
    if (alert.device) {
      meta.append(" · ");
      meta.append(el("a", { href: this.deviceURL(alert.device), text: alert.device }));
    }
    meta.append(" · ");
    meta.append(this.#incidentControl(alert));
    return el(
      "li",
      { class: `feed-item severity-${SEVERITIES.includes(alert.severity) ? alert.severity : "info"}`, "data-alert-id": String(alert.id) },
      el("strong", { class: "feed-title", text: alert.title || alert.cause || "" }),
      meta,
    );
  }

  // An alert in an incident links to it; another gets a button that opens one from it. The
  // form is built on click, outside the feed, which the live channel may redraw at any time.
  #incidentControl(alert) {
    if (alert.incident) return el("a", { href: this.incidents.url({ id: alert.incident }), text: this.labels.incident || "" });
    const token = this.root.querySelector("[name=csrfmiddlewaretoken]");
    const action = this.root.dataset.fromAlertUrl;
    if (!token || !action) return el("span");
    const button = el("button", { type: "button", class: "linklike feed-open-incident", text: this.labels.openIncident || "" });
    button.addEventListener("click", () => {
      const form = el("form", { method: "post", action: action.replace(/0\/$/, `${alert.id}/`), hidden: "" });
      form.append(el("input", { type: "hidden", name: "csrfmiddlewaretoken", value: token.value }));
      document.body.append(form);
      form.submit();
    });
    return button;
  }
}
