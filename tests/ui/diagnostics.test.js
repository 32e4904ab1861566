import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { beforeEach, test } from "node:test";
import { Diagnostics, STATUSES, copyText, formatMillis, overallText, renderCheck, statusOf } from "../../ui/diagnostics.js";

/** Just enough of the DOM for the view: elements that keep what is set on them. Markup can't be
 * set at all (no innerHTML), so anything the view puts on the page is text or an element it made. */
class FakeElement {
  constructor(doc, tagName = "div") {
    this.ownerDocument = doc;
    this.tagName = tagName.toUpperCase();
    this.className = "";
    this.textContent = "";
    this.hidden = false;
    this.disabled = false;
    this.open = false;
    this.value = "";
    this.attributes = {};
    this.children = [];
    this.listeners = {};
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
  click() {
    this.listeners.click?.();
  }
  showModal() {
    this.open = true;
  }
  close() {
    this.open = false;
    this.listeners.close?.();
  }
  set innerHTML(_) {
    throw new Error("the view set markup");
  }
  /** Every element in this subtree, this one first. */
  *all() {
    yield this;
    for (const child of this.children) yield* child.all();
  }
}

function fakeDocument() {
  const doc = { activeElement: null, createElement: (tag) => new FakeElement(doc, tag) };
  return doc;
}

const check = (overrides = {}) => ({
  id: "discovery",
  title: "Discovery",
  status: "ok",
  summary: "The provider's metadata is served and names this issuer.",
  details: [["issuer", "https://example.kinde.com"]],
  fix: null,
  millis: 42,
  ...overrides,
});

const answer = (checks) => ({
  report: { ok: !checks.some((c) => c.status === "fail"), checks },
  text: checks.map((c) => `${c.id}: ${c.status}`).join("\n"),
});

let doc;
let el;
beforeEach(() => {
  doc = fakeDocument();
  el = Object.fromEntries(
    ["dialog", "heading", "overall", "checks", "notice", "again", "copy", "close", "opener"].map((k) => [k, new FakeElement(doc)]),
  );
});

/** A view whose `diagnose` answers with the given answers in turn. */
function view(...answers) {
  const copied = [];
  const diagnostics = new Diagnostics(el, {
    diagnose: async () => {
      const next = answers.shift();
      if (next instanceof Error || next?.code) throw next;
      return next;
    },
    copy: async (text) => {
      copied.push(text);
      return true;
    },
  });
  return { diagnostics, copied };
}

test("each status has a symbol and a word, never colour alone", () => {
  assert.deepEqual(Object.keys(STATUSES), ["ok", "warn", "fail", "skip"]);
  for (const { symbol, word } of Object.values(STATUSES)) {
    assert.ok(symbol && word);
  }
  assert.deepEqual(statusOf("fail"), { symbol: "✗", word: "Failed" });
  assert.deepEqual(statusOf("mystery"), { symbol: "?", word: "mystery" });
});

test("the overall line counts problems and warnings", () => {
  assert.equal(overallText({ checks: [check(), check()] }), "No problems found");
  assert.equal(overallText({ checks: [check(), check({ status: "warn" })] }), "No problems found, 1 warning");
  assert.equal(
    overallText({ checks: [check({ status: "fail" }), check({ status: "fail" }), check({ status: "warn" })] }),
    "2 problems found, 1 warning",
  );
  assert.equal(overallText({ checks: [check({ status: "fail" }), check({ status: "skip" })] }), "1 problem found");
});

test("timings read in milliseconds, seconds past one", () => {
  assert.equal(formatMillis(0), "0 ms");
  assert.equal(formatMillis(999), "999 ms");
  assert.equal(formatMillis(1520), "1.5 s");
});

test("a check shows its status word and symbol, title, summary, details, fix and timing", () => {
  const row = renderCheck(
    doc,
    check({
      id: "convex_call",
      status: "fail",
      title: "A call to the deployment",
      summary: "401: No auth provider found matching the given token",
      details: [
        ["iss", "https://example.kinde.com"],
        ["aud", "kinvex-api"],
      ],
      fix: "Set applicationID to `kinvex-api` in convex/auth.config.ts.",
      millis: 1520,
    }),
  );
  assert.equal(row.tagName, "LI");
  assert.equal(row.attributes["data-testid"], "check-convex_call");
  assert.equal(row.attributes["data-status"], "fail");
  assert.match(row.className, /check-fail/);
  const [head, summary, details, fix] = row.children;
  const [mark, status, title, time] = head.children;
  assert.equal(mark.textContent, "✗");
  assert.equal(mark.attributes["aria-hidden"], "true", "the word says it to a screen reader");
  assert.equal(status.textContent, "Failed");
  assert.equal(title.textContent, "A call to the deployment");
  assert.equal(time.textContent, "1.5 s");
  assert.equal(summary.textContent, "401: No auth provider found matching the given token");
  assert.deepEqual(
    details.children.map((pair) => pair.children.map((c) => [c.tagName, c.textContent])),
    [
      [
        ["DT", "iss"],
        ["DD", "https://example.kinde.com"],
      ],
      [
        ["DT", "aud"],
        ["DD", "kinvex-api"],
      ],
    ],
  );
  assert.deepEqual(
    fix.children.map((c) => c.textContent),
    ["Fix: ", "Set applicationID to `kinvex-api` in convex/auth.config.ts."],
  );
});

test("a check without details or a fix shows neither", () => {
  const row = renderCheck(doc, check({ details: [], fix: null }));
  assert.equal(row.children.length, 2, "the head and the summary only");
});

test("markup in any string of the report is shown as text, never made into elements", () => {
  const hostile = "<img src=x onerror=alert(1)>";
  const row = renderCheck(
    doc,
    check({ title: hostile, summary: hostile, details: [[hostile, hostile]], fix: hostile, status: "warn" }),
  );
  const tags = new Set([...row.all()].map((node) => node.tagName));
  assert.ok(!tags.has("IMG"), [...tags].join());
  const texts = [...row.all()].map((node) => node.textContent);
  assert.equal(texts.filter((t) => t === hostile).length, 5, "title, summary, key, value and fix, verbatim");
});

test("opening shows the dialog, focuses its heading and renders one row per check", async () => {
  const { diagnostics } = view(answer([check(), check({ id: "jwks", status: "warn" }), check({ id: "token", status: "skip" })]));
  el.opener.focus();
  const shown = diagnostics.open();
  assert.equal(el.dialog.open, true);
  assert.equal(doc.activeElement, el.heading);
  assert.equal(el.overall.textContent, "Checking…");
  assert.equal(el.checks.attributes["aria-busy"], "true");
  assert.equal(el.again.disabled, true);
  assert.equal(el.copy.disabled, true, "nothing to copy yet");
  await shown;
  assert.deepEqual(
    el.checks.children.map((row) => row.attributes["data-testid"]),
    ["check-discovery", "check-jwks", "check-token"],
  );
  assert.equal(el.overall.textContent, "No problems found, 1 warning");
  assert.match(el.overall.className, /is-warn/);
  assert.equal(el.checks.attributes["aria-busy"], "false");
  assert.equal(el.again.disabled, false);
  assert.equal(el.copy.disabled, false);
});

test("a failing report says so", async () => {
  const { diagnostics } = view(answer([check(), check({ id: "convex_call", status: "fail" })]));
  await diagnostics.open();
  assert.equal(el.overall.textContent, "1 problem found");
  assert.match(el.overall.className, /is-fail/);
});

test("copy puts the report's text on the clipboard and says so", async () => {
  const first = answer([check({ status: "fail" })]);
  const { diagnostics, copied } = view(first);
  await diagnostics.open();
  el.copy.click();
  await new Promise(setImmediate);
  assert.deepEqual(copied, [first.text]);
  assert.equal(el.notice.textContent, "Report copied.");
  assert.equal(el.notice.hidden, false);
  assert.equal(doc.activeElement, el.copy, "focus stays on the button");
});

test("run again replaces the rows, and an overtaken answer is dropped", async () => {
  let release;
  const slow = new Promise((resolve) => {
    release = resolve;
  });
  const answers = [slow, answer([check({ id: "second" })])];
  const diagnostics = new Diagnostics(el, { diagnose: () => answers.shift(), copy: async () => true });
  const first = diagnostics.open();
  const second = diagnostics.run();
  await second;
  release(answer([check({ id: "first" })]));
  await first;
  assert.deepEqual(
    el.checks.children.map((row) => row.attributes["data-testid"]),
    ["check-second"],
  );
  assert.equal(el.again.disabled, false);
});

test("a command that fails shows its message and leaves nothing to copy", async () => {
  const { diagnostics, copied } = view({ code: "config", message: "KINDE_ISSUER_URL is not set." });
  await diagnostics.open();
  assert.equal(el.overall.textContent, "The checks could not run");
  assert.equal(el.notice.textContent, "KINDE_ISSUER_URL is not set.");
  assert.equal(el.checks.children.length, 0);
  assert.equal(el.copy.disabled, true);
  await diagnostics.copyReport();
  assert.deepEqual(copied, []);
  assert.equal(el.again.disabled, false, "it can be tried again");
});

test("closing, by button or Escape, hands focus back to what opened the view", async () => {
  const { diagnostics } = view(answer([check()]), answer([check()]));
  el.opener.focus();
  await diagnostics.open();
  el.close.click();
  assert.equal(el.dialog.open, false);
  assert.equal(doc.activeElement, el.opener);

  el.opener.focus();
  await diagnostics.open();
  // Escape: the browser closes the dialog itself and fires `close`.
  el.dialog.open = false;
  el.dialog.listeners.close();
  assert.equal(doc.activeElement, el.opener);
});

test("copying prefers the asynchronous clipboard", async () => {
  const written = [];
  const copied = await copyText("report", { clipboard: { writeText: async (t) => written.push(t) }, doc: null });
  assert.equal(copied, true);
  assert.deepEqual(written, ["report"]);
});

test("copying falls back to a selected text area when the clipboard refuses", async () => {
  const body = new FakeElement(doc, "body");
  const commands = [];
  const page = {
    body,
    createElement: (tag) => {
      const node = new FakeElement(page, tag);
      node.select = () => commands.push(["select", node.value]);
      node.remove = () => body.replaceChildren(...body.children.filter((c) => c !== node));
      return node;
    },
    execCommand: (command) => {
      commands.push([command, body.children.length]);
      return true;
    },
  };
  const refusing = { writeText: async () => Promise.reject(new Error("NotAllowedError")) };
  assert.equal(await copyText("report", { clipboard: refusing, doc: page }), true);
  assert.deepEqual(commands, [
    ["select", "report"],
    ["copy", 1],
  ]);
  assert.equal(body.children.length, 0, "the text area is gone again");
});

test("the page has every element the view needs, and the entry point is outside any screen", () => {
  const html = readFileSync(new URL("../../ui/index.html", import.meta.url), "utf8");
  for (const id of ["diagnostics", "diagnostics-title", "diagnostics-overall", "diagnostics-checks", "diagnostics-notice", "diagnostics-again", "diagnostics-copy", "diagnostics-close"]) {
    assert.match(html, new RegExp(`id="${id}"`), id);
  }
  assert.match(html, /<dialog[^>]*id="diagnostics"/, "a modal dialog: focus stays in it and Escape closes it");
  // In the footer, which every screen (signed in or out, loading, signing in) shows.
  const footer = html.slice(html.indexOf("<footer"), html.indexOf("</footer>"));
  assert.match(footer, /id="open-diagnostics"/);
});
