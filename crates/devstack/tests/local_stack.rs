//! The local stack over real HTTP on loopback: the sign-in flow a desktop client performs, and
//! every rejection a faithful Kinde and Convex stand-in must make.

#![allow(clippy::unwrap_used)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kinvex_devstack::user_agent::{Action, UserAgent};
use kinvex_devstack::{Config, DEFAULT_REDIRECT_URI, Running, random, start, unix_now};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::Duration;
use url::Url;

struct Pkce {
    verifier: String,
    challenge: String,
}

fn pkce() -> Pkce {
    let verifier = random::secret();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    Pkce {
        verifier,
        challenge,
    }
}

async fn stack_with(adjust: impl FnOnce(&mut Config)) -> Running {
    let mut config = Config {
        webhook_retries: vec![Duration::from_millis(50), Duration::from_millis(100)],
        ..Config::default()
    };
    adjust(&mut config);
    start(config).await.expect("stack starts")
}

async fn stack() -> Running {
    stack_with(|_| {}).await
}

fn authorize_url(stack: &Running, pkce: &Pkce, extra: &[(&str, &str)]) -> String {
    let mut url = Url::parse(&format!("{}/oauth2/auth", stack.issuer())).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &stack.state.config.client_id)
        .append_pair("redirect_uri", DEFAULT_REDIRECT_URI)
        .append_pair("scope", "openid profile email offline")
        .append_pair("state", "state-123")
        .append_pair("nonce", "nonce-456")
        .append_pair("code_challenge", &pkce.challenge)
        .append_pair("code_challenge_method", "S256");
    for (key, value) in extra {
        url.query_pairs_mut().append_pair(key, value);
    }
    url.to_string()
}

/// The same URL with one parameter removed or replaced.
fn with_param(url: &str, key: &str, value: Option<&str>) -> String {
    let mut parsed = Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(k, _)| k != key)
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    if let Some(value) = value {
        parsed.query_pairs_mut().append_pair(key, value);
    }
    parsed.to_string()
}

fn param(url: &Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

fn demo(stack: &Running) -> Action {
    let account = &stack.accounts[0];
    Action::SignIn {
        email: account.email.clone(),
        password: account.password.clone(),
    }
}

fn other(stack: &Running) -> Action {
    let account = &stack.accounts[1];
    Action::SignIn {
        email: account.email.clone(),
        password: account.password.clone(),
    }
}

/// Runs the browser part and returns the redirect the app would receive.
async fn browse(ua: &UserAgent, url: &str, action: &Action) -> Url {
    ua.authorize(url, action, false)
        .await
        .expect("browser flow")
        .redirect
}

async fn exchange(stack: &Running, code: &str, verifier: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/oauth2/token", stack.issuer()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", &stack.state.config.client_id),
            ("code", code),
            ("redirect_uri", DEFAULT_REDIRECT_URI),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap()
}

async fn refresh(stack: &Running, refresh_token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/oauth2/token", stack.issuer()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", &stack.state.config.client_id),
            ("refresh_token", refresh_token),
        ])
        .send()
        .await
        .unwrap()
}

/// Signs in as `action` and returns the token response.
async fn sign_in(stack: &Running, action: &Action, extra: &[(&str, &str)]) -> Value {
    let pkce = pkce();
    let redirect = browse(
        &UserAgent::new(),
        &authorize_url(stack, &pkce, extra),
        action,
    )
    .await;
    let code = param(&redirect, "code").expect("a code");
    let response = exchange(stack, &code, &pkce.verifier).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn call(
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
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn oauth_error(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["error"].as_str().unwrap_or_default().to_string(),
    )
}

// ---- the flow ----

#[tokio::test]
async fn full_pkce_flow_yields_valid_tokens_the_backend_accepts() {
    let stack = stack().await;
    let tokens = sign_in(&stack, &demo(&stack), &[("audience", "convex")]).await;
    let user_id = &stack.accounts[0].user_id;

    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["iss"], stack.issuer());
    assert_eq!(id["aud"], json!([stack.state.config.client_id]));
    assert_eq!(id["azp"], stack.state.config.client_id);
    assert_eq!(id["nonce"], "nonce-456");
    assert_eq!(id["sub"], *user_id);
    assert_eq!(id["email"], "demo@kinvex.dev");
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["aud"], json!(["convex"]));
    assert_eq!(
        access["scp"],
        json!(["openid", "profile", "email", "offline"])
    );
    assert!(
        tokens["refresh_token"].is_string(),
        "scope offline yields a refresh token"
    );

    // Both Kinde setups authenticate at the backend: the ID token and the `convex` access token.
    for token in [&tokens["id_token"], &tokens["access_token"]] {
        let (status, body) =
            call(&stack, "query", "users:current", json!({}), token.as_str()).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "success");
        assert_eq!(body["value"]["kindeId"], *user_id);
    }

    let profile: Value = reqwest::Client::new()
        .get(format!("{}/oauth2/v2/user_profile", stack.issuer()))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(profile["id"], *user_id);
    assert_eq!(profile["given_name"], "Dana");
}

