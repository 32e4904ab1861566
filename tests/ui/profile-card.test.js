import assert from "node:assert/strict";
import { test } from "node:test";
import { ProfileCard } from "../../ui/profile-card.js";

const FIELDS = ["name", "email", "phone", "id", "org", "since"];

/** Just enough of the DOM for the avatar: setting text replaces the children, as it does. */
class FakeElement {
  constructor(doc, tagName) {
    this.ownerDocument = doc;
    this.tagName = tagName;
    this.children = [];
    this.listeners = {};
    this.text = "";
  }
  get textContent() {
    return this.text;
  }
  set textContent(value) {
    this.text = value;
    this.children = [];
  }
  replaceChildren(...nodes) {
    this.text = "";
    this.children = nodes;
  }
  addEventListener(type, listener) {
    this.listeners[type] = listener;
  }
}
const doc = { createElement: (tagName) => new FakeElement(doc, tagName.toUpperCase()) };

function card() {
  const el = Object.fromEntries(FIELDS.map((k) => [k, { textContent: "" }]));
  el.avatar = new FakeElement(doc, "DIV");
  const errors = [];
  let filled = 0;
  const shown = new ProfileCard(el, { onError: (e) => errors.push(e), onFilled: () => (filled += 1) });
  return { el, errors, shown, filled: () => filled };
}

const dana = (name) => ({
  kinde_id: "kp_1",
  name,
  email: "dana@example.com",
  phone: null,
  organization: "org_1",
  member_since: null,
});

/** A promise and its resolve, for answering a fetch when the test says. */
function later() {
  let resolve;
  const promise = new Promise((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

test("the fetched profile fills the card", async () => {
  const { el, shown, filled } = card();
  await shown.load(Promise.resolve(dana("Dana Demo")));
  assert.equal(el.name.textContent, "Dana Demo");
  assert.equal(el.email.textContent, "dana@example.com");
  assert.equal(el.phone.textContent, "—");
  assert.equal(el.id.textContent, "kp_1");
  assert.equal(el.avatar.textContent, "DD");
  assert.equal(filled(), 1);
});

test("a renamed person's live profile changes the name on the card", async () => {
  const { el, shown } = card();
  await shown.load(Promise.resolve(dana("Dana Demo")));
  shown.live(dana("Dana Renamed"));
  assert.equal(el.name.textContent, "Dana Renamed");
  assert.equal(el.avatar.textContent, "DR");
});

test("a fetch answered after a live profile does not put the older one back", async () => {
  const { el, shown } = card();
  const fetching = later();
  const loading = shown.load(fetching.promise);
  shown.live(dana("Dana Renamed"));
  fetching.resolve(dana("Dana Demo"));
  await loading;
  assert.equal(el.name.textContent, "Dana Renamed");
});

test("a live profile that could not be read is reported and the card kept", async () => {
  const { el, errors, shown } = card();
  await shown.load(Promise.resolve(dana("Dana Demo")));
  const error = { code: "backend_error", message: "The query failed." };
  shown.live({ error });
  assert.deepEqual(errors, [error]);
  assert.equal(el.name.textContent, "Dana Demo");
});

test("a failed fetch is reported unless a live profile already filled the card", async () => {
  const { errors, shown } = card();
  const error = { code: "backend_unreachable", message: "down" };
  await shown.load(Promise.reject(error));
  assert.deepEqual(errors, [error]);
  const fetching = later();
  const loading = shown.load(fetching.promise.then(() => Promise.reject(error)));
  shown.live(dana("Dana Demo"));
  fetching.resolve();
  await loading;
  assert.equal(errors.length, 1, "the live profile made the failure moot");
});

test("markup in a name stays text", async () => {
  const { el, shown } = card();
  shown.live(dana("<img src=x onerror=alert(1)>"));
  assert.equal(el.name.textContent, "<img src=x onerror=alert(1)>");
});

const PNG = "data:image/png;base64,iVBORw0KGgo=";

test("a profile with a picture shows it, with no alt text since the name is beside it", () => {
  const { el, shown } = card();
  shown.live({ ...dana("Dana Demo"), picture: PNG });
  const [img] = el.avatar.children;
  assert.equal(img.tagName, "IMG");
  assert.equal(img.src, PNG);
  assert.equal(img.alt, "");
  assert.equal(el.avatar.textContent, "", "no initials behind the picture");
});

test("initials are shown when there is no picture, or it is not a data: image", () => {
  for (const picture of [null, undefined, "https://cdn.example.com/me.png", "data:text/html,<b>x</b>", 42]) {
    const { el, shown } = card();
    shown.live({ ...dana("Dana Demo"), picture });
    assert.equal(el.avatar.children.length, 0, String(picture));
    assert.equal(el.avatar.textContent, "DD", String(picture));
  }
});

test("the picture arriving after the profile replaces the initials, and losing it brings them back", async () => {
  const { el, shown } = card();
  await shown.load(Promise.resolve({ ...dana("Dana Demo"), picture: null }));
  assert.equal(el.avatar.textContent, "DD");
  shown.live({ ...dana("Dana Demo"), picture: PNG });
  const [img] = el.avatar.children;
  assert.equal(img.src, PNG);
  shown.live({ ...dana("Dana Renamed"), picture: PNG });
  assert.equal(el.avatar.children[0], img, "the same picture is not drawn again");
  shown.live({ ...dana("Dana Renamed"), picture: null });
  assert.equal(el.avatar.children.length, 0);
  assert.equal(el.avatar.textContent, "DR");
});

test("a picture the web view cannot draw falls back to initials", () => {
  const { el, shown } = card();
  shown.live({ ...dana("Dana Demo"), picture: PNG });
  const [img] = el.avatar.children;
  img.listeners.error();
  assert.equal(el.avatar.children.length, 0);
  assert.equal(el.avatar.textContent, "DD");
});
