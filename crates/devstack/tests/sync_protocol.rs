//! The live-query socket frame by frame, as a raw WebSocket client sees it: what the official
//! clients rely on (versions that chain, a result for each new query, a Transition after each
//! mutation, the AuthError and FatalError variants and the close codes that follow them,
//! heartbeats), held to get-convex/convex-backend crates/sync and crates/local_backend/src/subs.
//! One file past 500 lines because every test here drives the one raw-socket client ([`Raw`])
//! defined at the top.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use futures_util::{SinkExt, StreamExt};
use kinvex_clock::ManualClock;
use kinvex_devstack::Running;
use kinvex_devstack::backend::sync::Heartbeats;
use kinvex_devstack::store::backend::NewFile;
use kinvex_test_kit::backend::webhooks_until;
use kinvex_test_kit::shipped::{stack, stack_with};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(10);
const ZERO: &str = "AAAAAAAAAAA=";

type Stream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What the server sent, one frame.
#[derive(Debug, PartialEq)]
enum Frame {
    Json(Value),
    Ping,
    /// A close frame: its code and reason, or `None` for a close with no code.
    Close(Option<(u16, String)>),
}

struct Raw(Stream);

impl Raw {
    async fn open(stack: &Running, path: &str) -> Raw {
        let url = format!("{}{path}", stack.api_url().replace("http://", "ws://"));
        let (stream, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
            .await
            .expect("the upgrade answers in time")
            .expect("the socket opens");
        Raw(stream)
    }

    /// A socket after `Connect`, as both clients open one.
    async fn connected(stack: &Running) -> Raw {
        let mut raw = Raw::open(stack, "/api/1.48.0/sync").await;
        raw.send(json!({
            "type": "Connect", "sessionId": uuid(), "connectionCount": 0,
            "lastCloseReason": "InitialConnect", "clientTs": stack.state.clock.unix_ms() as i64
        }))
        .await;
        raw
    }

    async fn send(&mut self, message: Value) {
        self.0
            .send(Message::text(message.to_string()))
            .await
            .expect("the frame is sent");
    }

    /// The next frame; pongs the client sends are not frames of the server's.
    async fn next(&mut self) -> Frame {
        loop {
            let frame = tokio::time::timeout(WAIT, self.0.next())
                .await
                .expect("the server sends a frame in time");
            match frame {
                Some(Ok(Message::Text(text))) => {
                    return Frame::Json(serde_json::from_str(text.as_str()).unwrap());
                }
                Some(Ok(Message::Ping(_))) => return Frame::Ping,
                Some(Ok(Message::Close(close))) => {
                    return Frame::Close(close.map(|c| (u16::from(c.code), c.reason.to_string())));
                }
                Some(Ok(Message::Pong(_))) => continue,
                other => panic!("unexpected frame: {other:?}"),
            }
        }
    }

    /// The next protocol message, skipping WebSocket pings and protocol Pings; heartbeats do
    /// not extend the wait.
    async fn message(&mut self) -> Value {
        let wait = async {
            loop {
                match self.next().await {
                    Frame::Json(message) if message["type"] == "Ping" => continue,
                    Frame::Json(message) => return message,
                    Frame::Ping => continue,
                    Frame::Close(close) => panic!("the socket closed: {close:?}"),
                }
            }
        };
        tokio::time::timeout(WAIT, wait)
            .await
            .expect("a protocol message comes in time")
    }

    /// The next message, which must be a `kind`.
    async fn expect(&mut self, kind: &str) -> Value {
        let message = self.message().await;
        assert_eq!(message["type"], kind, "{message}");
        message
    }

    /// The close that must come next, after any pings.
    async fn closed(&mut self) -> Option<(u16, String)> {
        let wait = async {
            loop {
                match self.next().await {
                    Frame::Close(close) => return close,
                    Frame::Ping => continue,
                    Frame::Json(message) if message["type"] == "Ping" => continue,
                    Frame::Json(message) => panic!("expected a close, got {message}"),
                }
            }
        };
        tokio::time::timeout(WAIT, wait)
            .await
            .expect("the socket closes in time")
    }
}

fn uuid() -> String {
    format!(
        "0b6a2f4e-3c1d-4e8a-9f00-{}",
        kinvex_devstack::random::hex(6)
    )
}

fn token(stack: &Running, account: usize, lifetime: i64) -> String {
    let now = stack.state.clock.unix();
    stack.state.keys().sign(&json!({
        "iss": stack.issuer(), "sub": stack.accounts[account].user_id,
        "aud": [stack.state.config.client_id], "iat": now, "exp": now + lifetime,
        "email": stack.accounts[account].email, "given_name": "Dana"
    }))
}

fn ts(message: &Value, at: &str) -> u64 {
    let text = message
        .pointer(at)
        .and_then(Value::as_str)
        .expect("a b64 ts");
    assert_eq!(text.len(), 12, "{message}");
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap();
    u64::from_le_bytes(bytes.try_into().unwrap())
}

fn add(query_id: u32, path: &str, args: Value) -> Value {
    json!({ "type": "Add", "queryId": query_id, "udfPath": path, "args": [args] })
}

fn page() -> Value {
    json!({ "paginationOpts": { "numItems": 3, "cursor": null } })
}

/// A socket signed in as `account`, its identity confirmed (identity version 1).
async fn signed_in(stack: &Running, account: usize) -> Raw {
    let mut raw = Raw::connected(stack).await;
    raw.send(json!({ "type": "Authenticate", "baseVersion": 0, "tokenType": "User", "value": token(stack, account, 600) }))
        .await;
    let confirmed = raw.expect("Transition").await;
    assert_eq!(confirmed["endVersion"]["identity"], 1, "{confirmed}");
    raw
}

#[tokio::test]
async fn the_first_transition_starts_at_zero_and_carries_the_new_querys_value() {
    let stack = stack().await;
    let mut raw = Raw::connected(&stack).await;
    raw.send(
        json!({ "type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [
            add(0, "users:current", json!({})), add(3, "users.js:nope", json!({}))
        ]}),
    )
    .await;
    let first = raw.expect("Transition").await;
    assert_eq!(
        first["startVersion"],
        json!({ "querySet": 0, "identity": 0, "ts": ZERO })
    );
    assert_eq!(first["endVersion"]["querySet"], 1);
    assert_eq!(first["endVersion"]["identity"], 0);
    assert!(ts(&first, "/endVersion/ts") > 0);
    assert!(first["serverTs"].is_u64(), "{first}");
    assert!(first["clientClockSkew"].is_i64(), "{first}");
    let modifications = first["modifications"].as_array().unwrap();
    assert_eq!(modifications.len(), 2, "{first}");
    let anonymous = &modifications[0];
    assert_eq!(anonymous["type"], "QueryFailed", "{first}");
    assert_eq!(anonymous["queryId"], 0);
    assert_eq!(anonymous["logLines"], json!([]));
    assert_eq!(anonymous["journal"], Value::Null);
    assert_eq!(
        anonymous["errorData"],
        json!({ "code": "UNAUTHENTICATED", "message": "Sign in to continue." })
    );
    let missing = &modifications[1];
    assert!(
        missing["errorMessage"]
            .as_str()
            .unwrap()
            .contains("Could not find public function for 'users:nope'."),
        "{missing}"
    );
    assert!(
        missing.get("errorData").is_none(),
        "no errorData for a plain error: {missing}"
    );

