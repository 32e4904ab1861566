// The window's screens and what moves between them. It talks to Rust only through ipc.js and
// never sees a token; the profile, the files and the connection's state arrive live as events.
// Every value from the backend is put on the page with textContent, never as HTML.

import * as ipc from "./ipc.js";
import { Announcer } from "./announcer.js";
import { ConfirmDelete } from "./confirm-delete.js";
import { ConnectionIndicator } from "./connection.js";
import { Diagnostics } from "./diagnostics.js";
import { errorMessage, isCancelled, remedy } from "./errors.js";
import { FileList } from "./file-list.js";
import { FileQueryControls } from "./file-query.js";
import { AccountMenu, arrivalNews } from "./account-menu.js";
import { OrganizationMenu } from "./organization-menu.js";
import { secondsLeft, sessionLabel, timeLeft } from "./format.js";
import { ProfileCard } from "./profile-card.js";
import { MARKS, mark, markPainted } from "./timing.js";
import { TransfersPanel } from "./transfers.js";

const $ = (id) => document.getElementById(id);

const announcer = new Announcer($("announcer"));

const view = {
  screen: "loading",
  /** Who the signed-in screen is for (the session's email or name). */
  person: null,
  loadedFor: null,
  countdown: null,
  /** Settles when the profile request of the current load has been handled. */
  profileShown: Promise.resolve(),
  profileFilled: false,
  /** What the banner's error offers, so the connection coming back can clear a stale one. */
  bannerRemedy: null,
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
    loadPage: ipc.watchFiles,
    releasePages: (before) => ipc.unwatchFiles(before).catch(() => {}),
    onError: reportError,
    onScreen: () => view.screen === "signed-in",
    actions: {
      open: (file) => fileActions.open(file),
      saveAs: (file) => fileActions.saveAs(file),
      remove: (file) => fileActions.remove(file),
    },
  },
);

// Sorting or searching starts the list over in the new order (see FileList.setQuery).
const fileQuery = new FileQueryControls(
  { sort: $("files-sort"), search: $("files-search") },
  { onChange: (query) => files.setQuery(query) },
);

const transfers = new TransfersPanel(
  { panel: $("transfers"), list: $("transfers-list"), announce: $("announcer") },
  { cancel: (id) => ipc.cancelTransfer(id).catch(reportError) },
);

const confirmDelete = new ConfirmDelete({
  dialog: $("confirm-delete"),
  name: $("confirm-delete-name"),
  confirm: $("confirm-delete-ok"),
  cancel: $("confirm-delete-cancel"),
});

/** What a file's row offers; Rust does the work, given only the file's id. */
const fileActions = {
  open: (file) => ipc.openFile(file.id).catch(reportError),
  saveAs: (file) => ipc.saveFileAs(file.id).catch(reportError),
  remove: async (file) => {
    if (!(await confirmDelete.ask(file.name))) return;
    try {
      await ipc.deleteFile(file.id);
      // The live list drops the row by itself; the live region says it happened.
      announcer.say(`Deleted ${file.name}.`);
    } catch (error) {
      reportError(error);
    }
  },
};

// Switching or creating an organisation is a sign-in in Rust; the profile then shows the new
// organisation. The files are the person's, whichever organisation: the list stays as it is.
const organizations = new OrganizationMenu(
  {
    root: $("org-menu"),
    button: $("org-button"),
    label: $("org-button-text"),
    menu: $("org-list"),
    cancel: $("org-cancel"),
    dialog: $("org-create"),
    form: $("org-create-form"),
    name: $("org-create-name"),
    createCancel: $("org-create-cancel"),
  },
  {
    load: ipc.organizations,
    switchTo: ipc.switchOrganization,
    create: ipc.createOrganization,
    cancel: () => ipc.cancelSignIn(),
    say: (text) => announcer.say(text),
    onError: reportError,
    onChanged: () => loadProfile(),
    canCancel: () => !diagnostics.isOpen && !confirmDelete.isOpen,
  },
);

