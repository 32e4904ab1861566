// The window talks to Rust only through commands and events; it never sees a token.
// Every value from the backend is put on the page with textContent, never as HTML.

const tauri = window.__TAURI__;
const $ = (id) => document.getElementById(id);

const PAGE_SIZE = 200;
const ROW = 44;

const view = {
  screen: "loading",
  files: [],
  cursor: null,
  done: false,
  loadingFiles: false,
  loadedFor: null,
  countdown: null,
  /** Settles when the profile request of the current load has been handled. */
  profileShown: Promise.resolve(),
  profileFilled: false,
};

function show(screen) {
  view.screen = screen;
  for (const name of ["loading", "signed-out", "signing-in", "signed-in"]) {
    $(`screen-${name}`).hidden = name !== screen;
  }
  $("bar-user").hidden = screen !== "signed-in";
  if (screen !== "signing-in") stopCountdown();
}

function banner(message, action) {
  $("banner-text").textContent = message;
  const button = $("banner-action");
  button.hidden = !action;
  if (action) {
    button.textContent = action.label;
    button.onclick = () => {
      hideBanner();
      action.run();
    };
  }
  $("banner").hidden = false;
}

function hideBanner() {
  $("banner").hidden = true;
}

/** The action that fixes an error, chosen by its stable code. */
function fixFor(error) {
  switch (error?.code) {
    case "backend_unreachable":
    case "backend_error":
    case "offline":
    case "provider_unreachable":
      return { label: "Retry", run: () => loadSignedIn(true) };
    case "session_ended":
    case "not_signed_in":
    case "sign_in_again":
    case "unauthenticated":
      return { label: "Sign in", run: () => signIn(false) };
    default:
      return null;
  }
}

function reportError(error) {
  const message = error?.message ?? String(error);
  banner(message, fixFor(error));
}

async function call(command, args) {
  return tauri.core.invoke(command, args);
}

// ---- session routing ----

function route(session) {
  switch (session.state) {
    case "signed_in": {
      if (view.screen !== "signed-in") hideBanner();
      $("bar-email").textContent = session.email ?? session.name ?? "";
      const loading = loadSignedIn(false);
      if (view.screen === "loading") {
        // Straight from start-up: show the screen once, with the profile in it, unless that
        // takes long. One layout and paint instead of an empty card and then a full one.
        Promise.race([view.profileShown, delay(400)]).then(() => reveal());
      } else {
        reveal();
      }
      loading.catch(() => {});
      break;
    }
    case "offline":
      banner("You are offline: your session is kept and will be renewed when the connection returns.", {
        label: "Retry",
        run: () => loadSignedIn(true),
      });
      break;
    case "signed_out":
      view.loadedFor = null;
      if (view.screen !== "signing-in") show("signed-out");
      break;
    default:
      break;
  }
}

// ---- signing in ----

function startCountdown(seconds) {
  stopCountdown();
  const deadline = Date.now() + seconds * 1000;
  const tick = () => {
    const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    const minutes = Math.floor(left / 60);
    $("time-left").textContent = `Time left: ${minutes}:${String(left % 60).padStart(2, "0")}`;
  };
  tick();
  view.countdown = setInterval(tick, 1000);
}

function stopCountdown() {
  if (view.countdown) clearInterval(view.countdown);
  view.countdown = null;
}

async function signIn(register) {
  hideBanner();
  $("waiting-url").value = "";
  $("time-left").textContent = "";
  show("signing-in");
  $("cancel-sign-in").focus();
  try {
    await call("sign_in", { register });
    // The `session` event moves the window to the signed-in screen.
  } catch (error) {
    show("signed-out");
    if (error?.code !== "cancelled") reportError(error);
    $("sign-in").focus();
  }
}

// ---- signed in: profile and files ----

function initials(name, email) {
  const source = (name || email || "?").trim();
  const parts = source.split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? parts[0][0] + parts[parts.length - 1][0] : source.slice(0, 2);
  return letters.toUpperCase();
}

function formatDate(ms) {
  return ms ? new Date(ms).toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" }) : "—";
}

