//! The official npm `ConvexClient` (pinned in tests/wire, with the `ws` package in Node) against
//! the local backend's live-query socket: it subscribes, shares one subscription between two
//! listeners, resolves a mutation only once its write is visible, raises function errors as a
//! deployment makes it raise them, confirms `setAuth`, goes anonymous when a token is refused
//! or missing, gives up on a FatalError, renews a token that expired on a live socket, and comes
//! back with its queries after the backend restarts.

use kinvex_devstack::Running;
use kinvex_e2e::repo_root;
use kinvex_test_kit::shipped::stack_with;
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const WAIT: Duration = Duration::from_secs(60);

fn token(stack: &Running, given_name: &str, lifetime: i64) -> String {
    let now = stack.state.clock.unix();
    stack.state.keys().sign(&json!({
        "iss": stack.issuer(), "sub": stack.accounts[0].user_id,
        "aud": [stack.state.config.client_id], "iat": now, "exp": now + lifetime,
        "email": stack.accounts[0].email, "given_name": given_name
    }))
}

fn wire() -> std::path::PathBuf {
    let wire = repo_root().join("tests/wire");
    assert!(
        wire.join("node_modules/convex").is_dir() && wire.join("node_modules/ws").is_dir(),
        "tests/wire/node_modules is missing: run `npm ci` there (cargo xtask test does)"
    );
    wire
}

/// The line the scripts mark `RESULTS `: the client logs its own lines to stdout too.
fn results(stdout: &[u8]) -> Value {
    let stdout = String::from_utf8_lossy(stdout);
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("RESULTS "))
        .and_then(|json| serde_json::from_str(json).ok())
        .unwrap_or_else(|| panic!("the script prints its RESULTS line: {stdout}"))
}

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

