// The Diagnostics view: the report `kinvex doctor` prints, one row per check, in a dialog that
// opens from any screen. The report comes from Rust (the `diagnose` command) with its copyable
// text; it holds no token, and every string in it is still put on the page as text, never as
// markup. tests/ui/diagnostics.test.js renders it with a stand-in DOM.

/** How each status is shown: a symbol and a word, so colour is never the only sign. */
export const STATUSES = Object.freeze({
  ok: Object.freeze({ symbol: "✓", word: "OK" }),
  warn: Object.freeze({ symbol: "!", word: "Warning" }),
  fail: Object.freeze({ symbol: "✗", word: "Failed" }),
  skip: Object.freeze({ symbol: "–", word: "Skipped" }),
});

/** The symbol and word for a check's status; an unknown one is shown as it came. */
export function statusOf(status) {
  return STATUSES[status] ?? { symbol: "?", word: String(status) };
}

const plural = (count, word) => `${count} ${word}${count === 1 ? "" : "s"}`;

/** The report in a few words: what failed and what only warns. */
export function overallText(report) {
  const count = (status) => report.checks.filter((check) => check.status === status).length;
  const [failed, warned] = [count("fail"), count("warn")];
  const warnings = warned ? plural(warned, "warning") : "";
  if (failed) return `${plural(failed, "problem")} found${warned ? `, ${warnings}` : ""}`;
  if (warned) return `No problems found, ${warnings}`;
  return "No problems found";
}

/** How long a check took: `12 ms`, `1.5 s`. */
export function formatMillis(ms) {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** One check as a list item; every value goes in as text. */
export function renderCheck(doc, check) {
  const element = (tag, className, text) => {
    const node = doc.createElement(tag);
    node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const { symbol, word } = statusOf(check.status);
  const item = element("li", `check check-${check.status}`);
  item.setAttribute("data-testid", `check-${check.id}`);
  item.setAttribute("data-status", String(check.status));

  const head = element("div", "check-head");
  const mark = element("span", "check-mark", symbol);
  // The word beside it says the same to a screen reader.
  mark.setAttribute("aria-hidden", "true");
  head.append(
    mark,
    element("span", "check-status", word),
    element("h3", "check-title", check.title),
    element("span", "check-time", formatMillis(check.millis)),
  );
  item.append(head, element("p", "check-summary", check.summary));

  if (check.details.length > 0) {
    const details = element("dl", "check-details");
    for (const [key, value] of check.details) {
      const pair = element("div", "check-detail");
      pair.append(element("dt", "", key), element("dd", "mono", value));
      details.append(pair);
    }
    item.append(details);
  }
  if (check.fix) {
    const fix = element("p", "check-fix");
    fix.append(element("strong", "", "Fix: "), element("span", "", check.fix));
    item.append(fix);
  }
  return item;
}

/**
 * Copies `text` with the asynchronous clipboard, which WebKitGTK grants the app's page during a
 * click; where that is missing or refused, through a selected text area and the copy command.
 * Resolves to whether either worked.
 */
export async function copyText(text, { clipboard = globalThis.navigator?.clipboard, doc = globalThis.document } = {}) {
  if (clipboard?.writeText) {
    try {
      await clipboard.writeText(text);
      return true;
    } catch {
      // Refused (no user gesture, no permission): try the older way.
    }
  }
  const area = doc.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "visually-hidden";
  doc.body.append(area);
  area.select();
  const copied = doc.execCommand("copy");
  area.remove();
  return copied;
}

export class Diagnostics {
  #el;
  #diagnose;
  #copy;
  /** The last answer: `{report, text}`; null while none has arrived or the last run failed. */
  #answer = null;
  /** Counts runs, so an answer that a later run overtook is dropped. */
  #runs = 0;
  #opener = null;

  /**
   * @param elements `{dialog, heading, overall, checks, notice, again, copy, close}`.
   * @param diagnose `() => Promise<{report, text}>`: the `diagnose` command.
   * @param copy `(text) => Promise<boolean>`: puts the text on the clipboard.
   */
  constructor(elements, { diagnose, copy = copyText }) {
    this.#el = elements;
    this.#diagnose = diagnose;
    this.#copy = copy;
    elements.again.addEventListener("click", () => this.run());
    elements.copy.addEventListener("click", () => this.copyReport());
    elements.close.addEventListener("click", () => this.close());
    // Escape closes a modal dialog without a click: focus goes back all the same.
    elements.dialog.addEventListener("close", () => this.#restoreFocus());
  }

  get isOpen() {
    return Boolean(this.#el.dialog.open);
  }

  /** Opens the view over the current screen and runs the checks; settles when they are shown. */
  open() {
    this.#opener = this.#el.dialog.ownerDocument?.activeElement ?? null;
    if (!this.isOpen) this.#el.dialog.showModal();
    this.#el.heading.focus();
    return this.run();
  }

  close() {
    if (this.isOpen) this.#el.dialog.close();
    this.#restoreFocus();
  }

  /** Runs every check again; settles when the answer (or the failure) is shown. */
  async run() {
    const run = ++this.#runs;
    const { checks, overall, again, copy } = this.#el;
    this.#answer = null;
    again.disabled = true;
    copy.disabled = true;
    checks.setAttribute("aria-busy", "true");
    overall.textContent = "Checking…";
    overall.className = "diagnostics-overall";
    this.#notice("");
    try {
      const answer = await this.#diagnose();
      if (run !== this.#runs) return;
      this.#answer = answer;
      this.#show(answer.report);
    } catch (error) {
      if (run !== this.#runs) return;
      checks.replaceChildren();
      overall.textContent = "The checks could not run";
      overall.className = "diagnostics-overall is-fail";
      this.#notice(error?.message ?? String(error));
    } finally {
      if (run === this.#runs) {
        checks.setAttribute("aria-busy", "false");
        again.disabled = false;
        copy.disabled = this.#answer === null;
      }
    }
  }

  /** Puts the report's text on the clipboard and says whether that worked. */
  async copyReport() {
    if (!this.#answer) return;
    let copied = false;
    try {
      copied = await this.#copy(this.#answer.text);
    } catch {
      copied = false;
    }
    this.#notice(copied ? "Report copied." : "The report could not be copied. Run `kinvex doctor` in a terminal for the same report.");
    // The fallback selects a text area, which takes the focus.
    this.#el.copy.focus();
  }

  #show(report) {
    const { checks, overall } = this.#el;
    const doc = checks.ownerDocument;
    checks.replaceChildren(...report.checks.map((check) => renderCheck(doc, check)));
    overall.textContent = overallText(report);
    const warned = report.checks.some((check) => check.status === "warn");
    overall.className = `diagnostics-overall ${!report.ok ? "is-fail" : warned ? "is-warn" : "is-ok"}`;
  }

  #notice(text) {
    this.#el.notice.textContent = text;
    this.#el.notice.hidden = !text;
  }

  #restoreFocus() {
    const opener = this.#opener;
    this.#opener = null;
    opener?.focus?.();
  }
}