// Switching account uses the stored session (no browser); the `session` event that follows
// brings the new person, whose profile and files `route` then loads.
const accounts = new AccountMenu(
  { button: $("account-button"), label: $("bar-email"), menu: $("account-list") },
  {
    load: ipc.accounts,
    switchTo: ipc.switchAccount,
    add: () => signIn({ add: true }),
    signOutOf: ipc.signOutAccount,
    say: (text) => announcer.say(text),
    onError: reportError,
  },
);

/** Files dragged over the window: the card shows it would take them (Rust receives the drop). */
function showDropping(dragging) {
  const droppable = dragging && view.screen === "signed-in";
  $("files-card").dataset.dropping = String(droppable);
  $("drop-hint").hidden = !droppable;
}

const profile = new ProfileCard(
  {
    name: $("profile-name"),
    email: $("profile-email"),
    phone: $("profile-phone"),
    id: $("profile-id"),
    org: $("profile-org"),
    since: $("profile-since"),
    avatar: $("avatar"),
  },
  { onError: reportError, onFilled: profileFilled },
);

const connection = new ConnectionIndicator(
  {
    status: $("connection"),
    text: $("connection-text"),
    reconnect: $("reconnect"),
    signIn: $("connection-sign-in"),
  },
  { reconnect, signIn: () => signIn() },
);

const diagnostics = new Diagnostics(
  {
    dialog: $("diagnostics"),
    heading: $("diagnostics-title"),
    overall: $("diagnostics-overall"),
    checks: $("diagnostics-checks"),
    notice: $("diagnostics-notice"),
    again: $("diagnostics-again"),
    copy: $("diagnostics-copy"),
    close: $("diagnostics-close"),
  },
  { diagnose: ipc.diagnose },
);

/** Where the keyboard lands on each screen when what had focus went away with the last one. */
const FOCUS = { "signed-out": "sign-in", "signing-in": "cancel-sign-in", "signed-in": "files-title" };

function show(screen) {
  view.screen = screen;
  for (const name of ["loading", "signed-out", "signing-in", "signed-in"]) {
    $(`screen-${name}`).hidden = name !== screen;
  }
  $("bar-user").hidden = screen !== "signed-in";
  if (screen !== "signing-in") stopCountdown();
  const focused = document.activeElement;
  const lost = !focused || focused === document.body || focused.closest("[hidden]");
  if (lost && FOCUS[screen]) $(FOCUS[screen]).focus();
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
  view.bannerRemedy = null;
}

/** The banner's button for an error, if something can fix it. */
function fixFor(error) {
  switch (remedy(error)) {
    case "retry":
      return { label: "Retry", run: () => loadSignedIn(true) };
    case "sign-in":
      return { label: "Sign in", run: () => signIn() };
    default:
      return null;
  }
}

function reportError(error) {
  banner(errorMessage(error), fixFor(error));
  view.bannerRemedy = remedy(error);
}

/** Shows a connection state; back to live, an error that only needed the backend goes away. */
async function showConnection(showing) {
  const was = connection.state;
  await showing;
  if (connection.state === "live" && was !== "live" && view.bannerRemedy === "retry") hideBanner();
}

/** Opens a new socket now (offline only) and watches the list again on it. */
async function reconnect() {
  try {
    await ipc.reconnect();
    await loadSignedIn(true);
  } catch (error) {
    reportError(error);
  }
}

// ---- session routing ----

