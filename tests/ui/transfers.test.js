import assert from "node:assert/strict";
import { test } from "node:test";
import { DONE_LINGER_MS, TransfersPanel, announcement, formatRate, formatTimeLeft, percent, statusLine } from "../../ui/transfers.js";

/** Just enough of the DOM for the panel: elements that keep what is set on them; markup can't be
 * set at all, so whatever the panel shows is text. */
class FakeElement {
  constructor(doc, tagName = "div") {
    this.ownerDocument = doc;
    this.tagName = tagName.toUpperCase();
    this.textContent = "";
    this.hidden = false;
    this.disabled = false;
    this.attributes = {};
    this.children = [];
    this.parent = null;
  }
  setAttribute(name, value) {
    this.attributes[name] = String(value);
  }
  removeAttribute(name) {
    delete this.attributes[name];
  }
  append(...nodes) {
    for (const node of nodes) node.parent = this;
    this.children.push(...nodes);
  }
  remove() {
    if (this.parent) this.parent.children = this.parent.children.filter((c) => c !== this);
  }
  set innerHTML(_) {
    throw new Error("the panel set markup");
  }
}

function panel({ cancel = async () => true } = {}) {
  const doc = { createElement: (tag) => new FakeElement(doc, tag) };
  const el = { panel: new FakeElement(doc), list: new FakeElement(doc, "ul"), announce: new FakeElement(doc, "p") };
  el.panel.hidden = true;
  const timers = [];
  const finished = [];
  const view = new TransfersPanel(el, {
    cancel,
    onDone: (update) => finished.push(update.id),
    setTimeout: (run, ms) => timers.push({ run, ms }),
  });
  return { view, el, timers, finished };
}

const MB = 1024 * 1024;
const running = (done, extra = {}) => ({
  id: 1,
  kind: "upload",
  name: "Roadmap.md",
  done,
  total: 4 * MB,
  bytesPerSecond: 2 * MB,
  secondsLeft: (4 * MB - done) / (2 * MB),
  state: "running",
  ...extra,
});

test("speeds and times left read as a person says them", () => {
  assert.equal(formatRate(512), "512 B/s");
  assert.equal(formatRate(1.5 * MB), "1.5 MB/s");
  assert.equal(formatTimeLeft(0.2), "1 s left");
  assert.equal(formatTimeLeft(42.1), "43 s left");
  assert.equal(formatTimeLeft(61), "2 min left");
  assert.equal(formatTimeLeft(3900), "1 h 5 min left");
  assert.equal(percent({ done: 1, total: 3 }), 33);
  assert.equal(percent({ done: 5, total: null }), null);
});

test("a running transfer's line says how far, how fast and how long is left", () => {
  assert.equal(statusLine(running(MB)), "1.0 MB of 4.0 MB · 2.0 MB/s · 2 s left");
  assert.equal(statusLine(running(0, { bytesPerSecond: null, secondsLeft: null })), "0 B of 4.0 MB");
  assert.equal(statusLine(running(4 * MB, { state: "done" })), "Uploaded · 4.0 MB");
  assert.equal(statusLine({ ...running(0), state: "failed", error: { code: "not_a_file", message: "Photos is a folder." } }), "Photos is a folder.");
  assert.equal(statusLine({ ...running(MB), state: "cancelled" }), "Cancelled");
});

test("the live region hears the start, each quarter once and the outcome", () => {
  assert.deepEqual(announcement(running(0), -1), { text: "Uploading Roadmap.md.", quarter: 0 });
  assert.equal(announcement(running(MB / 2), 0), null, "nothing new below a quarter");
  assert.deepEqual(announcement(running(2 * MB), 0), { text: "Uploading Roadmap.md: 50 percent.", quarter: 2 });
  assert.equal(announcement(running(2 * MB + 1), 2), null, "a quarter is said once");
  assert.equal(announcement(running(4 * MB), 3), null, "the end is said by the outcome");
  assert.deepEqual(announcement({ ...running(4 * MB), state: "done" }, 3), { text: "Uploaded Roadmap.md.", quarter: 4 });
  const failed = { ...running(0), kind: "download", state: "failed", error: { message: "The disk is full." } };
  assert.equal(announcement(failed, 0).text, "Could not download Roadmap.md: The disk is full.");
  assert.equal(announcement({ ...running(MB), state: "cancelled" }, 1).text, "Cancelled the upload of Roadmap.md.");
});

