// The files card's list: pages fetched as the person scrolls towards the end, and only the rows
// in view put in the page, so ten thousand files cost what forty do. However many scroll events
// arrive, it renders at most once per frame. Every loaded page stays live: the app watches it
// (src-tauri/src/live.rs) and sends it again whenever a file in it is added or removed, and the
// list swaps that page in place. The windowing arithmetic is exported for
// tests/ui/file-list.test.js.

import { fileCount, formatDate, formatSize } from "./format.js";
import { MARKS, mark, markAt, markEachPainted, markPainted } from "./timing.js";

/** Each row's height in pixels: `--row` in app.css. */
export const ROW_HEIGHT = 44;
/** Files asked for per request. */
export const PAGE_SIZE = 200;
/** Rows rendered above the first visible one, and in all beyond those visible, for smooth scrolling. */
const ROWS_ABOVE = 8;
const ROWS_EXTRA = 16;
/** The next page is fetched once the rendered rows come this close to the last file loaded. */
const PREFETCH_ROWS = 40;
/** Assumed until the viewport has been laid out. */
const FALLBACK_HEIGHT = 600;

/** The rows to render, `first` inclusive to `last` exclusive, for a scroll position. */
export function visibleRange(scrollTop, viewportHeight, total) {
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - ROWS_ABOVE);
  const rows = Math.ceil((viewportHeight || FALLBACK_HEIGHT) / ROW_HEIGHT) + ROWS_EXTRA;
  return { first, last: Math.min(total, first + rows) };
}

/** Whether rendering up to `last` of `total` loaded files calls for the next page. */
export function nearEnd(last, total) {
  return last > total - PREFETCH_ROWS;
}

export class FileList {
  #el;
  #loadPage;
  #releasePages;
  #onError;
  #onScreen;
  #actions;
  /** The loaded pages in order: `{id, files, cursor, done}`, `cursor` where the next one starts. */
  #pages = [];
  /** Every loaded file, the pages' files end to end. */
  #files = [];
  /** The next page's number; never reused, so a late update for a page let go is recognised. */
  #nextId = 0;
  /** The first page number of the current list: updates below it are for a list started over. */
  #firstId = 0;
  /** Updates that arrived before their page's first answer, by page number. */
  #early = new Map();
  #failed = false;
  #loading = false;
  /** The request in flight (or the last one), for callers that wait for their files. */
  #pending = Promise.resolve();
  #renderQueued = false;
  /** How the list is sorted and filtered: `files:list`'s `order` and `search`. */
  #query = { order: "newest", search: "" };
  /** Each row button of the last render, by `fileId/testid`, so focus survives a re-render. */
  #buttonNodes = new Map();

  /**
   * @param elements `{viewport, spacer, rows, state, count}`: the list's nodes in the page.
   * @param loadPage `(page, cursor, pageSize, {order, search}) => Promise<{files, cursor, is_done}>`:
   *   page number `page` from `cursor` in the list's query, watched from then on.
   * @param releasePages `(before) => void`: stop watching the pages numbered below `before`.
   * @param onError called with a failed request's error, to report it.
   * @param onScreen whether the list is on screen now (only then is its painting marked).
   * @param actions `{open, saveAs, remove}`, each called with a row's file: its buttons.
   */
  constructor(elements, { loadPage, releasePages = () => {}, onError, onScreen, actions = null }) {
    this.#actions = actions;
    this.#el = elements;
    this.#loadPage = loadPage;
    this.#releasePages = releasePages;
    this.#onError = onError;
    this.#onScreen = onScreen;
    elements.viewport.addEventListener("scroll", () => this.#renderNextFrame(), { passive: true });
  }

  get length() {
    return this.#files.length;
  }

  /** Whether every file is loaded: the last page says nothing follows it. */
  get #done() {
    return this.#failed || (this.#pages.length > 0 && this.#pages.at(-1).done);
  }

