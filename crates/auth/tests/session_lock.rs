//! Two processes on one keychain: the session a person signed in or out with is the one that
//! stays, whatever another process was renewing at the time; and a keychain write that never
//! returns holds nothing up for longer than the keychain's bound.
//!
//! Two `Auth`s over one in-memory keychain stand for two processes: they share the keychain and
//! the session lock file (one tenant and client), as the app and the CLI do. The renewal is
//! paused inside its keychain write, while it holds the lock, so the other side's sign-in or
//! sign-out meets it at exactly the moment the audit found.

#![allow(clippy::unwrap_used)]

use kinvex_auth::browser::Browser;
use kinvex_auth::token_store::{Fault, Location, Memory, SecretStore};
use kinvex_auth::{Auth, AuthError, SignInOptions, TokenSet};
use kinvex_clock::ManualClock;
use kinvex_devstack::Running;
use kinvex_devstack::user_agent::UserAgent;
use kinvex_test_kit::browser::sign_in_as;
use kinvex_test_kit::env::Settings;
use kinvex_test_kit::stack;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// The bound on every wait for something that does happen.
const WAIT: Duration = Duration::from_secs(30);
/// How long a side that must wait for the lock is given to write anyway. Writing without the
/// lock takes a code exchange and a keychain write on loopback, milliseconds; this only sets
/// how surely a regression is caught, never whether a correct build passes.
const WRONG_WRITE_WINDOW: Duration = Duration::from_secs(2);

/// One process's view of the shared keychain: it says when this process writes, and can hold
/// its next write until the test lets it go.
#[derive(Default)]
struct View {
    secrets: Arc<Memory>,
    wrote: Notify,
    held_at_write: Notify,
    hold_next_write: Mutex<Option<Receiver<()>>>,
}

impl View {
    fn over(secrets: &Arc<Memory>) -> Arc<View> {
        Arc::new(View {
            secrets: secrets.clone(),
            ..View::default()
        })
    }

    /// Holds this process's next write until the returned sender is used (or dropped).
    fn hold_next_write(&self) -> Sender<()> {
        let (release, wait) = std::sync::mpsc::channel();
        *self.hold_next_write.lock().unwrap() = Some(wait);
        release
    }

    fn writing(&self) {
        let hold = self.hold_next_write.lock().unwrap().take();
        if let Some(wait) = hold {
            self.held_at_write.notify_one();
            let _ = wait.recv_timeout(WAIT);
        }
        self.wrote.notify_one();
    }
}

/// The `Box<dyn SecretStore>` an `Auth` owns, sharing the view with the test.
struct Shared(Arc<View>);

impl SecretStore for Shared {
    fn get(&self, key: &str) -> Result<Option<String>, Fault> {
        self.0.secrets.get(key)
    }
    fn set(&self, key: &str, value: &str) -> Result<(), Fault> {
        self.0.writing();
        self.0.secrets.set(key, value)
    }
    fn delete(&self, key: &str) -> Result<(), Fault> {
        self.0.writing();
        self.0.secrets.delete(key)
    }
    fn location(&self) -> Location {
        Location::Memory
    }
}

/// Signs in as one account on the provider's pages, like the test kit's headless browser, and
/// says when the callback has been delivered: from then on the code is the sign-in's to use.
struct DeliveringBrowser {
    account: usize,
    stack: Arc<Running>,
    delivered: Arc<Notify>,
}

impl Browser for DeliveringBrowser {
    fn open(&self, url: &str) -> Result<(), String> {
        let action = sign_in_as(&self.stack.accounts[self.account]);
        let (url, delivered) = (url.to_string(), self.delivered.clone());
        tokio::spawn(async move {
            let handoff = UserAgent::new().authorize(&url, &action, true).await;
            assert!(handoff.is_ok(), "the user agent signed in: {handoff:?}");
            delivered.notify_one();
        });
        Ok(())
    }
}

struct Setup {
    stack: Arc<Running>,
    clock: ManualClock,
    secrets: Arc<Memory>,
}

impl Setup {
    async fn new() -> Setup {
        let clock = ManualClock::new();
        Setup {
            stack: Arc::new(stack::start(Some(&clock)).await),
            clock,
            secrets: Arc::new(Memory::default()),
        }
    }

    /// A process over the shared keychain that signs in as `account`.
    fn process(&self, account: usize) -> (Auth, Arc<View>, Arc<Notify>) {
        let view = View::over(&self.secrets);
        let delivered = Arc::new(Notify::new());
        let browser = DeliveringBrowser {
            account,
            stack: self.stack.clone(),
            delivered: delivered.clone(),
        };
        let auth = stack::auth(
            Settings::for_stack(&self.stack).config(),
            Box::new(Shared(view.clone())),
            Arc::new(browser),
        )
        .with_clock(self.clock.shared());
        (auth, view, delivered)
    }

    fn refreshes(&self) -> u64 {
        self.stack.state.stats.refreshes.load(Ordering::SeqCst)
    }

    /// Past the expiry of every token issued so far, for the stack and the library alike.
    fn past_expiry(&self) {
        self.clock.advance(Duration::from_secs(25 * 3600));
    }

    fn user(&self, account: usize) -> &str {
        &self.stack.accounts[account].user_id
    }
}

async fn sign_in(auth: &Auth) -> TokenSet {
    auth.sign_in(
        &SignInOptions::default(),
        true,
        WAIT,
        |_| {},
        std::future::pending(),
    )
    .await
    .unwrap()
}

