import assert from "node:assert/strict";
import { test } from "node:test";
import { OrganizationMenu, organizationLabel } from "../../ui/organization-menu.js";
import { FakeDocument, FakeElement, flush } from "./fake-dom.js";

const ORGS = [
  { code: "org_kinvex_demo", name: "Northwind Studio", current: true },
  { code: "org_kinvex_default", name: "Kinvex", current: false },
  { code: "org_0123", name: null, current: false },
];

/** A menu over fake elements and IPC calls the test answers: `answer(value)` or `fail(error)`. */
function menu({ organizations = ORGS } = {}) {
  const doc = new FakeDocument();
  const el = Object.fromEntries(
    ["root", "button", "label", "menu", "cancel", "dialog", "form", "name", "createCancel"].map((k) => [k, new FakeElement(doc)]),
  );
  el.menu.hidden = true;
  el.cancel.hidden = true;
  const said = [];
  const errors = [];
  const calls = [];
  let lists = [organizations];
  let settle = null;
  const pending = () =>
    new Promise((resolve, reject) => {
      settle = { resolve, reject };
    });
  const deps = {
    load: async () => lists.shift() ?? organizations,
    switchTo: (code) => (calls.push(["switch", code]), pending()),
    create: (name) => (calls.push(["create", name]), pending()),
    cancel: () => calls.push(["cancel"]),
    say: (text) => said.push(text),
    onError: (error) => errors.push(error),
    onChanged: (now) => calls.push(["changed", now.code]),
  };
  const m = new OrganizationMenu(el, deps);
  const key = (target, key) => target.dispatch("keydown", { key });
  const items = () => el.menu.children.filter((c) => c.getAttribute("role") !== "separator");
  return {
    m, el, doc, said, errors, calls, key, items,
    nextLists: (...next) => { lists = next; },
    answer: async (value) => { settle.resolve(value); await flush(); },
    fail: async (error) => { settle.reject(error); await flush(); },
  };
}

test("the button names the current organisation and the menu lists each as a radio item, as text", async () => {
  const { m, el, items } = menu({
    organizations: [...ORGS, { code: "org_evil", name: "<img src=x onerror=alert(1)>", current: false }],
  });
  await m.load();
  assert.equal(el.root.hidden, false);
  assert.equal(el.label.textContent, "Northwind Studio");
  const listed = items();
  assert.deepEqual(
    listed.map((i) => [i.getAttribute("role"), i.textContent, i.getAttribute("aria-checked")]),
    [
      ["menuitemradio", "Northwind Studio", "true"],
      ["menuitemradio", "Kinvex", "false"],
      ["menuitemradio", "org_0123", "false"],
      ["menuitemradio", "<img src=x onerror=alert(1)>", "false"],
      ["menuitem", "New organization…", null],
    ],
  );
  assert.equal(el.menu.children.filter((c) => c.getAttribute("role") === "separator").length, 1);
  assert.equal(organizationLabel({ code: "org_x", name: "" }), "org_x");
});

test("with no organisation the menu is hidden", async () => {
  const { m, el } = menu({ organizations: [] });
  await m.load();
  assert.equal(el.root.hidden, true);
  m.show(ORGS);
  assert.equal(el.root.hidden, false);
  m.clear();
  assert.equal(el.root.hidden, true, "signed out");
});

test("Enter, Space and ArrowDown open it on the current item; ArrowUp on the last", async () => {
  const { m, el, doc, key, items } = menu();
  await m.load();
  for (const opening of ["Enter", " ", "ArrowDown"]) {
    el.button.focus();
    const event = key(el.button, opening);
    assert.equal(event.defaultPrevented, true, `${opening} does not also click`);
    assert.equal(el.menu.hidden, false, opening);
    assert.equal(el.button.getAttribute("aria-expanded"), "true");
    assert.equal(doc.activeElement, items()[0], `${opening} lands on the checked item`);
    key(doc.activeElement, "Escape");
  }
  key(el.button, "ArrowUp");
  assert.equal(doc.activeElement.textContent, "New organization…");
});

test("the arrows wrap, Home and End jump, Escape closes onto the button and Tab just closes", async () => {
  const { m, el, doc, key, items } = menu();
  await m.load();
  key(el.button, "ArrowDown");
  const at = () => doc.activeElement.textContent;
  key(el.menu, "ArrowDown");
  assert.equal(at(), "Kinvex");
  key(el.menu, "End");
  assert.equal(at(), "New organization…");
  key(el.menu, "ArrowDown");
  assert.equal(at(), "Northwind Studio", "wraps to the first");
  key(el.menu, "ArrowUp");
  assert.equal(at(), "New organization…", "wraps to the last");
  key(el.menu, "Home");
  assert.equal(at(), "Northwind Studio");
  key(el.menu, "Escape");
  assert.equal(el.menu.hidden, true);
  assert.equal(el.button.getAttribute("aria-expanded"), "false");
  assert.equal(doc.activeElement, el.button);

  el.button.click();
  assert.equal(el.menu.hidden, false, "a click opens it too");
  const tab = key(el.menu, "Tab");
  assert.equal(el.menu.hidden, true);
  assert.equal(tab.defaultPrevented, undefined, "the focus moves on by itself");
  assert.equal(items().length, 4);
});