  /** The list's `{order, search}`. */
  get query() {
    return { ...this.#query };
  }

  /**
   * Sorts and filters the list as `query` says (`{order, search}`): a cursor belongs to one
   * query, so a change lets go of every page and starts over. Settles when the list has its
   * first page (at once when nothing changed).
   */
  setQuery({ order = "newest", search = "" }) {
    const next = { order, search: search.trim() };
    if (next.order === this.#query.order && next.search === this.#query.search) return this.#pending;
    return this.reload(next);
  }

  /**
   * Lets go of every page and starts over from the first, sorted and filtered as `query` says
   * (the list's own by default); settles when that page is handled.
   */
  reload(query = this.#query) {
    this.#query = { order: query.order ?? "newest", search: (query.search ?? "").trim() };
    this.#releasePages(this.#nextId);
    this.#firstId = this.#nextId;
    this.#pages = [];
    this.#files = [];
    this.#early.clear();
    this.#failed = false;
    this.#loading = false;
    this.#el.count.textContent = "";
    this.#el.viewport.scrollTop = 0;
    this.render();
    this.#showState("Loading your files…");
    return this.loadMore();
  }

  /** Fetches the next page unless one is in flight or all are in; settles when it is handled. */
  loadMore() {
    if (this.#loading || this.#done) return this.#pending;
    this.#loading = true;
    this.#pending = this.#fetchNext();
    return this.#pending;
  }

  /**
   * A watched page as it is now (`{page, received_ms, files, cursor, is_done}`), or its failure
   * (`{page, received_ms, error}`): the page is swapped in place and the rows in view rendered
   * again. While the list is on screen, each change is marked as received and as painted.
   */
  update(change) {
    if (change.page < this.#firstId) return;
    const page = this.#pages.find((p) => p.id === change.page);
    if (!page) {
      this.#early.set(change.page, change);
      return;
    }
    if (change.error) {
      this.#onError(change.error);
      return;
    }
    // For the benchmark: when Rust received this change, when it got here, when its rows were
    // in the document and when the window had painted them.
    const marked = typeof change.received_ms === "number" && this.#onScreen();
    if (marked) {
      markAt(MARKS.updateReceived, change.received_ms);
      mark(MARKS.updateHandled);
    }
    page.files = change.files;
    page.cursor = change.cursor;
    page.done = change.is_done;
    this.#joined();
    this.render();
    if (marked) {
      mark(MARKS.updateRendered);
      markEachPainted(MARKS.updatePainted);
    }
  }

  /** Marks the rows' first painting, for when the list has just come on screen. */
  markShown() {
    if (this.#files.length > 0) markPainted(MARKS.filesVisible);
  }

  /** Puts the rows in view (and a margin) in the page, and asks for more near the end. */
  render() {
    const { viewport, spacer, rows } = this.#el;
    const total = this.#files.length;
    spacer.style.height = `${total * ROW_HEIGHT}px`;
    const { first, last } = visibleRange(viewport.scrollTop, viewport.clientHeight, total);
    rows.style.transform = `translateY(${first * ROW_HEIGHT}px)`;
    // Rows are rebuilt, so a row button with the keyboard focus would lose it on every live
    // update or scroll: give it to the same button of the same file afterwards.
    const focused = rows.ownerDocument.activeElement;
    const keep = [...this.#buttonNodes].find(([, node]) => node === focused)?.[0];
    this.#buttonNodes = new Map();
    rows.replaceChildren(...this.#files.slice(first, last).map((file, i) => this.#row(file, first + i)));
    if (keep) this.#buttonNodes.get(keep)?.focus();
    if (!this.#done && !this.#loading && nearEnd(last, total)) this.loadMore();
  }

  async #fetchNext() {
    const list = this.#firstId;
    const id = this.#nextId++;
    const previous = this.#pages.at(-1);
    const cursor = previous ? previous.cursor : null;
    let page;
    try {
      page = await this.#loadPage(id, cursor, PAGE_SIZE, this.query);
    } catch (error) {
      if (list !== this.#firstId) return;
      this.#loading = false;
      this.#failed = true;
      this.#showState(this.#files.length ? null : "Your files could not be loaded.");
      this.#onError(error);
      this.render();
      return;
    }
    // The list was started over while this page was on its way: the new list has its own.
    if (list !== this.#firstId) return;
    this.#loading = false;
    if (!previous) mark(MARKS.filesArrived);
    this.#pages.push({ id, files: page.files, cursor: page.cursor, done: page.is_done });
    const early = this.#early.get(id);
    this.#early.delete(id);
    this.#joined();
    if (early) {
      this.update(early);
    } else {
      this.render();
    }
    if (this.#files.length > 0 && this.#onScreen()) markPainted(MARKS.filesVisible);
  }

  /** Joins the pages' files and says how many there are. */
  #joined() {
    this.#files = this.#pages.flatMap((p) => p.files);
    this.#showState(this.#files.length === 0 && this.#done ? this.#emptyText() : null);
    this.#el.count.textContent = fileCount(this.#files.length, this.#done);
  }

  /** What an empty, finished list says: nothing matched the search, or there are no files. */
  #emptyText() {
    const { search } = this.#query;
    return search ? `No files match “${search}”.` : "No files yet. Files you upload will appear here.";
  }

  #renderNextFrame() {
    if (this.#renderQueued) return;
    this.#renderQueued = true;
    requestAnimationFrame(() => {
      this.#renderQueued = false;
      this.render();
    });
  }

  #showState(text) {
    this.#el.state.textContent = text ?? "";
    this.#el.state.hidden = !text;
  }

  /** One row; every value goes in as text, never as markup. */
  #row(file, index) {
    const doc = this.#el.rows.ownerDocument;
    const row = doc.createElement("div");
    row.className = "file-row";
    row.setAttribute("role", "listitem");
    row.setAttribute("aria-posinset", String(index + 1));
    row.setAttribute("aria-setsize", this.#done ? String(this.#files.length) : "-1");
    const cell = (className, text) => {
      const span = doc.createElement("span");
      span.className = className;
      span.textContent = text;
      span.title = text;
      return span;
    };
    row.append(
      cell("file-name", file.name),
      cell("file-type", file.content_type),
      cell("file-size", formatSize(file.size)),
      cell("file-date", formatDate(file.created)),
    );
    if (this.#actions) row.append(this.#buttons(file));
    return row;
  }

  /** A row's Open, Save as… and Delete, each named with the file for a screen reader. */
  #buttons(file) {
    const doc = this.#el.rows.ownerDocument;
    const actions = doc.createElement("span");
    actions.className = "file-actions";
    const button = (testid, text, label, run) => {
      const node = doc.createElement("button");
      node.type = "button";
      node.className = "button small ghost";
      node.textContent = text;
      node.setAttribute("aria-label", label);
      node.setAttribute("data-testid", testid);
      node.addEventListener("click", () => run(file));
      this.#buttonNodes.set(`${file.id}/${testid}`, node);
      return node;
    };
    actions.append(
      button("file-open", "Open", `Open ${file.name}`, this.#actions.open),
      button("file-save-as", "Save as…", `Save ${file.name} as…`, this.#actions.saveAs),
      button("file-delete", "Delete", `Delete ${file.name}`, this.#actions.remove),
    );
    return actions;
  }
}
