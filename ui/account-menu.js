// The header's account menu: a menu button showing who is signed in, a `role="menu"` list with
// one `menuitemradio` per account of this tenant (the active one checked), "Add account…" and
// "Sign out of EMAIL" for the active one. Switching uses the account's stored session in Rust:
// no browser, so nothing to cancel; the button says "Switching to EMAIL…" meanwhile and the live
// region says it too (app.js says "Signed in as EMAIL." when the session event brings the new
// person). Adding one is a sign-in, which app.js runs with its waiting screen. Emails and names
// go in as text, never as markup. The list's keyboard is ui/menu.js's. Driven with a stand-in
// DOM by tests/ui/account-menu.test.js.

import { MenuButton } from "./menu.js";

/** What the window calls an account: its email, else its name, else its id. */
export const accountLabel = (account) => account.email || account.name || account.id;

/**
 * What the live region says when a signed-in session arrives for `person`, having shown `was`
 * (null: no one) on the signed-in screen or not (`onScreen`): "Signed in as …" on arriving there
 * and for someone else (a switch, or an account added), and nothing when it is the same person
 * again (a reconnect), so each change is said once.
 */
export function arrivalNews(was, person, onScreen) {
  return !onScreen || person !== was ? `Signed in as ${person}.` : null;
}

export class AccountMenu {
  #el;
  #deps;
  #accounts = [];
  /** `{text}` while a switch runs. */
  #pending = null;
  #list;

  /**
   * @param elements `{button, label, menu}`.
   * @param deps `{load, switchTo, add, signOutOf, say, onError}`: the IPC calls (`add` runs the
   *   whole sign-in, screens and all), the announcer and the banner.
   */
  constructor(elements, deps) {
    this.#el = elements;
    this.#deps = deps;
    this.#list = new MenuButton(
      { button: elements.button, menu: elements.menu },
      { choose: (item) => this.#choose(item), canOpen: () => !this.busy },
    );
  }

  get isOpen() {
    return this.#list.isOpen;
  }

  /** Whether a switch is under way. */
  get busy() {
    return this.#pending !== null;
  }

  /** Fetches the accounts and shows them. */
  async load() {
    try {
      this.show(await this.#deps.load());
    } catch (error) {
      this.#deps.onError(error);
    }
  }

  /** Shows `accounts` (`[{id, email, name, active}]`). */
  show(accounts) {
    this.#accounts = Array.isArray(accounts) ? accounts : [];
    this.#render();
  }

  /** Signed out: nothing to show. */
  clear() {
    this.#list.close(false);
    this.show([]);
  }

  open(where) {
    this.#list.open(where);
  }

  close(refocus) {
    this.#list.close(refocus);
  }

  #active() {
    return this.#accounts.find((a) => a.active);
  }

  #render() {
    const { label, menu, button } = this.#el;
    const doc = menu.ownerDocument;
    const active = this.#active();
    button.setAttribute("aria-busy", String(this.busy));
    // Without a list (not loaded yet) the label keeps the session's email, which app.js sets.
    if (this.busy) label.textContent = this.#pending.text;
    else if (active) label.textContent = accountLabel(active);
    const item = (role, text, data) => {
      const li = doc.createElement("li");
      li.setAttribute("role", role);
      li.setAttribute("tabindex", "-1");
      Object.assign(li.dataset, data);
      li.textContent = text;
      return li;
    };
    const accounts = this.#accounts.map((account) => {
      const li = item("menuitemradio", accountLabel(account), { id: account.id, testid: `account-${account.id}` });
      li.setAttribute("aria-checked", String(Boolean(account.active)));
      return li;
    });
    const separator = doc.createElement("li");
    separator.setAttribute("role", "separator");
    const actions = [item("menuitem", "Add account…", { action: "add", testid: "account-add" })];
    if (active) {
      actions.push(
        item("menuitem", `Sign out of ${accountLabel(active)}`, { action: "sign-out", testid: "account-sign-out" }),
      );
    }
    this.#list.replace([...accounts, separator, ...actions]);
  }

  #choose(item) {
    const active = this.#active();
    if (item.dataset.action === "add") {
      this.#deps.add();
      return;
    }
    if (item.dataset.action === "sign-out") {
      if (active) this.#signOut(active);
      return;
    }
    const account = this.#accounts.find((a) => a.id === item.dataset.id);
    if (!account) return;
    if (account.active) {
      this.#deps.say(`Already signed in as ${accountLabel(account)}.`);
      return;
    }
    this.#switch(account);
  }

  async #switch(account) {
    if (this.busy) return;
    const text = `Switching to ${accountLabel(account)}…`;
    this.#pending = { text };
    this.#render();
    this.#deps.say(text);
    try {
      await this.#deps.switchTo(account.id);
    } catch (error) {
      this.#deps.onError(error);
    } finally {
      this.#pending = null;
      await this.load();
    }
  }

  async #signOut(account) {
    try {
      await this.#deps.signOutOf(account.id);
    } catch (error) {
      this.#deps.onError(error);
    }
  }
}
