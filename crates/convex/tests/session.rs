//! Staying signed in and calling Convex, against the local stack with Kinde's token lifetimes:
//! restore, refresh before expiry, one refresh for many callers, revoked sessions, an
//! unreachable provider, 401 handling and function errors. The stack and the library read one
//! clock, which a test moves past a token's expiry instead of waiting for it.
//!
//! One file: every test here is a step in the life of one session, and they share its set-up.

#![allow(clippy::unwrap_used)]

use kinvex_auth::http::HttpClient;
use kinvex_auth::token_store::PlaintextFile;
use kinvex_auth::{Auth, AuthError, SessionState, SignInOptions, TokenStore};
use kinvex_clock::ManualClock;
use kinvex_convex::data::{files, profile};
use kinvex_convex::{Client, ConvexError, Kind};
use kinvex_devstack::Running;
use kinvex_devstack::user_agent::Action;
use kinvex_test_kit::browser::{HeadlessBrowser, sign_in_as};
use kinvex_test_kit::env::Settings;
use kinvex_test_kit::stack::{self, TokenFile};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// A stack and a clock that it and every `Auth` made by [`auth`] read.
async fn stack() -> (Running, ManualClock) {
    let clock = ManualClock::new();
    (stack::start(Some(&clock)).await, clock)
}

/// A real file store, so a second `Auth` on the same file is a restarted app.
fn token_file(tag: &str) -> TokenFile {
    TokenFile::new(&format!("session-{tag}"))
}

fn auth(stack: &Running, clock: &ManualClock, file: &Path, account: usize, audience: bool) -> Auth {
    let mut settings = Settings::for_stack(stack);
    if audience {
        settings = settings.with("KINDE_AUDIENCE", "convex");
    }
    let browser = HeadlessBrowser::new(sign_in_as(&stack.accounts[account]));
    stack::auth(
        settings.config(),
        Box::new(PlaintextFile::new(file.to_path_buf())),
        Arc::new(browser),
    )
    .with_clock(clock.shared())
}

async fn sign_in(auth: &Auth) {
    stack::sign_in(auth, &SignInOptions::default()).await;
}

async fn admin(stack: &Running, path: &str, body: Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/_devstack/{path}", stack.issuer()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
}

fn refreshes(stack: &Running) -> u64 {
    stack.state.stats.refreshes.load(Ordering::SeqCst)
}

/// Moves time past the expiry of the tokens issued so far (an ID token lives an hour, an
/// access token a day), for the stack and the library alike.
fn past_expiry(clock: &ManualClock) {
    clock.advance(Duration::from_secs(25 * 3600));
}

#[tokio::test]
async fn a_restarted_app_is_still_signed_in_without_a_browser() {
    let (stack, clock) = stack().await;
    let file = token_file("restore");
    let first = auth(&stack, &clock, &file, 0, false);
    sign_in(&first).await;
    drop(first);

    let restarted = auth(&stack, &clock, &file, 0, false);
    let mut states = restarted.watch();
    assert_eq!(
        *states.borrow(),
        SessionState::Unknown,
        "nothing is read until asked"
    );
    let restored = restarted
        .restore()
        .await
        .unwrap()
        .expect("a stored session");
    assert_eq!(restored.subject, stack.accounts[0].user_id);
    assert!(matches!(
        *states.borrow_and_update(),
        SessionState::SignedIn { .. }
    ));
    let me = profile(&Client::for_auth(&restarted).unwrap(), &restarted)
        .await
        .unwrap();
    assert_eq!(me.email.as_deref(), Some("demo@kinvex.dev"));
    assert_eq!(
        me.phone.as_deref(),
        Some("+44 7700 900123"),
        "merged from the Convex record"
    );
    assert_eq!(
        me.organization.as_deref(),
        Some("org_kinvex_demo"),
        "from the ID token's org_codes"
    );
    assert_eq!(
        stack.state.stats.code_exchanges.load(Ordering::SeqCst),
        1,
        "no second sign-in"
    );
    let _ = std::fs::remove_file(file);
}

#[tokio::test]
async fn tokens_are_renewed_before_they_expire_for_either_kinde_setup() {
    for audience in [false, true] {
        let (stack, clock) = stack().await;
        let file = token_file(&format!("renew-{audience}"));
        let auth = auth(&stack, &clock, &file, 0, audience);
        sign_in(&auth).await;
        let before = auth.fresh_tokens().await.unwrap();
        assert_eq!(refreshes(&stack), 0, "fresh tokens are used as they are");
        past_expiry(&clock);
        let after = auth.fresh_tokens().await.unwrap();
        assert_eq!(refreshes(&stack), 1);
        assert_ne!(
            after.refresh_token, before.refresh_token,
            "the refresh token rotated"
        );
        let on_disk = auth.load().await.unwrap().unwrap();
        assert_eq!(
            on_disk, after,
            "the rotated token is stored (a read waits for the background write)"
        );
        let client = Client::for_auth(&auth).unwrap();
        client
            .call_as(&auth, Kind::Query, "users:current", &json!({}))
            .await
            .unwrap();
        let _ = std::fs::remove_file(file);
    }
}

