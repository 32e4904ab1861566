//! The test controls under `/_devstack/`: injected faults, revocation, key rotation, shorter
//! lifetimes and the request counters.

#![allow(clippy::unwrap_used)]

use kinvex_test_kit::backend::call;
use kinvex_test_kit::oauth::{claims, demo, oauth_error, refresh, sign_in};
use kinvex_test_kit::shipped::stack;
use serde_json::{Value, json};

#[tokio::test]
async fn injected_faults_fail_requests_until_cleared() {
    let stack = stack().await;
    let http = reqwest::Client::new();
    let set = |body: Value| {
        http.post(format!("{}/_devstack/faults", stack.issuer()))
            .json(&body)
            .send()
    };
    assert_eq!(
        set(json!({ "backend": { "status": 503 }, "idp": { "status": 502 } }))
            .await
            .unwrap()
            .status(),
        204
    );
    let (status, _) = call(&stack, "query", "users:current", json!({}), None).await;
    assert_eq!(status, 503);
    let discovery = http
        .get(format!(
            "{}/.well-known/openid-configuration",
            stack.issuer()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(discovery.status(), 502);
    set(json!({ "backend": {}, "idp": {} })).await.unwrap();
    let (status, _) = call(&stack, "query", "users:current", json!({}), None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn admin_controls_revoke_rotate_and_shorten_over_http() {
    let stack = stack().await;
    let http = reqwest::Client::new();
    let admin = |path: &str| format!("{}/_devstack/{path}", stack.issuer());
    let tokens = sign_in(&stack, &demo(&stack), &[]).await;
    let user_id = &stack.accounts[0].user_id;

    let revoked: Value = http
        .post(admin(&format!("users/{user_id}/revoke")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(revoked["revoked"], 1);
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(
        oauth_error(refresh(&stack, refresh_token).await).await,
        (400, "invalid_grant".into())
    );

    let old_kid = stack.state.keys().current_kid().to_string();
    let rotated: Value = http
        .post(admin("keys/rotate"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(rotated["kid"], old_kid.as_str());
    let jwks: Value = reqwest::get(format!("{}/.well-known/jwks.json", stack.issuer()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        jwks["keys"].as_array().unwrap().len(),
        2,
        "the old key stays published"
    );

    let shortened = http
        .post(admin("lifetimes"))
        .json(&json!({ "id_secs": 5, "access_secs": 7 }))
        .send()
        .await
        .unwrap();
    assert_eq!(shortened.status(), 204);
    let fresh = sign_in(&stack, &demo(&stack), &[]).await;
    let id = claims(fresh["id_token"].as_str().unwrap());
    assert_eq!(id["exp"].as_i64().unwrap() - id["iat"].as_i64().unwrap(), 5);
    assert_eq!(fresh["expires_in"], 7);
    assert_eq!(
        id["kid"],
        Value::Null,
        "claims carry no kid; the header does"
    );
    let stats: Value = reqwest::get(admin("stats"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["code_exchanges"], 2);
}

#[tokio::test]
async fn discovery_and_keys_are_cacheable_for_the_configured_time() {
    let stack = stack().await;
    let cache_control = |path: &'static str| {
        let url = format!("{}{path}", stack.issuer());
        async move {
            let response = reqwest::get(url).await.unwrap();
            assert_eq!(response.status(), 200);
            response.headers()["cache-control"]
                .to_str()
                .unwrap()
                .to_string()
        }
    };
    let paths = [
        "/.well-known/openid-configuration",
        "/.well-known/jwks",
        "/.well-known/jwks.json",
    ];
    for path in paths {
        assert_eq!(cache_control(path).await, "public, max-age=3600", "{path}");
    }
    let shortened = reqwest::Client::new()
        .post(format!("{}/_devstack/lifetimes", stack.issuer()))
        .json(&serde_json::json!({ "key_cache_secs": 2 }))
        .send()
        .await
        .unwrap();
    assert_eq!(shortened.status(), 204);
    for path in paths {
        assert_eq!(cache_control(path).await, "public, max-age=2", "{path}");
    }
}
