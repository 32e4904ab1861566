import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";
import { FileList, PAGE_SIZE, ROW_HEIGHT, nearEnd, visibleRange } from "../../ui/file-list.js";
import { FileQueryControls, SEARCH_DELAY_MS } from "../../ui/file-query.js";
import { MARKS } from "../../ui/timing.js";

/** Just enough of the DOM for the list: elements that keep what is set on them. */
class FakeElement {
  constructor(doc, tagName = "div") {
    this.ownerDocument = doc;
    this.tagName = tagName;
    this.className = "";
    this.textContent = "";
    this.title = "";
    this.hidden = false;
    this.style = {};
    this.attributes = {};
    this.children = [];
    this.listeners = {};
    this.scrollTop = 0;
    this.clientHeight = 0;
  }
  setAttribute(name, value) {
    this.attributes[name] = value;
  }
  append(...nodes) {
    this.children.push(...nodes);
  }
  replaceChildren(...nodes) {
    this.children = nodes;
  }
  addEventListener(type, listener) {
    this.listeners[type] = listener;
  }
  focus() {
    this.ownerDocument.activeElement = this;
  }
}
const doc = { createElement: (tagName) => new FakeElement(doc, tagName) };

let frames;
globalThis.requestAnimationFrame = (callback) => frames.push(callback);

/** `count` files named in order. */
const someFiles = (from, count) =>
  Array.from({ length: count }, (_, i) => ({
    name: `File ${from + i}`,
    content_type: "text/plain",
    size: 2048,
    created: new Date(2024, 0, 5, 12).getTime(),
  }));

/** A backend of `total` files served in pages, with the requests it got. */
function backend(total) {
  const requests = [];
  const loadPage = async (page, cursor, pageSize) => {
    requests.push({ cursor, pageSize });
    const from = cursor === null ? 0 : Number(cursor);
    const to = Math.min(total, from + pageSize);
    return { files: someFiles(from, to - from), cursor: String(to), is_done: to >= total };
  };
  return { requests, loadPage };
}

function list(loadPage, viewportHeight = 440, onScreen = () => false) {
  const el = Object.fromEntries(["viewport", "spacer", "rows", "state", "count"].map((k) => [k, new FakeElement(doc)]));
  el.viewport.clientHeight = viewportHeight;
  const errors = [];
  const released = [];
  const files = new FileList(el, {
    loadPage,
    releasePages: (before) => released.push(before),
    onError: (e) => errors.push(e),
    onScreen,
  });
  return { el, errors, files, released, names: () => el.rows.children.map((row) => row.children[0].textContent) };
}

beforeEach(() => {
  frames = [];
});

test("the window is the rows in view, eight above and sixteen beyond", () => {
  assert.deepEqual(visibleRange(0, 440, 10_000), { first: 0, last: 26 });
  assert.deepEqual(visibleRange(100 * ROW_HEIGHT, 440, 10_000), { first: 92, last: 118 });
  assert.deepEqual(visibleRange(100 * ROW_HEIGHT + 20, 441, 10_000), { first: 92, last: 119 });
});

test("the window stops at the last file", () => {
  assert.deepEqual(visibleRange(0, 440, 14), { first: 0, last: 14 });
  assert.deepEqual(visibleRange(9_990 * ROW_HEIGHT, 440, 10_000), { first: 9_982, last: 10_000 });
});

test("before layout the viewport is taken to be 600 pixels tall", () => {
  assert.deepEqual(visibleRange(0, 0, 10_000), { first: 0, last: Math.ceil(600 / ROW_HEIGHT) + 16 });
});

test("the next page is wanted within forty rows of the end", () => {
  assert.equal(nearEnd(160, 200), false);
  assert.equal(nearEnd(161, 200), true);
  assert.equal(nearEnd(0, 0), true);
});

