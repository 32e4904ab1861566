//! The backend's authentication, as Convex checks a caller's JWT: every bad token is a 401
//! before any function runs, and a token signed with a rotated key is found by one refetch.

#![allow(clippy::unwrap_used)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kinvex_devstack::Running;
use kinvex_test_kit::backend::call;
use kinvex_test_kit::shipped::stack;
use serde_json::{Value, json};

fn claims_for(stack: &Running, audience: Value) -> Value {
    let now = stack.state.clock.unix();
    json!({ "iss": stack.issuer(), "sub": stack.accounts[0].user_id, "aud": audience, "iat": now, "exp": now + 600 })
}

async fn expect_401(stack: &Running, token: &str, code: &str) {
    let (status, body) = call(stack, "query", "users:current", json!({}), Some(token)).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[tokio::test]
async fn backend_rejects_bad_tokens_with_401_before_any_function_runs() {
    let stack = stack().await;
    let client_id = stack.state.config.client_id.clone();
    let sign = |claims: &Value| stack.state.keys().sign(claims);

    let mut expired = claims_for(&stack, json!([client_id]));
    expired["exp"] = json!(stack.state.clock.unix() - 1);
    expect_401(&stack, &sign(&expired), "InvalidAuthHeader").await;

    let several = claims_for(&stack, json!([client_id, "convex"]));
    expect_401(&stack, &sign(&several), "InvalidAuthHeader").await;

    let mut wrong_issuer = claims_for(&stack, json!([client_id]));
    wrong_issuer["iss"] = json!("https://someone-else.kinde.com");
    expect_401(&stack, &sign(&wrong_issuer), "NoAuthProvider").await;

    let unknown_audience = claims_for(&stack, json!(["another-app"]));
    expect_401(&stack, &sign(&unknown_audience), "NoAuthProvider").await;

    // A valid token whose payload was changed: the signature no longer matches.
    let valid = sign(&claims_for(&stack, json!([client_id])));
    let parts: Vec<&str> = valid.split('.').collect();
    let mut tampered = claims_for(&stack, json!([client_id]));
    tampered["sub"] = json!(stack.accounts[1].user_id);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(tampered.to_string()),
        parts[2]
    );
    expect_401(&stack, &forged, "InvalidAuthHeader").await;

    let kid = stack.state.keys().current_kid().to_string();
    let none_header =
        URL_SAFE_NO_PAD.encode(json!({ "alg": "none", "typ": "JWT", "kid": kid }).to_string());
    let unsigned = format!(
        "{none_header}.{}.",
        URL_SAFE_NO_PAD.encode(claims_for(&stack, json!([client_id])).to_string())
    );
    expect_401(&stack, &unsigned, "InvalidAuthHeader").await;

    // HS256 keyed with the public JWKS: the classic algorithm-confusion forgery.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(kid);
    let public = stack.state.keys().jwks().to_string();
    let hs = jsonwebtoken::encode(
        &header,
        &claims_for(&stack, json!([client_id])),
        &jsonwebtoken::EncodingKey::from_secret(public.as_bytes()),
    )
    .unwrap();
    expect_401(&stack, &hs, "InvalidAuthHeader").await;

    // And a valid one still passes, so the above failed for their faults alone.
    let (status, _) = call(&stack, "query", "users:current", json!({}), Some(&valid)).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_token_signed_by_a_rotated_key_is_accepted_after_one_refetch() {
    let stack = stack().await;
    let token = |stack: &Running| {
        stack
            .state
            .keys()
            .sign(&claims_for(stack, json!([stack.state.config.client_id])))
    };
    let (status, _) = call(
        &stack,
        "query",
        "users:current",
        json!({}),
        Some(&token(&stack)),
    )
    .await;
    assert_eq!(status, 200);
    stack.state.keys_mut().rotate(true).unwrap();
    let (status, body) = call(
        &stack,
        "query",
        "users:current",
        json!({}),
        Some(&token(&stack)),
    )
    .await;
    assert_eq!(status, 200, "unknown kid triggers a refetch: {body}");
}