test("choosing another one switches: the button and the live region say to which, then where the person is", async () => {
  const { m, el, doc, said, calls, key, nextLists, answer } = menu();
  await m.load();
  key(el.button, "ArrowDown");
  key(el.menu, "ArrowDown");
  key(el.menu, "Enter");
  assert.deepEqual(calls, [["switch", "org_kinvex_default"]]);
  assert.equal(el.menu.hidden, true);
  assert.equal(el.label.textContent, "Switching to Kinvex…");
  assert.equal(el.button.disabled, true);
  assert.equal(el.cancel.hidden, false, "the sign-in can be cancelled");
  assert.equal(doc.activeElement, el.cancel, "the disabled button cannot keep the focus");
  assert.deepEqual(said, ["Switching to Kinvex…"]);
  key(el.button, "ArrowDown");
  assert.equal(el.menu.hidden, true, "no second switch while one runs");

  nextLists([
    { ...ORGS[0], current: false },
    { ...ORGS[1], current: true },
  ]);
  await answer({ code: "org_kinvex_default", name: "Kinvex", current: true });
  assert.deepEqual(said, ["Switching to Kinvex…", "Now in Kinvex."]);
  assert.equal(el.label.textContent, "Kinvex");
  assert.equal(el.button.disabled, false);
  assert.equal(el.cancel.hidden, true);
  assert.equal(doc.activeElement, el.button);
  assert.deepEqual(calls.at(-1), ["changed", "org_kinvex_default"]);
});

test("a page that opens is explained, Escape cancels it, and the person stays where they were", async () => {
  const { m, el, doc, said, calls, errors, key, fail } = menu();
  await m.load();
  assert.equal(m.waiting({ silent: false }), false, "not the menu's sign-in");
  key(el.button, "ArrowDown");
  key(el.menu, "End");
  key(el.menu, "ArrowUp");
  key(el.menu, " ");
  assert.deepEqual(calls, [["switch", "org_0123"]]);
  assert.equal(m.waiting({ silent: true }), true);
  assert.deepEqual(said, ["Switching to org_0123…"], "the silent attempt asks nothing of the person");
  m.waiting({ silent: false });
  assert.equal(said.at(-1), "Sign in on the page that opened to continue to org_0123, or press Escape to cancel.");
  key(doc, "Escape");
  assert.deepEqual(calls.at(-1), ["cancel"]);
  await fail({ code: "cancelled", message: "Sign-in cancelled." });
  assert.equal(said.at(-1), "Cancelled; still in Northwind Studio.");
  assert.deepEqual(errors, []);
  assert.equal(el.label.textContent, "Northwind Studio");
  el.cancel.click();
  key(doc, "Escape");
  assert.equal(calls.filter(([c]) => c === "cancel").length, 2, "only the Cancel button once idle, not Escape");
});

test("a refused switch goes to the banner and the menu shows the current one again", async () => {
  const { m, el, said, errors, key, fail } = menu();
  await m.load();
  key(el.button, "ArrowDown");
  key(el.menu, "ArrowDown");
  key(el.menu, "Enter");
  const refused = { code: "not_a_member", message: "You are not a member of the organization org_kinvex_default." };
  await fail(refused);
  assert.deepEqual(errors, [refused]);
  assert.deepEqual(said, ["Switching to Kinvex…"]);
  assert.equal(el.label.textContent, "Northwind Studio");
  assert.equal(el.button.disabled, false);
});

test("choosing the current one changes nothing", async () => {
  const { m, el, said, calls, key } = menu();
  await m.load();
  key(el.button, "ArrowDown");
  key(el.menu, "Enter");
  assert.deepEqual(calls, []);
  assert.deepEqual(said, ["Already in Northwind Studio."]);
});

test("New organization… asks for a name in a dialog, creates it and says so; Cancel gives the focus back", async () => {
  const { m, el, doc, said, calls, key, nextLists, answer } = menu();
  await m.load();
  key(el.button, "End");
  key(el.button, "ArrowUp");
  key(el.menu, "Enter");
  assert.equal(el.dialog.open, true);
  assert.equal(doc.activeElement, el.name, "the name field takes the focus");
  el.createCancel.click();
  assert.equal(el.dialog.open, false);
  assert.equal(doc.activeElement, el.button);
  assert.deepEqual(calls, []);

  key(el.button, "ArrowUp");
  key(el.menu, " ");
  el.name.value = "   ";
  el.form.dispatch("submit");
  assert.equal(el.dialog.open, true, "no name, no organisation");
  assert.equal(el.name.getAttribute("aria-invalid"), "true");
  el.name.value = "  Acme Labs ";
  const submitted = el.form.dispatch("submit");
  assert.equal(submitted.defaultPrevented, true);
  assert.equal(el.dialog.open, false);
  assert.deepEqual(calls, [["create", "Acme Labs"]]);
  assert.equal(el.label.textContent, "Creating Acme Labs…");
  assert.deepEqual(said, ["Creating Acme Labs…"]);
  nextLists([...ORGS.map((o) => ({ ...o, current: false })), { code: "org_acme", name: "Acme Labs", current: true }]);
  await answer({ code: "org_acme", name: "Acme Labs", current: true });
  assert.equal(said.at(-1), "Now in Acme Labs.");
  assert.equal(el.label.textContent, "Acme Labs");
  assert.equal(el.name.getAttribute("aria-invalid"), "true", "kept until the dialog opens again");
  key(el.button, "ArrowDown");
  assert.equal(doc.activeElement.textContent, "Acme Labs", "listed and checked");
});