    raw.send(json!({ "type": "Authenticate", "baseVersion": 0, "tokenType": "User", "value": token(&stack, 0, 600) }))
        .await;
    let confirmed = raw.expect("Transition").await;
    assert_eq!(confirmed["startVersion"], first["endVersion"], "chained");
    assert_eq!(confirmed["endVersion"]["identity"], 1);
    let modifications = confirmed["modifications"].as_array().unwrap();
    assert_eq!(
        modifications.len(),
        1,
        "only the changed result: {confirmed}"
    );
    assert_eq!(modifications[0]["type"], "QueryUpdated");
    assert_eq!(
        modifications[0]["value"]["kindeId"],
        stack.accounts[0].user_id.as_str()
    );

    raw.send(
        json!({ "type": "ModifyQuerySet", "baseVersion": 1, "newVersion": 2, "modifications": [
            { "type": "Remove", "queryId": 3 }
        ]}),
    )
    .await;
    let removed = raw.expect("Transition").await;
    assert_eq!(removed["startVersion"], confirmed["endVersion"]);
    assert_eq!(
        removed["modifications"],
        json!([{ "type": "QueryRemoved", "queryId": 3 }])
    );
}

#[tokio::test]
async fn both_routes_upgrade_and_a_path_version_that_is_not_semver_is_refused() {
    let stack = stack().await;
    let mut rust = Raw::open(&stack, "/api/sync").await;
    rust.send(
        json!({ "type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [] }),
    )
    .await;
    let transition = rust.expect("Transition").await;
    assert_eq!(transition["modifications"], json!([]));
    let url = format!(
        "{}/api/banana/sync",
        stack.api_url().replace("http://", "ws://")
    );
    match tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
        .await
        .unwrap()
    {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 400);
            let body: Value = serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
            assert_eq!(body["code"], "InvalidClientVersion", "{body}");
        }
        other => panic!("expected a 400, got {other:?}"),
    }
}

