// The baseline of the 10,000-files benchmark: once the page is loaded and painted, puts the rows
// ui/file-list.js would render for the first page in the list in one go (clones of the
// <template>'s), with the same other changes (list height, count, state), and marks it as the
// app does: `bare:rows-arrived` before, `bare:rows-visible` after the frame showing them
// (ui/timing.js: a task queued from the frame callback runs after that paint).
"use strict";

/** ui/file-list.js: ROW_HEIGHT, PAGE_SIZE and visibleRange's rows at the top of the list. */
const ROW_HEIGHT = 44;
const PAGE_SIZE = 200;
const ROWS_EXTRA = 16;

function afterPaint(record) {
  requestAnimationFrame(() => setTimeout(record, 0));
}

function insertRows() {
  performance.mark("bare:rows-arrived");
  // In ui/file-list.js's order: the state and count first, then the rows for the viewport.
  const state = document.getElementById("files-state");
  state.textContent = "";
  state.hidden = true;
  document.getElementById("files-count").textContent = `${PAGE_SIZE}+ files`;
  const viewport = document.getElementById("files-viewport");
  const rows = document.getElementById("files-rows");
  const page = document.getElementById("first-page").content.children;
  document.getElementById("files-spacer").style.height = `${PAGE_SIZE * ROW_HEIGHT}px`;
  const count = Math.min(page.length, Math.ceil(viewport.clientHeight / ROW_HEIGHT) + ROWS_EXTRA);
  rows.replaceChildren(...Array.from(page).slice(0, count).map((row) => row.cloneNode(true)));
  afterPaint(() => performance.mark("bare:rows-visible"));
}

// After `load` and the frame after it, as the app's data arrives on a page already laid out and
// painted: inserting on the first frame after navigation would charge the page's first layout and
// paint to the rows.
// Two frames, as WebKit may still be painting the first when the task after its callback runs.
const settled = () => afterPaint(() => afterPaint(insertRows));
if (document.readyState === "complete") settled();
else window.addEventListener("load", settled, { once: true });
