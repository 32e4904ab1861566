// The User Timing marks `cargo xtask bench` reads (bench/src/scenarios.rs): their names are its
// interface, and ui/test/timing.test.js holds the two to the same list.

export const MARKS = Object.freeze({
  boot: "kinvex:boot",
  sessionKnown: "kinvex:session-known",
  profileData: "kinvex:profile-data",
  profileRendered: "kinvex:profile-rendered",
  filesArrived: "kinvex:files-arrived",
  filesVisible: "kinvex:files-visible",
});

export function mark(name) {
  performance.mark(name);
}

/** Marks waiting for their frame, so a second request in the same frame adds nothing. */
const waiting = new Set();

/**
 * Records `name` once the frame showing the change has been painted (a task queued from the
 * frame callback runs after that paint). The benchmark reads the first only, so once it is
 * recorded later calls do nothing.
 */
export function markPainted(name) {
  if (waiting.has(name) || performance.getEntriesByName(name).length > 0) return;
  waiting.add(name);
  requestAnimationFrame(() =>
    setTimeout(() => {
      waiting.delete(name);
      performance.mark(name);
    }, 0),
  );
}
