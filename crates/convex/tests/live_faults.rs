//! The app's live connection (`kinvex_convex::live`) under the faults a real deployment and
//! network have, each against the in-process stack with its sync faults
//! (`/_devstack/sync/*`, `/_devstack/faults` `sync`): a backend down at start, a connection
//! dropped in the middle of an update, a slow backend, a `FatalError`, a restart that lost the
//! backend's state; and an idle connection that sends nothing but heartbeat answers. Each test
//! checks what the person would see: the connection's state and the data.
//!
//! One file, over 500 lines, because the faults share one set of helpers (a signed-in session,
//! a stack restarted on its ports, recorded states) and read best side by side.

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
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

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

fn connect(auth: &Arc<Auth>, stack: &Running, options: Options) -> Live {
    Live::connect_with(auth.clone(), &stack.api_url().parse().unwrap(), options)
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

/// The next result satisfying `wanted`; any function error fails the test.
async fn until(subscription: &mut Subscription, wanted: impl Fn(&Value) -> bool) -> Value {
    loop {
        let value = next(subscription).await.expect("no function error");
        if wanted(&value) {
            return value;
        }
    }
}

/// Nothing more arrives on `subscription` for `quiet`.
async fn nothing_more(subscription: &mut Subscription, quiet: Duration) {
    let more = tokio::time::timeout(quiet, subscription.next()).await;
    assert!(more.is_err(), "one more result: {more:?}");
}

fn names(page: &Value) -> Vec<String> {
    page["page"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect()
}

fn has(name: &str) -> impl Fn(&Value) -> bool {
    move |page| names(page).iter().any(|n| n == name)
}

fn add_file_for(stack: &Running, owner: &str, name: &str) {
    stack
        .state
        .store
        .backend()
        .insert_file(
            &NewFile {
                owner: owner.into(),
                name: name.into(),
                content_type: "text/plain".into(),
                size: 5,
            },
            stack.state.clock.unix_ms(),
        )
        .unwrap();
}

fn add_file(stack: &Running, name: &str) {
    add_file_for(stack, &stack.accounts[0].user_id.clone(), name);
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

fn states(recorded: &Arc<Mutex<Vec<Connection>>>) -> Vec<Connection> {
    recorded.lock().unwrap().clone()
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

async fn live_with_files(live: &Live) -> Subscription {
    let mut files = live.subscribe("files:list", files_args()).await.unwrap();
    next(&mut files).await.unwrap();
    state_until(&mut live.connection(), |c| *c == Connection::Live).await;
    files
}

fn refreshes(stack: &Running) -> u64 {
    stack.state.stats.refreshes.load(Ordering::SeqCst)
}

async fn post(stack: &Running, path: &str, body: Value) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", stack.issuer()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap_or(Value::Null)
}

/// A data directory of the test's own, removed when dropped: the stack keeps its signing key
/// (and, unless removed, its database) there across a restart.
struct DataDir(PathBuf);

impl DataDir {
    fn new(tag: &str) -> DataDir {
        let dir = std::env::temp_dir().join(format!("kinvex-faults-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        DataDir(dir)
    }

    /// The backend's database gone, the signing key kept: the provider's tokens still verify.
    fn forget_database(&self) {
        for name in [
            "devstack.sqlite3",
            "devstack.sqlite3-wal",
            "devstack.sqlite3-shm",
        ] {
            let _ = std::fs::remove_file(self.0.join(name));
        }
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `config` pinned to the ports `running` listens on, so a restart comes back at the same URLs.
fn same_ports(mut config: kinvex_devstack::Config, running: &Running) -> kinvex_devstack::Config {
    let port = |url: &str| url.rsplit(':').next().unwrap().parse::<u16>().unwrap();
    (config.idp_port, config.api_port, config.site_port) = (
        port(running.issuer()),
        port(running.api_url()),
        port(running.site_url()),
    );
    config
}

#[tokio::test]
async fn a_backend_down_at_start_is_offline_then_live_once_it_is_up_with_the_subscription_delivering()
 {
    let dir = DataDir::new("down-at-start");
    let clock = ManualClock::new();
    let mut config = stack::config(Some(&clock));
    config.data_dir = Some(dir.0.clone());
    let first = stack::start_with(config.clone()).await;
    let file = TokenFile::new("faults-down");
    let auth = signed_in(&first, &clock, &file).await;
    let config = same_ports(config, &first);
    let url = first.api_url().to_string();
    first.stop().await;

    let started_ms = clock.shared().unix_ms() as i64;
    let live = Live::connect_with(auth.clone(), &url.parse().unwrap(), options());
    let recorded = record(live.connection());
    let mut files = live.subscribe("files:list", files_args()).await.unwrap();
    let mut connection = live.connection();
    let offline = state_until(&mut connection, |c| matches!(c, Connection::Offline { .. })).await;
    let Connection::Offline { since_ms } = offline else {
        unreachable!()
    };
    assert!(
        (started_ms..started_ms + 500).contains(&since_ms),
        "offline since the start ({started_ms}), not {since_ms}"
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(200), files.next())
            .await
            .is_err(),
        "nothing to show while the backend is down"
    );

    let second = stack::start_with(config).await;
    let page = next(&mut files).await.unwrap();
    assert!(!names(&page).is_empty(), "the demo files: {page}");
    state_until(&mut connection, |c| *c == Connection::Live).await;
    let seen = states(&recorded);
    assert_eq!(
        seen.first(),
        Some(&Connection::Connecting),
        "connecting first: {seen:?}"
    );
    assert!(
        !seen.iter().any(|s| matches!(s, Connection::Paused { .. })),
        "never paused: {seen:?}"
    );
    add_file(&second, "after-coming-up.txt");
    until(&mut files, has("after-coming-up.txt")).await;
    live.close().await;
    second.stop().await;
}

#[tokio::test]
async fn a_connection_dropped_in_the_middle_of_an_update_delivers_the_update_after_reconnecting_once()
 {
    let clock = ManualClock::new();
    let stack = stack::start(Some(&clock)).await;
    let file = TokenFile::new("faults-cut");
    let auth = signed_in(&stack, &clock, &file).await;
    let live = connect(&auth, &stack, options());
    let mut files = live_with_files(&live).await;
    let recorded = record(live.connection());
    let refreshed = refreshes(&stack);

    // The write's Transition is never sent: the socket is dropped instead.
    post(
        &stack,
        "/_devstack/faults",
        json!({ "sync": { "cut_transitions": 1 } }),
    )
    .await;
    add_file(&stack, "during-the-cut.txt");
    let page = next(&mut files).await.unwrap();
    assert!(
        has("during-the-cut.txt")(&page),
        "the first result after the cut has the write: {page}"
    );
    assert_eq!(
        names(&page)
            .iter()
            .filter(|n| *n == "during-the-cut.txt")
            .count(),
        1
    );
    nothing_more(&mut files, Duration::from_millis(500)).await;
    let sockets = stack.state.sync.activity();
    assert_eq!(sockets.len(), 2, "one reconnect: {sockets:?}");
    assert!(!sockets[0].open && sockets[1].open, "{sockets:?}");
    let seen = states(&recorded);
    assert!(
        seen.iter()
            .any(|s| matches!(s, Connection::Reconnecting { .. })),
        "{seen:?}"
    );
    assert_eq!(seen.last(), Some(&Connection::Live), "{seen:?}");

    // A mutation whose update is cut still resolves, once the new socket catches up.
    post(
        &stack,
        "/_devstack/faults",
        json!({ "sync": { "cut_transitions": 1 } }),
    )
    .await;
    let stored = tokio::time::timeout(WAIT, live.mutation("users:store", json!({})))
        .await
        .expect("the mutation is answered in time");
    assert!(stored.is_ok_and(|id| id.is_string()));

    // Every socket dropped at once, while idle: the subscription carries on.
    let cut = post(&stack, "/_devstack/sync/cut", json!({})).await;
    assert_eq!(cut["sockets"], 1);
    add_file(&stack, "after-the-second-cut.txt");
    until(&mut files, has("after-the-second-cut.txt")).await;
    state_until(&mut live.connection(), |c| *c == Connection::Live).await;
    assert_eq!(
        refreshes(&stack),
        refreshed,
        "a drop renews no token: {:?}",
        stack.state.sync.activity()
    );
    live.close().await;
}

/// The `convex` crate can get stuck reconnecting by itself: when its worker fails on a message
/// just as the socket drops, both restart the session and each new socket is dropped again soon
/// after it opens. That race cannot be caused on demand, so this test drops sockets soon after
/// they open, which is how such a client looks, and checks that the app replaces the crate's
/// client with a new one that delivers, the old one's sockets all closed.
#[tokio::test]
async fn a_client_whose_sockets_keep_dropping_soon_after_opening_is_replaced_by_a_new_one() {
    let clock = ManualClock::new();
    let stack = stack::start(Some(&clock)).await;
    let file = TokenFile::new("faults-stalled");
    let auth = signed_in(&stack, &clock, &file).await;
    let live = connect(&auth, &stack, options());
    let mut files = live_with_files(&live).await;
    let mut tally = stack.state.sync.tally();
    for round in 1..=3 {
        let cut = post(&stack, "/_devstack/sync/cut", json!({})).await;
        assert_eq!(cut["sockets"], 1);
        let name = format!("after-cut-{round}.txt");
        add_file(&stack, &name);
        until(&mut files, has(&name)).await;
    }
    let settled = tokio::time::timeout(WAIT, tally.wait_for(|t| t.opened == 5 && t.closed == 4))
        .await
        .expect("a new client in time")
        .expect("the stack is up")
        .to_owned();
    add_file(&stack, "after-the-new-client.txt");
    until(&mut files, has("after-the-new-client.txt")).await;
    state_until(&mut live.connection(), |c| *c == Connection::Live).await;
    let sockets = stack.state.sync.activity();
    assert_eq!(settled.opened, 5, "{sockets:?}");
    let counts: Vec<_> = sockets.iter().map(|s| s.connection_count).collect();
    assert_eq!(
        counts,
        [Some(0), Some(1), Some(2), Some(3), Some(0)],
        "the fifth socket is a new client's first, and nothing more opened"
    );
    assert!(sockets[4].open, "{sockets:?}");
    live.close().await;
}

#[tokio::test]
async fn a_slow_backend_bounds_calls_and_keeps_the_connection_state_truthful() {
    let clock = ManualClock::new();
    let stack = stack::start(Some(&clock)).await;
    let file = TokenFile::new("faults-slow");
    let auth = signed_in(&stack, &clock, &file).await;
    let slow = Options {
        call_timeout: Duration::from_secs(1),
        offline_after: Duration::from_secs(30),
    };

    // The first answer is slow: connecting, not live, until it comes.
    post(
        &stack,
        "/_devstack/faults",
        json!({ "sync": { "transition_delay_ms": 1500 } }),
    )
    .await;
    let started = Instant::now();
    let live = connect(&auth, &stack, slow);
    let recorded = record(live.connection());
    let mut files = live.subscribe("files:list", files_args()).await.unwrap();
    next(&mut files).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(1500));
    state_until(&mut live.connection(), |c| *c == Connection::Live).await;
    assert_eq!(
        states(&recorded),
        vec![Connection::Connecting, Connection::Live],
        "connecting until the first answer, then live"
    );

    // On a live socket: a call whose answer is late fails at its bound, and updates still come.
    post(
        &stack,
        "/_devstack/faults",
        json!({ "sync": { "transition_delay_ms": 3000 } }),
    )
    .await;
    let called = Instant::now();
    let late = live.mutation("users:store", json!({})).await;
    assert!(
        matches!(&late, Err(ConvexError::Timeout { seconds: 1, .. })),
        "{late:?}"
    );
    assert!(called.elapsed() < Duration::from_millis(2500), "bounded");
    add_file(&stack, "while-slow.txt");
    until(&mut files, has("while-slow.txt")).await;
    post(&stack, "/_devstack/faults", json!({ "sync": {} })).await;
    let stored = live.mutation("users:store", json!({})).await;
    assert!(stored.is_ok(), "{stored:?}");
    assert_eq!(
        states(&recorded),
        vec![Connection::Connecting, Connection::Live],
        "a slow server is not a lost connection"
    );
    live.close().await;
}

#[tokio::test]
async fn a_fatal_error_on_a_live_socket_reconnects_and_recovers_the_subscription() {
    let clock = ManualClock::new();
    let stack = stack::start(Some(&clock)).await;
    let file = TokenFile::new("faults-fatal");
    let auth = signed_in(&stack, &clock, &file).await;
    let live = connect(&auth, &stack, options());
    let mut files = live_with_files(&live).await;
    let recorded = record(live.connection());
    let refreshed = refreshes(&stack);

    let fatal = post(
        &stack,
        "/_devstack/sync/fatal",
        json!({ "error": "Base version 7 passed up doesn't match the current version 1" }),
    )
    .await;
    assert_eq!(fatal["sockets"], 1);
    state_until(&mut live.connection(), |c| {
        matches!(c, Connection::Reconnecting { .. })
    })
    .await;
    state_until(&mut live.connection(), |c| *c == Connection::Live).await;
    add_file(&stack, "after-the-fatal-error.txt");
    until(&mut files, has("after-the-fatal-error.txt")).await;
    assert_eq!(refreshes(&stack), refreshed, "the token was not at fault");
    let seen = states(&recorded);
    assert!(
        !seen.iter().any(|s| matches!(s, Connection::Paused { .. })),
        "{seen:?}"
    );
    // The crate reconnects for the message and again for the close after it: the socket in
    // between may be abandoned before it sends its queries.
    let sockets = stack.state.sync.activity();
    let (last, earlier) = sockets.split_last().unwrap();
    assert!(
        last.open && last.count("ModifyQuerySet") == 1 && earlier.iter().all(|s| !s.open),
        "{sockets:?}"
    );
    live.close().await;
}

#[tokio::test]
async fn a_backend_restarted_without_its_state_is_followed_from_version_zero_and_shows_its_data() {
    let dir = DataDir::new("lost-state");
    let clock = ManualClock::new();
    let mut config = stack::config(Some(&clock));
    config.data_dir = Some(dir.0.clone());
    let first = stack::start_with(config.clone()).await;
    let file = TokenFile::new("faults-lost-state");
    let auth = signed_in(&first, &clock, &file).await;
    let person = first.accounts[0].user_id.clone();
    let live = connect(&auth, &first, options());
    let mut files = live_with_files(&live).await;
    add_file(&first, "only-on-the-old-backend.txt");
    until(&mut files, has("only-on-the-old-backend.txt")).await;
    let config = same_ports(config, &first);
    first.stop().await;
    state_until(&mut live.connection(), |c| {
        matches!(c, Connection::Reconnecting { .. })
    })
    .await;

    // The new backend's commit clock starts from the wall clock, past every timestamp the
    // client saw, so the client's `maxObservedTimestamp` is not refused.
    dir.forget_database();
    let second = stack::start_with(config).await;
    let page = next(&mut files).await.unwrap();
    assert!(
        names(&page).is_empty(),
        "the new backend has no files for this person: {page}"
    );
    state_until(&mut live.connection(), |c| *c == Connection::Live).await;
    add_file_for(&second, &person, "on-the-new-backend.txt");
    let page = until(&mut files, has("on-the-new-backend.txt")).await;
    assert_eq!(names(&page), vec!["on-the-new-backend.txt".to_string()]);

    let sockets = second.state.sync.activity();
    assert!(
        sockets.iter().all(|s| s.count("ModifyQuerySet") >= 1),
        "each socket sends its queries again from version 0: {sockets:?}"
    );
    live.close().await;
    second.stop().await;
}

#[tokio::test]
async fn an_ephemeral_stack_restarted_under_the_app_pauses_its_live_queries_instead_of_running_them_anonymously()
 {
    let clock = ManualClock::new();
    let first = stack::start(Some(&clock)).await;
    let file = TokenFile::new("faults-ephemeral");
    let auth = signed_in(&first, &clock, &file).await;
    let live = connect(&auth, &first, options());
    let mut current = live.subscribe("users:current", json!({})).await.unwrap();
    until(&mut current, |v| !v.is_null()).await;
    let config = same_ports(stack::config(Some(&clock)), &first);
    first.stop().await;

    // New signing keys and no sessions: the token is refused and cannot be renewed.
    let second = stack::start_with(config).await;
    let paused = state_until(&mut live.connection(), |c| {
        matches!(c, Connection::Paused { .. })
    })
    .await;
    assert!(paused.waits_for_sign_in(), "{paused:?}");
    nothing_more(&mut current, Duration::from_millis(500)).await;
    live.close().await;
    second.stop().await;
}

#[tokio::test]
async fn an_idle_signed_in_live_connection_sends_nothing_but_heartbeat_answers() {
    let clock = ManualClock::new();
    let mut config = stack::config(Some(&clock));
    config.sync_heartbeats = kinvex_devstack::backend::sync::Heartbeats {
        ping: Duration::from_millis(100),
        client_timeout: Duration::from_secs(10),
        protocol_ping: Duration::from_millis(200),
    };
    let stack = stack::start_with(config).await;
    let file = TokenFile::new("faults-idle");
    let auth = signed_in(&stack, &clock, &file).await;
    let live = connect(&auth, &stack, options());
    let _files = live_with_files(&live).await;
    let mut current = live.subscribe("users:current", json!({})).await.unwrap();
    until(&mut current, |v| !v.is_null()).await;
    let recorded = record(live.connection());
    // Let the queries' Transitions settle.
    nothing_more(&mut current, Duration::from_millis(300)).await;

    let before = stack.state.sync.activity();
    assert_eq!(before.len(), 1, "{before:?}");
    // The window is real time: heartbeats are what is counted.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = stack.state.sync.activity();
    assert_eq!(after.len(), 1, "no other socket: {after:?}");
    assert_eq!(
        after[0].messages(),
        before[0].messages(),
        "no protocol message while idle: {before:?} → {after:?}"
    );
    assert!(
        after[0].count("(pong)") >= before[0].count("(pong)") + 5,
        "pongs answer the pings: {before:?} → {after:?}"
    );
    assert_eq!(after[0].count("(ping)"), 0, "the client never pings");
    assert_eq!(states(&recorded), vec![Connection::Live]);
    live.close().await;
}
