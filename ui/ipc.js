// The window's only channel to Rust, named here once: the commands it may invoke and the events
// it listens to. The names match src-tauri/build.rs, src-tauri/capabilities/main.json and
// src-tauri/src/view.rs (ui/test/ipc.test.js holds them to it). No token ever comes through
// here; a failed command rejects with `{code, message}`.

export const COMMANDS = Object.freeze({
  appInfo: "app_info",
  session: "session",
  signIn: "sign_in",
  cancelSignIn: "cancel_sign_in",
  signOut: "sign_out",
  profile: "profile",
  files: "files",
});

export const EVENTS = Object.freeze({
  session: "session",
  signInWaiting: "sign-in-waiting",
});

/** Looked up on each call, not at load, so the page also opens outside the app (a preview). */
const tauri = () => globalThis.__TAURI__;

/** Whether the page runs inside the desktop app. */
export const inDesktop = () => Boolean(tauri());

const invoke = (command, args) => tauri().core.invoke(command, args);
const listen = (event, handler) => tauri().event.listen(event, (message) => handler(message.payload));

/** `{name, version, issuer, backend, local, config_error}`. */
export const appInfo = () => invoke(COMMANDS.appInfo);
/** The session, restored from the keychain on the first call: `{state, name, email, detail}`. */
export const session = () => invoke(COMMANDS.session);
/** Settles when the browser hands back; the `session` event then carries the new state. */
export const signIn = (register) => invoke(COMMANDS.signIn, { register });
export const cancelSignIn = () => invoke(COMMANDS.cancelSignIn);
export const signOut = () => invoke(COMMANDS.signOut);
export const profile = () => invoke(COMMANDS.profile);
/** The page of files after `cursor` (null: the first). Tauri hands `pageSize` to `page_size`. */
export const files = (cursor, pageSize) => invoke(COMMANDS.files, { cursor, pageSize });

/** Calls `handler` with each new session state; resolves once listening. */
export const onSession = (handler) => listen(EVENTS.session, handler);
/** Calls `handler` with `{url, seconds}` when a sign-in waits for the browser. */
export const onSignInWaiting = (handler) => listen(EVENTS.signInWaiting, handler);