test("a reload fetches the first page and renders only the rows in view", async () => {
  const { requests, loadPage } = backend(10_000);
  const { el, files, names } = list(loadPage);
  await files.reload();
  assert.deepEqual(requests, [{ cursor: null, pageSize: PAGE_SIZE }]);
  assert.equal(files.length, PAGE_SIZE);
  assert.equal(el.count.textContent, "200+ files");
  assert.equal(el.state.hidden, true);
  assert.equal(el.spacer.style.height, `${PAGE_SIZE * ROW_HEIGHT}px`);
  assert.equal(el.rows.children.length, 26);
  assert.equal(names()[0], "File 0");
  const [name, type, size, date] = el.rows.children[0].children;
  assert.deepEqual(
    [name.className, type.textContent, size.textContent, date.textContent],
    ["file-name", "text/plain", "2.0 KB", new Date(2024, 0, 5, 12).toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" })],
  );
  assert.equal(el.rows.children[0].className, "file-row");
  assert.equal(el.rows.children[0].attributes["aria-posinset"], "1");
  assert.equal(el.rows.children[0].attributes["aria-setsize"], "-1", "the total is not known yet");
});

test("scrolling renders once per frame and fetches the next page near the end", async () => {
  const { requests, loadPage } = backend(250);
  const { el, files, names } = list(loadPage);
  await files.reload();
  el.viewport.scrollTop = 150 * ROW_HEIGHT;
  el.viewport.listeners.scroll();
  el.viewport.listeners.scroll();
  el.viewport.listeners.scroll();
  assert.equal(frames.length, 1, "one render for three scroll events");
  assert.equal(names()[0], "File 0", "nothing rendered before the frame");
  frames.shift()();
  assert.equal(names()[0], "File 142");
  await files.loadMore();
  assert.deepEqual(requests.at(-1), { cursor: "200", pageSize: PAGE_SIZE });
  assert.equal(files.length, 250);
  assert.equal(el.count.textContent, "250 files");
  assert.equal(el.rows.children[0].attributes["aria-setsize"], "250");
  el.viewport.listeners.scroll();
  frames.shift()();
  assert.equal(requests.length, 2, "no request once every file is in");
});

test("one request at a time, however many ask", async () => {
  let answer;
  const requests = [];
  const loadPage = (page, cursor) => {
    requests.push(cursor);
    return new Promise((resolve) => {
      answer = resolve;
    });
  };
  const { files } = list(loadPage);
  const loading = files.reload();
  files.loadMore();
  files.render();
  assert.deepEqual(requests, [null]);
  answer({ files: someFiles(0, 3), cursor: "3", is_done: true });
  await loading;
  assert.equal(files.length, 3, "the reload waited for its page");
});

test("an empty list says so", async () => {
  const { el, files } = list(backend(0).loadPage);
  await files.reload();
  assert.equal(el.count.textContent, "0 files");
  assert.equal(el.state.hidden, false);
  assert.equal(el.state.textContent, "No files yet. Files you upload will appear here.");
  assert.equal(el.rows.children.length, 0);
});

test("a failed first page says so, reports the error and stops asking", async () => {
  const error = { code: "backend_unreachable", message: "down" };
  let asked = 0;
  const { el, errors, files } = list(async () => {
    asked += 1;
    throw error;
  });
  const reloaded = files.reload();
  assert.equal(el.state.textContent, "Loading your files…");
  await reloaded;
  assert.equal(el.state.textContent, "Your files could not be loaded.");
  assert.equal(el.state.hidden, false);
  assert.deepEqual(errors, [error]);
  files.render();
  await files.loadMore();
  assert.equal(asked, 1);
});

test("markup in a name stays text", async () => {
  const name = '<b>not bold</b> & "quoted".html';
  const { names, files } = list(async () => ({
    files: [{ name, content_type: "text/html", size: 1, created: 0 }],
    cursor: null,
    is_done: true,
  }));
  await files.reload();
  assert.deepEqual(names(), [name]);
});

/** A backend that answers each page when the test says, with the page numbers it was given. */
function answeredByHand() {
  const asked = [];
  const loadPage = (page, cursor) =>
    new Promise((resolve) => {
      asked.push({ page, cursor, resolve });
    });
  return { asked, loadPage };
}

const named = (...names) => names.map((name) => ({ name, content_type: "text/plain", size: 1, created: 0 }));

test("a file added elsewhere appears in its live page without a request", async () => {
  const { requests, loadPage } = backend(3);
  const { el, files, names } = list(loadPage);
  await files.reload();
  assert.deepEqual(names(), ["File 0", "File 1", "File 2"]);
  files.update({ page: 0, files: named("New.txt", "File 0", "File 1", "File 2"), cursor: null, is_done: true });
  assert.deepEqual(names(), ["New.txt", "File 0", "File 1", "File 2"]);
  assert.equal(el.count.textContent, "4 files");
  assert.equal(el.spacer.style.height, `${4 * ROW_HEIGHT}px`);
  assert.equal(requests.length, 1, "the change came with the page, nothing was fetched");
});

test("a file removed elsewhere disappears, and the last one leaves the empty state", async () => {
  const { loadPage } = backend(2);
  const { el, files, names } = list(loadPage);
  await files.reload();
  files.update({ page: 0, files: named("File 1"), cursor: null, is_done: true });
  assert.deepEqual(names(), ["File 1"]);
  assert.equal(el.count.textContent, "1 file");
  files.update({ page: 0, files: [], cursor: null, is_done: true });
  assert.equal(el.count.textContent, "0 files");
  assert.equal(el.state.hidden, false);
  assert.equal(el.state.textContent, "No files yet. Files you upload will appear here.");
});

test("each page is swapped in place: a middle page growing pushes the rows after it down", async () => {
  const { loadPage } = backend(PAGE_SIZE + 3);
  const { files, el } = list(loadPage);
  await files.reload();
  await files.loadMore();
  assert.equal(files.length, PAGE_SIZE + 3);
  const first = someFiles(0, PAGE_SIZE);
  files.update({ page: 0, files: [...named("Inserted.txt"), ...first], cursor: String(PAGE_SIZE), is_done: false });
  assert.equal(files.length, PAGE_SIZE + 4, "the first page grew; the second kept its three");
  assert.equal(el.count.textContent, `${PAGE_SIZE + 4} files`);
});

test("a last page that fills up lets the list ask for the next one", async () => {
  const { requests, loadPage } = backend(3);
  const { files } = list(loadPage);
  await files.reload();
  await files.loadMore();
  assert.equal(requests.length, 1, "all in: nothing more to ask");
  files.update({ page: 0, files: someFiles(0, 3), cursor: "3", is_done: false });
  await files.loadMore();
  assert.deepEqual(requests.at(-1), { cursor: "3", pageSize: PAGE_SIZE });
});

test("starting over lets go of every page, and late answers or updates for them are ignored", async () => {
  const { asked, loadPage } = answeredByHand();
  const { files, names, released } = list(loadPage);
  const old = files.reload();
  assert.deepEqual(released, [0]);
  const fresh = files.reload();
  assert.deepEqual(released, [0, 1], "the first list's page is let go");
  asked[0].resolve({ files: named("Old.txt"), cursor: null, is_done: true });
  await old;
  asked[1].resolve({ files: named("Fresh.txt"), cursor: null, is_done: true });
  await fresh;
  assert.deepEqual(names(), ["Fresh.txt"]);
  files.update({ page: 0, files: named("Old again.txt"), cursor: null, is_done: true });
  assert.deepEqual(names(), ["Fresh.txt"], "an update for a page let go changes nothing");
  assert.equal(asked[1].page, 1, "page numbers are never reused");
});

test("an update that overtakes its page's first answer is applied when the page arrives", async () => {
  const { asked, loadPage } = answeredByHand();
  const { files, names } = list(loadPage);
  const loading = files.reload();
  files.update({ page: 0, files: named("Newer.txt", "Older.txt"), cursor: null, is_done: true });
  asked[0].resolve({ files: named("Older.txt"), cursor: null, is_done: true });
  await loading;
  assert.deepEqual(names(), ["Newer.txt", "Older.txt"]);
});

test("a live page that fails is reported and keeps its rows", async () => {
  const { loadPage } = backend(2);
  const { errors, files, names } = list(loadPage);
  await files.reload();
  const error = { code: "backend_error", message: "The query failed." };
  files.update({ page: 0, error });
  assert.deepEqual(errors, [error]);
  assert.deepEqual(names(), ["File 0", "File 1"]);
});

test("each live change on screen is marked as received at Rust's stamp and as painted after its frame", async () => {
  performance.clearMarks();
  const { loadPage } = backend(2);
  const { files } = list(loadPage, 440, () => true);
  await files.reload();
  frames.splice(0).forEach((frame) => frame());
  await new Promise((resolve) => setTimeout(resolve, 0));
  const received = performance.timeOrigin + 5;
  files.update({ page: 0, received_ms: received, files: named("A.txt", "File 0", "File 1"), cursor: null, is_done: true });
  files.update({ page: 0, received_ms: received + 1, files: named("B.txt", "A.txt", "File 0", "File 1"), cursor: null, is_done: true });
  const marks = (name) => performance.getEntriesByName(name);
  assert.deepEqual(
    marks(MARKS.updateReceived).map((m) => m.startTime),
    [5, 6],
    "one mark per change, at the time Rust stamped",
  );
  assert.equal(marks(MARKS.updateHandled).length, 2, "each change is marked as it reaches the list");
  assert.equal(marks(MARKS.updateRendered).length, 2, "and once its rows are in the document");
  assert.ok(marks(MARKS.updateHandled)[1].startTime <= marks(MARKS.updateRendered)[1].startTime);
  assert.equal(marks(MARKS.updatePainted).length, 0, "not painted before the frame");
  frames.splice(0).forEach((frame) => frame());
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(marks(MARKS.updatePainted).length, 2, "one painted mark per change, even in one frame");
  files.update({ page: 0, error: { code: "backend_error", message: "The query failed." }, received_ms: received + 2 });
  assert.equal(marks(MARKS.updateReceived).length, 2, "a failure is not a change shown");
});

test("a live change off screen is not marked", async () => {
  performance.clearMarks();
  const { loadPage } = backend(1);
  const { files } = list(loadPage);
  await files.reload();
  files.update({ page: 0, received_ms: performance.timeOrigin, files: named("A.txt", "File 0"), cursor: null, is_done: true });
  assert.equal(performance.getEntriesByName(MARKS.updateReceived).length, 0);
});

test("each row offers Open, Save as… and Delete, labelled with the file's name, acting on that file", async () => {
  const el = Object.fromEntries(["viewport", "spacer", "rows", "state", "count"].map((k) => [k, new FakeElement(doc)]));
  el.viewport.clientHeight = 440;
  const done = [];
  const record = (action) => (file) => done.push([action, file.name]);
  const files = new FileList(el, {
    loadPage: backend(3).loadPage,
    onError: () => {},
    onScreen: () => false,
    actions: { open: record("open"), saveAs: record("saveAs"), remove: record("remove") },
  });
  await files.reload();
  const buttons = el.rows.children[1].children[4].children;
  assert.deepEqual(
    buttons.map((b) => [b.tagName, b.type, b.textContent, b.attributes["aria-label"]]),
    [
      ["button", "button", "Open", "Open File 1"],
      ["button", "button", "Save as…", "Save File 1 as…"],
      ["button", "button", "Delete", "Delete File 1"],
    ],
  );
  for (const button of buttons) button.listeners.click();
  assert.deepEqual(done, [
    ["open", "File 1"],
    ["saveAs", "File 1"],
    ["remove", "File 1"],
  ]);
});

test("a row button keeps the keyboard focus when a live update re-renders the rows", async () => {
  const el = Object.fromEntries(["viewport", "spacer", "rows", "state", "count"].map((k) => [k, new FakeElement(doc)]));
  el.viewport.clientHeight = 440;
  const withIds = async (page, cursor, pageSize) => {
    const served = await backend(3).loadPage(page, cursor, pageSize);
    return { ...served, files: served.files.map((f, i) => ({ ...f, id: `id${i}` })) };
  };
  const files = new FileList(el, {
    loadPage: withIds,
    onError: () => {},
    onScreen: () => false,
    actions: { open: () => {}, saveAs: () => {}, remove: () => {} },
  });
  await files.reload();
  const deleteOf = (row) => el.rows.children[row].children[4].children[2];
  const before = deleteOf(1);
  before.focus();
  const page = await withIds(0, null, PAGE_SIZE);
  files.update({ page: 0, ...page, files: [{ ...page.files[0], id: "new", name: "New" }, ...page.files] });
  const after = deleteOf(2);
  assert.notEqual(after, before, "the rows were rebuilt");
  assert.equal(after.attributes["aria-label"], "Delete File 1");
  assert.equal(doc.activeElement, after, "the same file's Delete button has the focus again");
  delete doc.activeElement;
});

/** A backend that records each request's query and answers from `pages` (by request, in turn). */
function queried(pages) {
  const requests = [];
  const loadPage = async (page, cursor, pageSize, query) => {
    requests.push({ page, cursor, query });
    return pages[Math.min(requests.length - 1, pages.length - 1)];
  };
  return { requests, loadPage };
}

test("changing the sort or the search lets go of every page and asks again in the new order", async () => {
  const { requests, loadPage } = queried([{ files: someFiles(0, 3), cursor: "3", is_done: true }]);
  const { files, released } = list(loadPage);
  await files.reload();
  assert.deepEqual(requests.at(-1).query, { order: "newest", search: "" });
  await files.setQuery({ order: "name", search: "" });
  assert.deepEqual(released, [0, 1], "the first list's page 0 is let go when the new one starts");
  assert.deepEqual(requests.at(-1), { page: 1, cursor: null, query: { order: "name", search: "" } });
  await files.setQuery({ order: "name", search: "  report " });
  assert.deepEqual(requests.at(-1), { page: 2, cursor: null, query: { order: "name", search: "report" } });
  await files.setQuery({ order: "name", search: "report" });
  assert.equal(requests.length, 3, "the same query again does not start over");
  assert.deepEqual(files.query, { order: "name", search: "report" });
});

test("a search that finds nothing says no file matches it, as text", async () => {
  const { loadPage } = queried([{ files: [], cursor: "", is_done: true }]);
  const { el, files } = list(loadPage);
  await files.setQuery({ search: "<b>q3</b>" });
  assert.equal(el.state.hidden, false);
  assert.equal(el.state.textContent, "No files match “<b>q3</b>”.");
  await files.setQuery({ search: "" });
  assert.equal(el.state.textContent, "No files yet. Files you upload will appear here.");
});

test("search pages that matched nothing are followed by the next until a match or the end", async () => {
  const match = someFiles(7, 1);
  const { requests, loadPage } = queried([
    { files: [], cursor: "a", is_done: false },
    { files: [], cursor: "b", is_done: false },
    { files: match, cursor: "c", is_done: true },
  ]);
  const { el, files, names } = list(loadPage);
  await files.setQuery({ search: "7" });
  for (let i = 0; i < 5; i++) await files.loadMore();
  assert.deepEqual(
    requests.map((r) => r.cursor),
    [null, "a", "b"],
  );
  assert.deepEqual(names(), ["File 7"]);
  assert.equal(el.state.hidden, true);
});

/** A `<select>` or `<input>`: a value and its listeners, which a test fires. */
class FakeControl {
  constructor(value) {
    this.value = value;
    this.listeners = {};
  }
  addEventListener(type, listener) {
    this.listeners[type] = listener;
  }
}

/** Timers a test runs by hand. */
function manualTimer() {
  const pending = new Map();
  let next = 0;
  return {
    pending,
    set: (run, ms) => {
      pending.set(++next, { run, ms });
      return next;
    },
    clear: (handle) => pending.delete(handle),
    fire: () => {
      const due = [...pending.values()];
      pending.clear();
      for (const { run } of due) run();
    },
  };
}

function controls() {
  const sort = new FakeControl("newest");
  const search = new FakeControl("");
  const timer = manualTimer();
  const changes = [];
  const query = new FileQueryControls({ sort, search }, { onChange: (q) => changes.push(q), timer });
  return { sort, search, timer, changes, query };
}

test("a new sort applies at once", () => {
  const { sort, changes } = controls();
  sort.value = "size";
  sort.listeners.change();
  assert.deepEqual(changes, [{ order: "size", search: "" }]);
});

test("typing in the search applies once, after a pause", () => {
  const { search, timer, changes } = controls();
  for (const typed of ["r", "re", "rep"]) {
    search.value = typed;
    search.listeners.input();
  }
  assert.deepEqual(changes, [], "nothing while typing");
  assert.equal(timer.pending.size, 1, "each keystroke replaces the wait");
  assert.equal([...timer.pending.values()][0].ms, SEARCH_DELAY_MS);
  timer.fire();
  assert.deepEqual(changes, [{ order: "newest", search: "rep" }]);
});

test("Escape clears the search at once and cancels a pending one", () => {
  const { search, timer, changes } = controls();
  search.value = "rep";
  search.listeners.input();
  let prevented = false;
  search.listeners.keydown({ key: "Escape", preventDefault: () => (prevented = true) });
  assert.equal(search.value, "");
  assert.equal(prevented, true);
  assert.deepEqual(changes, [{ order: "newest", search: "" }]);
  assert.equal(timer.pending.size, 0);
  search.listeners.keydown({ key: "Escape", preventDefault: () => assert.fail("an empty search lets Escape through") });
  search.listeners.keydown({ key: "a", preventDefault: () => assert.fail("other keys type") });
  assert.equal(changes.length, 1);
});

test("reset goes back to newest first with no search, an unknown order reads as newest", () => {
  const { sort, search, timer, changes, query } = controls();
  sort.value = "bogus";
  assert.deepEqual(query.query, { order: "newest", search: "" });
  sort.value = "name";
  search.value = "x";
  search.listeners.input();
  query.reset();
  assert.deepEqual([sort.value, search.value, timer.pending.size, changes.length], ["newest", "", 0, 0]);
});
