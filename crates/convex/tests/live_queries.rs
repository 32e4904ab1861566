//! The app's live connection (`kinvex_convex::live`) against the local stack: live results as
//! other clients write, the token renewed on the same socket before it expires, no anonymous
//! queries once the session is gone, and the connection's state through a backend restart.
//! The stack and the session read one clock, which a test moves instead of waiting.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use kinvex_auth::token_store::PlaintextFile;
use kinvex_auth::{Auth, SignInOptions};
use kinvex_clock::ManualClock;
use kinvex_convex::ConvexError;
use kinvex_convex::live::{Connection, Live, Options, Subscription};
use kinvex_devstack::Running;
use kinvex_devstack::store::backend::NewFile;
use kinvex_test_kit::browser::{HeadlessBrowser, sign_in_as};
use kinvex_test_kit::env::Settings;
use kinvex_test_kit::stack::{self, TokenFile};
use serde_json::{Value, json};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

const WAIT: Duration = Duration::from_secs(20);

fn options() -> Options {
    Options {
        call_timeout: Duration::from_secs(10),
        offline_after: Duration::from_secs(1),
    }
}

async fn signed_in(stack: &Running, clock: &ManualClock, file: &TokenFile) -> Arc<Auth> {
    let browser = HeadlessBrowser::new(sign_in_as(&stack.accounts[0]));
    let auth = stack::auth(
        Settings::for_stack(stack).config(),
        Box::new(PlaintextFile::new(file.to_path_buf())),
        Arc::new(browser),
    )
    .with_clock(clock.shared());
    stack::sign_in(&auth, &SignInOptions::default()).await;
    Arc::new(auth)
}

fn live(auth: &Arc<Auth>, stack: &Running) -> Live {
    Live::connect_with(auth.clone(), &stack.api_url().parse().unwrap(), options())
}

fn files_args() -> Value {
    json!({ "paginationOpts": { "numItems": 5, "cursor": null } })
}

async fn next(subscription: &mut Subscription) -> Result<Value, ConvexError> {
    tokio::time::timeout(WAIT, subscription.next())
        .await
        .expect("a result in time")
        .expect("the subscription is open")
}

/// The next result satisfying `wanted`; any function error (an anonymous run's
/// UNAUTHENTICATED) fails the test.
async fn until(subscription: &mut Subscription, wanted: impl Fn(&Value) -> bool) -> Value {
    loop {
        let value = next(subscription).await.expect("no function error");
        if wanted(&value) {
            return value;
        }
    }
}

