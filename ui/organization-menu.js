// The header's organisation menu: a menu button naming the organisation the session is signed in
// to, a `role="menu"` list with one `menuitemradio` per organisation (the current one checked)
// and "New organization…", which opens a <dialog> asking for a name. Choosing one is a sign-in
// in Rust, silent first: the button says so and is disabled meanwhile, the live region says what
// was chosen and where the person is now, and Escape or Cancel stops a sign-in page that opened.
// Names from the provider go in as text, never as markup. tests/ui/organization-menu.test.js
// drives it with a stand-in DOM.

/** What the window calls an organisation: its name, else its code. */
export const organizationLabel = (organization) => organization.name || organization.code;

export class OrganizationMenu {
  #el;
  #deps;
  #organizations = [];
  /** The organisation being switched to or created (`{label}`), while that sign-in runs. */
  #pending = null;
  #opener = null;

  /**
   * @param elements `{root, button, label, menu, cancel, dialog, form, name, createCancel}`.
   * @param deps `{load, switchTo, create, cancel, say, onError, onChanged, canCancel}`: the IPC
   *   calls, the announcer, the banner, what to refresh once the organisation changed, and
   *   whether Escape is the menu's to take (no other dialog open).
   */
  constructor(elements, deps) {
    this.#el = elements;
    this.#deps = { onChanged: () => {}, canCancel: () => true, ...deps };
    const { button, menu, cancel, dialog, form, createCancel } = elements;
    button.addEventListener("click", () => (this.isOpen ? this.close(true) : this.open("current")));
    button.addEventListener("keydown", (event) => this.#buttonKey(event));
    menu.addEventListener("keydown", (event) => this.#menuKey(event));
    menu.addEventListener("click", (event) => {
      const item = event.target?.closest?.("[role^=menuitem]");
      if (item) this.#choose(item);
    });
    menu.addEventListener("focusout", (event) => {
      const to = event.relatedTarget;
      if (this.isOpen && to && to !== button && !menu.contains(to)) this.close(false);
    });
    cancel.addEventListener("click", () => this.#deps.cancel());
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#submitCreate();
    });
    createCancel.addEventListener("click", () => dialog.close());
    // Escape (or Cancel) closes a modal dialog by itself; the focus goes back to the button.
    dialog.addEventListener("close", () => {
      this.#opener?.focus?.();
      this.#opener = null;
    });
    button.ownerDocument.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.#pending && this.#deps.canCancel()) this.#deps.cancel();
    });
  }

  get isOpen() {
    return !this.#el.menu.hidden;
  }

  /** Whether a switch or a creation is under way. */
  get busy() {
    return this.#pending !== null;
  }

  /** Fetches the person's organisations and shows them; the menu hides when there are none. */
  async load() {
    try {
      this.show(await this.#deps.load());
    } catch (error) {
      this.#deps.onError(error);
    }
  }

  /** Shows `organizations` (`[{code, name, current}]`). */
  show(organizations) {
    this.#organizations = Array.isArray(organizations) ? organizations : [];
    this.#render();
  }

  /** Signed out: nothing to show. */
  clear() {
    this.close(false);
    this.show([]);
  }

  /** Opens the list with the focus on `where`: the "current" item, or the "last". */
  open(where) {
    if (this.busy || this.#organizations.length === 0) return;
    const { menu, button } = this.#el;
    menu.hidden = false;
    button.setAttribute("aria-expanded", "true");
    const items = this.#items();
    const current = items.find((item) => item.getAttribute("aria-checked") === "true");
    (where === "last" ? items.at(-1) : (current ?? items[0]))?.focus();
  }

  /** Closes the list, and with `refocus` gives the focus back to the button. */
  close(refocus) {
    const { menu, button } = this.#el;
    menu.hidden = true;
    button.setAttribute("aria-expanded", "false");
    if (refocus) button.focus();
  }

  /**
   * A `sign-in-waiting` event while this menu's sign-in runs: when a page opened after all,
   * says what to do there. True when it was this menu's.
   */
  waiting(waiting) {
    if (!this.#pending) return false;
    if (!waiting.silent) {
      this.#deps.say(`Sign in on the page that opened to continue to ${this.#pending.label}, or press Escape to cancel.`);
    }
    return true;
  }

  #items() {
    return [...this.#el.menu.children].filter((child) => child.getAttribute("role")?.startsWith("menuitem"));
  }

  #render() {
    const { root, label, menu, button, cancel } = this.#el;
    const doc = menu.ownerDocument;
    const current = this.#organizations.find((o) => o.current);
    root.hidden = this.#organizations.length === 0;
    button.disabled = this.busy;
    cancel.hidden = !this.busy;
    label.textContent = this.busy
      ? this.#pending.text
      : current
        ? organizationLabel(current)
        : "Choose an organization";
    const items = this.#organizations.map((organization) => {
      const item = doc.createElement("li");
      item.setAttribute("role", "menuitemradio");
      item.setAttribute("aria-checked", String(Boolean(organization.current)));
      item.setAttribute("tabindex", "-1");
      item.dataset.code = organization.code;
      item.dataset.testid = `org-${organization.code}`;
      item.textContent = organizationLabel(organization);
      return item;
    });
    const separator = doc.createElement("li");
    separator.setAttribute("role", "separator");
    const create = doc.createElement("li");
    create.setAttribute("role", "menuitem");
    create.setAttribute("tabindex", "-1");
    create.dataset.action = "create";
    create.dataset.testid = "org-new";
    create.textContent = "New organization…";
    menu.replaceChildren(...items, separator, create);
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
    const items = this.#items();
    const at = items.indexOf(this.#el.menu.ownerDocument.activeElement);
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
        if (at >= 0) this.#choose(items[at]);
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

  #choose(item) {
    this.close(true);
    if (item.dataset.action === "create") {
      this.#openCreate();
      return;
    }
    const organization = this.#organizations.find((o) => o.code === item.dataset.code);
    if (!organization) return;
    if (organization.current) {
      this.#deps.say(`Already in ${organizationLabel(organization)}.`);
      return;
    }
    const label = organizationLabel(organization);
    this.#run({ label, text: `Switching to ${label}…` }, () => this.#deps.switchTo(organization.code));
  }

  #openCreate() {
    const { dialog, name, button } = this.#el;
    this.#opener = button;
    name.value = "";
    name.removeAttribute("aria-invalid");
    if (!dialog.open) dialog.showModal();
    name.focus();
  }

  #submitCreate() {
    const { dialog, name } = this.#el;
    const wanted = name.value.trim();
    if (!wanted) {
      name.setAttribute("aria-invalid", "true");
      name.focus();
      return;
    }
    dialog.close();
    this.#run({ label: wanted, text: `Creating ${wanted}…` }, () => this.#deps.create(wanted));
  }

  /** Runs a switch or a creation (`signIn`), saying what happens before and after. */
  async #run(pending, signIn) {
    if (this.busy) return;
    const { button, cancel } = this.#el;
    const doc = button.ownerDocument;
    this.#pending = pending;
    this.#render();
    this.#deps.say(pending.text);
    // The disabled button cannot keep the focus: Cancel takes it while the sign-in runs.
    const hadFocus = doc.activeElement === button || doc.activeElement === doc.body || !doc.activeElement;
    if (hadFocus) cancel.focus();
    try {
      const now = await signIn();
      this.#deps.say(`Now in ${organizationLabel(now)}.`);
      this.#pending = null;
      await this.load();
      this.#deps.onChanged(now);
    } catch (error) {
      if (error?.code === "cancelled") this.#deps.say(`Cancelled; still in ${this.#currentLabel()}.`);
      else this.#deps.onError(error);
    } finally {
      this.#pending = null;
      this.#render();
      const focused = doc.activeElement;
      if (focused === cancel || focused === doc.body || !focused) button.focus();
    }
  }

  #currentLabel() {
    const current = this.#organizations.find((o) => o.current);
    return current ? organizationLabel(current) : "no organization";
  }
}