async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("{what} did not happen within {WAIT:?}"))
}

/// The app signed in as the first account, having renewed once: the lock file's marker is its
/// own, so its next renewal would not read the keychain unless someone changed the marker.
async fn app_that_renewed_last(setup: &Setup) -> (Arc<Auth>, Arc<View>) {
    let (app, view, _) = setup.process(0);
    sign_in(&app).await;
    let bearer = app.bearer().await.unwrap();
    app.bearer_after_rejection(&bearer).await.unwrap();
    app.flush().await;
    assert_eq!(setup.refreshes(), 1);
    (Arc::new(app), view)
}

/// Starts the app's renewal and returns once it holds the lock and is writing what it renewed
/// (held there until the returned sender is used), with the renewed session.
async fn renewal_paused_in_its_write(
    setup: &Setup,
    app: &Auth,
    view: &View,
) -> (TokenSet, Sender<()>) {
    setup.past_expiry();
    let release = view.hold_next_write();
    // The renewed session is handed out while it is written in the background, under the lock.
    let renewed = within("the renewal", app.fresh_tokens()).await.unwrap();
    within("the renewal's write", view.held_at_write.notified()).await;
    (renewed, release)
}

#[tokio::test]
async fn a_sign_in_during_another_processs_renewal_is_not_overwritten_by_the_renewal() {
    let setup = Setup::new().await;
    let (app, app_view) = app_that_renewed_last(&setup).await;
    let (renewed, release) = renewal_paused_in_its_write(&setup, &app, &app_view).await;
    assert_eq!(setup.refreshes(), 2);

    // The CLI signs in as another person while the app's renewal holds the lock.
    let (cli, cli_view, delivered) = setup.process(1);
    let cli = Arc::new(cli);
    let signing_in = tokio::spawn({
        let cli = cli.clone();
        async move { sign_in(&cli).await }
    });
    within("the callback", delivered.notified()).await;
    let wrote_during_the_renewal =
        tokio::time::timeout(WRONG_WRITE_WINDOW, cli_view.wrote.notified())
            .await
            .is_ok();
    release.send(()).unwrap();
    let signed_in = within("the sign-in", signing_in).await.unwrap();
    app.flush().await;

    let stored = cli.load().await.unwrap().unwrap();
    assert_eq!(
        stored.subject,
        setup.user(1),
        "the keychain holds the person who signed in last, not the renewed one"
    );
    assert_eq!(stored, signed_in);
    assert!(
        !wrote_during_the_renewal,
        "the sign-in wrote the keychain while the renewal held the lock"
    );

    // The app's next renewal finds that session and adopts it instead of renewing its own over
    // it, though the marker it last wrote was its own.
    let adopted = app
        .tokens_after_rejection(&app.bearer().await.unwrap())
        .await
        .unwrap();
    assert_ne!(adopted, renewed);
    assert_eq!(adopted, signed_in, "the other person's session, as it is");
    assert_eq!(setup.refreshes(), 2, "adopted, not renewed");
    app.flush().await;
    assert_eq!(cli.load().await.unwrap().unwrap(), signed_in);
}

#[tokio::test]
async fn a_sign_out_during_another_processs_renewal_is_not_undone_by_the_renewal() {
    let setup = Setup::new().await;
    let (app, app_view) = app_that_renewed_last(&setup).await;
    let (_renewed, release) = renewal_paused_in_its_write(&setup, &app, &app_view).await;

    let (cli, cli_view, _) = setup.process(0);
    let cli = Arc::new(cli);
    let signing_out = tokio::spawn({
        let cli = cli.clone();
        async move { cli.sign_out(false).await }
    });
    let cleared_during_the_renewal =
        tokio::time::timeout(WRONG_WRITE_WINDOW, cli_view.wrote.notified())
            .await
            .is_ok();
    release.send(()).unwrap();
    within("the sign-out", signing_out).await.unwrap().unwrap();
    app.flush().await;

    assert_eq!(
        cli.load().await.unwrap(),
        None,
        "nothing of the session is left"
    );
    assert!(
        setup.secrets.keys().is_empty(),
        "{:?}",
        setup.secrets.keys()
    );
    assert!(
        !cleared_during_the_renewal,
        "the sign-out cleared the keychain while the renewal held the lock"
    );
    // The app's next renewal finds the keychain empty: it is signed out too.
    let bearer = app.bearer().await.unwrap();
    let ended = app.tokens_after_rejection(&bearer).await.unwrap_err();
    assert!(matches!(ended, AuthError::SessionEnded), "{ended}");
}

#[tokio::test]
async fn flush_gives_up_on_a_keychain_write_that_never_returns() {
    let setup = Setup::new().await;
    let (app, view, _) = setup.process(0);
    let limit = Duration::from_millis(300);
    let app = app.with_keychain_timeout(limit);
    sign_in(&app).await;
    let (_renewed, release) = renewal_paused_in_its_write(&setup, &app, &view).await;

    let started = Instant::now();
    let flushed = tokio::time::timeout(limit + Duration::from_secs(5), app.flush()).await;
    let waited = started.elapsed();
    release.send(()).unwrap();
    assert!(
        flushed.is_ok(),
        "flush still waiting for a write that does not return"
    );
    assert!(waited >= limit, "it waited its bound first: {waited:?}");
}