fn names(page: &Value) -> Vec<String> {
    page["page"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect()
}

fn add_file(stack: &Running, name: &str) {
    stack
        .state
        .store
        .backend()
        .insert_file(
            &NewFile {
                owner: stack.accounts[0].user_id.clone(),
                name: name.into(),
                content_type: "text/plain".into(),
                size: 5,
            },
            stack.state.clock.unix_ms(),
        )
        .unwrap();
}

/// Every connection state, in order, from now on.
fn record(mut connection: watch::Receiver<Connection>) -> Arc<Mutex<Vec<Connection>>> {
    let seen = Arc::new(Mutex::new(vec![connection.borrow_and_update().clone()]));
    let recorder = seen.clone();
    tokio::spawn(async move {
        while connection.changed().await.is_ok() {
            let state = connection.borrow_and_update().clone();
            recorder.lock().unwrap().push(state);
        }
    });
    seen
}

async fn state_until(
    connection: &mut watch::Receiver<Connection>,
    wanted: impl Fn(&Connection) -> bool,
) -> Connection {
    tokio::time::timeout(WAIT, connection.wait_for(|c| wanted(c)))
        .await
        .expect("the connection state in time")
        .expect("the connection is kept")
        .clone()
}

fn refreshes(stack: &Running) -> u64 {
    stack.state.stats.refreshes.load(Ordering::SeqCst)
}

/// `Authenticate` messages the stack's sockets have received, open ones and closed.
fn authentications(stack: &Running) -> u64 {
    stack
        .state
        .sync
        .activity()
        .iter()
        .map(|socket| socket.count("Authenticate"))
        .sum()
}

#[tokio::test]
async fn a_live_file_list_shows_a_file_another_client_adds_without_any_action() {
    let clock = ManualClock::new();
    let stack = stack::start(Some(&clock)).await;
    let file = TokenFile::new("live-files");
    let auth = signed_in(&stack, &clock, &file).await;
    let live = live(&auth, &stack);
    let mut files = live.subscribe("files:list", files_args()).await.unwrap();
    let first = next(&mut files).await.unwrap();
    assert!(!names(&first).contains(&"added-elsewhere.txt".to_string()));
    let mut connection = live.connection();
    state_until(&mut connection, |c| *c == Connection::Live).await;

    add_file(&stack, "added-elsewhere.txt");
    let page = until(&mut files, |p| {
        names(p).contains(&"added-elsewhere.txt".to_string())
    })
    .await;
    assert_eq!(names(&page)[0], "added-elsewhere.txt", "newest first");
    assert!(
        page["page"][0]["size"].is_f64(),
        "values as the HTTP API's json format: {page}"
    );
    let decoded = kinvex_convex::data::page_of(&page);
    assert_eq!(decoded.files[0].size, 5);

    // A mutation over the same socket, bounded; the subscription is unaffected.
    let stored = live.mutation("users:store", json!({})).await.unwrap();
    assert!(stored.is_string(), "{stored}");
    live.close().await;
}

#[tokio::test]
async fn a_user_updated_webhook_changes_the_live_profile() {
    let clock = ManualClock::new();
    let stack = stack::start(Some(&clock)).await;
    let file = TokenFile::new("live-profile");
    let auth = signed_in(&stack, &clock, &file).await;
    let live = live(&auth, &stack);
    let mut current = live.subscribe("users:current", json!({})).await.unwrap();
    let first = until(&mut current, |v| !v.is_null()).await;
    let user_id = &stack.accounts[0].user_id;
    assert_eq!(first["kindeId"], user_id.as_str());

    let updated = reqwest::Client::new()
        .patch(format!("{}/_devstack/users/{user_id}", stack.issuer()))
        .json(&json!({ "given_name": "Danielle" }))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), 200);
    let renamed = until(&mut current, |v| v["firstName"] == "Danielle").await;
    let identity = auth.identity().await.unwrap();
    let profile = kinvex_convex::data::profile_of(&renamed, identity);
    assert!(
        profile
            .name
            .as_deref()
            .is_some_and(|n| n.starts_with("Danielle")),
        "{profile:?}"
    );
}

#[tokio::test]
async fn a_token_expiring_on_the_live_socket_is_renewed_on_the_same_socket_before_exp() {
    let clock = ManualClock::new();
    let stack = stack::start(Some(&clock)).await;
    let file = TokenFile::new("live-renewal");
    let auth = signed_in(&stack, &clock, &file).await;
    let before = auth.live_bearer().await.unwrap();
    let live = live(&auth, &stack);
    let mut files = live.subscribe("files:list", files_args()).await.unwrap();
    next(&mut files).await.unwrap();
    let mut connection = live.connection();
    state_until(&mut connection, |c| *c == Connection::Live).await;
    let states = record(live.connection());
    let refreshed = refreshes(&stack);
    let authenticated = authentications(&stack);

    // Within the renewal margin, not yet expired: the next wake-up (this write's update)
    // renews and sends the new token on the socket.
    let now = clock.shared().unix();
    clock.advance(Duration::from_secs(
        u64::try_from(before.renew_at - now + 5).unwrap(),
    ));
    add_file(&stack, "while-due.txt");
    until(&mut files, |p| {
        names(p).contains(&"while-due.txt".to_string())
    })
    .await;
    // The live client renews on its own timer and the stack's counters announce nothing, so
    // they are looked at again, briefly and within a bound; asking `Auth` would renew itself
    // and prove nothing about the live client. The wait is for the new token to have reached
    // the socket, not just for the refresh: moving the clock past the old token's expiry
    // before then would, rightly, end the socket.
    let deadline = tokio::time::Instant::now() + WAIT;
    while refreshes(&stack) == refreshed || authentications(&stack) == authenticated {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no renewal on the socket"
        );
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Past the old token's expiry: the server checks the socket's token before each update.
    let renewed = auth.live_bearer().await.unwrap();
    assert_ne!(renewed.token, before.token);
    clock.advance(Duration::from_secs(120));
    add_file(&stack, "after-expiry.txt");
    until(&mut files, |p| {
        names(p).contains(&"after-expiry.txt".to_string())
    })
    .await;

    assert_eq!(refreshes(&stack), refreshed + 1, "one renewal");
    let states = states.lock().unwrap().clone();
    assert!(
        states.iter().all(|s| *s == Connection::Live),
        "the socket never dropped: {states:?}"
    );
}

