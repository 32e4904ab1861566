// Just enough of the DOM for the menus: attributes, children, focus, listeners, a modal dialog.
// Setting markup
// throws, so a test fails if a module ever puts text from the backend on the page as HTML.

export class FakeElement {
  constructor(doc, tag = "div") {
    this.ownerDocument = doc;
    this.tagName = tag.toUpperCase();
    this.textContent = "";
    this.value = "";
    this.hidden = false;
    this.open = false;
    this.disabled = false;
    this.dataset = {};
    this.attributes = {};
    this.children = [];
    this.parent = null;
    this.listeners = {};
  }
  setAttribute(name, value) {
    this.attributes[name] = String(value);
  }
  getAttribute(name) {
    return this.attributes[name] ?? null;
  }
  removeAttribute(name) {
    delete this.attributes[name];
  }
  addEventListener(type, listener) {
    (this.listeners[type] ??= []).push(listener);
  }
  dispatch(type, event = {}) {
    const full = { target: this, preventDefault() { this.defaultPrevented = true; }, stopPropagation() {}, ...event };
    for (const listener of this.listeners[type] ?? []) listener(full);
    return full;
  }
  /** As the DOM does, an element removed while it has the focus leaves it to the body. */
  replaceChildren(...children) {
    const doc = this.ownerDocument;
    for (const child of this.children) {
      child.parent = null;
      if (doc.activeElement === child) doc.activeElement = doc.body;
    }
    this.children = children;
    for (const child of children) child.parent = this;
  }
  contains(other) {
    for (let node = other; node; node = node.parent) if (node === this) return true;
    return false;
  }
  closest(selector) {
    const role = selector.match(/^\[role\^=(\w+)\]$/)?.[1];
    for (let node = this; node; node = node.parent) {
      if (role && node.getAttribute("role")?.startsWith(role)) return node;
    }
    return null;
  }
  focus() {
    if (this.disabled || this.hidden) return;
    this.ownerDocument.activeElement = this;
  }
  click() {
    this.dispatch("click");
  }
  showModal() {
    this.open = true;
  }
  /** As a modal dialog does on close() and on Escape: closes, then fires `close`. */
  close() {
    this.open = false;
    this.dispatch("close");
  }
  set innerHTML(_) {
    throw new Error("markup was set");
  }
}

export class FakeDocument extends FakeElement {
  constructor() {
    super(null, "document");
    this.ownerDocument = this;
    this.body = new FakeElement(this, "body");
    this.activeElement = this.body;
  }
  createElement(tag) {
    return new FakeElement(this, tag);
  }
}

/** Lets pending promise callbacks run. */
export const flush = () => new Promise((resolve) => setImmediate(resolve));