test("a transfer gets a labelled progress bar and Cancel, and leaves the panel a while after it is done", () => {
  const { view, el, timers, finished } = panel();
  view.update(running(0));
  assert.equal(el.panel.hidden, false);
  const [row] = el.list.children;
  const [name, bar, status, cancel] = row.children;
  assert.equal(name.textContent, "Roadmap.md");
  assert.equal(bar.tagName, "PROGRESS");
  assert.equal(bar.attributes["aria-label"], "Uploading Roadmap.md");
  assert.equal(cancel.attributes["aria-label"], "Cancel uploading Roadmap.md");
  assert.equal(el.announce.textContent, "Uploading Roadmap.md.");

  view.update(running(3 * MB));
  assert.equal(bar.value, 75);
  assert.equal(status.textContent, "3.0 MB of 4.0 MB · 2.0 MB/s · 1 s left");
  assert.equal(el.announce.textContent, "Uploading Roadmap.md: 75 percent.");

  view.update({ ...running(4 * MB), state: "done", bytesPerSecond: null, secondsLeft: null });
  assert.equal(bar.value, 100);
  assert.equal(cancel.hidden, true);
  assert.equal(el.announce.textContent, "Uploaded Roadmap.md.");
  assert.deepEqual(finished, [1]);
  view.update(running(MB));
  assert.equal(bar.value, 100, "a late report does not reopen an ended transfer");

  assert.equal(timers[0].ms, DONE_LINGER_MS);
  timers[0].run();
  assert.equal(el.list.children.length, 0);
  assert.equal(el.panel.hidden, true);
});

test("Cancel asks Rust to stop that transfer; a failure stays until dismissed", async () => {
  const cancelled = [];
  const { view, el, timers } = panel({ cancel: async (id) => cancelled.push(id) });
  view.update(running(MB, { id: 9 }));
  const cancel = el.list.children[0].children[3];
  cancel.onclick();
  assert.equal(cancel.disabled, true, "not pressed twice while it stops");
  assert.deepEqual(cancelled, [9]);

  view.update({ ...running(0), id: 10, name: "Photos", state: "failed", error: { code: "not_a_file", message: "Photos is a folder, not a file." } });
  const failed = el.list.children[1];
  assert.equal(failed.attributes["data-state"], "failed");
  const dismiss = failed.children[3];
  assert.equal(dismiss.textContent, "Dismiss");
  assert.equal(dismiss.attributes["aria-label"], "Dismiss the failed upload of Photos");
  assert.equal(timers.length, 0, "a failure does not leave by itself");
  dismiss.onclick();
  assert.deepEqual(view.ids, [9]);
});

test("an Open served from the cache says Opened, not Downloaded; one that downloaded says so", () => {
  const open = (state, fromCache) => ({ ...running(4 * MB), kind: "download", name: "Plan.md", state, fromCache, bytesPerSecond: null, secondsLeft: null });
  assert.equal(statusLine(open("done", true)), "Opened · 4.0 MB");
  assert.deepEqual(announcement(open("done", true), 0), { text: "Opened Plan.md.", quarter: 4 });
  assert.deepEqual(announcement(open("running", true), -1), { text: "Opening Plan.md.", quarter: 0 });
  const failed = { ...open("failed", true), error: { message: "No application opens .md files." } };
  assert.equal(announcement(failed, 0).text, "Could not open Plan.md: No application opens .md files.");
  assert.equal(statusLine(open("done", false)), "Downloaded · 4.0 MB");
  assert.deepEqual(announcement(open("done", false), 3), { text: "Downloaded Plan.md.", quarter: 4 });

  const { view, el } = panel();
  view.update(open("running", true));
  const [row] = el.list.children;
  assert.equal(row.children[1].attributes["aria-label"], "Opening Plan.md");
  view.update(open("done", true));
  assert.equal(row.children[2].textContent, "Opened · 4.0 MB");
  assert.equal(el.announce.textContent, "Opened Plan.md.");
});
