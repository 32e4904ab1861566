//! Convex request decoding: bodies and tokens posted to the local backend's `/api/query`,
//! `/api/mutation`, `/api/action` and `/api/run/…`, in-process.
//!
//! The first byte picks how the rest is sent: `0` a body to `/api/query`, anonymously; `1` a
//! body to `/api/mutation` as the demo person; `2` a `/api/run/` path on the first line and a
//! body after it, anonymously; `3` a bearer token for `users:current`. Nothing may answer 5xx or
//! anything but Convex's JSON; an anonymous call must never see the demo person's data, and a
//! token the provider never signed must never read a profile.

use crate::stack;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use kinvex_devstack::backend;
use serde_json::{Value, json};
use tower::ServiceExt;

/// The largest answer read back; the stack's pages are far smaller.
const MAX_ANSWER: usize = 1 << 20;

pub fn target(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let shared = stack::shared();
    let state = &shared.stack.state;
    let person = &shared.stack.accounts[0];
    let mut builder = Request::post("/api/query").header(header::CONTENT_TYPE, "application/json");
    let body = match mode % 4 {
        0 => rest.to_vec(),
        1 => {
            builder = Request::post("/api/mutation")
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::AUTHORIZATION, format!("Bearer {}", bearer(person)));
            rest.to_vec()
        }
        2 => {
            let at = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
            let path = String::from_utf8_lossy(&rest[..at]);
            builder = Request::post(format!("/api/run/{path}"))
                .header(header::CONTENT_TYPE, "application/json");
            rest.get(at + 1..).unwrap_or_default().to_vec()
        }
        _ => {
            let token = String::from_utf8_lossy(rest);
            let token = crate::corpus::mint_forged(&token);
            builder = builder.header(
                header::AUTHORIZATION,
                [b"Bearer ".as_slice(), token.as_bytes()].concat(),
            );
            json!({ "path": "users:current", "args": {}, "format": "json" })
                .to_string()
                .into_bytes()
        }
    };
    // A path or token that is not a valid URI or header never reaches the backend.
    let Ok(request) = builder.body(Body::from(body)) else {
        return;
    };
    let (status, answer) = shared.run(async {
        let response = backend::api_router(state.clone())
            .oneshot(request)
            .await
            .unwrap_or_else(|never| match never {});
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), MAX_ANSWER)
            .await
            .unwrap_or_else(|e| panic!("the answer could not be read: {e}"));
        (status, bytes)
    });
    let input = String::from_utf8_lossy(data);
    assert!(
        !status.is_server_error(),
        "the backend failed with {status} on {input:?}"
    );
    let Ok(answer) = serde_json::from_slice::<Value>(&answer) else {
        // The router's own refusals (an unknown path, 405) are plain text, never a 200.
        assert_ne!(
            status,
            StatusCode::OK,
            "a 200 that is not JSON on {input:?}"
        );
        return;
    };
    if status == StatusCode::OK {
        assert!(
            matches!(answer["status"].as_str(), Some("success" | "error")),
            "a 200 that is not a Convex result: {answer}"
        );
    }
    let text = answer.to_string();
    let anonymous = matches!(mode % 4, 0 | 2);
    for private in [&person.user_id, &person.email] {
        if anonymous && text.contains(private.as_str()) && !input.contains(private.as_str()) {
            panic!("an anonymous call saw the demo person's data: {input:?} -> {text}");
        }
    }
    if mode % 4 == 3 && answer["status"] == "success" && !answer["value"].is_null() {
        panic!("a token the provider never signed read a profile: {input:?}");
    }
}

/// An ID token for `person` signed by the stack, as the backend's ID-token setup takes it.
fn bearer(person: &kinvex_devstack::Account) -> String {
    let state = &stack::shared().stack.state;
    let now = state.clock.unix();
    state.keys().sign(&json!({
        "iss": state.issuer, "sub": person.user_id, "aud": [state.config.client_id],
        "azp": state.config.client_id, "iat": now, "exp": now + 3600, "email": person.email,
    }))
}
