import assert from "node:assert/strict";
import { test } from "node:test";
import { Announcer } from "../../ui/announcer.js";

/** A text node that counts writes: a screen reader reads each change. */
class Region {
  text = "";
  changes = 0;
  get textContent() {
    return this.text;
  }
  set textContent(value) {
    if (value !== this.text) this.changes += 1;
    this.text = value;
  }
}

test("each announcement changes the region, so it is read", () => {
  const region = new Region();
  const announcer = new Announcer(region);
  announcer.say("Signed in as Dana Demo.");
  announcer.say("Signed out.");
  assert.equal(region.changes, 2);
  assert.equal(announcer.said, "Signed out.");
});

test("the same words twice in a row are read twice", () => {
  const region = new Region();
  const announcer = new Announcer(region);
  announcer.say("Sign-in cancelled.");
  announcer.say("Sign-in cancelled.");
  announcer.say("Sign-in cancelled.");
  assert.equal(region.changes, 3);
  assert.equal(announcer.said, "Sign-in cancelled.");
});

test("the window has one polite, atomic live region for changes, and the countdown is not live", async () => {
  const { readFileSync } = await import("node:fs");
  const html = readFileSync(new URL("../../ui/index.html", import.meta.url), "utf8");
  const region = html.match(/<p[^>]*id="announcer"[^>]*>/)?.[0] ?? "";
  assert.match(region, /role="status"/);
  assert.match(region, /aria-live="polite"/);
  assert.match(region, /aria-atomic="true"/);
  assert.match(region, /class="visually-hidden"/);
  const countdown = html.match(/<p[^>]*id="time-left"[^>]*>/)?.[0] ?? "";
  assert.doesNotMatch(countdown, /aria-live/, "a countdown read out every second drowns everything else");
});
