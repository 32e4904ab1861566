import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfirmDelete } from "../../ui/confirm-delete.js";

class FakeElement {
  constructor(doc) {
    this.ownerDocument = doc;
    this.textContent = "";
    this.open = false;
    this.attributes = {};
    this.listeners = {};
  }
  setAttribute(name, value) {
    this.attributes[name] = value;
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
  /** As a modal dialog does on close() and on Escape: closes, then fires `close`. */
  close() {
    this.open = false;
    this.listeners.close?.();
  }
  set innerHTML(_) {
    throw new Error("the dialog set markup");
  }
}

function dialog() {
  const doc = { activeElement: null };
  const el = { dialog: new FakeElement(doc), name: new FakeElement(doc), confirm: new FakeElement(doc), cancel: new FakeElement(doc) };
  const opener = new FakeElement(doc);
  opener.focus();
  return { confirm: new ConfirmDelete(el), el, doc, opener };
}

test("the question names the file as text, takes the focus and gives it back", async () => {
  const { confirm, el, doc, opener } = dialog();
  const answer = confirm.ask('<b>Roadmap</b>.md');
  assert.equal(el.dialog.open, true);
  assert.equal(el.name.textContent, "<b>Roadmap</b>.md");
  assert.equal(el.confirm.attributes["aria-label"], "Delete <b>Roadmap</b>.md");
  assert.equal(doc.activeElement, el.cancel, "focus starts on the safe answer");
  el.confirm.click();
  assert.equal(await answer, true);
  assert.equal(el.dialog.open, false);
  assert.equal(doc.activeElement, opener);
});

test("Cancel and Escape answer no", async () => {
  const { confirm, el } = dialog();
  const cancelled = confirm.ask("Roadmap.md");
  el.cancel.click();
  assert.equal(await cancelled, false);
  const escaped = confirm.ask("Roadmap.md");
  el.dialog.close();
  assert.equal(await escaped, false);
  assert.equal(confirm.isOpen, false);
});