function route(session) {
  switch (session.state) {
    case "signed_in": {
      const person = sessionLabel(session);
      const switched = view.person !== null && person !== view.person;
      const news = arrivalNews(view.person, person, view.screen === "signed-in");
      if (news) {
        hideBanner();
        announcer.say(news);
      }
      // Someone else starts from newest first, with no search of the last one's.
      if (switched) fileQuery.reset();
      view.person = person;
      $("bar-email").textContent = person;
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
      if (view.screen === "signed-in") announcer.say("Signed out.");
      view.loadedFor = null;
      view.person = null;
      organizations.clear();
      accounts.clear();
      // The next person starts from newest first, with no search of the last one's.
      fileQuery.reset();
      connection.show(null);
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
  let warned = seconds <= 60;
  const tick = () => {
    const left = secondsLeft(deadline, Date.now());
    $("time-left").textContent = timeLeft(left);
    // The countdown itself is not a live region (it would be read every second): one warning.
    if (!warned && left <= 60) {
      warned = true;
      announcer.say("One minute left to finish signing in.");
    }
  };
  tick();
  view.countdown = setInterval(tick, 1000);
}

function stopCountdown() {
  if (view.countdown) clearInterval(view.countdown);
  view.countdown = null;
}

/**
 * Signs in through the browser with the waiting screen; `register` shows the provider's
 * registration page, `add` signs one more person in while someone is (Add account…): a cancel or
 * a failure then goes back to who was signed in.
 */
async function signIn({ register = false, add = false } = {}) {
  const back = add ? { screen: "signed-in", focus: "account-button" } : { screen: "signed-out", focus: "sign-in" };
  hideBanner();
  $("waiting-url").value = "";
  $("time-left").textContent = "";
  show("signing-in");
  $("cancel-sign-in").focus();
  announcer.say("Continue in your browser to sign in.");
  try {
    await (add ? ipc.addAccount() : ipc.signIn(register));
    // The `session` event moves the window to the signed-in screen.
  } catch (error) {
    show(back.screen);
    if (isCancelled(error)) announcer.say("Sign-in cancelled.");
    else reportError(error);
    $(back.focus).focus();
  }
}

// ---- signed in: profile and files ----

async function loadSignedIn(force) {
  const person = view.person;
  if (!force && view.loadedFor === person) return;
  view.loadedFor = person;
  hideBanner();
  const shown = loadProfile();
  view.profileShown = shown;
  await Promise.all([shown, files.reload(fileQuery.query), organizations.load(), accounts.load()]);
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

function loadProfile() {
  return profile.load(
    ipc.profile().then((answer) => {
      mark(MARKS.profileData);
      return answer;
    }),
  );
}

/** Marks the profile's first painting on the signed-in screen. */
function profileFilled() {
  if (view.profileFilled) return;
  view.profileFilled = true;
  if (view.screen === "signed-in") markPainted(MARKS.profileRendered);
}

// ---- start ----

async function boot() {
  mark(MARKS.boot);
  if (!ipc.inDesktop()) {
    $("app-version").textContent = "Preview outside the desktop app";
    $("open-diagnostics").hidden = true;
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
  await ipc.onConnection((state) => showConnection(connection.live(state)));
  await ipc.onProfile((update) => profile.live(update));
  await ipc.onFilePage((change) => files.update(change));
  await ipc.onTransfer((update) => transfers.update(update));
  await ipc.onDragging(showDropping);
  await ipc.onSignInWaiting((waiting) => {
    // A switch's sign-in keeps the signed-in screen; the menu says what is going on.
    if (organizations.waiting(waiting)) return;
    $("waiting-url").value = waiting.url;
    startCountdown(waiting.seconds);
  });

  try {
    const session = await ipc.session();
    mark(MARKS.sessionKnown);
    route(session);
    await showConnection(connection.load(ipc.connection()));
  } catch (error) {
    show("signed-out");
    reportError(error);
  }
}

$("sign-in").addEventListener("click", () => signIn());
$("register").addEventListener("click", () => signIn({ register: true }));
$("cancel-sign-in").addEventListener("click", () => ipc.cancelSignIn());
$("sign-out").addEventListener("click", async () => {
  try {
    await ipc.signOut();
  } catch (error) {
    reportError(error);
  }
});
$("banner-close").addEventListener("click", hideBanner);
$("copy-url").addEventListener("click", () => {
  const input = $("waiting-url");
  input.select();
  const copied = navigator.clipboard?.writeText(input.value);
  if (!copied) document.execCommand("copy");
});
$("open-diagnostics").addEventListener("click", () => diagnostics.open());
$("upload").addEventListener("click", () => ipc.upload().catch(reportError));
document.addEventListener("keydown", (event) => {
  // Over a sign-in, Escape closes the Diagnostics view and leaves the sign-in waiting.
  if (event.key === "Escape" && view.screen === "signing-in" && !diagnostics.isOpen && !confirmDelete.isOpen) {
    ipc.cancelSignIn();
  }
});

boot();
