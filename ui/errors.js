// What the window offers against an error, chosen by its stable code. The codes are those of
// AuthError and ConvexError in crates/auth and crates/convex (ui/test/errors.test.js checks
// they are still there), passed on by the desktop shell's CommandError.

// `convex_rejects_token`: the deployment still has the provider's old keys cached; later works.
const RETRY = new Set([
  "backend_unreachable",
  "backend_error",
  "offline",
  "provider_unreachable",
  "provider_unavailable",
  "convex_rejects_token",
]);
const SIGN_IN = new Set(["session_ended", "not_signed_in", "sign_in_again", "unauthenticated"]);

/** `"retry"` when trying again may work, `"sign-in"` when only a new sign-in will, else null. */
export function remedy(error) {
  const code = error?.code;
  if (RETRY.has(code)) return "retry";
  if (SIGN_IN.has(code)) return "sign-in";
  return null;
}

/** Whether the person cancelled (nothing to report). */
export function isCancelled(error) {
  return error?.code === "cancelled";
}

/** The text to show: the command's message, or whatever was thrown. */
export function errorMessage(error) {
  return error?.message ?? String(error);
}