#[tokio::test]
async fn a_wrong_base_version_gets_a_fatal_error_and_a_close_without_a_code() {
    let stack = stack().await;
    let mut raw = Raw::connected(&stack).await;
    raw.send(
        json!({ "type": "ModifyQuerySet", "baseVersion": 2, "newVersion": 3, "modifications": [] }),
    )
    .await;
    let fatal = raw.expect("FatalError").await;
    assert_eq!(
        fatal["error"],
        "Base version 2 passed up doesn't match the current version 0"
    );
    assert_eq!(raw.closed().await, None);
}

#[tokio::test]
async fn other_protocol_errors_close_the_socket_with_1011() {
    let stack = stack().await;
    let internal = Some((1011, "InternalServerError".to_string()));
    let cases = [
        vec![
            json!({ "type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 0, "modifications": [] }),
        ],
        vec![
            json!({ "type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [add(0, "users:current", json!({}))] }),
            json!({ "type": "ModifyQuerySet", "baseVersion": 1, "newVersion": 2, "modifications": [add(0, "users:current", json!({}))] }),
        ],
        vec![
            json!({ "type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [{ "type": "Remove", "queryId": 7 }] }),
        ],
        vec![json!({ "type": "Authenticate", "baseVersion": 1, "tokenType": "None" })],
        vec![json!({ "type": "NoSuchMessage" })],
    ];
    for messages in cases {
        let mut raw = Raw::connected(&stack).await;
        let last = messages.len() - 1;
        for (i, message) in messages.into_iter().enumerate() {
            raw.send(message).await;
            if i < last {
                raw.expect("Transition").await;
            }
        }
        assert_eq!(raw.closed().await, internal);
    }
    let mut raw = Raw::connected(&stack).await;
    raw.0.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    assert_eq!(raw.closed().await, internal, "a binary frame");
}

#[tokio::test]
async fn a_mutation_answers_with_its_commit_ts_and_a_transition_reaching_it_even_with_no_queries() {
    let stack = stack().await;
    let mut raw = signed_in(&stack, 0).await;
    raw.send(json!({ "type": "Mutation", "requestId": 0, "udfPath": "users:store", "args": [{}] }))
        .await;
    let response = raw.expect("MutationResponse").await;
    assert_eq!(response["success"], true, "{response}");
    assert!(response["result"].is_string());
    assert_eq!(response["logLines"], json!([]));
    assert!(response.get("errorData").is_none());
    let committed = ts(&response, "/ts");
    let transition = raw.expect("Transition").await;
    assert!(
        ts(&transition, "/endVersion/ts") >= committed,
        "{transition}"
    );
    assert_eq!(transition["modifications"], json!([]));

    raw.send(
        json!({ "type": "Mutation", "requestId": 1, "udfPath": "users:current", "args": [{}] }),
    )
    .await;
    let wrong_kind = raw.expect("MutationResponse").await;
    assert_eq!(wrong_kind["success"], false);
    assert_eq!(wrong_kind["ts"], Value::Null);
    let message = wrong_kind["result"].as_str().unwrap();
    assert!(message.starts_with("[Request ID: "), "{message}");
    assert!(
        message.contains("as Mutation, but it is defined as Query."),
        "{message}"
    );
    raw.expect("Transition").await;

    raw.send(json!({ "type": "Action", "requestId": 2, "udfPath": "users:nope", "args": [{}] }))
        .await;
    let action = raw.expect("ActionResponse").await;
    assert_eq!(action["success"], false);
    assert!(
        action["result"]
            .as_str()
            .unwrap()
            .contains("Could not find public function for 'users:nope'."),
        "{action}"
    );
    assert!(action.get("ts").is_none(), "{action}");
    raw.expect("Transition").await;
}

#[tokio::test]
async fn a_mutation_sent_again_by_the_same_session_returns_its_first_result_without_running() {
    let stack = stack().await;
    let session = uuid();
    let open = |session: String| {
        let stack = &stack;
        async move {
            let mut raw = Raw::open(stack, "/api/1.48.0/sync").await;
            raw.send(json!({ "type": "Connect", "sessionId": session, "connectionCount": 0 }))
                .await;
            raw.send(json!({ "type": "Authenticate", "baseVersion": 0, "tokenType": "User", "value": token(stack, 0, 600) }))
                .await;
            raw.expect("Transition").await;
            raw.send(json!({ "type": "Mutation", "requestId": 4, "udfPath": "users:store", "args": [{}] }))
                .await;
            let response = raw.expect("MutationResponse").await;
            raw.expect("Transition").await;
            response
        }
    };
    let first = open(session.clone()).await;
    let latest = stack.state.store.commits().latest();
    let again = open(session).await;
    assert_eq!(again, first, "the same result and ts");
    assert_eq!(
        stack.state.store.commits().latest(),
        latest,
        "nothing was written again"
    );
    let other = open(uuid()).await;
    assert_ne!(other["ts"], first["ts"], "another session runs it");
}

#[tokio::test]
async fn a_write_by_anyone_updates_the_subscribers_whose_results_it_changes_and_only_them() {
    let stack = stack().await;
    let mut raw = signed_in(&stack, 0).await;
    raw.send(
        json!({ "type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [
            add(0, "files:list", page())
        ]}),
    )
    .await;
    let first = raw.expect("Transition").await;
    assert_eq!(
        first["modifications"][0]["value"]["page"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let file = |owner: &str, name: &str| NewFile {
        owner: owner.into(),
        name: name.into(),
        content_type: "text/plain".into(),
        size: 5,
    };
    let now = stack.state.clock.unix_ms();
    let backend = stack.state.store.backend();
    // Another user's file changes none of this socket's results: no Transition for it.
    backend
        .insert_file(&file(&stack.accounts[1].user_id, "theirs.txt"), now)
        .unwrap();
    backend
        .insert_file(&file(&stack.accounts[0].user_id, "mine.txt"), now)
        .unwrap();
    let update = raw.expect("Transition").await;
    assert_eq!(update["startVersion"], first["endVersion"]);
    assert_eq!(update["endVersion"]["querySet"], 1);
    assert_eq!(
        update["modifications"][0]["value"]["page"][0]["name"], "mine.txt",
        "{update}"
    );
    assert!(ts(&update, "/endVersion/ts") > ts(&first, "/endVersion/ts"));
}

#[tokio::test]
async fn a_user_updated_webhook_changes_the_users_current_that_user_is_subscribed_to() {
    let stack = stack().await;
    let mut raw = signed_in(&stack, 0).await;
    raw.send(
        json!({ "type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [
            add(0, "users:current", json!({}))
        ]}),
    )
    .await;
    let first = raw.expect("Transition").await;
    assert_eq!(first["modifications"][0]["value"]["firstName"], "Dana");
    let user_id = &stack.accounts[0].user_id;
    let updated = reqwest::Client::new()
        .patch(format!("{}/_devstack/users/{user_id}", stack.issuer()))
        .json(&json!({ "given_name": "Danielle" }))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), 200);
    let update = raw.expect("Transition").await;
    assert_eq!(
        update["modifications"][0]["value"]["firstName"], "Danielle",
        "{update}"
    );
    webhooks_until(&stack, |p| p.delivered >= 1).await;
}

#[tokio::test]
async fn a_token_that_expires_on_a_live_socket_is_refused_before_the_next_mutation_runs() {
    let clock = ManualClock::new();
    let stack = stack_with(|c| c.clock = clock.shared()).await;
    let mut raw = Raw::connected(&stack).await;
    raw.send(json!({ "type": "Authenticate", "baseVersion": 0, "tokenType": "User", "value": token(&stack, 0, 60) }))
        .await;
    raw.expect("Transition").await;
    clock.advance(Duration::from_secs(61));
    let latest = stack.state.store.commits().latest();
    raw.send(json!({ "type": "Mutation", "requestId": 0, "udfPath": "users:store", "args": [{}] }))
        .await;
    let refused = raw.expect("AuthError").await;
    assert_eq!(
        refused,
        json!({ "type": "AuthError", "error": "Convex token identity expired", "baseVersion": 1, "authUpdateAttempted": false })
    );
    assert_eq!(raw.closed().await, None);
    assert_eq!(
        stack.state.store.commits().latest(),
        latest,
        "the mutation did not run"
    );
}

#[tokio::test]
async fn a_refused_token_gets_an_auth_error_with_the_update_attempted_and_a_close() {
    let stack = stack().await;
    for (token_type, value) in [("User", "not.a.jwt"), ("Admin", "prod:key|abc")] {
        let mut raw = Raw::connected(&stack).await;
        raw.send(json!({ "type": "Authenticate", "baseVersion": 0, "tokenType": token_type, "value": value }))
            .await;
        let refused = raw.expect("AuthError").await;
        assert_eq!(refused["authUpdateAttempted"], true, "{refused}");
        assert_eq!(refused["baseVersion"], 0, "{refused}");
        assert!(!refused["error"].as_str().unwrap().is_empty(), "{refused}");
        assert_eq!(raw.closed().await, None);
    }
}

#[tokio::test]
async fn authenticate_none_reruns_the_queries_anonymously() {
    let stack = stack().await;
    let mut raw = signed_in(&stack, 0).await;
    raw.send(
        json!({ "type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [
            add(0, "users:current", json!({}))
        ]}),
    )
    .await;
    assert_eq!(
        raw.expect("Transition").await["modifications"][0]["type"],
        "QueryUpdated"
    );
    raw.send(json!({ "type": "Authenticate", "baseVersion": 1, "tokenType": "None" }))
        .await;
    let anonymous = raw.expect("Transition").await;
    assert_eq!(anonymous["endVersion"]["identity"], 2);
    assert_eq!(anonymous["modifications"][0]["type"], "QueryFailed");
    assert_eq!(
        anonymous["modifications"][0]["errorData"]["code"],
        "UNAUTHENTICATED"
    );
}

#[tokio::test]
async fn a_client_that_saw_a_timestamp_ahead_of_the_server_is_refused_with_1011() {
    let stack = stack().await;
    let latest = stack.state.store.commits().latest();
    use base64::Engine;
    let encode = |ts: u64| base64::engine::general_purpose::STANDARD.encode(ts.to_le_bytes());
    let mut behind = Raw::open(&stack, "/api/sync").await;
    behind
        .send(json!({ "type": "Connect", "sessionId": uuid(), "connectionCount": 1, "maxObservedTimestamp": encode(latest) }))
        .await;
    behind
        .send(json!({ "type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [] }))
        .await;
    behind.expect("Transition").await;
    let mut ahead = Raw::open(&stack, "/api/sync").await;
    ahead
        .send(json!({ "type": "Connect", "sessionId": uuid(), "connectionCount": 1, "maxObservedTimestamp": encode(latest + 60_000_000_000) }))
        .await;
    assert_eq!(
        ahead.closed().await,
        Some((1011, "InternalServerError".into()))
    );
}

#[tokio::test]
async fn the_server_pings_both_ways_and_closes_on_a_silent_client() {
    let stack = stack_with(|c| {
        c.sync_heartbeats = Heartbeats {
            ping: Duration::from_millis(50),
            client_timeout: Duration::from_secs(60),
            protocol_ping: Duration::from_millis(100),
        }
    })
    .await;
    let mut raw = Raw::connected(&stack).await;
    let (mut pings, mut protocol_pings) = (0, 0);
    while pings < 2 || protocol_pings < 2 {
        match raw.next().await {
            Frame::Ping => pings += 1,
            Frame::Json(message) if message == json!({ "type": "Ping" }) => protocol_pings += 1,
            other => panic!("unexpected {other:?}"),
        }
    }

    // No WebSocket pings to answer, so a client that sends nothing is silent.
    let quiet = stack_with(|c| {
        c.sync_heartbeats = Heartbeats {
            ping: Duration::from_secs(600),
            client_timeout: Duration::from_millis(200),
            protocol_ping: Duration::from_secs(600),
        }
    })
    .await;
    let mut raw = Raw::open(&quiet, "/api/sync").await;
    assert_eq!(
        raw.closed().await,
        Some((1000, "ClientDisconnected".into()))
    );
}

#[tokio::test]
async fn stopping_the_stack_closes_its_sockets() {
    let stack = stack().await;
    let mut raw = Raw::connected(&stack).await;
    stack.stop().await;
    assert_eq!(raw.closed().await, Some((1001, "ServerStopping".into())));
}
