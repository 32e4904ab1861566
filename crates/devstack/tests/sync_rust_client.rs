//! The official Rust client (crate `convex` 0.10) against the local backend's live-query socket:
//! it subscribes, sees another client's write, gets function errors as results, goes anonymous
//! with `set_auth(None)`, renews an expired token through its auth callback, and takes its
//! queries back after the stack restarts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use convex::{AuthenticationToken, ConvexClient, FunctionResult, QuerySubscription};
use futures_util::StreamExt;
use kinvex_clock::ManualClock;
use kinvex_devstack::Running;
use kinvex_test_kit::shipped::stack_with;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(15);

fn token(stack: &Running, given_name: &str, lifetime: i64) -> String {
    let now = stack.state.clock.unix();
    stack.state.keys().sign(&json!({
        "iss": stack.issuer(), "sub": stack.accounts[0].user_id,
        "aud": [stack.state.config.client_id], "iat": now, "exp": now + lifetime,
        "email": stack.accounts[0].email, "given_name": given_name
    }))
}

async fn client(stack: &Running) -> ConvexClient {
    tokio::time::timeout(WAIT, ConvexClient::new(stack.api_url()))
        .await
        .expect("the client connects in time")
        .expect("the client starts")
}

fn no_args() -> BTreeMap<String, convex::Value> {
    BTreeMap::new()
}

fn json_of(result: FunctionResult) -> Result<Value, String> {
    match result {
        FunctionResult::Value(value) => Ok(Value::from(value)),
        FunctionResult::ErrorMessage(message) => Err(message),
        FunctionResult::ConvexError(error) => Err(format!(
            "ConvexError {}: {}",
            Value::from(error.data),
            error.message
        )),
    }
}

async fn next(subscription: &mut QuerySubscription) -> FunctionResult {
    tokio::time::timeout(WAIT, subscription.next())
        .await
        .expect("the subscription updates in time")
        .expect("the subscription is open")
}

/// The next update whose value satisfies `wanted`, skipping the others.
async fn until(subscription: &mut QuerySubscription, wanted: impl Fn(&Value) -> bool) -> Value {
    loop {
        if let Ok(value) = json_of(next(subscription).await)
            && wanted(&value)
        {
            return value;
        }
    }
}

async fn call<F, E>(call: F) -> FunctionResult
where
    F: Future<Output = Result<FunctionResult, E>>,
    E: std::fmt::Debug,
{
    tokio::time::timeout(WAIT, call)
        .await
        .expect("the call returns in time")
        .expect("the client is up")
}

#[tokio::test]
async fn the_rust_client_subscribes_and_sees_another_clients_mutation() {
    let stack = stack_with(|_| {}).await;
    let mut watcher = client(&stack).await;
    watcher.set_auth(Some(token(&stack, "Dana", 600))).await;
    let mut current = watcher.subscribe("users:current", no_args()).await.unwrap();
    let first = json_of(next(&mut current).await).unwrap();
    assert_eq!(first["firstName"], "Dana", "{first}");

    let mut writer = client(&stack).await;
    writer.set_auth(Some(token(&stack, "Robin", 600))).await;
    let stored = json_of(call(writer.mutation("users:store", no_args())).await).unwrap();
    assert_eq!(stored, first["_id"], "the same user document");
    let seen = until(&mut current, |v| v["firstName"] == "Robin").await;
    assert_eq!(seen["_id"], first["_id"]);

    // A mutation with no subscription of its own still returns: a Transition follows it.
    let again = json_of(call(writer.mutation("users:store", no_args())).await).unwrap();
    assert_eq!(again, stored);
}

#[tokio::test]
async fn the_rust_client_gets_function_errors_as_results_and_keeps_its_socket() {
    let stack = stack_with(|_| {}).await;
    let mut client = client(&stack).await;
    let anonymous = call(client.query("users:current", no_args())).await;
    match anonymous {
        FunctionResult::ConvexError(error) => {
            assert_eq!(
                Value::from(error.data),
                json!({ "code": "UNAUTHENTICATED", "message": "Sign in to continue." })
            );
            assert!(
                error.message.contains("Uncaught ConvexError"),
                "{}",
                error.message
            );
        }
        other => panic!("expected a ConvexError, got {other:?}"),
    }
    let missing = json_of(call(client.query("users:nope", no_args())).await).unwrap_err();
    assert!(
        missing.contains("Could not find public function for 'users:nope'."),
        "{missing}"
    );
    let wrong_kind = json_of(call(client.mutation("users:current", no_args())).await).unwrap_err();
    assert!(
        wrong_kind.contains("as Mutation, but it is defined as Query."),
        "{wrong_kind}"
    );
    let action = json_of(call(client.action("users:current", no_args())).await).unwrap_err();
    assert!(
        action.contains("as Action, but it is defined as Query."),
        "{action}"
    );
    let mut extra = no_args();
    extra.insert("kindeId".into(), "kp_someone_else".into());
    let bad_args = json_of(call(client.query("users:current", extra)).await).unwrap_err();
    assert!(bad_args.contains("ArgumentValidationError"), "{bad_args}");

    // A mutation failing with a ConvexError resolves too (the failed answer needs no Transition).
    match call(client.mutation("users:store", no_args())).await {
        FunctionResult::ConvexError(error) => {
            assert_eq!(Value::from(error.data)["code"], "UNAUTHENTICATED");
        }
        other => panic!("expected a ConvexError, got {other:?}"),
    }

    client.set_auth(Some(token(&stack, "Dana", 600))).await;
    let current = json_of(call(client.query("users:current", no_args())).await).unwrap();
    assert_eq!(current["kindeId"], stack.accounts[0].user_id.as_str());
}

