import assert from "node:assert/strict";
import { test } from "node:test";
import { ConnectionIndicator, clockTime, connectionView } from "../../ui/connection.js";

/** Just enough of an element: text, hidden, dataset and click listeners. */
class FakeElement {
  constructor() {
    this.textContent = "";
    this.hidden = false;
    this.dataset = {};
    this.listeners = {};
  }
  addEventListener(type, listener) {
    this.listeners[type] = listener;
  }
}

/** A text node that counts writes: a screen reader announces each one. */
class FakeText {
  text = "";
  textWrites = 0;
  get textContent() {
    return this.text;
  }
  set textContent(value) {
    this.textWrites += 1;
    this.text = value;
  }
}

function indicator() {
  const el = { status: new FakeElement(), text: new FakeText(), reconnect: new FakeElement(), signIn: new FakeElement() };
  const clicked = [];
  const shown = new ConnectionIndicator(el, {
    reconnect: () => clicked.push("reconnect"),
    signIn: () => clicked.push("sign-in"),
  });
  return { el, clicked, shown };
}

const at = (hours, minutes) => new Date(2024, 0, 5, hours, minutes).getTime();

test("the clock time is the local hours and minutes, two digits each", () => {
  assert.equal(clockTime(at(9, 5)), "09:05");
  assert.equal(clockTime(at(23, 59)), "23:59");
});

test("each state says in words what the connection is doing", () => {
  assert.deepEqual(connectionView({ state: "live" }), { state: "live", text: "Live", action: null });
  assert.deepEqual(connectionView({ state: "connecting" }), { state: "connecting", text: "Connecting…", action: null });
  assert.deepEqual(connectionView({ state: "reconnecting", since_ms: at(14, 7) }), {
    state: "reconnecting",
    text: "Reconnecting…",
    action: null,
  });
  assert.deepEqual(connectionView({ state: "offline", since_ms: at(14, 7) }), {
    state: "offline",
    text: "Offline since 14:07",
    action: "reconnect",
  });
  assert.deepEqual(connectionView(null), { state: "none", text: "Not connected", action: null });
});

test("a pause says why and offers a sign-in when only that helps", () => {
  const ended = { state: "paused", code: "session_ended", message: "Your session has ended. Sign in again." };
  assert.deepEqual(connectionView(ended), {
    state: "paused",
    text: "Paused: Your session has ended. Sign in again.",
    action: "sign-in",
  });
  const other = { state: "paused", code: "keychain", message: "The keychain is locked. Unlock it." };
  assert.equal(connectionView(other).action, null);
});

test("the Reconnect button shows only while offline, and does what it says", () => {
  const { el, clicked, shown } = indicator();
  shown.show({ state: "live" });
  assert.equal(el.reconnect.hidden, true);
  assert.equal(el.status.dataset.state, "live");
  assert.equal(el.text.textContent, "Live");
  shown.show({ state: "reconnecting", since_ms: at(10, 0) });
  assert.equal(el.reconnect.hidden, true, "not while the client is still reconnecting by itself");
  shown.show({ state: "offline", since_ms: at(10, 0) });
  assert.equal(el.reconnect.hidden, false);
  assert.equal(el.signIn.hidden, true);
  assert.equal(el.text.textContent, "Offline since 10:00");
  el.reconnect.listeners.click();
  assert.deepEqual(clicked, ["reconnect"]);
  shown.show({ state: "live" });
  assert.equal(el.reconnect.hidden, true);
  assert.equal(shown.state, "live");
});

test("a paused session shows the Sign in button instead", () => {
  const { el, clicked, shown } = indicator();
  shown.show({ state: "paused", code: "not_signed_in", message: "You are not signed in. Sign in first." });
  assert.equal(el.signIn.hidden, false);
  assert.equal(el.reconnect.hidden, true);
  assert.equal(el.status.dataset.state, "paused");
  el.signIn.listeners.click();
  assert.deepEqual(clicked, ["sign-in"]);
});

test("an answer asked for before a newer event does not cover it", async () => {
  const { el, shown } = indicator();
  let answer;
  const loading = shown.load(new Promise((resolve) => (answer = resolve)));
  shown.live({ state: "live" });
  answer({ state: "connecting" });
  await loading;
  assert.equal(el.status.dataset.state, "live", "the event came later than the answer was read");
});

test("an answer with no event on its way is shown", async () => {
  const { el, shown } = indicator();
  shown.live({ state: "connecting" });
  await shown.load(Promise.resolve({ state: "live" }));
  assert.equal(el.status.dataset.state, "live");
});

test("the same state again is not announced again", () => {
  const { el, shown } = indicator();
  shown.show({ state: "live" });
  shown.show({ state: "live" });
  assert.equal(el.text.textWrites, 1);
});

test("the status is announced politely, in words, next to its dot", async () => {
  const { readFileSync } = await import("node:fs");
  const html = readFileSync(new URL("../../ui/index.html", import.meta.url), "utf8");
  const status = html.match(/<p[^>]*id="connection"[^>]*>/)?.[0] ?? "";
  assert.match(status, /role="status"/);
  assert.match(status, /aria-live="polite"/);
  assert.match(html, /<span class="connection-dot" aria-hidden="true"><\/span>/, "the colour is decoration");
  assert.doesNotMatch(html, /refresh-files/, "the files card has no Refresh: it is live");
});