function formatSize(bytes) {
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

async function loadSignedIn(force) {
  const session = $("bar-email").textContent;
  if (!force && view.loadedFor === session) return;
  view.loadedFor = session;
  hideBanner();
  const profile = loadProfile();
  view.profileShown = profile;
  await Promise.all([profile, reloadFiles()]);
}

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Shows the signed-in screen; the first time the profile is in it, that frame is marked. */
function reveal() {
  if (view.screen === "signed-in") return;
  show("signed-in");
  if (view.profileFilled) markPainted("kinvex:profile-rendered");
  if (view.files.length > 0) markPainted("kinvex:files-visible");
}

async function loadProfile() {
  try {
    const profile = await call("profile");
    performance.mark("kinvex:profile-data");
    $("profile-name").textContent = profile.name ?? profile.email ?? "Signed in";
    $("profile-email").textContent = profile.email ?? "—";
    $("profile-phone").textContent = profile.phone ?? "—";
    $("profile-id").textContent = profile.kinde_id;
    $("profile-org").textContent = profile.organization ?? "—";
    $("profile-since").textContent = formatDate(profile.member_since);
    $("avatar").textContent = initials(profile.name, profile.email);
    view.profileFilled = true;
    if (view.screen === "signed-in") markPainted("kinvex:profile-rendered");
  } catch (error) {
    reportError(error);
  }
}

function fileRow(file, index) {
  const row = document.createElement("div");
  row.className = "file-row";
  row.setAttribute("role", "listitem");
  row.setAttribute("aria-posinset", String(index + 1));
  row.setAttribute("aria-setsize", view.done ? String(view.files.length) : "-1");
  const cell = (className, text) => {
    const span = document.createElement("span");
    span.className = className;
    span.textContent = text;
    span.title = text;
    return span;
  };
  row.append(
    cell("file-name", file.name),
    cell("file-type", file.content_type),
    cell("file-size", formatSize(file.size)),
    cell("file-date", formatDate(file.created)),
  );
  return row;
}

/** Renders only the rows in view, so ten thousand files cost what forty do. */
function renderRows() {
  const viewport = $("files-viewport");
  $("files-spacer").style.height = `${view.files.length * ROW}px`;
  const first = Math.max(0, Math.floor(viewport.scrollTop / ROW) - 8);
  const last = Math.min(view.files.length, first + Math.ceil((viewport.clientHeight || 600) / ROW) + 16);
  const rows = $("files-rows");
  rows.style.transform = `translateY(${first * ROW}px)`;
  rows.replaceChildren(...view.files.slice(first, last).map((file, i) => fileRow(file, first + i)));
  if (!view.done && !view.loadingFiles && last > view.files.length - 40) loadMoreFiles();
}

function showFilesState(text) {
  $("files-state").textContent = text ?? "";
  $("files-state").hidden = !text;
}

function updateCount() {
  const n = view.files.length;
  $("files-count").textContent = view.done ? `${n} ${n === 1 ? "file" : "files"}` : `${n}+ files`;
}

async function reloadFiles() {
  view.files = [];
  view.cursor = null;
  view.done = false;
  $("files-count").textContent = "";
  $("files-viewport").scrollTop = 0;
  renderRows();
  showFilesState("Loading your files…");
  await loadMoreFiles();
}

async function loadMoreFiles() {
  if (view.loadingFiles || view.done) return;
  view.loadingFiles = true;
  try {
    const page = await call("files", { cursor: view.cursor, pageSize: PAGE_SIZE });
    if (view.cursor === null) performance.mark("kinvex:files-arrived");
    view.files = view.files.concat(page.files);
    view.cursor = page.cursor;
    view.done = page.is_done;
    showFilesState(view.files.length === 0 ? "No files yet. Files you upload will appear here." : null);
    updateCount();
  } catch (error) {
    showFilesState(view.files.length ? null : "Your files could not be loaded.");
    reportError(error);
    view.done = true;
  } finally {
    view.loadingFiles = false;
  }
  renderRows();
  if (view.files.length > 0 && view.screen === "signed-in") markPainted("kinvex:files-visible");
}

/**
 * Records a User Timing mark once the frame showing the change has been painted (a task queued
 * from the frame callback runs after that paint). `cargo xtask bench` reads the first of each.
 */
function markPainted(name) {
  if (performance.getEntriesByName(name).length > 0) return;
  requestAnimationFrame(() => setTimeout(() => performance.mark(name), 0));
}

// ---- start ----

async function boot() {
  performance.mark("kinvex:boot");
  if (!tauri) {
    $("app-version").textContent = "Preview outside the desktop app";
    show("signed-out");
    return;
  }
  const info = await call("app_info");
  $("app-version").textContent = `${info.name} ${info.version}`;
  $("target-issuer").textContent = info.issuer ?? "not configured";
  $("target-backend").textContent = info.backend ?? "not configured";
  $("local-badge").hidden = !info.local;
  if (info.config_error) {
    $("config-error").textContent = info.config_error;
    $("config-error").hidden = false;
    $("sign-in").disabled = true;
    $("register").disabled = true;
    show("signed-out");
    return;
  }

  await tauri.event.listen("session", (event) => route(event.payload));
  await tauri.event.listen("sign-in-waiting", (event) => {
    $("waiting-url").value = event.payload.url;
    startCountdown(event.payload.seconds);
  });

  try {
    const session = await call("session");
    performance.mark("kinvex:session-known");
    route(session);
  } catch (error) {
    show("signed-out");
    reportError(error);
  }
}

$("sign-in").addEventListener("click", () => signIn(false));
$("register").addEventListener("click", () => signIn(true));
$("cancel-sign-in").addEventListener("click", () => call("cancel_sign_in"));
$("sign-out").addEventListener("click", async () => {
  try {
    await call("sign_out");
  } catch (error) {
    reportError(error);
  }
});
$("refresh-files").addEventListener("click", () => loadSignedIn(true));
$("banner-close").addEventListener("click", hideBanner);
$("copy-url").addEventListener("click", () => {
  const input = $("waiting-url");
  input.select();
  const copied = navigator.clipboard?.writeText(input.value);
  if (!copied) document.execCommand("copy");
});
// At most one render per frame, however many scroll events arrive.
let renderQueued = false;
$("files-viewport").addEventListener(
  "scroll",
  () => {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => {
      renderQueued = false;
      renderRows();
    });
  },
  { passive: true },
);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && view.screen === "signing-in") call("cancel_sign_in");
});

boot();
