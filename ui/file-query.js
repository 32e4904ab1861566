// The files list's sort and search controls: what they ask for, as `files:list`'s `order` and
// `search`. A new sort applies at once; typing waits for a pause (SEARCH_DELAY_MS) so each
// keystroke does not start the list over; Escape clears the search at once. The timer is
// injected so tests/ui/file-list.test.js can run it by hand.

/** How long typing must pause before the search applies. */
export const SEARCH_DELAY_MS = 200;

/** The orders the sort offers, as `files:list` names them; the first is the default. */
export const ORDERS = ["newest", "oldest", "name", "size"];

const realTimer = {
  set: (run, ms) => setTimeout(run, ms),
  clear: (handle) => clearTimeout(handle),
};

export class FileQueryControls {
  #sort;
  #search;
  #onChange;
  #timer;
  #delay;
  #waiting = null;

  /**
   * @param elements `{sort, search}`: the `<select>` and the `<input type="search">`.
   * @param onChange called with `{order, search}` whenever what they ask for should apply.
   * @param timer `{set(run, ms), clear(handle)}`, setTimeout's by default.
   */
  constructor({ sort, search }, { onChange, timer = realTimer, delay = SEARCH_DELAY_MS }) {
    this.#sort = sort;
    this.#search = search;
    this.#onChange = onChange;
    this.#timer = timer;
    this.#delay = delay;
    sort.addEventListener("change", () => this.#applyNow());
    search.addEventListener("input", () => this.#applySoon());
    search.addEventListener("keydown", (event) => {
      if (event.key !== "Escape" || search.value === "") return;
      event.preventDefault();
      search.value = "";
      this.#applyNow();
    });
  }

  /** What the controls ask for now: an order the backend knows and the trimmed search. */
  get query() {
    const order = ORDERS.includes(this.#sort.value) ? this.#sort.value : ORDERS[0];
    return { order, search: this.#search.value.trim() };
  }

  /** Back to newest first with no search (a new person signed in), without applying it. */
  reset() {
    this.#cancel();
    this.#sort.value = ORDERS[0];
    this.#search.value = "";
  }

  #applySoon() {
    this.#cancel();
    this.#waiting = this.#timer.set(() => {
      this.#waiting = null;
      this.#onChange(this.query);
    }, this.#delay);
  }

  #applyNow() {
    this.#cancel();
    this.#onChange(this.query);
  }

  #cancel() {
    if (this.#waiting !== null) this.#timer.clear(this.#waiting);
    this.#waiting = null;
  }
}
