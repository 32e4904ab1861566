// The window's one polite live region: what changed, in words, for a screen reader (signed in,
// signed out, a sign-in waiting or cancelled, transfers, deletions). Errors go to the banner,
// whose role is `alert`, so they interrupt; everything here waits its turn.

export class Announcer {
  #el;

  /** @param element a visually hidden element with `role="status"` and `aria-live="polite"`. */
  constructor(element) {
    this.#el = element;
  }

  /**
   * Says `text`. A screen reader reads a live region when its content changes, so the same
   * words twice in a row get a no-break space the second time, and are read again.
   */
  say(text) {
    this.#el.textContent = this.#el.textContent === text ? `${text}\u00a0` : text;
  }

  /** What was said last, as the region holds it. */
  get said() {
    return this.#el.textContent.trimEnd();
  }
}