#[tokio::test]
async fn a_second_sign_in_is_silent_unless_prompt_login() {
    let stack = stack().await;
    let ua = UserAgent::new();
    let pkce = pkce();
    let none = authorize_url(&stack, &pkce, &[("prompt", "none")]);
    let redirect = browse(&ua, &none, &Action::Cancel).await;
    assert_eq!(param(&redirect, "error").as_deref(), Some("login_required"));

    browse(&ua, &authorize_url(&stack, &pkce, &[]), &demo(&stack)).await;
    // Now the browser has a session: no page is shown, so the Cancel action is never used.
    let silent = browse(&ua, &none, &Action::Cancel).await;
    assert!(param(&silent, "code").is_some(), "silent sign-in: {silent}");
    let forced = browse(
        &ua,
        &authorize_url(&stack, &pkce, &[("prompt", "login")]),
        &Action::Cancel,
    )
    .await;
    assert_eq!(
        param(&forced, "error").as_deref(),
        Some("access_denied"),
        "prompt=login shows the page again"
    );
}

#[tokio::test]
async fn cancel_returns_access_denied_with_the_state() {
    let stack = stack().await;
    let redirect = browse(
        &UserAgent::new(),
        &authorize_url(&stack, &pkce(), &[]),
        &Action::Cancel,
    )
    .await;
    assert!(redirect.as_str().starts_with(DEFAULT_REDIRECT_URI));
    assert_eq!(param(&redirect, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&redirect, "state").as_deref(), Some("state-123"));
}

#[tokio::test]
async fn wrong_password_is_shown_on_the_page_and_ends_nothing() {
    let stack = stack().await;
    let wrong = Action::SignIn {
        email: "demo@kinvex.dev".into(),
        password: "not-the-password".into(),
    };
    let error = UserAgent::new()
        .authorize(&authorize_url(&stack, &pkce(), &[]), &wrong, false)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("incorrect"), "{error}");
}

