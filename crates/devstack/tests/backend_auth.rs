//! The backend's authentication, as a Convex deployment checks a caller's JWT: every bad token
//! fails the request with Convex's status and code before any function runs, keys are cached as
//! the provider's `Cache-Control` says and not refetched for an unknown `kid`.

#![allow(clippy::unwrap_used)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kinvex_clock::ManualClock;
use kinvex_devstack::Running;
use kinvex_test_kit::backend::call;
use kinvex_test_kit::shipped::{stack, stack_with};
use serde_json::{Value, json};
use std::time::Duration;

fn claims_for(stack: &Running, audience: Value) -> Value {
    let now = stack.state.clock.unix();
    json!({ "iss": stack.issuer(), "sub": stack.accounts[0].user_id, "aud": audience, "iat": now, "exp": now + 600 })
}

fn id_token(stack: &Running) -> String {
    stack
        .state
        .keys()
        .sign(&claims_for(stack, json!([stack.state.config.client_id])))
}

async fn refused(stack: &Running, token: &str) -> (u16, Value) {
    let (status, body) = call(stack, "query", "users:current", json!({}), Some(token)).await;
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    (status, body)
}

async fn expect(stack: &Running, token: &str, status: u16, code: &str) {
    let (got, body) = refused(stack, token).await;
    assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{body}");
}

/// A stack that keeps its signing key in a directory, so a test can sign with it as it likes.
async fn stack_with_key_file(tag: &str) -> (Running, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("kinvex-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let stack = stack_with(|c| c.data_dir = Some(dir.clone())).await;
    (stack, dir)
}

/// `claims` signed by the stack's current key with no `kid` in the header.
fn without_kid(dir: &std::path::Path, claims: &Value) -> String {
    let pem = std::fs::read(dir.join("signing-key.pem")).unwrap();
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(&pem).unwrap();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        claims,
        &key,
    )
    .unwrap()
}

