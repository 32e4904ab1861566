//! Every ID-token check, one wrong claim at a time, with tokens signed by the local stack's real
//! keys and the provider found through discovery.

#![allow(clippy::unwrap_used)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kinvex_auth::discovery::Provider;
use kinvex_auth::http::HttpClient;
use kinvex_auth::id_token::validate;
use kinvex_devstack::Running;
use kinvex_test_kit::stack;
use openidconnect::Nonce;
use serde_json::{Value, json};
use std::time::SystemTime;

async fn setup() -> (Running, Provider, HttpClient) {
    let stack = stack::start(None).await;
    let http = HttpClient::new().unwrap();
    let provider = Provider::discover(
        &http,
        &url::Url::parse(&format!("{}/", stack.issuer())).unwrap(),
    )
    .await
    .unwrap();
    (stack, provider, http)
}

fn good(stack: &Running) -> Value {
    let now = stack.state.clock.unix();
    json!({
        "iss": stack.issuer(), "sub": "kp_claims", "aud": [stack.state.config.client_id],
        "azp": stack.state.config.client_id, "iat": now, "exp": now + 3600, "nonce": "the-nonce",
        "email": "claims@example.com", "name": "Claire Claims"
    })
}

async fn check(
    stack: &Running,
    provider: &Provider,
    http: &HttpClient,
    token: &str,
) -> Result<String, String> {
    let client_id = &stack.state.config.client_id;
    validate(
        provider,
        http,
        client_id,
        token,
        Some(&Nonce::new("the-nonce".into())),
        SystemTime::now(),
    )
    .await
    .map(|identity| identity.subject)
    .map_err(|e| e.to_string())
}

#[tokio::test]
async fn a_valid_token_passes_and_each_wrong_claim_is_rejected() {
    let (stack, provider, http) = setup().await;
    let sign = |claims: &Value| stack.state.keys().sign(claims);
    assert_eq!(
        check(&stack, &provider, &http, &sign(&good(&stack))).await,
        Ok("kp_claims".into())
    );

    let now = stack.state.clock.unix();
    let mut cases: Vec<(&str, Value)> = Vec::new();
    let mut with = |name, key: &str, value: Value| {
        let mut claims = good(&stack);
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(key);
        } else {
            claims[key] = value;
        }
        cases.push((name, claims));
    };
    with("wrong issuer", "iss", json!("https://evil.kinde.com"));
    with(
        "issuer with a trailing slash",
        "iss",
        json!(format!("{}/", stack.issuer())),
    );
    with("another audience", "aud", json!(["someone-else"]));
    with(
        "an untrusted extra audience",
        "aud",
        json!([stack.state.config.client_id, "someone-else"]),
    );
    with("azp of another client", "azp", json!("someone-else"));
    with("expired beyond the leeway", "exp", json!(now - 120));
    with("issued in the future", "iat", json!(now + 600));
    with("issued too long ago", "iat", json!(now - 2 * 24 * 3600));
    with("wrong nonce", "nonce", json!("another-nonce"));
    with("no nonce", "nonce", Value::Null);
    with("no subject", "sub", Value::Null);
    with("an empty subject", "sub", json!(""));
    with("a blank subject", "sub", json!("   "));
    with(
        "a subject over 255 characters",
        "sub",
        json!("k".repeat(256)),
    );
    with(
        "a subject with a control character",
        "sub",
        json!("kp_a\nkp_b"),
    );
    let client_id = stack.state.config.client_id.clone();
    let without_azp = |aud: Value| {
        let mut claims = good(&stack);
        claims.as_object_mut().unwrap().remove("azp");
        claims["aud"] = aud;
        claims
    };
    cases.push((
        "several audiences and no azp",
        without_azp(json!([client_id, client_id])),
    ));
    cases.push((
        "an untrusted extra audience and no azp",
        without_azp(json!([client_id, "someone-else"])),
    ));
    for (name, claims) in cases {
        let result = check(&stack, &provider, &http, &sign(&claims)).await;
        assert!(result.is_err(), "{name} was accepted");
    }

    // One audience needs no azp (OIDC Core §3.1.3.7 asks for it only with several).
    for aud in [json!([client_id]), json!(client_id)] {
        assert_eq!(
            check(&stack, &provider, &http, &sign(&without_azp(aud.clone()))).await,
            Ok("kp_claims".into()),
            "aud {aud} without azp"
        );
    }
    let mut longest = good(&stack);
    longest["sub"] = json!("k".repeat(255));
    assert!(
        check(&stack, &provider, &http, &sign(&longest))
            .await
            .is_ok(),
        "a 255-character subject is allowed"
    );

    // Within the leeway, a just-expired token still passes (clocks differ a little).
    let mut recent = good(&stack);
    recent["exp"] = json!(now - 10);
    assert!(
        check(&stack, &provider, &http, &sign(&recent))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn forged_signatures_and_algorithms_are_rejected() {
    let (stack, provider, http) = setup().await;
    let claims = good(&stack);
    let kid = stack.state.keys().current_kid().to_string();

    let other = kinvex_devstack::keys::KeySet::open(None).unwrap();
    assert!(
        check(&stack, &provider, &http, &other.sign(&claims))
            .await
            .is_err(),
        "another key"
    );

    let valid = stack.state.keys().sign(&claims);
    let parts: Vec<&str> = valid.split('.').collect();
    let mut tampered = claims.clone();
    tampered["sub"] = json!("kp_someone_else");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(tampered.to_string()),
        parts[2]
    );
    assert!(
        check(&stack, &provider, &http, &forged).await.is_err(),
        "tampered payload"
    );

    let header = |alg: &str| {
        URL_SAFE_NO_PAD.encode(json!({ "alg": alg, "typ": "JWT", "kid": kid }).to_string())
    };
    let unsigned = format!(
        "{}.{}.",
        header("none"),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    assert!(
        check(&stack, &provider, &http, &unsigned).await.is_err(),
        "alg none"
    );

    let mut hs = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs.kid = Some(kid);
    let secret = stack.state.keys().jwks().to_string();
    let hs256 = jsonwebtoken::encode(
        &hs,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap();
    assert!(
        check(&stack, &provider, &http, &hs256).await.is_err(),
        "HS256 keyed with the public key"
    );
}

#[tokio::test]
async fn after_a_key_rotation_the_keys_are_fetched_once_more() {
    let (stack, provider, http) = setup().await;
    stack.state.keys_mut().rotate(true).unwrap();
    let token = stack.state.keys().sign(&good(&stack));
    assert_eq!(
        check(&stack, &provider, &http, &token).await,
        Ok("kp_claims".into())
    );
}

#[tokio::test]
async fn an_empty_sub_and_several_audiences_without_azp_are_refused_saying_why() {
    let (stack, provider, http) = setup().await;
    let sign = |claims: &Value| stack.state.keys().sign(claims);
    let client_id = stack.state.config.client_id.clone();

    let mut nobody = good(&stack);
    nobody["sub"] = json!("");
    let error = check(&stack, &provider, &http, &sign(&nobody))
        .await
        .unwrap_err();
    assert!(error.contains("its `sub` is empty"), "{error}");

    let mut several = good(&stack);
    several.as_object_mut().unwrap().remove("azp");
    several["aud"] = json!([client_id, client_id]);
    let error = check(&stack, &provider, &http, &sign(&several))
        .await
        .unwrap_err();
    assert!(error.contains("several audiences but no azp"), "{error}");
}