#[tokio::test]
async fn a_hundred_concurrent_calls_on_an_expiring_token_make_exactly_one_refresh() {
    let (stack, clock) = stack().await;
    let file = token_file("hundred");
    let auth = Arc::new(auth(&stack, &clock, &file, 0, false));
    sign_in(&auth).await;
    past_expiry(&clock);

    let client = Client::for_auth(&auth).unwrap();
    let calls = (0..100).map(|_| {
        let (auth, client) = (auth.clone(), client.clone());
        tokio::spawn(async move {
            client
                .call_as(&auth, Kind::Query, "users:current", &json!({}))
                .await
        })
    });
    for call in calls.collect::<Vec<_>>() {
        call.await.unwrap().unwrap();
    }
    assert_eq!(refreshes(&stack), 1, "counted at the provider");
    let _ = std::fs::remove_file(file);
}

#[tokio::test]
async fn a_revoked_refresh_token_signs_out_and_empties_the_store() {
    let (stack, clock) = stack().await;
    let file = token_file("revoked");
    let auth = auth(&stack, &clock, &file, 0, false);
    sign_in(&auth).await;
    let mut states = auth.watch();
    states.borrow_and_update();
    reqwest::Client::new()
        .post(format!(
            "{}/_devstack/users/{}/revoke",
            stack.issuer(),
            stack.accounts[0].user_id
        ))
        .send()
        .await
        .unwrap();
    past_expiry(&clock);

    let error = auth.fresh_tokens().await.unwrap_err();
    assert!(matches!(error, AuthError::SessionEnded), "{error}");
    assert_eq!(auth.load().await.unwrap(), None, "the store is empty");
    states.changed().await.unwrap();
    assert_eq!(
        *states.borrow(),
        SessionState::SignedOut,
        "the change is announced"
    );
    let _ = std::fs::remove_file(file);
}

#[tokio::test]
async fn an_unreachable_provider_keeps_the_session_and_recovery_follows() {
    let (stack, clock) = stack().await;
    let file = token_file("offline");
    let auth = auth(&stack, &clock, &file, 0, false);
    sign_in(&auth).await;
    let stored = auth.load().await.unwrap();
    past_expiry(&clock);

    admin(&stack, "faults", json!({ "idp": { "status": 503 } })).await;
    let error = auth.fresh_tokens().await.unwrap_err();
    assert!(matches!(error, AuthError::Offline { .. }), "{error}");
    assert_eq!(error.code(), "offline");
    assert_eq!(auth.load().await.unwrap(), stored, "the tokens are kept");
    assert!(matches!(
        *auth.watch().borrow(),
        SessionState::Offline { .. }
    ));
    assert!(
        refreshes(&stack) == 0,
        "the fault answered before the token endpoint counted"
    );

    admin(&stack, "faults", json!({ "idp": {} })).await;
    auth.fresh_tokens().await.unwrap();
    assert!(
        matches!(*auth.watch().borrow(), SessionState::SignedIn { .. }),
        "back online"
    );
    let _ = std::fs::remove_file(file);
}

#[tokio::test]
async fn a_401_renews_once_and_retries_once() {
    let (stack, clock) = stack().await;
    let file = token_file("401");
    let auth = auth(&stack, &clock, &file, 0, false);
    sign_in(&auth).await;
    let client = Client::for_auth(&auth).unwrap();
    let calls = || stack.state.stats.backend_calls.load(Ordering::SeqCst);

    admin(
        &stack,
        "faults",
        json!({ "backend": { "status": 401, "count": 1 } }),
    )
    .await;
    let before = calls();
    client
        .call_as(&auth, Kind::Query, "users:current", &json!({}))
        .await
        .unwrap();
    assert_eq!(
        (refreshes(&stack), calls() - before),
        (1, 2),
        "one refresh, one retry, then success"
    );

    admin(&stack, "faults", json!({ "backend": { "status": 401 } })).await;
    let before = calls();
    let error = client
        .call_as(&auth, Kind::Query, "users:current", &json!({}))
        .await
        .unwrap_err();
    assert!(matches!(error, ConvexError::RejectsToken { .. }), "{error}");
    assert_eq!(error.code(), "convex_rejects_token");
    assert_eq!(
        (refreshes(&stack), calls() - before),
        (2, 2),
        "never more than one retry"
    );
    assert!(
        matches!(*auth.watch().borrow(), SessionState::SignedIn { .. }),
        "a rejected token never signs the person out"
    );
    admin(&stack, "faults", json!({ "backend": {} })).await;
    client
        .call_as(&auth, Kind::Query, "users:current", &json!({}))
        .await
        .unwrap();
    let _ = std::fs::remove_file(file);
}