#[tokio::test]
async fn backend_rejects_bad_tokens_with_convex_codes_before_any_function_runs() {
    let stack = stack().await;
    let client_id = stack.state.config.client_id.clone();
    let sign = |claims: &Value| stack.state.keys().sign(claims);

    let mut expired = claims_for(&stack, json!([client_id]));
    expired["exp"] = json!(stack.state.clock.unix());
    expect(&stack, &sign(&expired), 401, "Unauthenticated").await;

    let several = claims_for(&stack, json!([client_id, "convex"]));
    expect(&stack, &sign(&several), 401, "Unauthenticated").await;

    let mut wrong_issuer = claims_for(&stack, json!([client_id]));
    wrong_issuer["iss"] = json!("https://someone-else.kinde.com");
    expect(&stack, &sign(&wrong_issuer), 401, "NoAuthProvider").await;

    let unknown_audience = claims_for(&stack, json!(["another-app"]));
    let (_, body) = refused(&stack, &sign(&unknown_audience)).await;
    assert_eq!(body["code"], "NoAuthProvider");
    assert!(
        body["message"].as_str().unwrap().contains(&format!(
            "[OIDC(domain={}, app_id=convex), ",
            stack.issuer()
        )),
        "a development deployment lists its providers: {body}"
    );

    let mut no_issuer = claims_for(&stack, json!([client_id]));
    no_issuer.as_object_mut().unwrap().remove("iss");
    expect(&stack, &sign(&no_issuer), 401, "InvalidAuthHeader").await;
    expect(&stack, "not-a-jwt", 401, "InvalidAuthHeader").await;

    // A valid token whose payload was changed: the signature no longer matches.
    let valid = id_token(&stack);
    let parts: Vec<&str> = valid.split('.').collect();
    let mut tampered = claims_for(&stack, json!([client_id]));
    tampered["sub"] = json!(stack.accounts[1].user_id);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(tampered.to_string()),
        parts[2]
    );
    expect(&stack, &forged, 401, "Unauthenticated").await;

    let kid = stack.state.keys().current_kid().to_string();
    let none_header =
        URL_SAFE_NO_PAD.encode(json!({ "alg": "none", "typ": "JWT", "kid": kid }).to_string());
    let unsigned = format!(
        "{none_header}.{}.",
        URL_SAFE_NO_PAD.encode(claims_for(&stack, json!([client_id])).to_string())
    );
    expect(&stack, &unsigned, 401, "Unauthenticated").await;

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
    expect(&stack, &hs, 401, "Unauthenticated").await;

    // And a valid one still passes, so the above failed for their faults alone.
    let (status, _) = call(&stack, "query", "users:current", json!({}), Some(&valid)).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn an_audience_listed_twice_is_one_audience_and_a_kidless_token_uses_the_only_key() {
    let (stack, dir) = stack_with_key_file("kidless-one").await;
    let client_id = stack.state.config.client_id.clone();
    let twice = stack
        .state
        .keys()
        .sign(&claims_for(&stack, json!([client_id, client_id])));
    let (status, body) = call(&stack, "query", "users:current", json!({}), Some(&twice)).await;
    assert_eq!(status, 200, "{body}");

    let kidless = without_kid(&dir, &claims_for(&stack, json!([client_id])));
    let (status, body) = call(&stack, "query", "users:current", json!({}), Some(&kidless)).await;
    assert_eq!(status, 200, "one key in the set: {body}");
    stack.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_kidless_token_is_refused_when_the_key_set_has_several_keys() {
    let (stack, dir) = stack_with_key_file("kidless-two").await;
    stack.state.keys_mut().rotate(true).unwrap();
    let kidless = without_kid(
        &dir,
        &claims_for(&stack, json!([stack.state.config.client_id])),
    );
    expect(&stack, &kidless, 401, "Unauthenticated").await;
    stack.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn after_a_key_rotation_new_tokens_get_401_until_the_key_cache_expires() {
    let clock = ManualClock::new();
    let stack = stack_with(|c| c.clock = clock.shared()).await;
    let (status, _) = call(
        &stack,
        "query",
        "users:current",
        json!({}),
        Some(&id_token(&stack)),
    )
    .await;
    assert_eq!(status, 200, "the backend has fetched and cached the keys");

    stack.state.keys_mut().rotate(true).unwrap();
    expect(&stack, &id_token(&stack), 401, "Unauthenticated").await;
    // The stack's clock runs on from the system's: a margin of 30 s keeps "not yet expired"
    // true however slowly a loaded machine gets to the next call.
    let cache = stack.state.lifetimes().key_cache;
    clock.advance(cache - Duration::from_secs(30));
    expect(&stack, &id_token(&stack), 401, "Unauthenticated").await;

    clock.advance(Duration::from_secs(30));
    let (status, body) = call(
        &stack,
        "query",
        "users:current",
        json!({}),
        Some(&id_token(&stack)),
    )
    .await;
    assert_eq!(
        status, 200,
        "the cache expired and was fetched again: {body}"
    );
}

#[tokio::test]
async fn keys_served_without_a_cache_lifetime_are_fetched_for_every_token() {
    let stack = stack_with(|c| c.lifetimes.key_cache = Duration::ZERO).await;
    let (status, _) = call(
        &stack,
        "query",
        "users:current",
        json!({}),
        Some(&id_token(&stack)),
    )
    .await;
    assert_eq!(status, 200);
    stack.state.keys_mut().rotate(true).unwrap();
    let (status, body) = call(
        &stack,
        "query",
        "users:current",
        json!({}),
        Some(&id_token(&stack)),
    )
    .await;
    assert_eq!(status, 200, "max-age=0 is not stored: {body}");
}

#[tokio::test]
async fn discovery_failures_are_auth_provider_discovery_failed() {
    let stack = stack().await;
    let mut slash = claims_for(&stack, json!([stack.state.config.client_id]));
    slash["iss"] = json!(format!("{}/", stack.issuer()));
    let slashed = stack.state.keys().sign(&slash);
    let (status, body) = refused(&stack, &slashed).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("AuthProviderDiscoveryFailed")),
        "the document names the issuer without the slash: {body}"
    );

    reqwest::Client::new()
        .post(format!("{}/_devstack/faults", stack.issuer()))
        .json(&json!({ "idp": { "status": 502 } }))
        .send()
        .await
        .unwrap();
    expect(
        &stack,
        &id_token(&stack),
        503,
        "AuthProviderDiscoveryFailed",
    )
    .await;
}

#[tokio::test]
async fn a_production_deployment_does_not_list_its_providers() {
    let stack = stack_with(|c| c.production = true).await;
    let other = stack
        .state
        .keys()
        .sign(&claims_for(&stack, json!(["another-app"])));
    let (status, body) = refused(&stack, &other).await;
    assert_eq!(status, 401);
    assert_eq!(
        body["message"],
        "No auth provider found matching the given token"
    );
}

#[tokio::test]
async fn only_bearer_authorization_is_a_token_and_nothing_else_is_anonymous() {
    let stack = stack().await;
    let http = reqwest::Client::new();
    for (value, code) in [
        ("Basic dXNlcjpwYXNz", "InvalidAdminKey"),
        ("Bearerxyz", "InvalidAdminKey"),
        // The server never sees the trailing space (a header value's whitespace is trimmed).
        ("Bearer ", "InvalidHeaderFailure"),
        ("Token", "InvalidHeaderFailure"),
    ] {
        let response = http
            .post(format!("{}/api/query", stack.api_url()))
            .header("content-type", "application/json")
            .header("authorization", value)
            .body(r#"{"path":"users:current","args":{}}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{value}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], code, "{value}: {body}");
    }
}
