// The window's screens and what moves between them. It talks to Rust only through ipc.js and
// never sees a token. Every value from the backend is put on the page with textContent, never
// as HTML.

import * as ipc from "./ipc.js";
import { errorMessage, isCancelled, remedy } from "./errors.js";
import { FileList } from "./file-list.js";
import { formatDate, initials, orDash, profileName, secondsLeft, sessionLabel, timeLeft } from "./format.js";
import { MARKS, mark, markPainted } from "./timing.js";

const $ = (id) => document.getElementById(id);

const view = {
  screen: "loading",
  loadedFor: null,
  countdown: null,
  /** Settles when the profile request of the current load has been handled. */
  profileShown: Promise.resolve(),
  profileFilled: false,
};

const files = new FileList(
  {
    viewport: $("files-viewport"),
    spacer: $("files-spacer"),
    rows: $("files-rows"),
    state: $("files-state"),
    count: $("files-count"),
  },
  {
    loadPage: ipc.files,
    onError: reportError,
    onScreen: () => view.screen === "signed-in",
  },
);

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

/** The banner's button for an error, if something can fix it. */
function fixFor(error) {
  switch (remedy(error)) {
    case "retry":
      return { label: "Retry", run: () => loadSignedIn(true) };
    case "sign-in":
      return { label: "Sign in", run: () => signIn(false) };
    default:
      return null;
  }
}

function reportError(error) {
  banner(errorMessage(error), fixFor(error));
}

// ---- session routing ----

function route(session) {
  switch (session.state) {
    case "signed_in": {
      if (view.screen !== "signed-in") hideBanner();
      $("bar-email").textContent = sessionLabel(session);
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
    $("time-left").textContent = timeLeft(secondsLeft(deadline, Date.now()));
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
    await ipc.signIn(register);
    // The `session` event moves the window to the signed-in screen.
  } catch (error) {
    show("signed-out");
    if (!isCancelled(error)) reportError(error);
    $("sign-in").focus();
  }
}

// ---- signed in: profile and files ----

async function loadSignedIn(force) {
  const session = $("bar-email").textContent;
  if (!force && view.loadedFor === session) return;
  view.loadedFor = session;
  hideBanner();
  const profile = loadProfile();
  view.profileShown = profile;
  await Promise.all([profile, files.reload()]);
}

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Shows the signed-in screen; the first time the profile is in it, that frame is marked. */
function reveal() {
  if (view.screen === "signed-in") return;
  show("signed-in");
  if (view.profileFilled) markPainted(MARKS.profileRendered);
  files.markShown();
}

async function loadProfile() {
  try {
    const profile = await ipc.profile();
    mark(MARKS.profileData);
    $("profile-name").textContent = profileName(profile);
    $("profile-email").textContent = orDash(profile.email);
    $("profile-phone").textContent = orDash(profile.phone);
    $("profile-id").textContent = profile.kinde_id;
    $("profile-org").textContent = orDash(profile.organization);
    $("profile-since").textContent = formatDate(profile.member_since);
    $("avatar").textContent = initials(profile.name, profile.email);
    view.profileFilled = true;
    if (view.screen === "signed-in") markPainted(MARKS.profileRendered);
  } catch (error) {
    reportError(error);
  }
}

// ---- start ----

async function boot() {
  mark(MARKS.boot);
  if (!ipc.inDesktop()) {
    $("app-version").textContent = "Preview outside the desktop app";
    show("signed-out");
    return;
  }
  const info = await ipc.appInfo();
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

  await ipc.onSession(route);
  await ipc.onSignInWaiting((waiting) => {
    $("waiting-url").value = waiting.url;
    startCountdown(waiting.seconds);
  });

  try {
    const session = await ipc.session();
    mark(MARKS.sessionKnown);
    route(session);
  } catch (error) {
    show("signed-out");
    reportError(error);
  }
}

$("sign-in").addEventListener("click", () => signIn(false));
$("register").addEventListener("click", () => signIn(true));
$("cancel-sign-in").addEventListener("click", () => ipc.cancelSignIn());
$("sign-out").addEventListener("click", async () => {
  try {
    await ipc.signOut();
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
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && view.screen === "signing-in") ipc.cancelSignIn();
});

boot();
