// How values are written in the window. Pure functions of their arguments, no DOM, so
// ui/test/format.test.js covers them under Node.

const DASH = "—";

/** The value, or a dash when there is none. */
export function orDash(value) {
  return value ?? DASH;
}

/** Two letters for the avatar: the first and last words' initials, else the first two characters. */
export function initials(name, email) {
  const source = (name || email || "?").trim();
  const parts = source.split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? parts[0][0] + parts[parts.length - 1][0] : source.slice(0, 2);
  return letters.toUpperCase();
}

/** A day (milliseconds since the epoch) as the locale writes it short; a dash when unknown. */
export function formatDate(ms, locale = undefined) {
  return ms ? new Date(ms).toLocaleDateString(locale, { year: "numeric", month: "short", day: "numeric" }) : DASH;
}

/** Bytes in binary units with one decimal: `512 B`, `1.5 KB`, `3.0 GB`. */
export function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** Whole seconds from `now` until `deadline` (both in milliseconds), never below zero. */
export function secondsLeft(deadline, now) {
  return Math.max(0, Math.round((deadline - now) / 1000));
}

/** The sign-in countdown: `Time left: 4:05`. */
export function timeLeft(seconds) {
  const minutes = Math.floor(seconds / 60);
  return `Time left: ${minutes}:${String(seconds % 60).padStart(2, "0")}`;
}

/** `14 files`, `1 file`, or `200+ files` while more pages are still to come. */
export function fileCount(count, done) {
  if (!done) return `${count}+ files`;
  return `${count} ${count === 1 ? "file" : "files"}`;
}

/** The profile card's heading. */
export function profileName(profile) {
  return profile.name ?? profile.email ?? "Signed in";
}

/** Who is signed in, for the top bar. */
export function sessionLabel(session) {
  return session.email ?? session.name ?? "";
}
