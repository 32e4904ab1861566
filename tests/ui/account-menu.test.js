import assert from "node:assert/strict";
import { test } from "node:test";
import { AccountMenu, accountLabel, arrivalNews } from "../../ui/account-menu.js";
import { FakeDocument, FakeElement, flush } from "./fake-dom.js";

const DANA = { id: "kp_dana", email: "dana@example.com", name: "Dana Demo", active: false };
const ALEX = { id: "kp_alex", email: "alex@example.com", name: "Alex Other", active: true };

/** A menu over fake elements and IPC calls the test settles: `answer(value)` or `fail(error)`. */
function menu({ accounts = [DANA, ALEX] } = {}) {
  const doc = new FakeDocument();
  const el = Object.fromEntries(["button", "label", "menu"].map((k) => [k, new FakeElement(doc)]));
  el.menu.hidden = true;
  const said = [];
  const errors = [];
  const calls = [];
  let lists = [accounts];
  let settle = null;
  const pending = () =>
    new Promise((resolve, reject) => {
      settle = { resolve, reject };
    });
  const m = new AccountMenu(el, {
    load: async () => lists.shift() ?? accounts,
    switchTo: (id) => (calls.push(["switch", id]), pending()),
    add: () => calls.push(["add"]),
    signOutOf: (id) => (calls.push(["sign-out", id]), pending()),
    say: (text) => said.push(text),
    onError: (error) => errors.push(error),
  });
  const key = (target, key) => target.dispatch("keydown", { key });
  const items = () => el.menu.children.filter((c) => c.getAttribute("role") !== "separator");
  const shown = () => items().map((i) => [i.getAttribute("role"), i.textContent, i.getAttribute("aria-checked")]);
  return {
    m, el, doc, said, errors, calls, key, items, shown,
    nextLists: (...next) => { lists = next; },
    answer: async (value) => { settle.resolve(value); await flush(); },
    fail: async (error) => { settle.reject(error); await flush(); },
  };
}

test("the button shows the active person and the menu lists each account, then Add and Sign out of them", async () => {
  const evil = { id: "kp_evil", email: null, name: "<img src=x onerror=alert(1)>", active: false };
  const { m, el, shown } = menu({ accounts: [DANA, ALEX, evil] });
  await m.load();
  assert.equal(el.label.textContent, "alex@example.com");
  assert.deepEqual(shown(), [
    ["menuitemradio", "dana@example.com", "false"],
    ["menuitemradio", "alex@example.com", "true"],
    ["menuitemradio", "<img src=x onerror=alert(1)>", "false"],
    ["menuitem", "Add account…", null],
    ["menuitem", "Sign out of alex@example.com", null],
  ]);
  assert.equal(accountLabel({ id: "kp_x", email: null, name: null }), "kp_x");
});

test("with no active account there is nothing to sign out of, and the label is left to the session", async () => {
  const { m, el, shown } = menu({ accounts: [DANA] });
  el.label.textContent = "dana@example.com";
  await m.load();
  assert.deepEqual(shown().map(([, text]) => text), ["dana@example.com", "Add account…"]);
  assert.equal(el.label.textContent, "dana@example.com");
});

test("the keyboard is the menu button's: it opens on the active one, arrows move, Escape closes onto the button", async () => {
  const { m, el, doc, key, items } = menu();
  await m.load();
  key(el.button, "Enter");
  assert.equal(m.isOpen, true);
  assert.equal(el.button.getAttribute("aria-expanded"), "true");
  assert.equal(doc.activeElement, items()[1], "the active account");
  key(el.menu, "ArrowDown");
  assert.equal(doc.activeElement.dataset.action, "add");
  key(el.menu, "Home");
  assert.equal(doc.activeElement, items()[0]);
  key(el.menu, "ArrowUp");
  assert.equal(doc.activeElement.dataset.action, "sign-out", "wraps to the last");
  key(el.menu, "Escape");
  assert.equal(m.isOpen, false);
  assert.equal(doc.activeElement, el.button);
});