#[tokio::test]
async fn the_official_convex_client_subscribes_mutates_authenticates_and_fails_as_on_a_deployment()
{
    let stack = stack_with(|_| {}).await;
    let wire = wire();
    let run = tokio::process::Command::new("node")
        .arg(wire.join("sync-client.mjs"))
        .current_dir(&wire)
        .env("CONVEX_URL", stack.api_url())
        .env("TOKEN_A", token(&stack, "Dana", 600))
        .env("TOKEN_B", token(&stack, "Robin", 601))
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(WAIT, run)
        .await
        .expect("the script finishes in time")
        .expect("node runs (install Node.js 20 or later)");
    assert!(
        output.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results = results(&output.stdout);
    assert!(
        results.get("failure").is_none(),
        "the script failed: {results}"
    );
    let user_id = stack.accounts[0].user_id.as_str();

    // 1. npm's own path, version zero, the value.
    let subscribe = &results["subscribe"];
    assert!(
        text(subscribe, "/url").ends_with("/api/1.48.0/sync"),
        "{subscribe}"
    );
    assert_eq!(
        subscribe["firstStart"],
        json!({ "querySet": 0, "identity": 0, "ts": "AAAAAAAAAAA=" })
    );
    assert_eq!(subscribe["value"]["kindeId"], user_id, "{subscribe}");

    // 2. One Add for two listeners, one Remove when both are gone.
    let dedupe = &results["dedupe"];
    assert_eq!(
        (&dedupe["adds"], &dedupe["removes"]),
        (&json!(1), &json!(1)),
        "{dedupe}"
    );

    // 3. The mutation resolved with its write already shown, after a Transition reached its ts.
    let mutation = &results["mutation"];
    assert!(mutation["stored"]["value"].is_string(), "{mutation}");
    assert_eq!(mutation["shown"], "Robin", "{mutation}");
    assert_eq!(mutation["reached"], true, "{mutation}");
    assert!(
        mutation["bare"]["value"].is_string(),
        "with no subscription: {mutation}"
    );
    assert_eq!(mutation["bareQueries"], 0);

    // 5, 6. Errors, each with the client's prefix and the deployment's text.
    let errors = &results["errors"];
    assert_eq!(
        errors["anonymous"]["error"]["name"], "ConvexError",
        "{errors}"
    );
    assert_eq!(
        errors["anonymous"]["error"]["data"],
        json!({ "code": "UNAUTHENTICATED", "message": "Sign in to continue." })
    );
    let missing = text(errors, "/missing/error/message");
    assert!(
        missing.starts_with("[CONVEX Q(users:nope)] [Request ID: ")
            && missing.contains("Could not find public function for 'users:nope'."),
        "{missing}"
    );
    assert_eq!(
        errors["missing"]["error"]["name"], "Error",
        "no data for a plain error"
    );
    assert_eq!(errors["missing"]["error"]["hasData"], false, "{errors}");
    assert!(
        text(errors, "/wrongKind/error/message")
            .contains("as Mutation, but it is defined as Query."),
        "{errors}"
    );
    assert!(
        text(errors, "/action/error/message").starts_with("[CONVEX A(users:nope)]"),
        "{errors}"
    );
    assert!(
        text(errors, "/badArgs/error/message").contains("ArgumentValidationError"),
        "{errors}"
    );
    assert_eq!(errors["after"]["value"]["kindeId"], user_id, "{errors}");
    assert_eq!(
        errors["sockets"], 1,
        "errors do not drop the socket: {errors}"
    );

    // 7. Confirmed, then the forced fetch's token sent on the same socket.
    let set_auth = &results["setAuth"];
    assert_eq!(set_auth["changes"][0], true, "{set_auth}");
    assert_eq!(set_auth["fetches"], json!([false, true]), "{set_auth}");
    assert_eq!(
        set_auth["authenticates"],
        json!([{ "baseVersion": 0, "tokenType": "User" }, { "baseVersion": 1, "tokenType": "User" }])
    );
    assert_eq!(
        set_auth["current"]["value"]["kindeId"], user_id,
        "{set_auth}"
    );

    // 8. Refused, then anonymous with the queries still served.
    let invalid = &results["invalid"];
    assert_eq!(
        invalid["authError"]["authUpdateAttempted"], true,
        "{invalid}"
    );
    assert_eq!(invalid["changes"], json!([false]), "{invalid}");
    assert_eq!(
        invalid["anonymous"]["error"]["data"]["code"],
        "UNAUTHENTICATED"
    );
    let null_fetcher = &results["nullFetcher"];
    assert_eq!(null_fetcher["changes"], json!([false]), "{null_fetcher}");
    assert_eq!(
        null_fetcher["current"]["error"]["data"]["code"],
        "UNAUTHENTICATED"
    );

    // 15. FatalError and the client's fatal error (the close with no code that follows is held to
    // a raw socket in crates/devstack/tests/sync_protocol.rs).
    let fatal = &results["fatal"];
    assert_eq!(
        text(fatal, "/fatal/error"),
        "Base version 5 passed up doesn't match the current version 0",
        "{fatal}"
    );
    assert!(
        fatal["uncaught"]
            .as_array()
            .is_some_and(|u| u.iter().any(|m| m
                .as_str()
                .unwrap_or_default()
                .contains("[CONVEX FATAL ERROR]"))),
        "{fatal}"
    );
}

/// Drives tests/wire/sync-live.mjs: answers each `STEP` line it prints, returns its RESULTS.
struct Live {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl Live {
    fn start(stack: &Running, token: &str) -> Live {
        let wire = wire();
        let mut child = tokio::process::Command::new("node")
            .arg(wire.join("sync-live.mjs"))
            .current_dir(&wire)
            .env("CONVEX_URL", stack.api_url())
            .env("TOKEN_SHORT", token)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs (install Node.js 20 or later)");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        Live {
            child,
            stdin,
            stdout,
        }
    }

    /// The next line the script marks `prefix`, skipping the client's own log lines.
    async fn line(&mut self, prefix: &str) -> String {
        loop {
            let line = tokio::time::timeout(WAIT, self.stdout.next_line())
                .await
                .unwrap_or_else(|_| panic!("the script printed no {prefix} line in time"))
                .expect("stdout reads")
                .unwrap_or_else(|| panic!("the script ended before its {prefix} line"));
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.to_string();
            }
            if let Some(results) = line.strip_prefix("RESULTS ") {
                panic!("the script ended early: {results}");
            }
        }
    }

    async fn step(&mut self, name: &str) {
        assert_eq!(self.line("STEP ").await, name);
    }

    async fn go(&mut self, answer: &str) {
        self.stdin
            .write_all(format!("go {answer}\n").as_bytes())
            .await
            .expect("the script reads its stdin");
    }

    async fn results(mut self) -> Value {
        let results: Value = serde_json::from_str(&self.line("RESULTS ").await).expect("JSON");
        let _ = tokio::time::timeout(WAIT, self.child.wait()).await;
        results
    }
}

