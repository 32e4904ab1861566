//! The local backend as tests that check it reach it: calls to its HTTP API as a plain client
//! makes them, and waiting for the provider's webhooks to arrive.

use kinvex_devstack::Running;
use kinvex_devstack::webhooks::Progress;
use serde_json::{Value, json};
use std::time::Duration;

/// `POST /api/{kind}` of `path` with `args`, as `token`'s bearer if any: the status and body.
pub async fn call(
    stack: &Running,
    kind: &str,
    path: &str,
    args: Value,
    token: Option<&str>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/api/{kind}", stack.api_url()))
        .header("content-type", "application/json")
        .header("convex-client", "kinvex-tests-0.1.0")
        .json(&json!({ "path": path, "args": args, "format": "json" }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the backend answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

/// Waits until the stack's webhook deliveries so far satisfy `done` and returns them; fails the
/// test if they have not within 10 s.
pub async fn webhooks_until(stack: &Running, done: impl FnMut(&Progress) -> bool) -> Progress {
    let mut progress = stack.state.outbox.progress();
    let reached = tokio::time::timeout(Duration::from_secs(10), progress.wait_for(done))
        .await
        .map(|waited| waited.map(|p| *p));
    match reached {
        Ok(Ok(progress)) => progress,
        Ok(Err(_)) => panic!("the stack stopped before its webhooks were delivered"),
        Err(_) => panic!(
            "webhook deliveries did not get there within 10 s: {:?}",
            *progress.borrow()
        ),
    }
}
