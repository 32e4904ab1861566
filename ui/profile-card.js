// The profile card: filled from the profile fetched when the screen loads, then from every
// profile the live socket sends (a `user.updated` webhook renaming the person, say). A fetch
// that answers after a live profile arrived is older than it and is not shown. Values go in
// as text, never as markup. The avatar is the person's picture when the profile carries one (a
// `data:` URL Rust fetched and checked; the window loads nothing from the network), initials
// otherwise or when it cannot be drawn.

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
    this.#avatar(profile);
    this.#onFilled();
  }

  #avatar(profile) {
    const avatar = this.#el.avatar;
    const letters = initials(profile.name, profile.email);
    const picture = typeof profile.picture === "string" && profile.picture.startsWith("data:image/")
      ? profile.picture
      : null;
    const shown = avatar.children?.[0];
    if (picture && shown?.tagName === "IMG" && shown.src === picture) return;
    if (!picture) {
      avatar.textContent = letters;
      return;
    }
    const img = avatar.ownerDocument.createElement("img");
    // The name is next to the picture (and the avatar is hidden from screen readers): no alt.
    img.alt = "";
    img.addEventListener("error", () => {
      if (avatar.children?.[0] === img) avatar.textContent = letters;
    });
    img.src = picture;
    avatar.replaceChildren(img);
  }
}
