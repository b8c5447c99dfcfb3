// A chime for a new critical alert (Web Audio: no file to serve), and the mute button,
// remembered in localStorage. Browsers start audio only after a user gesture: until then
// the chime stays silent. Owns the audio context.
const MUTE_KEY = "ioc.dashboard.muted";
const NOTES = [[0, 880], [0.22, 660], [0.44, 880]]; // [start offset in s, frequency in Hz]

export class AlertSound {
  /** @param {HTMLElement} root the dashboard element, holding the [data-mute] button */
  constructor(root) {
    this.button = root.querySelector("[data-mute]");
    this.audio = null;
  }

  get muted() {
    return window.localStorage.getItem(MUTE_KEY) === "1";
  }

  listen() {
    this.button.addEventListener("click", () => {
      window.localStorage.setItem(MUTE_KEY, this.muted ? "0" : "1");
      this.render();
      if (!this.muted) this.#context()?.resume();
    });
    // The first click anywhere unlocks the audio.
    document.addEventListener("pointerdown", () => { if (!this.muted) this.#context()?.resume(); }, { once: true });
  }

  render() {
    const muted = this.muted;
    this.button.setAttribute("aria-pressed", String(muted));
    this.button.querySelector("[data-mute-on]").hidden = muted;
    this.button.querySelector("[data-mute-off]").hidden = !muted;
  }

  chime() {
    if (this.muted) return;
    const context = this.#context();
    if (!context || context.state !== "running") return; // no user gesture yet: stay silent
    const start = context.currentTime;
    for (const [offset, frequency] of NOTES) {
      const oscillator = context.createOscillator();
      const gain = context.createGain();
      oscillator.type = "sine";
      oscillator.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, start + offset);
      gain.gain.exponentialRampToValueAtTime(0.25, start + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.2);
      oscillator.connect(gain).connect(context.destination);
      oscillator.start(start + offset);
      oscillator.stop(start + offset + 0.21);
    }
  }

  #context() {
    if (!this.audio && (window.AudioContext || window.webkitAudioContext)) {
      this.audio = new (window.AudioContext || window.webkitAudioContext)();
    }
    return this.audio;
  }
}
