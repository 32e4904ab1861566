// The live connection's indicator in the top bar: a status in words (never colour alone) that
// screen readers announce politely, and the one action that helps in that state: Reconnect while
// offline, Sign in when the session is paused for want of a token. The states are those of
// `Connection` in crates/convex/src/live, sent by src-tauri as `connection` events.

import { remedy } from "./errors.js";

/** A moment (milliseconds since the epoch) as the local 24-hour clock: `09:05`. */
export function clockTime(ms) {
  const time = new Date(ms);
  return `${String(time.getHours()).padStart(2, "0")}:${String(time.getMinutes()).padStart(2, "0")}`;
}

/**
 * What the indicator shows for a connection state (`null`: no live socket):
 * `{state, text, action}`, `action` being `"reconnect"`, `"sign-in"` or null.
 */
export function connectionView(connection) {
  switch (connection?.state) {
    case "live":
      return { state: "live", text: "Live", action: null };
    case "connecting":
      return { state: "connecting", text: "Connecting…", action: null };
    case "reconnecting":
      return { state: "reconnecting", text: "Reconnecting…", action: null };
    case "offline":
      return { state: "offline", text: `Offline since ${clockTime(connection.since_ms)}`, action: "reconnect" };
    case "paused":
      return {
        state: "paused",
        text: `Paused: ${connection.message}`,
        action: remedy(connection) === "sign-in" ? "sign-in" : null,
      };
    default:
      return { state: "none", text: "Not connected", action: null };
  }
}

export class ConnectionIndicator {
  #el;
  #state = null;
  /** `connection` events taken so far: an answer asked for before one of them is older. */
  #heard = 0;

  /**
   * @param elements `{status, text, reconnect, signIn}`: the status element, its text, and the
   *   two buttons.
   * @param actions `{reconnect, signIn}`: what the buttons do.
   */
  constructor(elements, { reconnect, signIn }) {
    this.#el = elements;
    elements.reconnect.addEventListener("click", () => reconnect());
    elements.signIn.addEventListener("click", () => signIn());
  }

  /** The state shown now (`"live"`, `"offline"`, …). */
  get state() {
    return this.#state;
  }

  /** A state from a `connection` event: always the newest. */
  live(connection) {
    this.#heard += 1;
    this.show(connection);
  }

  /**
   * The state asked for once (events sent before the window listened are missed). Events and
   * command answers reach the page by different paths, so an answer can arrive after an event
   * sent later than it was read: it is shown only if no event came while it was on its way.
   */
  async load(asking) {
    const heard = this.#heard;
    const connection = await asking;
    if (this.#heard === heard) this.show(connection);
  }

  /** Shows `connection`; the text changes only when it differs, so nothing is announced twice. */
  show(connection) {
    const view = connectionView(connection);
    const { status, text, reconnect, signIn } = this.#el;
    this.#state = view.state;
    status.dataset.state = view.state;
    if (text.textContent !== view.text) text.textContent = view.text;
    reconnect.hidden = view.action !== "reconnect";
    signIn.hidden = view.action !== "sign-in";
  }
}
