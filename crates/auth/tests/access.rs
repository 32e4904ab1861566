//! The typed access claims (`Auth::access`) against the local stack: what the seeded person may
//! do in each organisation, read only from a token whose signature, issuer, expiry and client
//! have been checked.

#![allow(clippy::unwrap_used)]

use kinvex_auth::access::validate;
use kinvex_auth::discovery::Provider;
use kinvex_auth::token_store::Memory;
use kinvex_auth::{Auth, FlagValue, SignInOptions};
use kinvex_devstack::Running;
use kinvex_test_kit::browser::{HeadlessBrowser, sign_in_as};
use kinvex_test_kit::env::Settings;
use kinvex_test_kit::stack;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

fn auth(stack: &Running) -> Auth {
    let config = Settings::for_stack(stack)
        .with("KINDE_AUDIENCE", "convex")
        .config();
    let browser = Arc::new(HeadlessBrowser::new(sign_in_as(&stack.accounts[0])));
    stack::auth(config, Box::new(Memory::default()), browser)
}

async fn signed_in(auth: &Auth, org_code: Option<&str>) {
    let options = SignInOptions {
        org_code: org_code.map(str::to_string),
        ..SignInOptions::default()
    };
    auth.sign_in(
        &options,
        true,
        Duration::from_secs(30),
        |_| {},
        std::future::pending::<()>(),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn auth_gives_the_organisations_roles_permissions_and_flags() {
    let stack = stack::start(None).await;
    let auth = auth(&stack);
    assert_eq!(
        auth.access().await.unwrap_err().code(),
        "not_signed_in",
        "nothing before a sign-in"
    );
    signed_in(&auth, None).await;
    let access = auth.access().await.unwrap();
    assert_eq!(access.org_code.as_deref(), Some("org_kinvex_demo"));
    assert_eq!(access.org_name.as_deref(), Some("Northwind Studio"));
    assert!(access.has_role("admin"));
    assert!(access.has_permission("delete:files"));
    assert_eq!(access.feature_flags["beta_search"], FlagValue::Bool(true));
    assert_eq!(
        access.feature_flags["max_upload_mb"],
        FlagValue::Integer(1024)
    );
    assert_eq!(
        access.feature_flags["theme"],
        FlagValue::String("light".into())
    );
    assert_eq!(
        access.feature_flags["retention"],
        FlagValue::Json(json!({ "days": 30, "trash": true }))
    );

    signed_in(&auth, Some("org_kinvex_default")).await;
    let access = auth.access().await.unwrap();
    assert_eq!(access.org_name.as_deref(), Some("Kinvex"));
    assert!(access.has_role("member") && !access.has_role("admin"));
    assert_eq!(access.permissions, ["read:files"]);
    assert_eq!(access.feature_flags["beta_search"], FlagValue::Bool(false));
}

fn claims(stack: &Running) -> Value {
    let now = stack.state.clock.unix();
    json!({
        "iss": stack.issuer(), "sub": "kp_access", "aud": ["convex"],
        "azp": stack.state.config.client_id, "iat": now, "exp": now + 3600,
        "scp": ["openid"], "org_code": "org_x", "permissions": ["read:files"],
    })
}

#[tokio::test]
async fn only_a_checked_access_token_is_read() {
    let stack = stack::start(None).await;
    let http = kinvex_auth::http::HttpClient::new().unwrap();
    let issuer = url::Url::parse(&format!("{}/", stack.issuer())).unwrap();
    let provider = Provider::discover(&http, &issuer).await.unwrap();
    let client_id = stack.state.config.client_id.clone();
    let check = |token: String| {
        let (provider, http, client_id) = (&provider, &http, client_id.clone());
        async move {
            validate(provider, http, &client_id, &token, SystemTime::now())
                .await
                .map(|access| access.permissions)
                .map_err(|e| (e.code(), e.to_string()))
        }
    };
    let sign = |claims: &Value| stack.state.keys().sign(claims);

    assert_eq!(
        check(sign(&claims(&stack))).await,
        Ok(vec!["read:files".into()])
    );

    let other_key = kinvex_devstack::keys::KeySet::open(None).unwrap();
    let forged = check(other_key.sign(&claims(&stack))).await.unwrap_err();
    assert_eq!(forged.0, "access_token_invalid", "{forged:?}");

    let mut expired = claims(&stack);
    expired["exp"] = json!(stack.state.clock.unix() - 3600);
    assert!(check(sign(&expired)).await.is_err(), "expired");

    let mut elsewhere = claims(&stack);
    elsewhere["iss"] = json!("https://elsewhere.kinde.com");
    assert!(check(sign(&elsewhere)).await.is_err(), "another issuer");

    let mut another_client = claims(&stack);
    another_client["azp"] = json!("someone_else");
    let refused = check(sign(&another_client)).await.unwrap_err();
    assert!(refused.1.contains("another client"), "{refused:?}");

    let mut id_token = claims(&stack);
    id_token.as_object_mut().unwrap().remove("scp");
    let refused = check(sign(&id_token)).await.unwrap_err();
    assert!(refused.1.contains("scp"), "{refused:?}");

    // A rotated key is fetched once more, as for ID tokens.
    stack.state.keys_mut().rotate(true).unwrap();
    assert!(
        check(sign(&claims(&stack))).await.is_ok(),
        "after a rotation"
    );
}