#[tokio::test]
async fn a_session_revoked_and_expired_pauses_the_live_queries_instead_of_running_them_anonymously()
{
    let clock = ManualClock::new();
    let stack = stack::start(Some(&clock)).await;
    let file = TokenFile::new("live-revoked");
    let auth = signed_in(&stack, &clock, &file).await;
    let live = live(&auth, &stack);
    let mut current = live.subscribe("users:current", json!({})).await.unwrap();
    until(&mut current, |v| !v.is_null()).await;
    let mut connection = live.connection();
    state_until(&mut connection, |c| *c == Connection::Live).await;

    let revoked = reqwest::Client::new()
        .post(format!(
            "{}/_devstack/users/{}/revoke",
            stack.issuer(),
            stack.accounts[0].user_id
        ))
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success());
    clock.advance(Duration::from_secs(25 * 3600));
    // A write re-runs the query: the server finds the token expired, the renewal is refused.
    add_file(&stack, "after-revoke.txt");
    let paused = state_until(&mut connection, |c| matches!(c, Connection::Paused { .. })).await;
    match &paused {
        Connection::Paused { code, message } => {
            assert_eq!(code, "session_ended", "{message}");
        }
        other => panic!("{other:?}"),
    }
    // Nothing more arrives: in particular no anonymous run's UNAUTHENTICATED.
    let more = tokio::time::timeout(Duration::from_secs(2), current.next()).await;
    assert!(more.is_err(), "a result while paused: {more:?}");
    match live.mutation("users:store", json!({})).await {
        Err(ConvexError::Paused { code, .. }) => assert_eq!(code, "session_ended"),
        other => panic!("expected a paused error, got {other:?}"),
    }
}

#[tokio::test]
async fn signing_out_closes_the_live_connection_and_close_ends_the_subscriptions() {
    let clock = ManualClock::new();
    let stack = stack::start(Some(&clock)).await;
    let file = TokenFile::new("live-sign-out");
    let auth = signed_in(&stack, &clock, &file).await;
    let live = live(&auth, &stack);
    let mut current = live.subscribe("users:current", json!({})).await.unwrap();
    until(&mut current, |v| !v.is_null()).await;
    let mut connection = live.connection();
    state_until(&mut connection, |c| *c == Connection::Live).await;

    auth.sign_out(false).await.unwrap();
    let paused = state_until(&mut connection, |c| matches!(c, Connection::Paused { .. })).await;
    assert!(
        matches!(&paused, Connection::Paused { code, .. } if code == "not_signed_in"),
        "{paused:?}"
    );
    live.close().await;
    let ended = tokio::time::timeout(WAIT, current.next()).await.unwrap();
    assert!(ended.is_none(), "the subscription ends: {ended:?}");
    assert!(matches!(
        live.subscribe("users:current", json!({})).await,
        Err(ConvexError::Closed)
    ));
}

#[tokio::test]
async fn a_backend_restart_shows_reconnecting_then_offline_then_live_with_the_subscription_delivering()
 {
    let dir = std::env::temp_dir().join(format!("kinvex-live-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let clock = ManualClock::new();
    let mut config = stack::config(Some(&clock));
    config.data_dir = Some(dir.clone());
    let first = stack::start_with(config.clone()).await;
    let file = TokenFile::new("live-restart");
    let auth = signed_in(&first, &clock, &file).await;
    let live = live(&auth, &first);
    let mut files = live.subscribe("files:list", files_args()).await.unwrap();
    next(&mut files).await.unwrap();
    let mut connection = live.connection();
    state_until(&mut connection, |c| *c == Connection::Live).await;
    let port = |url: &str| url.rsplit(':').next().unwrap().parse::<u16>().unwrap();
    (config.idp_port, config.api_port, config.site_port) = (
        port(first.issuer()),
        port(first.api_url()),
        port(first.site_url()),
    );
    first.stop().await;

    let dropped = state_until(&mut connection, |c| {
        matches!(c, Connection::Reconnecting { .. })
    })
    .await;
    let Connection::Reconnecting { since_ms } = dropped else {
        unreachable!()
    };
    let offline = state_until(&mut connection, |c| matches!(c, Connection::Offline { .. })).await;
    assert_eq!(offline, Connection::Offline { since_ms }, "since the drop");

    let second = stack::start_with(config).await;
    state_until(&mut connection, |c| *c == Connection::Live).await;
    add_file(&second, "after-restart.txt");
    until(&mut files, |p| {
        names(p).contains(&"after-restart.txt".to_string())
    })
    .await;
    live.close().await;
    second.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
