//! The webhook decoder: bodies posted to the local backend's `POST /kinde`, in-process.
//!
//! Input that is a JSON object is an event: the target signs it with the tenant's real key (so
//! the fuzzer reaches the event checks) after putting the stack's time for `{now}`. Any other
//! input is a body as received; never signed by the tenant, it must never be accepted. An event
//! may be accepted only with an `event_id`, a `type` and a `timestamp` inside the replay window,
//! and nothing may answer 5xx or leave the request unanswered.

use crate::stack;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use kinvex_devstack::backend::{self, site::REPLAY_WINDOW_SECONDS};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tower::ServiceExt;

/// Replaced by the stack's time (RFC 3339) in an event, so seeds fall inside the replay window.
pub const NOW: &str = "{now}";

pub fn target(data: &[u8]) {
    let shared = stack::shared();
    let state = &shared.stack.state;
    let now = OffsetDateTime::from(state.clock.now());
    let stamp = now.format(&Rfc3339).unwrap_or_default();
    let text = String::from_utf8_lossy(data).replace(NOW, &stamp);
    let minted = match crate::corpus::mint_forged(&text) {
        std::borrow::Cow::Owned(token) => Some(token),
        std::borrow::Cow::Borrowed(_) => None,
    };
    let event = serde_json::from_str::<Value>(&text)
        .ok()
        .filter(Value::is_object);
    let body = match &event {
        Some(event) => state.keys().sign(event).into_bytes(),
        None => minted.map_or_else(|| data.to_vec(), String::into_bytes),
    };
    let request = Request::post("/kinde")
        .header("content-type", "application/jwt")
        .body(Body::from(body))
        .unwrap_or_else(|e| panic!("a request the target builds is valid: {e}"));
    let status = shared.run(async {
        let response = backend::site_router(state.clone())
            .oneshot(request)
            .await
            .unwrap_or_else(|never| match never {});
        response.status()
    });
    assert!(
        !status.is_server_error(),
        "the webhook decoder failed with {status} on {text:?}"
    );
    if status != StatusCode::OK {
        return;
    }
    let Some(event) = event else {
        panic!("a webhook body the tenant never signed was accepted: {text:?}");
    };
    let timestamp = event["timestamp"]
        .as_str()
        .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok());
    let in_window =
        timestamp.is_some_and(|t| (now - t).whole_seconds().abs() <= REPLAY_WINDOW_SECONDS + 5);
    assert!(
        event["event_id"].is_string() && event["type"].is_string() && in_window,
        "an event without an id, a type or a current timestamp was accepted: {event}"
    );
}
