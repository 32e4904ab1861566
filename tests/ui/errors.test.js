import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { errorMessage, isCancelled, remedy } from "../../ui/errors.js";

const root = fileURLToPath(new URL("../../", import.meta.url));

/** Every string literal in the Rust sources under `dir`. */
function rustStrings(dir) {
  const found = new Set();
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      for (const s of rustStrings(path)) found.add(s);
    } else if (name.endsWith(".rs")) {
      for (const [, s] of readFileSync(path, "utf8").matchAll(/"([a-z_]+)"/g)) found.add(s);
    }
  }
  return found;
}

const RETRY = ["backend_unreachable", "backend_error", "offline", "provider_unreachable", "provider_unavailable", "convex_rejects_token"];
const SIGN_IN = ["session_ended", "not_signed_in", "sign_in_again", "unauthenticated"];

test("errors that may pass offer a retry", () => {
  for (const code of RETRY) assert.equal(remedy({ code, message: "m" }), "retry", code);
});

test("errors only a new sign-in fixes offer one", () => {
  for (const code of SIGN_IN) assert.equal(remedy({ code, message: "m" }), "sign-in", code);
});

test("other errors offer nothing", () => {
  for (const error of [{ code: "config" }, { code: "timeout" }, {}, null, undefined, "boom"]) {
    assert.equal(remedy(error), null, JSON.stringify(error));
  }
});

test("the codes the window acts on are ones the library crates give", () => {
  const codes = new Set([...rustStrings(join(root, "crates/auth/src")), ...rustStrings(join(root, "crates/convex/src"))]);
  for (const code of [...RETRY, ...SIGN_IN, "cancelled"]) assert.ok(codes.has(code), `no error has the code ${code}`);
});

test("a cancelled sign-in is told apart", () => {
  assert.equal(isCancelled({ code: "cancelled", message: "Sign-in was cancelled." }), true);
  assert.equal(isCancelled({ code: "access_denied" }), false);
  assert.equal(isCancelled(undefined), false);
});

test("the message is the command's, or what was thrown", () => {
  assert.equal(errorMessage({ code: "offline", message: "You are offline." }), "You are offline.");
  assert.equal(errorMessage(new Error("broken")), "broken");
  assert.equal(errorMessage("plain"), "plain");
});
