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
  organizations: "organizations",
  switchOrganization: "switch_organization",
  createOrganization: "create_organization",
  accounts: "accounts",
  switchAccount: "switch_account",
  addAccount: "add_account",
  signOutAccount: "sign_out_account",
  profile: "profile",
  watchFiles: "watch_files",
  unwatchFiles: "unwatch_files",
  connection: "connection",
  reconnect: "reconnect",
  diagnose: "diagnose",
  upload: "upload",
  openFile: "open_file",
  saveFileAs: "save_file_as",
  deleteFile: "delete_file",
  cancelTransfer: "cancel_transfer",
});

export const EVENTS = Object.freeze({
  session: "session",
  signInWaiting: "sign-in-waiting",
  connection: "connection",
  profile: "profile",
  filePage: "file-page",
  transfer: "transfer",
});

/**
 * Tauri's own events while files are dragged over the window. Rust takes the dropped files
 * itself (the window's drag-drop event); the page only shows that it would take them.
 */
export const DRAG_EVENTS = Object.freeze({
  enter: "tauri://drag-enter",
  leave: "tauri://drag-leave",
  drop: "tauri://drag-drop",
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
/** The person's organisations: `[{code, name, current}]`, `name` null when the provider gives none. */
export const organizations = () => invoke(COMMANDS.organizations);
/**
 * Signs in to organisation `code`, silently first (`sign-in-waiting` says `silent: false` when a
 * page opens after all); resolves with the organisation now current, `{code, name, current}`.
 */
export const switchOrganization = (code) => invoke(COMMANDS.switchOrganization, { code });
/** Creates organisation `name` and signs in to it, like a switch; resolves with it. */
export const createOrganization = (name) => invoke(COMMANDS.createOrganization, { name });
/** The accounts signed in on this tenant: `[{id, email, name, active}]`. */
export const accounts = () => invoke(COMMANDS.accounts);
/**
 * Makes account `id` the active one from its stored session (no browser); resolves with it. The
 * `session` event brings the new person.
 */
export const switchAccount = (id) => invoke(COMMANDS.switchAccount, { id });
/** Signs one more person in (the sign-in page even with a browser session), like `signIn`. */
export const addAccount = () => invoke(COMMANDS.addAccount);
/** Signs account `id` out, and only it; the active one's leaves the window signed out. */
export const signOutAccount = (id) => invoke(COMMANDS.signOutAccount, { id });
export const profile = () => invoke(COMMANDS.profile);
/**
 * Page number `page` of the files from `cursor` (null: the first) in `files:list`'s `order`,
 * filtered by `search` (null: none), as it is now; `file-page` events carry its changes until it
 * is let go. Tauri hands `pageSize` to `page_size`.
 */
export const watchFiles = (page, cursor, pageSize, { order = null, search = "" } = {}) =>
  invoke(COMMANDS.watchFiles, { page, cursor, pageSize, order, search: search || null });
/** Stops watching the pages numbered below `before`. */
export const unwatchFiles = (before) => invoke(COMMANDS.unwatchFiles, { before });
/** The live socket's state (`{state, …}`), or null when no one is signed in. */
export const connection = () => invoke(COMMANDS.connection);
/** Opens a new live socket now (the Reconnect button); the pages must be watched again. */
export const reconnect = () => invoke(COMMANDS.reconnect);

/** Every check `kinvex doctor` runs: `{report: {ok, checks}, text}`, `text` the copyable report. */
export const diagnose = () => invoke(COMMANDS.diagnose);

/** Opens the file picker (in Rust) and uploads what is picked: the transfers' ids. */
export const upload = () => invoke(COMMANDS.upload);
/** Downloads file `id` into the private cache and opens it with the default application. */
export const openFile = (id) => invoke(COMMANDS.openFile, { id });
/** Asks where to save file `id` (in Rust) and downloads it there; null when not chosen. */
export const saveFileAs = (id) => invoke(COMMANDS.saveFileAs, { id });
/** Deletes file `id`; the live list then drops its row. */
export const deleteFile = (id) => invoke(COMMANDS.deleteFile, { id });
/** Stops transfer `id`: false when it had already ended or is being saved. */
export const cancelTransfer = (id) => invoke(COMMANDS.cancelTransfer, { id });

/** Calls `handler` with each new session state; resolves once listening. */
export const onSession = (handler) => listen(EVENTS.session, handler);
/**
 * Calls `handler` with `{url, seconds, silent}` when a sign-in waits for the browser; `silent`
 * when no page is asked for (it should come straight back).
 */
export const onSignInWaiting = (handler) => listen(EVENTS.signInWaiting, handler);
/** Calls `handler` with each new connection state: `{state: "live"}`, `{state: "offline", since_ms}`, … */
export const onConnection = (handler) => listen(EVENTS.connection, handler);
/** Calls `handler` with the profile whenever it changes (or `{error}` when it could not be read). */
export const onProfile = (handler) => listen(EVENTS.profile, handler);
/** Calls `handler` with `{page, files, cursor, is_done}` (or `{page, error}`) when a watched page changes. */
export const onFilePage = (handler) => listen(EVENTS.filePage, handler);
/**
 * Calls `handler` with `{id, kind, name, done, total, bytesPerSecond, secondsLeft, state, fromCache, error?}`
 * as a transfer starts, moves on and ends.
 */
export const onTransfer = (handler) => listen(EVENTS.transfer, handler);
/** Calls `dragging(true)` while files are dragged over the window, `dragging(false)` after. */
export async function onDragging(dragging) {
  await listen(DRAG_EVENTS.enter, () => dragging(true));
  await listen(DRAG_EVENTS.leave, () => dragging(false));
  await listen(DRAG_EVENTS.drop, () => dragging(false));
}
