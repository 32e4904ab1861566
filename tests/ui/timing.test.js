import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { beforeEach, test } from "node:test";
import { MARKS, mark, markPainted } from "../../ui/timing.js";

const bench = readFileSync(new URL("../../bench/src/scenarios.rs", import.meta.url), "utf8");

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
  const read = new Set([...bench.matchAll(/mark\("(kinvex:[a-z-]+)"\)/g)].map(([, name]) => name));
  assert.ok(read.size >= 6, `the benchmark reads marks: ${[...read]}`);
  assert.deepEqual(new Set(Object.values(MARKS)), read);
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
