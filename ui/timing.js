// The User Timing marks `cargo xtask bench` reads (bench/src/*.rs): their names are its
// interface, and tests/ui/timing.test.js holds the two to the same list.

export const MARKS = Object.freeze({
  boot: "kinvex:boot",
  sessionKnown: "kinvex:session-known",
  profileData: "kinvex:profile-data",
  profileRendered: "kinvex:profile-rendered",
  filesArrived: "kinvex:files-arrived",
  filesVisible: "kinvex:files-visible",
  /** One per live change of a page of files: when the app's Rust live client received it. */
  updateReceived: "kinvex:update-received",
  /** One per live change of a page of files: when the page's handler got it. */
  updateHandled: "kinvex:update-handled",
  /** One per live change of a page of files: when its rows were in the document. */
  updateRendered: "kinvex:update-rendered",
  /** One per live change of a page of files: after the frame showing it was painted. */
  updatePainted: "kinvex:update-painted",
});

export function mark(name) {
  performance.mark(name);
}

/** Records `name` at `epochMs` (milliseconds since the epoch), a time stamped outside the page. */
export function markAt(name, epochMs) {
  performance.mark(name, { startTime: epochMs - performance.timeOrigin });
}

/** Marks waiting for their frame, so a second request in the same frame adds nothing. */
const waiting = new Set();

/** Runs `record` once the frame showing the change has been painted (a task queued from the
 * frame callback runs after that paint). */
function afterPaint(record) {
  requestAnimationFrame(() => setTimeout(record, 0));
}

/**
 * Records `name` once the frame showing the change has been painted. The benchmark reads the
 * first only, so once it is recorded later calls do nothing.
 */
export function markPainted(name) {
  if (waiting.has(name) || performance.getEntriesByName(name).length > 0) return;
  waiting.add(name);
  afterPaint(() => {
    waiting.delete(name);
    performance.mark(name);
  });
}

/**
 * Records `name` after the frame showing this change has been painted, once per call: the
 * benchmark pairs the n-th such mark with the n-th change, so none is merged with another.
 */
export function markEachPainted(name) {
  afterPaint(() => performance.mark(name));
}