/// What makes `kinvex_convex::live::Live::mutation` fit only for mutations that may run twice:
/// when the socket drops after a mutation ran but before the Transition that confirms it, the
/// crate sends it again on its next socket under a new session id, so a deployment (which
/// recognises a re-sent mutation only by session id and request id) runs it again.
#[tokio::test]
async fn the_rust_client_resends_a_mutation_cut_before_its_transition_under_a_new_session() {
    let stack = stack_with(|_| {}).await;
    let mut client = client(&stack).await;
    client.set_auth(Some(token(&stack, "Dana", 600))).await;
    let first = json_of(call(client.query("users:current", no_args())).await).unwrap();
    let cut = reqwest::Client::new()
        .post(format!("{}/_devstack/faults", stack.issuer()))
        .json(&json!({ "sync": { "cut_transitions": 1 } }))
        .send()
        .await
        .unwrap();
    assert!(cut.status().is_success());
    let stored = json_of(call(client.mutation("users:store", no_args())).await).unwrap();
    assert_eq!(stored, first["_id"], "the mutation still answers");
    let sockets = stack.state.sync.activity();
    let ran: Vec<_> = sockets
        .iter()
        .filter(|s| s.count("Mutation") == 1)
        .collect();
    assert!(ran.len() >= 2, "sent on two sockets: {sockets:?}");
    assert_ne!(
        ran[0].session_id, ran[1].session_id,
        "under a new session id: {sockets:?}"
    );
    assert!(ran[0].session_id.is_some());
}

#[tokio::test]
async fn set_auth_none_reruns_the_rust_clients_queries_anonymously() {
    let stack = stack_with(|_| {}).await;
    let mut client = client(&stack).await;
    client.set_auth(Some(token(&stack, "Dana", 600))).await;
    let mut current = client.subscribe("users:current", no_args()).await.unwrap();
    assert!(json_of(next(&mut current).await).is_ok());
    client.set_auth(None).await;
    loop {
        match next(&mut current).await {
            FunctionResult::ConvexError(error) => {
                assert_eq!(Value::from(error.data)["code"], "UNAUTHENTICATED");
                break;
            }
            FunctionResult::Value(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_token_expiring_on_a_live_socket_is_renewed_through_the_callback_and_the_mutation_then_runs()
 {
    let clock = ManualClock::new();
    let stack = Arc::new(stack_with(|c| c.clock = clock.shared()).await);
    let mut client = client(&stack).await;
    let fetches = Arc::new(AtomicUsize::new(0));
    let (stack_for_fetcher, counter) = (stack.clone(), fetches.clone());
    client
        .set_auth_callback(Some(Box::new(move |_force_refresh| {
            counter.fetch_add(1, Ordering::SeqCst);
            let token = token(&stack_for_fetcher, "Dana", 60);
            Box::pin(async move { Ok(AuthenticationToken::User(token)) })
        })))
        .await;
    let mut current = client.subscribe("users:current", no_args()).await.unwrap();
    let first = json_of(next(&mut current).await).unwrap();
    assert_eq!(first["kindeId"], stack.accounts[0].user_id.as_str());
    let fetched = fetches.load(Ordering::SeqCst);

    clock.advance(Duration::from_secs(61));
    let stored = json_of(call(client.mutation("users:store", no_args())).await).unwrap();
    assert_eq!(stored, first["_id"]);
    assert!(
        fetches.load(Ordering::SeqCst) > fetched,
        "a fresh token was fetched on reconnect"
    );
    let current = json_of(call(client.query("users:current", no_args())).await).unwrap();
    assert_eq!(current["_id"], first["_id"], "still signed in");
}

#[tokio::test]
async fn the_rust_client_takes_its_queries_back_after_the_stack_restarts() {
    let dir = std::env::temp_dir().join(format!("kinvex-sync-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let first = stack_with(|c| c.data_dir = Some(dir.clone())).await;
    let port = |url: &str| url.rsplit(':').next().unwrap().parse::<u16>().unwrap();
    let (idp_port, api_port, site_port) = (
        port(first.issuer()),
        port(first.api_url()),
        port(first.site_url()),
    );
    let mut client = client(&first).await;
    client.set_auth(Some(token(&first, "Dana", 3600))).await;
    let mut current = client.subscribe("users:current", no_args()).await.unwrap();
    assert_eq!(
        json_of(next(&mut current).await).unwrap()["firstName"],
        "Dana"
    );
    let user_id = first.accounts[0].user_id.clone();
    first.stop().await;

    let second = stack_with(|c| {
        c.data_dir = Some(dir.clone());
        (c.idp_port, c.api_port, c.site_port) = (idp_port, api_port, site_port);
    })
    .await;
    let updated = reqwest::Client::new()
        .patch(format!("{}/_devstack/users/{user_id}", second.issuer()))
        .json(&json!({ "given_name": "Danielle" }))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), 200);
    let seen = until(&mut current, |v| v["firstName"] == "Danielle").await;
    assert_eq!(seen["kindeId"], user_id.as_str());
    drop(client);
    second.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
