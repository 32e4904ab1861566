// The profile card: filled from the profile fetched when the screen loads, then from every
// profile the live socket sends (a `user.updated` webhook renaming the person, say). A fetch
// that answers after a live profile arrived is older than it and is not shown. Values go in
// as text, never as markup.

import { formatDate, initials, orDash, profileName } from "./format.js";

export class ProfileCard {
  #el;
  #onError;
  #onFilled;
  /** Live profiles shown so far. */
  #live = 0;

  /**
   * @param elements `{name, email, phone, id, org, since, avatar}`: the card's nodes.
   * @param onError called with an error to report.
   * @param onFilled called after each fill.
   */
  constructor(elements, { onError, onFilled = () => {} }) {
    this.#el = elements;
    this.#onError = onError;
    this.#onFilled = onFilled;
  }

  /** Shows what `fetching` (a profile request) answers, unless a live profile came first. */
  async load(fetching) {
    const live = this.#live;
    try {
      const profile = await fetching;
      if (this.#live === live) this.#fill(profile);
    } catch (error) {
      if (this.#live === live) this.#onError(error);
    }
  }

  /** A profile from the live socket, or `{error}` when it could not be read. */
  live(update) {
    if (update.error) {
      this.#onError(update.error);
      return;
    }
    this.#live += 1;
    this.#fill(update);
  }

  #fill(profile) {
    const el = this.#el;
    el.name.textContent = profileName(profile);
    el.email.textContent = orDash(profile.email);
    el.phone.textContent = orDash(profile.phone);
    el.id.textContent = profile.kinde_id;
    el.org.textContent = orDash(profile.organization);
    el.since.textContent = formatDate(profile.member_since);
    el.avatar.textContent = initials(profile.name, profile.email);
    this.#onFilled();
  }
}
