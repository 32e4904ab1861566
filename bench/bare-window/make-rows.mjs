// Writes dist/rows.html: the app's signed-in screen with the first page of files the benchmark's
// person gets (the local stack's demo files, then its generated ones, newest first), as static
// markup in a <template>, in the shape ui/file-list.js gives its rows. Run it with
// `node bench/bare-window/make-rows.mjs` when that shape or the stack's demo files change.

import { writeFileSync } from "node:fs";
import { formatDate, formatSize } from "../../ui/format.js";

/** `PAGE_SIZE` in ui/file-list.js. */
const PAGE_SIZE = 200;
const HOUR_MS = 3_600_000;
/** A fixed "now", so the page does not change from one run of this script to the next. */
const NOW = Date.UTC(2026, 11, 1, 12);

/** The demo person's files in crates/devstack/src/seed.rs, newest first. */
const DEMO = [
  ["Quarterly report.pdf", "application/pdf", 482_113],
  ["Team offsite.jpg", "image/jpeg", 2_340_112],
  ["Roadmap.md", "text/markdown", 8_123],
  ["Budget 2026.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", 91_234],
  ["Logo.svg", "image/svg+xml", 4_211],
  ["Meeting notes.txt", "text/plain", 2_311],
  ["Product demo.mp4", "video/mp4", 48_221_991],
  ["Contract draft.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", 120_334],
  ["Архив проекта.zip", "application/zip", 9_812_331],
  ['<b>not bold</b> & "quoted".html', "text/html", 321],
  ["Podcast episode 12.mp3", "audio/mpeg", 31_554_112],
  ["Invoice 0042.pdf", "application/pdf", 75_002],
  ["Empty placeholder", "application/octet-stream", 0],
  ["data-export.json", "application/json", 1_204_883],
].map(([name, type, size], i) => ({ name, type, size, created: NOW - (i + 1) * 31 * HOUR_MS }));

const files = [...DEMO];
for (let i = 0; files.length < PAGE_SIZE; i++) {
  files.push({
    name: `Generated file ${String(i + 1).padStart(5, "0")}.txt`,
    type: "text/plain",
    size: (i * 7_919) % 5_000_000,
    created: NOW - 1_000 * HOUR_MS - i * 60_000,
  });
}

const escape = (text) =>
  String(text).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const cell = (className, text) => `<span class="${className}" title="${escape(text)}">${escape(text)}</span>`;
const button = (testid, text, label) =>
  `<button type="button" class="button small ghost" aria-label="${escape(label)}" data-testid="${testid}">${text}</button>`;
const row = (file, i) =>
  `<div class="file-row" role="listitem" aria-posinset="${i + 1}" aria-setsize="-1">` +
  cell("file-name", file.name) +
  cell("file-type", file.type) +
  cell("file-size", formatSize(file.size)) +
  cell("file-date", formatDate(file.created, "en-US")) +
  `<span class="file-actions">` +
  button("file-open", "Open", `Open ${file.name}`) +
  button("file-save-as", "Save as…", `Save ${file.name} as…`) +
  button("file-delete", "Delete", `Delete ${file.name}`) +
  `</span></div>`;

const page = `<!doctype html>
<!-- Written by make-rows.mjs; do not edit by hand. -->
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta name="color-scheme" content="light dark">
    <title>Bare window, rows</title>
    <link rel="stylesheet" href="app.css">
    <script src="rows.js" defer></script>
  </head>
  <body>
    <header class="bar">
      <div class="brand"><h1>Bare window</h1></div>
      <div class="bar-user"><button type="button" class="button ghost">Sign out</button></div>
    </header>
    <main>
      <section class="screen signed-in">
        <aside class="card profile">
          <div class="avatar" aria-hidden="true">DD</div>
          <h2>Dana Demo</h2>
          <dl class="facts">
            <div><dt>Email</dt><dd>demo@kinvex.dev</dd></div>
            <div><dt>Phone</dt><dd>+44 7700 900123</dd></div>
            <div><dt>Kinde user id</dt><dd class="mono">kp_0123456789abcdef0123456789abcdef</dd></div>
            <div><dt>Organization</dt><dd class="mono">org_kinvex_demo</dd></div>
            <div><dt>Member since</dt><dd>${formatDate(NOW, "en-US")}</dd></div>
          </dl>
        </aside>
        <section class="card files">
          <div class="files-head">
            <h2>Your files</h2>
            <span class="muted" id="files-count"></span>
            <button type="button" class="button primary small files-upload">Upload…</button>
          </div>
          <div class="files-query">
            <label for="files-sort">Sort by</label>
            <select id="files-sort"><option>Newest</option><option>Oldest</option><option>Name</option><option>Size</option></select>
            <label for="files-search">Search</label>
            <input type="search" id="files-search" placeholder="File name">
          </div>
          <div class="files-columns" aria-hidden="true"><span>Name</span><span>Type</span><span>Size</span><span>Added</span><span></span></div>
          <div class="files-viewport" id="files-viewport" tabindex="0" aria-label="Files">
            <div class="files-spacer" id="files-spacer"></div>
            <div class="files-rows" id="files-rows" role="list"></div>
          </div>
          <p class="files-state" id="files-state">Loading your files…</p>
        </section>
      </section>
    </main>
    <footer class="footer"><span>Bare window</span></footer>
    <template id="first-page">${files.map(row).join("")}</template>
  </body>
</html>
`;

writeFileSync(new URL("dist/rows.html", import.meta.url), page);