test("choosing another account switches to it, saying so; the button says it meanwhile and the list follows", async () => {
  const { m, el, doc, key, said, calls, items, nextLists, answer, shown } = menu();
  await m.load();
  key(el.button, "ArrowDown");
  key(el.menu, "Home");
  nextLists([{ ...DANA, active: true }, { ...ALEX, active: false }]);
  key(el.menu, "Enter");
  assert.deepEqual(calls, [["switch", "kp_dana"]]);
  assert.deepEqual(said, ["Switching to dana@example.com…"], "the arrival is app.js's to say, once");
  assert.equal(el.label.textContent, "Switching to dana@example.com…");
  assert.equal(el.button.getAttribute("aria-busy"), "true");
  assert.equal(doc.activeElement, el.button, "the focus stays on the menu");
  key(el.button, "Enter");
  assert.equal(m.isOpen, false, "no second switch while one runs");

  await answer({ ...DANA, active: true });
  assert.equal(el.label.textContent, "dana@example.com");
  assert.equal(el.button.getAttribute("aria-busy"), "false");
  assert.deepEqual(shown().slice(0, 2), [
    ["menuitemradio", "dana@example.com", "true"],
    ["menuitemradio", "alex@example.com", "false"],
  ]);
  assert.equal(items().at(-1).textContent, "Sign out of dana@example.com");
});

test("a refused switch goes to the banner and the menu shows who is still active", async () => {
  const { m, el, key, errors, fail, said } = menu();
  await m.load();
  key(el.button, "Enter");
  key(el.menu, "Home");
  key(el.menu, " ");
  const ended = { code: "session_ended", message: "Your session ended. Sign in again." };
  await fail(ended);
  assert.deepEqual(errors, [ended]);
  assert.deepEqual(said, ["Switching to dana@example.com…"]);
  assert.equal(el.label.textContent, "alex@example.com");
});

test("choosing the active account changes nothing", async () => {
  const { m, el, key, said, calls } = menu();
  await m.load();
  key(el.button, "Enter");
  key(el.menu, "Enter");
  assert.deepEqual(calls, []);
  assert.deepEqual(said, ["Already signed in as alex@example.com."]);
});

test("Add account… runs the sign-in, and Sign out of EMAIL signs out that account only", async () => {
  const { m, el, key, calls, items, answer, errors, fail } = menu();
  await m.load();
  key(el.button, "Enter");
  key(el.menu, "ArrowDown");
  key(el.menu, "Enter");
  assert.deepEqual(calls, [["add"]]);
  assert.equal(m.isOpen, false);

  const click = (item) => el.menu.dispatch("click", { target: item });
  click(items().at(-1));
  assert.deepEqual(calls.at(-1), ["sign-out", "kp_alex"]);
  await answer(null);
  assert.deepEqual(errors, []);
  click(items().at(-1));
  const locked = { code: "keychain_unavailable", message: "The keychain is locked." };
  await fail(locked);
  assert.deepEqual(errors, [locked]);
});

test("signed out, the menu is emptied and closed", async () => {
  const { m, el, key, shown } = menu();
  await m.load();
  key(el.button, "Enter");
  m.clear();
  assert.equal(m.isOpen, false);
  assert.deepEqual(shown().map(([, text]) => text), ["Add account…"]);
});

test("Signed in as … is said on arriving and for someone else, once, and not again for the same person", () => {
  assert.equal(arrivalNews(null, "dana@example.com", false), "Signed in as dana@example.com.");
  assert.equal(arrivalNews("dana@example.com", "alex@example.com", false), "Signed in as alex@example.com.", "an account added");
  assert.equal(arrivalNews("alex@example.com", "dana@example.com", true), "Signed in as dana@example.com.", "a switch");
  assert.equal(arrivalNews("dana@example.com", "dana@example.com", true), null, "the same person again");
});

test("a list refreshed while open keeps the focus on the same item", async () => {
  const { m, el, doc, key } = menu();
  await m.load();
  key(el.button, "Enter");
  key(el.menu, "Home");
  await m.load();
  assert.equal(m.isOpen, true);
  assert.equal(doc.activeElement.dataset.id, "kp_dana");
  assert.equal(el.menu.contains(doc.activeElement), true, "the new item, not the one replaced");
});
