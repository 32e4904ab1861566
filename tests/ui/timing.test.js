import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { beforeEach, test } from "node:test";
import { MARKS, mark, markAt, markEachPainted, markPainted } from "../../ui/timing.js";

/** Every file of a folder of the project, end to end. */
const sources = (folder, extension) => {
  const dir = new URL(`../../${folder}/`, import.meta.url);
  return readdirSync(dir)
    .filter((name) => name.endsWith(extension))
    .map((name) => readFileSync(new URL(name, dir), "utf8"))
    .join("\n");
};
const bench = sources("bench/src", ".rs");
const page = sources("ui", ".js");

/** The frame callbacks requested, run by the test as the browser would before painting. */
let frames = [];
globalThis.requestAnimationFrame = (callback) => frames.push(callback);

const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));
const recorded = (name) => performance.getEntriesByName(name).length;

beforeEach(() => {
  performance.clearMarks();
  frames = [];
});

test("the page sets every mark the benchmark reads, under the same names", () => {
  // Every mark named in bench/src/*.rs as a string of its own (`mark("…")`, `marks("…")`, a
  // pair of them handed to `painted_between`, a script's `'…'`).
  const read = new Set([...bench.matchAll(/["'](kinvex:[a-z-]+)["']/g)].map(([, name]) => name));
  assert.ok(read.size >= 8, `the benchmark reads marks: ${[...read]}`);
  assert.deepEqual(new Set(Object.values(MARKS)), read);
  for (const key of Object.keys(MARKS)) {
    const set = new RegExp(`mark[A-Za-z]*\\(MARKS\\.${key}\\b`);
    assert.match(page, set, `the page never sets MARKS.${key}`);
  }
});

test("a mark is recorded at once", () => {
  mark(MARKS.boot);
  assert.equal(recorded(MARKS.boot), 1);
});

test("a painted mark waits for the frame and the task after it", async () => {
  markPainted(MARKS.filesVisible);
  assert.equal(recorded(MARKS.filesVisible), 0, "not before the frame");
  assert.equal(frames.length, 1);
  frames.shift()();
  assert.equal(recorded(MARKS.filesVisible), 0, "not in the frame callback, before the paint");
  await nextTask();
  assert.equal(recorded(MARKS.filesVisible), 1);
});

test("a painted mark is recorded once, however often it is asked for", async () => {
  markPainted(MARKS.profileRendered);
  markPainted(MARKS.profileRendered);
  assert.equal(frames.length, 1, "a second request in the same frame adds nothing");
  frames.shift()();
  await nextTask();
  markPainted(MARKS.profileRendered);
  assert.equal(frames.length, 0, "nor does one after it is recorded");
  assert.equal(recorded(MARKS.profileRendered), 1);
});

test("a mark at a time stamped outside the page lands at that time", () => {
  markAt(MARKS.updateReceived, performance.timeOrigin + 1234.5);
  const [entry] = performance.getEntriesByName(MARKS.updateReceived);
  assert.equal(entry.startTime, 1234.5);
});

test("a mark painted for each change is recorded once per call, after its frame", async () => {
  markEachPainted(MARKS.updatePainted);
  markEachPainted(MARKS.updatePainted);
  assert.equal(frames.length, 2, "each change waits for a frame of its own request");
  frames.shift()();
  frames.shift()();
  assert.equal(recorded(MARKS.updatePainted), 0, "not before the paint");
  await nextTask();
  assert.equal(recorded(MARKS.updatePainted), 2);
  markEachPainted(MARKS.updatePainted);
  frames.shift()();
  await nextTask();
  assert.equal(recorded(MARKS.updatePainted), 3, "nor does an earlier one stop a later one");
});