#[tokio::test]
async fn registration_creates_the_user_and_the_webhook_reaches_the_backend() {
    let stack = stack().await;
    let action = Action::Register {
        given_name: "Robin".into(),
        family_name: "New".into(),
        email: "robin@example.com".into(),
        password: "a-long-password".into(),
    };
    let tokens = sign_in(&stack, &action, &[("prompt", "create")]).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    assert_eq!(claims(id_token)["given_name"], "Robin");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, body) = call(&stack, "query", "users:current", json!({}), Some(id_token)).await;
        if body["value"]["email"] == "robin@example.com" {
            assert_eq!(body["value"]["firstName"], "Robin");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the user.created webhook never arrived: {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---- authorization request rejections ----

#[tokio::test]
async fn pkce_is_required_and_must_be_s256() {
    let stack = stack().await;
    let ua = UserAgent::new();
    let url = authorize_url(&stack, &pkce(), &[]);
    for bad in [
        with_param(&url, "code_challenge", None),
        with_param(&url, "code_challenge_method", None),
        with_param(&url, "code_challenge_method", Some("plain")),
    ] {
        let redirect = browse(&ua, &bad, &demo(&stack)).await;
        assert_eq!(
            param(&redirect, "error").as_deref(),
            Some("invalid_request"),
            "{bad}"
        );
        assert_eq!(param(&redirect, "state").as_deref(), Some("state-123"));
    }
}

#[tokio::test]
async fn unknown_client_and_unregistered_redirect_get_an_error_page_not_a_redirect() {
    let stack = stack().await;
    let url = authorize_url(&stack, &pkce(), &[]);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for bad in [
        with_param(&url, "client_id", Some("someone-else")),
        with_param(
            &url,
            "redirect_uri",
            Some("http://127.0.0.1:53180/elsewhere"),
        ),
        with_param(&url, "redirect_uri", Some("http://127.0.0.1:9999/callback")),
        with_param(
            &url,
            "redirect_uri",
            Some("https://attacker.example/callback"),
        ),
    ] {
        let response = http.get(&bad).send().await.unwrap();
        assert_eq!(response.status(), 400, "{bad}");
        assert!(response.headers().get("location").is_none());
    }
}

#[tokio::test]
async fn any_loopback_port_is_accepted_only_when_enabled() {
    let stack = stack_with(|c| c.any_loopback_port = true).await;
    let url = with_param(
        &authorize_url(&stack, &pkce(), &[]),
        "redirect_uri",
        Some("http://127.0.0.1:41234/callback"),
    );
    let redirect = browse(&UserAgent::new(), &url, &Action::Cancel).await;
    assert!(
        redirect
            .as_str()
            .starts_with("http://127.0.0.1:41234/callback?"),
        "{redirect}"
    );
}

// ---- token endpoint rejections ----

#[tokio::test]
async fn wrong_verifier_and_reused_codes_are_rejected() {
    let stack = stack().await;
    let ua = UserAgent::new();
    let p = pkce();
    let redirect = browse(&ua, &authorize_url(&stack, &p, &[]), &demo(&stack)).await;
    let code = param(&redirect, "code").unwrap();
    assert_eq!(
        oauth_error(exchange(&stack, &code, &pkce().verifier).await).await,
        (400, "invalid_grant".into())
    );

    let p = pkce();
    let redirect = browse(&ua, &authorize_url(&stack, &p, &[]), &demo(&stack)).await;
    let code = param(&redirect, "code").unwrap();
    let first: Value = exchange(&stack, &code, &p.verifier)
        .await
        .json()
        .await
        .unwrap();
    let refresh_token = first["refresh_token"].as_str().unwrap();
    assert_eq!(
        oauth_error(exchange(&stack, &code, &p.verifier).await).await,
        (400, "invalid_grant".into())
    );
    // Reuse of a code revokes what its first exchange issued.
    assert_eq!(
        oauth_error(refresh(&stack, refresh_token).await).await,
        (400, "invalid_grant".into())
    );
}

#[tokio::test]
async fn refresh_rotates_and_reuse_after_the_overlap_revokes_the_family() {
    let stack = stack_with(|c| c.lifetimes.rotation_overlap = Duration::ZERO).await;
    let tokens = sign_in(&stack, &demo(&stack), &[]).await;
    let first = tokens["refresh_token"].as_str().unwrap().to_string();
    let rotated: Value = refresh(&stack, &first).await.json().await.unwrap();
    let second = rotated["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(first, second, "rotation");
    assert!(
        rotated["id_token"].is_string(),
        "a refresh returns a new ID token"
    );

    // The overlap is zero and a second has passed: reusing the first token is theft.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        oauth_error(refresh(&stack, &first).await).await,
        (400, "invalid_grant".into())
    );
    assert_eq!(
        oauth_error(refresh(&stack, &second).await).await,
        (400, "invalid_grant".into()),
        "family revoked"
    );
}

#[tokio::test]
async fn within_the_overlap_a_rotated_token_still_works() {
    let stack = stack().await;
    let tokens = sign_in(&stack, &demo(&stack), &[]).await;
    let first = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(refresh(&stack, first).await.status(), 200);
    assert_eq!(
        refresh(&stack, first).await.status(),
        200,
        "a lost response can be retried"
    );
}

#[tokio::test]
async fn offline_access_yields_no_refresh_token_as_at_kinde() {
    let stack = stack().await;
    let pkce = pkce();
    let url = with_param(
        &authorize_url(&stack, &pkce, &[]),
        "scope",
        Some("openid profile email offline_access"),
    );
    let redirect = browse(&UserAgent::new(), &url, &demo(&stack)).await;
    let tokens: Value = exchange(&stack, &param(&redirect, "code").unwrap(), &pkce.verifier)
        .await
        .json()
        .await
        .unwrap();
    assert!(tokens["access_token"].is_string());
    assert!(tokens.get("refresh_token").is_none());
}

#[tokio::test]
async fn revoked_refresh_tokens_fail_with_invalid_grant() {
    let stack = stack().await;
    let tokens = sign_in(&stack, &demo(&stack), &[]).await;
    let token = tokens["refresh_token"].as_str().unwrap();
    let revoked = reqwest::Client::new()
        .post(format!("{}/oauth2/revoke", stack.issuer()))
        .form(&[
            ("token", token),
            ("client_id", &stack.state.config.client_id),
            ("token_type_hint", "refresh_token"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    assert_eq!(
        oauth_error(refresh(&stack, token).await).await,
        (400, "invalid_grant".into())
    );
}

#[tokio::test]
async fn logout_ends_the_browser_session_and_checks_the_redirect() {
    let stack =
        stack_with(|c| c.logout_redirects = vec!["http://127.0.0.1:53180/signed-out".into()]).await;
    let ua = UserAgent::new();
    let p = pkce();
    browse(&ua, &authorize_url(&stack, &p, &[]), &demo(&stack)).await;
    let logout = format!(
        "{}/logout?redirect=http://127.0.0.1:53180/signed-out",
        stack.issuer()
    );
    let redirect = ua
        .authorize(&logout, &Action::Cancel, false)
        .await
        .unwrap()
        .redirect;
    assert_eq!(redirect.as_str(), "http://127.0.0.1:53180/signed-out");
    let after = browse(
        &ua,
        &authorize_url(&stack, &p, &[("prompt", "none")]),
        &Action::Cancel,
    )
    .await;
    assert_eq!(param(&after, "error").as_deref(), Some("login_required"));

    let refused = reqwest::get(format!(
        "{}/logout?redirect=https://attacker.example/",
        stack.issuer()
    ))
    .await
    .unwrap();
    assert_eq!(refused.status(), 400);
}

// ---- backend authentication, as Convex checks it ----

fn claims_for(stack: &Running, audience: Value) -> Value {
    let now = unix_now();
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
    expired["exp"] = json!(unix_now() - 1);
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

// ---- backend wire format and functions ----

#[tokio::test]
async fn wire_format_errors_are_http_errors_and_function_errors_are_200() {
    let stack = stack().await;
    let http = reqwest::Client::new();
    let url = format!("{}/api/query", stack.api_url());
    let no_type = http
        .post(&url)
        .body(r#"{"path":"users:current","args":{}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(no_type.status(), 400);
    let bad_json = http
        .post(&url)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_json.status(), 400);
    let bad_client = http
        .post(&url)
        .header("content-type", "application/json")
        .header("convex-client", "noversion")
        .body(r#"{"path":"users:current","args":{}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad_client.status(), 400);

    let (status, body) = call(&stack, "query", "nope:missing", json!({}), None).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("error")));
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("Could not find public function for 'nope:missing'")
    );
    let (_, body) = call(&stack, "mutation", "users:current", json!({}), None).await;
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("Could not find public function"),
        "a query is not a mutation"
    );

    let (status, body) = call(&stack, "query", "users:current", json!({}), None).await;
    assert_eq!(status, 200);
    assert_eq!(body["errorData"]["code"], "UNAUTHENTICATED");

    let run = http
        .post(format!("{}/api/run/users/current", stack.api_url()))
        .header("content-type", "application/json")
        .body(r#"{"args":{},"format":"json"}"#)
        .send()
        .await
        .unwrap();
    let run: Value = run.json().await.unwrap();
    assert_eq!(
        run["errorData"]["code"], "UNAUTHENTICATED",
        "/api/run reaches the same function"
    );
}

#[tokio::test]
async fn files_are_the_callers_own_whatever_the_arguments_say() {
    let stack = stack().await;
    let demo_token = sign_in(&stack, &demo(&stack), &[]).await["id_token"]
        .as_str()
        .unwrap()
        .to_string();
    let other_token = sign_in(&stack, &other(&stack), &[]).await["id_token"]
        .as_str()
        .unwrap()
        .to_string();
    let demo_id = stack.accounts[0].user_id.clone();
    let other_id = stack.accounts[1].user_id.clone();
    let page = json!({ "numItems": 100, "cursor": null });

    let (_, mine) = call(
        &stack,
        "query",
        "files:list",
        json!({ "paginationOpts": page }),
        Some(&other_token),
    )
    .await;
    let owners: Vec<&str> = mine["value"]["page"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["owner"].as_str().unwrap())
        .collect();
    assert_eq!(owners.len(), 3);
    assert!(owners.iter().all(|o| *o == other_id));

    // Naming the other person anywhere is refused by the validator, never obeyed.
    for args in [
        json!({ "paginationOpts": page, "kindeId": demo_id }),
        json!({ "paginationOpts": page, "owner": demo_id }),
        json!({ "paginationOpts": page, "userId": demo_id }),
    ] {
        let (status, body) = call(&stack, "query", "files:list", args, Some(&other_token)).await;
        assert_eq!(status, 200);
        assert_eq!(body["status"], "error");
        assert!(
            body["errorMessage"]
                .as_str()
                .unwrap()
                .contains("ArgumentValidationError"),
            "{body}"
        );
    }
    let (_, body) = call(
        &stack,
        "query",
        "users:current",
        json!({ "kindeId": demo_id }),
        Some(&other_token),
    )
    .await;
    assert_eq!(body["status"], "error");

    let (_, body) = call(
        &stack,
        "query",
        "files:list",
        json!({ "paginationOpts": page }),
        Some(&demo_token),
    )
    .await;
    assert!(
        body["value"]["page"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["owner"] == demo_id)
    );
}

#[tokio::test]
async fn files_page_without_gaps_or_repeats() {
    let stack = stack_with(|c| c.extra_demo_files = 45).await;
    let token = sign_in(&stack, &demo(&stack), &[]).await["id_token"]
        .as_str()
        .unwrap()
        .to_string();
    let mut cursor = Value::Null;
    let mut seen = Vec::new();
    loop {
        let args = json!({ "paginationOpts": { "numItems": 20, "cursor": cursor } });
        let (_, body) = call(&stack, "query", "files:list", args, Some(&token)).await;
        let value = &body["value"];
        for file in value["page"].as_array().unwrap() {
            seen.push((
                file["_creationTime"].as_f64().unwrap(),
                file["_id"].as_str().unwrap().to_string(),
            ));
        }
        if value["isDone"].as_bool().unwrap() {
            break;
        }
        cursor = value["continueCursor"].clone();
    }
    assert_eq!(seen.len(), 14 + 45);
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.partial_cmp(a).unwrap());
    sorted.dedup();
    assert_eq!(seen, sorted, "newest first, no repeats");
}

#[tokio::test]
async fn store_creates_the_caller_when_no_webhook_arrived() {
    let stack = stack().await;
    let now = unix_now();
    let newcomer = json!({
        "iss": stack.issuer(), "sub": "kp_newcomer", "aud": [stack.state.config.client_id],
        "iat": now, "exp": now + 600, "email": "new@example.com", "given_name": "Nia"
    });
    let token = stack.state.keys().sign(&newcomer);
    let (_, before) = call(&stack, "query", "users:current", json!({}), Some(&token)).await;
    assert_eq!(before["value"], Value::Null);
    let (_, stored) = call(&stack, "mutation", "users:store", json!({}), Some(&token)).await;
    assert!(stored["value"].is_string(), "{stored}");
    let (_, after) = call(&stack, "query", "users:current", json!({}), Some(&token)).await;
    assert_eq!(after["value"]["firstName"], "Nia");
    assert_eq!(after["value"]["_id"], stored["value"]);
}

// ---- webhooks ----

fn webhook_event(kind: &str, user_id: &str, event_id: &str, timestamp: &str) -> Value {
    json!({
        "type": kind, "event_id": event_id, "timestamp": timestamp, "event_timestamp": timestamp, "source": "admin",
        "data": { "user": { "id": user_id, "email": "hook@example.com", "first_name": "Hook", "last_name": null,
            "is_suspended": false, "is_password_reset_requested": false, "organizations": [], "phone": null,
            "username": null, "image_url": null } }
    })
}

fn now_rfc3339(offset_seconds: i64) -> String {
    let at = time::OffsetDateTime::now_utc() + time::Duration::seconds(offset_seconds);
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

async fn post_webhook(stack: &Running, content_type: &str, body: String) -> u16 {
    reqwest::Client::new()
        .post(format!("{}/kinde", stack.site_url()))
        .header("content-type", content_type)
        .header("webhook-id", "msg_test")
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn backend_user(stack: &Running, user_id: &str) -> Value {
    stack
        .state
        .store
        .cx_user(user_id)
        .unwrap()
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn webhooks_are_verified_deduplicated_and_replay_checked() {
    let stack = stack().await;
    let sign = |v: &Value| stack.state.keys().sign(v);
    let created = webhook_event("user.created", "kp_hook", "event_1", &now_rfc3339(0));

    assert_eq!(
        post_webhook(&stack, "application/json", sign(&created)).await,
        400,
        "wrong content type"
    );
    let foreign = kinvex_devstack::keys::KeySet::open(None).unwrap();
    assert_eq!(
        post_webhook(&stack, "application/jwt", foreign.sign(&created)).await,
        400,
        "another tenant's key"
    );
    let mut stale = created.clone();
    stale["timestamp"] = json!(now_rfc3339(-3600));
    assert_eq!(
        post_webhook(&stack, "application/jwt", sign(&stale)).await,
        400,
        "replayed from an hour ago"
    );
    assert_eq!(
        post_webhook(&stack, "application/jwt", "not-a-jwt".into()).await,
        400,
        "malformed"
    );
    assert_eq!(
        backend_user(&stack, "kp_hook").await,
        Value::Null,
        "nothing applied so far"
    );

    assert_eq!(
        post_webhook(&stack, "application/jwt", sign(&created)).await,
        200
    );
    assert_eq!(backend_user(&stack, "kp_hook").await["firstName"], "Hook");
    let deleted = webhook_event("user.deleted", "kp_hook", "event_2", &now_rfc3339(0));
    assert_eq!(
        post_webhook(&stack, "application/jwt", sign(&deleted)).await,
        200
    );
    assert_eq!(
        post_webhook(&stack, "application/jwt", sign(&created)).await,
        200,
        "a retry is acknowledged"
    );
    assert_eq!(
        backend_user(&stack, "kp_hook").await,
        Value::Null,
        "but not applied twice"
    );

    // Signed with a key the backend has not seen yet: one refetch of the JWKS finds it.
    stack.state.keys_mut().rotate(true).unwrap();
    let again = webhook_event("user.created", "kp_hook", "event_3", &now_rfc3339(0));
    assert_eq!(
        post_webhook(&stack, "application/jwt", sign(&again)).await,
        200
    );
}

#[tokio::test]
async fn admin_updates_and_deletes_reach_the_backend_through_webhooks() {
    let stack = stack().await;
    let user_id = stack.accounts[0].user_id.clone();
    let http = reqwest::Client::new();
    let updated = http
        .patch(format!("{}/_devstack/users/{user_id}", stack.issuer()))
        .json(&json!({ "given_name": "Danielle" }))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), 200);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while backend_user(&stack, &user_id).await["firstName"] != "Danielle" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "user.updated never applied"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let deleted = http
        .delete(format!("{}/_devstack/users/{user_id}", stack.issuer()))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    while backend_user(&stack, &user_id).await != Value::Null {
        assert!(
            tokio::time::Instant::now() < deadline,
            "user.deleted never applied"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---- faults ----

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
async fn failed_webhook_deliveries_are_retried_until_the_backend_accepts() {
    let stack = stack_with(|c| {
        c.webhook_retries = [300, 600, 1200, 2400].map(Duration::from_millis).to_vec();
    })
    .await;
    let http = reqwest::Client::new();
    let admin = |path: &str| format!("{}/_devstack/{path}", stack.issuer());
    let user_id = stack.accounts[0].user_id.clone();
    http.post(admin("faults"))
        .json(&json!({ "backend": { "status": 503 } }))
        .send()
        .await
        .unwrap();
    let before = stack
        .state
        .stats
        .webhook_deliveries
        .load(std::sync::atomic::Ordering::SeqCst);
    http.patch(admin(&format!("users/{user_id}")))
        .json(&json!({ "family_name": "Retried" }))
        .send()
        .await
        .unwrap();

    // Wait for the first attempt to fail, then let the backend recover.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while stack
        .state
        .stats
        .webhook_deliveries
        .load(std::sync::atomic::Ordering::SeqCst)
        < before + 1
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no delivery attempt"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_ne!(
        backend_user(&stack, &user_id).await["lastName"],
        "Retried",
        "not applied while failing"
    );
    http.post(admin("faults"))
        .json(&json!({ "backend": {} }))
        .send()
        .await
        .unwrap();
    while backend_user(&stack, &user_id).await["lastName"] != "Retried" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the retry never arrived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        stack
            .state
            .stats
            .webhook_deliveries
            .load(std::sync::atomic::Ordering::SeqCst)
            >= before + 2,
        "a retry did it"
    );
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
