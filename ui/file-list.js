// The files card's list: pages fetched as the person scrolls towards the end, and only the rows
// in view put in the page, so ten thousand files cost what forty do. However many scroll events
// arrive, it renders at most once per frame. The windowing arithmetic is exported for
// ui/test/file-list.test.js.

import { fileCount, formatDate, formatSize } from "./format.js";
import { MARKS, mark, markPainted } from "./timing.js";

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
  #onError;
  #onScreen;
  #files = [];
  #cursor = null;
  #done = false;
  #loading = false;
  /** The request in flight (or the last one), for callers that wait for their files. */
  #pending = Promise.resolve();
  #renderQueued = false;

  /**
   * @param elements `{viewport, spacer, rows, state, count}`: the list's nodes in the page.
   * @param loadPage `(cursor, pageSize) => Promise<{files, cursor, is_done}>`.
   * @param onError called with a failed request's error, to report it.
   * @param onScreen whether the list is on screen now (only then is its painting marked).
   */
  constructor(elements, { loadPage, onError, onScreen }) {
    this.#el = elements;
    this.#loadPage = loadPage;
    this.#onError = onError;
    this.#onScreen = onScreen;
    elements.viewport.addEventListener("scroll", () => this.#renderNextFrame(), { passive: true });
  }

  get length() {
    return this.#files.length;
  }

  /** Starts over from the first page; settles when that page has been handled. */
  reload() {
    this.#files = [];
    this.#cursor = null;
    this.#done = false;
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
    rows.replaceChildren(...this.#files.slice(first, last).map((file, i) => this.#row(file, first + i)));
    if (!this.#done && !this.#loading && nearEnd(last, total)) this.loadMore();
  }

  async #fetchNext() {
    const firstPage = this.#cursor === null;
    try {
      const page = await this.#loadPage(this.#cursor, PAGE_SIZE);
      if (firstPage) mark(MARKS.filesArrived);
      this.#files = this.#files.concat(page.files);
      this.#cursor = page.cursor;
      this.#done = page.is_done;
      this.#showState(this.#files.length === 0 ? "No files yet. Files you upload will appear here." : null);
      this.#el.count.textContent = fileCount(this.#files.length, this.#done);
    } catch (error) {
      this.#showState(this.#files.length ? null : "Your files could not be loaded.");
      this.#onError(error);
      this.#done = true;
    } finally {
      this.#loading = false;
    }
    this.render();
    if (this.#files.length > 0 && this.#onScreen()) markPainted(MARKS.filesVisible);
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
    return row;
  }
}