#[tokio::test]
async fn function_errors_keep_their_data_and_are_told_in_the_apps_words() {
    let (stack, _clock) = stack().await;
    let client = Client::new(url::Url::parse(stack.api_url()).unwrap()).unwrap();
    let error = client
        .call(Kind::Query, "users:current", &json!({}), None)
        .await
        .unwrap_err();
    match &error {
        ConvexError::Function { message, data, .. } => {
            assert!(!message.is_empty());
            assert_eq!(data.as_ref().unwrap()["code"], "UNAUTHENTICATED");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(error.code(), "function_error");
    assert_eq!(
        error.to_string(),
        "The backend did not see you as signed in. Sign in again, then try again."
    );
    let missing = client
        .call(Kind::Query, "users:nothing", &json!({}), None)
        .await
        .unwrap_err();
    assert!(
        matches!(missing, ConvexError::Function { data: None, .. }),
        "{missing:?}"
    );
    for shown in [error.to_string(), missing.to_string()] {
        for server_text in ["Request ID", "Server Error", "Uncaught", "Could not find"] {
            assert!(!shown.contains(server_text), "{shown}");
        }
    }
    assert!(missing.to_string().contains("`users:nothing`"), "{missing}");

    admin(&stack, "faults", json!({ "backend": { "status": 503 } })).await;
    let down = client
        .call(Kind::Query, "users:current", &json!({}), None)
        .await
        .unwrap_err();
    assert!(
        matches!(down, ConvexError::Http { status: 503, .. }),
        "{down:?}"
    );
    let gone = Client::new(url::Url::parse("http://127.0.0.1:9/").unwrap()).unwrap();
    let unreachable = gone
        .call(Kind::Query, "users:current", &json!({}), None)
        .await
        .unwrap_err();
    assert_eq!(unreachable.code(), "backend_unreachable");
}

#[tokio::test]
async fn files_page_through_and_never_show_another_persons() {
    let clock = ManualClock::new();
    let stack = stack::start_with(kinvex_devstack::Config {
        extra_demo_files: 230,
        ..stack::config(Some(&clock))
    })
    .await;
    let (demo_file, other_file) = (token_file("files-demo"), token_file("files-other"));
    let demo = auth(&stack, &clock, &demo_file, 0, false);
    let other = auth(&stack, &clock, &other_file, 1, false);
    sign_in(&demo).await;
    sign_in(&other).await;
    let client = Client::for_auth(&demo).unwrap();

    let mut cursor = None;
    let mut seen = Vec::new();
    loop {
        let page = files(&client, &demo, cursor.as_deref(), 100).await.unwrap();
        seen.extend(page.files.iter().map(|f| f.id.clone()));
        if page.is_done {
            break;
        }
        cursor = page.cursor;
    }
    assert_eq!(seen.len(), 14 + 230);
    let theirs = files(&client, &other, None, 100).await.unwrap();
    assert_eq!(theirs.files.len(), 3);
    assert!(theirs.files.iter().all(|f| !seen.contains(&f.id)));
    assert!(theirs.files.iter().all(|f| f.name.starts_with("Alex")));
    let _ = std::fs::remove_file(demo_file);
    let _ = std::fs::remove_file(other_file);
}

#[tokio::test]
async fn a_profile_is_stored_once_when_no_webhook_arrived() {
    let (stack, clock) = stack().await;
    let file = token_file("store");
    let auth = auth(&stack, &clock, &file, 0, false);
    sign_in(&auth).await;
    // As if the user.created webhook never came.
    stack
        .state
        .store
        .backend()
        .delete_user(&stack.accounts[0].user_id)
        .unwrap();
    let me = profile(&Client::for_auth(&auth).unwrap(), &auth)
        .await
        .unwrap();
    assert_eq!(me.kinde_id, stack.accounts[0].user_id);
    assert!(me.member_since.is_some(), "users:store created the record");
    assert!(
        stack
            .state
            .store
            .backend()
            .user(&stack.accounts[0].user_id)
            .unwrap()
            .is_some()
    );
    let _ = std::fs::remove_file(file);
}

/// Counts how often the keychain is read; the secrets live in a map shared by every `Auth`
/// made over it, as two processes share one keychain.
struct CountingStore {
    secrets: Arc<kinvex_auth::token_store::Memory>,
    reads: Arc<std::sync::atomic::AtomicUsize>,
}

impl kinvex_auth::token_store::SecretStore for CountingStore {
    fn get(&self, key: &str) -> Result<Option<String>, kinvex_auth::token_store::Fault> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.secrets.get(key)
    }
    fn set(&self, key: &str, value: &str) -> Result<(), kinvex_auth::token_store::Fault> {
        self.secrets.set(key, value)
    }
    fn delete(&self, key: &str) -> Result<(), kinvex_auth::token_store::Fault> {
        self.secrets.delete(key)
    }
    fn location(&self) -> kinvex_auth::token_store::Location {
        kinvex_auth::token_store::Location::Memory
    }
}

#[tokio::test]
async fn a_process_that_renewed_last_skips_the_keychain_until_another_one_writes() {
    let (stack, clock) = stack().await;
    let secrets = Arc::new(kinvex_auth::token_store::Memory::default());
    let reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let over_shared_keychain = || {
        let config = auth(&stack, &clock, &token_file("unused"), 0, false)
            .config
            .clone();
        let store = TokenStore::new(
            Box::new(CountingStore {
                secrets: secrets.clone(),
                reads: reads.clone(),
            }),
            config.issuer_str(),
            &config.client_id,
        );
        let person = &stack.accounts[0];
        let browser = HeadlessBrowser::new(Action::SignIn {
            email: person.email.clone(),
            password: person.password.clone(),
        });
        Auth::new(config, HttpClient::new().unwrap(), store, Arc::new(browser))
            .with_clock(clock.shared())
    };
    let app = over_shared_keychain();
    sign_in(&app).await;
    let token = |t: &kinvex_auth::TokenSet| t.id_token.clone();

    // The first renewal reads the keychain under the lock: another process may have renewed.
    let first = app.fresh_tokens().await.unwrap();
    let renewed = app.tokens_after_rejection(&token(&first)).await.unwrap();
    assert_eq!(refreshes(&stack), 1);
    // The next one finds its own marker in the lock file and does not read the session back:
    // the only read is the background write's look at the manifest it replaces (a load reads
    // the manifest and at least one chunk).
    app.flush().await;
    let before = reads.load(Ordering::SeqCst);
    let again = app.tokens_after_rejection(&token(&renewed)).await.unwrap();
    app.flush().await;
    assert_eq!(refreshes(&stack), 2);
    assert_eq!(
        reads.load(Ordering::SeqCst) - before,
        1,
        "only the write's manifest read"
    );

    // Another process signs in anew: the app must read the keychain and adopt that session
    // rather than renew its own (which would overwrite the new one).
    let cli = over_shared_keychain();
    sign_in(&cli).await;
    let theirs = cli.load().await.unwrap().unwrap();
    let before = reads.load(Ordering::SeqCst);
    let adopted = app.tokens_after_rejection(&token(&again)).await.unwrap();
    assert!(
        reads.load(Ordering::SeqCst) > before,
        "the keychain was read"
    );
    assert_eq!(
        adopted, theirs,
        "the other process's session is used as it is"
    );
    assert_eq!(refreshes(&stack), 2, "and not renewed");
    app.flush().await;
    assert_eq!(cli.load().await.unwrap().unwrap(), theirs);
}

#[tokio::test]
async fn the_sign_in_core_chooses_the_token_convex_gets_and_who_is_signed_in() {
    let (stack, clock) = stack().await;
    for audience in [false, true] {
        let file = token_file(&format!("bearer-{audience}"));
        let auth = auth(&stack, &clock, &file, 0, audience);
        assert!(matches!(
            auth.bearer().await.unwrap_err(),
            AuthError::NotSignedIn
        ));
        sign_in(&auth).await;
        let tokens = auth.fresh_tokens().await.unwrap();
        let expected = if audience {
            &tokens.access_token
        } else {
            &tokens.id_token
        };
        assert_eq!(
            &auth.bearer().await.unwrap(),
            expected,
            "audience {audience}"
        );

        let before = refreshes(&stack);
        let identity = auth.identity().await.unwrap();
        assert_eq!(identity.subject, stack.accounts[0].user_id);
        assert_eq!(identity.email, tokens.email);
        past_expiry(&clock);
        auth.identity().await.unwrap();
        assert_eq!(
            refreshes(&stack),
            before,
            "who is signed in needs no renewal"
        );
        let renewed = auth.bearer().await.unwrap();
        assert_ne!(&renewed, expected, "an expired bearer is renewed first");
        assert_eq!(refreshes(&stack), before + 1);
    }
}
