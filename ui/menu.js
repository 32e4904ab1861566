// A menu button and its `role="menu"` list, as in the WAI-ARIA menu button pattern: Enter,
// Space or ↓ on the button opens the list on its checked item (↑ on the last), ↑/↓ wrap,
// Home/End jump, Enter or Space chooses, Escape closes onto the button, Tab closes and moves on,
// and the focus leaving the list closes it. Each menu that uses it (organizations, accounts)
// renders its own items; this holds only the opening, the keyboard and the choosing.

export class MenuButton {
  #button;
  #menu;
  #choose;
  #canOpen;

  /**
   * @param elements `{button, menu}`: the button and the list it controls.
   * @param deps `{choose, canOpen}`: called with the item chosen (after the list closed onto
   *   the button), and whether the list may open now.
   */
  constructor({ button, menu }, { choose, canOpen = () => true }) {
    this.#button = button;
    this.#menu = menu;
    this.#choose = choose;
    this.#canOpen = canOpen;
    button.addEventListener("click", () => (this.isOpen ? this.close(true) : this.open("current")));
    button.addEventListener("keydown", (event) => this.#buttonKey(event));
    menu.addEventListener("keydown", (event) => this.#menuKey(event));
    menu.addEventListener("click", (event) => {
      const item = event.target?.closest?.("[role^=menuitem]");
      if (item) this.#chosen(item);
    });
    menu.addEventListener("focusout", (event) => {
      const to = event.relatedTarget;
      if (this.isOpen && to && to !== button && !menu.contains(to)) this.close(false);
    });
  }

  get isOpen() {
    return !this.#menu.hidden;
  }

  /** The list's items (`menuitem`, `menuitemradio`), in order; separators are not. */
  items() {
    return [...this.#menu.children].filter((child) => child.getAttribute("role")?.startsWith("menuitem"));
  }

  /**
   * Puts `items` in the list in place of what it held. An item that had the focus hands it to
   * its new counterpart (same `data-testid`), so a list refreshed while open keeps the keyboard
   * where it was.
   */
  replace(items) {
    const doc = this.#menu.ownerDocument;
    const focused = this.#menu.contains(doc.activeElement) ? doc.activeElement.dataset?.testid : undefined;
    this.#menu.replaceChildren(...items);
    if (focused !== undefined) this.items().find((item) => item.dataset.testid === focused)?.focus();
  }

  /** Opens the list with the focus on `where`: the "current" (checked) item, or the "last". */
  open(where) {
    if (!this.#canOpen()) return;
    this.#menu.hidden = false;
    this.#button.setAttribute("aria-expanded", "true");
    const items = this.items();
    const current = items.find((item) => item.getAttribute("aria-checked") === "true");
    (where === "last" ? items.at(-1) : (current ?? items[0]))?.focus();
  }

  /** Closes the list, and with `refocus` gives the focus back to the button. */
  close(refocus) {
    this.#menu.hidden = true;
    this.#button.setAttribute("aria-expanded", "false");
    if (refocus) this.#button.focus();
  }

  #chosen(item) {
    this.close(true);
    this.#choose(item);
  }

  #buttonKey(event) {
    if (["Enter", " ", "ArrowDown"].includes(event.key)) {
      event.preventDefault();
      this.open("current");
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      this.open("last");
    }
  }

  #menuKey(event) {
    const items = this.items();
    const at = items.indexOf(this.#menu.ownerDocument.activeElement);
    const move = (to) => {
      event.preventDefault();
      items[(to + items.length) % items.length]?.focus();
    };
    switch (event.key) {
      case "ArrowDown":
        return move(at + 1);
      case "ArrowUp":
        return move(at < 0 ? -1 : at - 1);
      case "Home":
        return move(0);
      case "End":
        return move(-1);
      case "Enter":
      case " ":
        event.preventDefault();
        if (at >= 0) this.#chosen(items[at]);
        return;
      case "Escape":
        event.preventDefault();
        event.stopPropagation();
        return this.close(true);
      case "Tab":
        // The focus moves on by itself, past the menu.
        return this.close(false);
      default:
        return;
    }
  }
}
