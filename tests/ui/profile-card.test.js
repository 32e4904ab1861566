import assert from "node:assert/strict";
import { test } from "node:test";
import { ProfileCard } from "../../ui/profile-card.js";

const FIELDS = ["name", "email", "phone", "id", "org", "since", "avatar"];

function card() {
  const el = Object.fromEntries(FIELDS.map((k) => [k, { textContent: "" }]));
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
