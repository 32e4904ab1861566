import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";
import { FileList, PAGE_SIZE, ROW_HEIGHT, nearEnd, visibleRange } from "../../ui/file-list.js";

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
  const loadPage = async (cursor, pageSize) => {
    requests.push({ cursor, pageSize });
    const from = cursor === null ? 0 : Number(cursor);
    const to = Math.min(total, from + pageSize);
    return { files: someFiles(from, to - from), cursor: String(to), is_done: to >= total };
  };
  return { requests, loadPage };
}

function list(loadPage, viewportHeight = 440) {
  const el = Object.fromEntries(["viewport", "spacer", "rows", "state", "count"].map((k) => [k, new FakeElement(doc)]));
  el.viewport.clientHeight = viewportHeight;
  const errors = [];
  const files = new FileList(el, { loadPage, onError: (e) => errors.push(e), onScreen: () => false });
  return { el, errors, files, names: () => el.rows.children.map((row) => row.children[0].textContent) };
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
  const loadPage = (cursor) => {
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
