// The transfers panel: a row per upload or download with its progress bar, speed, time left and
// Cancel, from the `transfer` events Rust sends (src-tauri/src/transfers.rs). The bytes never
// come here; only names and counts do. Starting, each quarter of the way and the outcome are
// said through a polite live region, so a screen reader hears progress without being flooded.
// Every value is put on the page as text. tests/ui/transfers.test.js renders it with a stand-in
// DOM.

import { formatSize } from "./format.js";

/** A finished row stays this long before it leaves the panel; failures stay until dismissed. */
export const DONE_LINGER_MS = 4000;

const VERB = Object.freeze({ upload: "Uploading", download: "Downloading", open: "Opening" });
const PAST = Object.freeze({ upload: "Uploaded", download: "Downloaded", open: "Opened" });
const NOUN = Object.freeze({ upload: "upload", download: "download", open: "opening" });

/**
 * What the transfer does, in words: an Open served from the private cache (`fromCache`, known
 * from its first update) downloads nothing, so it is "open", not "download".
 */
function action(update) {
  return update.kind === "download" && update.fromCache ? "open" : update.kind;
}

/** A rate: `512 B/s`, `1.5 MB/s`. */
export function formatRate(bytesPerSecond) {
  return `${formatSize(Math.round(bytesPerSecond))}/s`;
}

