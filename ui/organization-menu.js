// The header's organisation menu: a menu button naming the organisation the session is signed in
// to, a `role="menu"` list with one `menuitemradio` per organisation (the current one checked)
// and "New organization…", which opens a <dialog> asking for a name. Choosing one is a sign-in
// in Rust, silent first: the button says so and is disabled meanwhile, the live region says what
// was chosen and where the person is now, and Escape or Cancel stops a sign-in page that opened.
// Names from the provider go in as text, never as markup. tests/ui/organization-menu.test.js
// drives it with a stand-in DOM. The list's keyboard is ui/menu.js's, shared with the account menu.

import { MenuButton } from "./menu.js";

/** What the window calls an organisation: its name, else its code. */
export const organizationLabel = (organization) => organization.name || organization.code;

export class OrganizationMenu {
  #el;
  #deps;
  #organizations = [];
  /** The organisation being switched to or created (`{label}`), while that sign-in runs. */
  #pending = null;
  #opener = null;
  #list;

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
    this.#list = new MenuButton(
      { button, menu },
      { choose: (item) => this.#choose(item), canOpen: () => !this.busy && this.#organizations.length > 0 },
    );
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
    return this.#list.isOpen;
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
    this.#list.open(where);
  }

  /** Closes the list, and with `refocus` gives the focus back to the button. */
  close(refocus) {
    this.#list.close(refocus);
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
    this.#list.replace([...items, separator, create]);
  }

  #choose(item) {
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