#[tokio::test]
async fn the_official_convex_client_renews_an_expired_token_and_survives_a_backend_restart() {
    let clock = kinvex_clock::ManualClock::new();
    let dir = std::env::temp_dir().join(format!("kinvex-sync-peers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let first = stack_with(|c| {
        c.clock = clock.shared();
        c.data_dir = Some(dir.clone());
    })
    .await;
    let mut live = Live::start(&first, &token(&first, "Dana", 60));

    // 10. The token expires on the live socket; a fresh one is handed to the fetcher.
    live.step("expire").await;
    clock.advance(Duration::from_secs(61));
    live.go(&token(&first, "Dana", 3600)).await;

    // 12. The next Transition is not sent: the socket is dropped after the mutation ran.
    live.step("cut").await;
    let cut = reqwest::Client::new()
        .post(format!("{}/_devstack/faults", first.issuer()))
        .json(&json!({ "sync": { "cut_transitions": 1 } }))
        .send()
        .await
        .expect("the faults API answers");
    assert!(cut.status().is_success());
    let mut tally = first.state.sync.tally();
    live.go("").await;
    live.step("restart").await;
    // npm resolves the mutation on the new socket's first Transition, which may come before the
    // server reads the re-sent copy: wait for that copy's answer.
    let replayed =
        tokio::time::timeout(Duration::from_secs(10), tally.wait_for(|t| t.replayed > 0))
            .await
            .map(|t| t.map(|t| t.replayed).unwrap_or(0));
    let sockets = first.state.sync.activity();
    assert_eq!(
        replayed,
        Ok(1),
        "the re-sent mutation was answered from the record, not run again: {sockets:?}"
    );

    // 16. The stack stops and starts again on the same ports with the same data, on the same
    // clock; a webhook changes the user while the client reconnects.
    let port = |url: &str| {
        url.rsplit(':')
            .next()
            .and_then(|p| p.parse::<u16>().ok())
            .expect("a port")
    };
    let ports = (
        port(first.issuer()),
        port(first.api_url()),
        port(first.site_url()),
    );
    let user_id = first.accounts[0].user_id.clone();
    first.stop().await;
    let second = stack_with(|c| {
        c.clock = clock.shared();
        c.data_dir = Some(dir.clone());
        (c.idp_port, c.api_port, c.site_port) = ports;
    })
    .await;
    let updated = reqwest::Client::new()
        .patch(format!("{}/_devstack/users/{user_id}", second.issuer()))
        .json(&json!({ "given_name": "Danielle" }))
        .send()
        .await
        .expect("the admin API answers");
    assert_eq!(updated.status(), 200);
    live.go("").await;
    let results = live.results().await;
    assert!(
        results.get("failure").is_none(),
        "the script failed: {results}"
    );

    let expiry = &results["expiry"];
    assert_eq!(
        expiry["authErrors"],
        json!([{ "type": "AuthError", "error": "Convex token identity expired", "baseVersion": 1, "authUpdateAttempted": false }]),
        "{expiry}"
    );
    assert!(expiry["stored"].is_string(), "{expiry}");
    assert_eq!(
        expiry["mutationResponses"], 1,
        "the mutation ran once: {expiry}"
    );
    assert_eq!(
        expiry["mutationsSent"], 2,
        "sent, refused, re-sent: {expiry}"
    );
    assert_eq!(expiry["sockets"], 2, "{expiry}");
    assert_eq!(
        expiry["subscribed"],
        user_id.as_str(),
        "the subscription kept: {expiry}"
    );

    let cut = &results["cut"];
    assert!(cut["again"].is_string(), "{cut}");
    assert_eq!(cut["mutationsSent"], 2, "sent, cut, re-sent: {cut}");
    assert_eq!(cut["sockets"], 1, "one reconnect: {cut}");
    assert_eq!(cut["sessions"], 1, "one session id throughout: {cut}");

    let restart = &results["restart"];
    assert_eq!(restart["firstName"], "Danielle", "{restart}");
    assert_eq!(
        restart["closes1011"], 0,
        "not refused for its timestamp: {restart}"
    );
    assert!(
        restart["lastConnect"]["maxObservedTimestamp"].is_string(),
        "{restart}"
    );
    second.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