/** A time left, rounded up: `3 s left`, `2 min left`, `1 h 5 min left`. */
export function formatTimeLeft(seconds) {
  const whole = Math.max(1, Math.ceil(seconds));
  if (whole < 60) return `${whole} s left`;
  const minutes = Math.ceil(whole / 60);
  if (minutes < 60) return `${minutes} min left`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min left`;
}

/** Whole percent done, or null while the total is unknown. */
export function percent(update) {
  if (!update.total) return null;
  return Math.min(100, Math.floor((update.done / update.total) * 100));
}

/** The row's status line: `1.0 MB of 4.0 MB · 2.0 MB/s · 2 s left`, or how it ended. */
export function statusLine(update) {
  switch (update.state) {
    case "done":
      return `${PAST[action(update)]} · ${formatSize(update.total ?? update.done)}`;
    case "failed":
      return update.error?.message ?? "Failed.";
    case "cancelled":
      return "Cancelled";
    default: {
      const parts = [update.total ? `${formatSize(update.done)} of ${formatSize(update.total)}` : formatSize(update.done)];
      if (update.bytesPerSecond) parts.push(formatRate(update.bytesPerSecond));
      if (update.secondsLeft != null && update.bytesPerSecond) parts.push(formatTimeLeft(update.secondsLeft));
      return parts.join(" · ");
    }
  }
}

/**
 * What the live region says on this update, given the last quarter announced for the transfer
 * (`-1` before its start): `{text, quarter}`, or null when there is nothing new to say.
 */
export function announcement(update, announcedQuarter) {
  const name = update.name;
  const doing = action(update);
  switch (update.state) {
    case "done":
      return { text: `${PAST[doing]} ${name}.`, quarter: 4 };
    case "failed": {
      const verb = doing === "open" ? "open" : NOUN[doing];
      return { text: `Could not ${verb} ${name}: ${update.error?.message ?? "it failed."}`, quarter: 4 };
    }
    case "cancelled":
      return { text: `Cancelled the ${NOUN[doing]} of ${name}.`, quarter: 4 };
    default: {
      if (announcedQuarter < 0) return { text: `${VERB[doing]} ${name}.`, quarter: 0 };
      const done = percent(update);
      const quarter = done === null ? 0 : Math.floor(done / 25);
      if (quarter <= announcedQuarter || quarter >= 4) return null;
      return { text: `${VERB[doing]} ${name}: ${quarter * 25} percent.`, quarter };
    }
  }
}

export class TransfersPanel {
  #el;
  #cancel;
  #onDone;
  #setTimeout;
  /** The rows by transfer id: `{update, row, bar, status, cancel, quarter}`. */
  #rows = new Map();

  /**
   * @param elements `{panel, list, announce}`: the panel (hidden while empty), its list and the
   *   polite live region.
   * @param cancel `(id) => Promise`: stops a transfer.
   * @param onDone called with each transfer that ends well (a finished upload, say).
   * @param setTimeout the timer finished rows leave by (a test passes its own).
   */
  constructor(elements, { cancel, onDone = () => {}, setTimeout = globalThis.setTimeout }) {
    this.#el = elements;
    this.#cancel = cancel;
    this.#onDone = onDone;
    this.#setTimeout = setTimeout;
  }

  /** The ids of the rows shown, in the order they started. */
  get ids() {
    return [...this.#rows.keys()];
  }

  /** A `transfer` event: the row made or brought up to date, and anything new announced. */
  update(update) {
    let entry = this.#rows.get(update.id);
    if (!entry) {
      entry = this.#newRow(update);
      this.#rows.set(update.id, entry);
      this.#el.list.append(entry.row);
    } else if (entry.update.state !== "running") {
      return;
    }
    entry.update = update;
    const done = percent(update);
    if (done === null && update.state === "running") {
      // Indeterminate while the size is unknown.
      entry.bar.removeAttribute?.("value");
    } else if (done === null) {
      entry.bar.value = 0;
    } else {
      entry.bar.max = 100;
      entry.bar.value = done;
    }
    entry.status.textContent = statusLine(update);
    entry.row.setAttribute("data-state", update.state);
    const said = announcement(update, entry.quarter);
    if (said) {
      entry.quarter = said.quarter;
      this.#el.announce.textContent = said.text;
    }
    if (update.state !== "running") this.#ended(entry);
    this.#el.panel.hidden = this.#rows.size === 0;
  }

  #ended(entry) {
    const { update } = entry;
    entry.cancel.hidden = true;
    if (update.state === "failed") {
      entry.cancel.hidden = false;
      entry.cancel.textContent = "Dismiss";
      entry.cancel.setAttribute("aria-label", `Dismiss the failed ${NOUN[action(update)]} of ${update.name}`);
      entry.cancel.onclick = () => this.#remove(update.id);
      return;
    }
    if (update.state === "done") this.#onDone(update);
    this.#setTimeout(() => this.#remove(update.id), DONE_LINGER_MS);
  }

  #remove(id) {
    const entry = this.#rows.get(id);
    if (!entry) return;
    this.#rows.delete(id);
    entry.row.remove();
    this.#el.panel.hidden = this.#rows.size === 0;
  }

  #newRow(update) {
    const doc = this.#el.list.ownerDocument;
    const element = (tag, className, text) => {
      const node = doc.createElement(tag);
      node.className = className;
      if (text !== undefined) node.textContent = text;
      return node;
    };
    const row = element("li", "transfer");
    row.setAttribute("data-testid", "transfer");
    row.setAttribute("data-kind", update.kind);
    const name = element("span", "transfer-name", update.name);
    name.title = update.name;
    const bar = element("progress", "transfer-bar");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", `${VERB[action(update)]} ${update.name}`);
    const status = element("span", "transfer-status");
    status.setAttribute("data-testid", "transfer-status");
    const cancel = element("button", "button small ghost", "Cancel");
    cancel.type = "button";
    cancel.setAttribute("data-testid", "transfer-cancel");
    cancel.setAttribute("aria-label", `Cancel ${VERB[action(update)].toLowerCase()} ${update.name}`);
    cancel.onclick = () => {
      cancel.disabled = true;
      Promise.resolve(this.#cancel(update.id))
        .catch(() => {})
        .finally(() => {
        cancel.disabled = false;
      });
    };
    row.append(name, bar, status, cancel);
    return { update, row, bar, status, cancel, quarter: -1 };
  }
}
