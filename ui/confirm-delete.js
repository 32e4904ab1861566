// The question before a file is deleted, in a modal <dialog>: focus moves into it (onto Cancel,
// the safe answer), Escape or Cancel answer no, and focus goes back to whatever opened it. The
// file's name is shown as text, never as markup. tests/ui/confirm-delete.test.js drives it with
// a stand-in DOM.

export class ConfirmDelete {
  #el;
  /** Settles the question being asked: true to delete. */
  #answer = null;
  #opener = null;

  /** @param elements `{dialog, name, confirm, cancel}`. */
  constructor(elements) {
    this.#el = elements;
    elements.confirm.addEventListener("click", () => this.#settle(true));
    elements.cancel.addEventListener("click", () => this.#settle(false));
    // Escape closes a modal dialog by itself: that is a no.
    elements.dialog.addEventListener("close", () => this.#settle(false));
  }

  get isOpen() {
    return this.#el.dialog.open;
  }

  /** Asks whether to delete the file named `name`; resolves true only for Delete. */
  ask(name) {
    this.#settle(false);
    const doc = this.#el.dialog.ownerDocument;
    this.#opener = doc?.activeElement ?? null;
    this.#el.name.textContent = name;
    this.#el.confirm.setAttribute("aria-label", `Delete ${name}`);
    const answer = new Promise((resolve) => {
      this.#answer = resolve;
    });
    if (!this.isOpen) this.#el.dialog.showModal();
    this.#el.cancel.focus();
    return answer;
  }

  #settle(yes) {
    const answer = this.#answer;
    if (!answer) return;
    this.#answer = null;
    if (this.isOpen) this.#el.dialog.close();
    this.#opener?.focus?.();
    this.#opener = null;
    answer(yes);
  }
}
