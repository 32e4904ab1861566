import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { beforeEach, test } from "node:test";
import * as ipc from "../../ui/ipc.js";

const source = (path) => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");

/** What the page asked of the fake Tauri global, in order. */
let calls;
let listeners;

beforeEach(() => {
  calls = [];
  listeners = new Map();
  globalThis.__TAURI__ = {
    core: {
      invoke: async (command, args) => {
        calls.push([command, args]);
        return { answered: command };
      },
    },
    event: {
      listen: async (event, handler) => {
        listeners.set(event, handler);
        return () => listeners.delete(event);
      },
    },
  };
});

test("outside the app there is no Tauri, and the page can tell", () => {
  delete globalThis.__TAURI__;
  assert.equal(ipc.inDesktop(), false);
  globalThis.__TAURI__ = {};
  assert.equal(ipc.inDesktop(), true);
});

test("each call invokes its command with the arguments Rust names", async () => {
  assert.deepEqual(await ipc.appInfo(), { answered: "app_info" });
  await ipc.session();
  await ipc.signIn(true);
  await ipc.cancelSignIn();
  await ipc.signOut();
  await ipc.profile();
  await ipc.files("cursor-2", 200);
  assert.deepEqual(calls, [
    ["app_info", undefined],
    ["session", undefined],
    ["sign_in", { register: true }],
    ["cancel_sign_in", undefined],
    ["sign_out", undefined],
    ["profile", undefined],
    ["files", { cursor: "cursor-2", pageSize: 200 }],
  ]);
});

test("a command's error reaches the caller as it came", async () => {
  const error = { code: "session_ended", message: "Sign in again." };
  globalThis.__TAURI__.core.invoke = async () => {
    throw error;
  };
  await assert.rejects(ipc.profile(), (thrown) => thrown === error);
});

test("event handlers get the payload", async () => {
  const sessions = [];
  const waits = [];
  await ipc.onSession((session) => sessions.push(session));
  await ipc.onSignInWaiting((waiting) => waits.push(waiting));
  listeners.get("session")({ event: "session", payload: { state: "signed_out" } });
  listeners.get("sign-in-waiting")({ event: "sign-in-waiting", payload: { url: "http://x", seconds: 300 } });
  assert.deepEqual(sessions, [{ state: "signed_out" }]);
  assert.deepEqual(waits, [{ url: "http://x", seconds: 300 }]);
});

test("the commands are exactly those the app declares and the window's capability grants", () => {
  const manifest = source("src-tauri/build.rs").match(/\.commands\(&\[([^\]]*)\]/);
  assert.ok(manifest, "build.rs declares the commands");
  const declared = [...manifest[1].matchAll(/"([a-z_]+)"/g)].map(([, name]) => name);
  assert.deepEqual(new Set(Object.values(ipc.COMMANDS)), new Set(declared));

  const granted = JSON.parse(source("src-tauri/capabilities/main.json")).permissions;
  for (const command of declared) {
    assert.ok(granted.includes(`allow-${command.replaceAll("_", "-")}`), `the window may call ${command}`);
  }
});

test("the events are ones the app emits", () => {
  const rust = readdirSync(new URL("../../src-tauri/src/", import.meta.url))
    .filter((name) => name.endsWith(".rs"))
    .map((name) => source(`src-tauri/src/${name}`))
    .join("\n");
  for (const event of Object.values(ipc.EVENTS)) {
    assert.match(rust, new RegExp(`const [A-Z_]+: &str = "${event}";`), `src-tauri names the event ${event}`);
  }
});
