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
  await ipc.organizations();
  await ipc.switchOrganization("org_b");
  await ipc.createOrganization("Acme Labs");
  await ipc.accounts();
  await ipc.switchAccount("kp_dana");
  await ipc.addAccount();
  await ipc.signOutAccount("kp_alex");
  await ipc.profile();
  await ipc.watchFiles(3, "cursor-2", 200, { order: "name", search: "report" });
  await ipc.watchFiles(0, null, 200);
  await ipc.unwatchFiles(4);
  await ipc.connection();
  await ipc.reconnect();
  await ipc.diagnose();
  await ipc.upload();
  await ipc.openFile("k1");
  await ipc.saveFileAs("k1");
  await ipc.deleteFile("k1");
  await ipc.cancelTransfer(7);
  assert.deepEqual(calls, [
    ["app_info", undefined],
    ["session", undefined],
    ["sign_in", { register: true }],
    ["cancel_sign_in", undefined],
    ["sign_out", undefined],
    ["organizations", undefined],
    ["switch_organization", { code: "org_b" }],
    ["create_organization", { name: "Acme Labs" }],
    ["accounts", undefined],
    ["switch_account", { id: "kp_dana" }],
    ["add_account", undefined],
    ["sign_out_account", { id: "kp_alex" }],
    ["profile", undefined],
    ["watch_files", { page: 3, cursor: "cursor-2", pageSize: 200, order: "name", search: "report" }],
    ["watch_files", { page: 0, cursor: null, pageSize: 200, order: null, search: null }],
    ["unwatch_files", { before: 4 }],
    ["connection", undefined],
    ["reconnect", undefined],
    ["diagnose", undefined],
    ["upload", undefined],
    ["open_file", { id: "k1" }],
    ["save_file_as", { id: "k1" }],
    ["delete_file", { id: "k1" }],
    ["cancel_transfer", { id: 7 }],
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
  const live = [];
  await ipc.onConnection((connection) => live.push(connection));
  await ipc.onProfile((profile) => live.push(profile));
  await ipc.onFilePage((page) => live.push(page));
  await ipc.onTransfer((transfer) => live.push(transfer));
  await ipc.onDragging((dragging) => live.push({ dragging }));
  listeners.get("session")({ event: "session", payload: { state: "signed_out" } });
  listeners.get("sign-in-waiting")({ event: "sign-in-waiting", payload: { url: "http://x", seconds: 300 } });
  listeners.get("connection")({ event: "connection", payload: { state: "live" } });
  listeners.get("profile")({ event: "profile", payload: { name: "Dana" } });
  listeners.get("file-page")({ event: "file-page", payload: { page: 2, files: [] } });
  listeners.get("transfer")({ event: "transfer", payload: { id: 1, state: "running" } });
  listeners.get("tauri://drag-enter")({ event: "tauri://drag-enter", payload: { paths: ["/x"] } });
  listeners.get("tauri://drag-drop")({ event: "tauri://drag-drop", payload: { paths: ["/x"] } });
  assert.deepEqual(sessions, [{ state: "signed_out" }]);
  assert.deepEqual(waits, [{ url: "http://x", seconds: 300 }]);
  assert.deepEqual(live, [
    { state: "live" },
    { name: "Dana" },
    { page: 2, files: [] },
    { id: 1, state: "running" },
    { dragging: true },
    { dragging: false },
  ]);
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
