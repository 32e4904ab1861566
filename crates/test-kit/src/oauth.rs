//! The steps of an OAuth client against the local provider, spelled out over HTTP for tests that
//! check the provider itself: a PKCE pair, the authorization URL, the browser part (played by the
//! headless user agent), the code exchange and the refresh, and reading what came back.

use crate::browser::sign_in_as;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kinvex_devstack::user_agent::{Action, UserAgent};
use kinvex_devstack::{DEFAULT_REDIRECT_URI, Running, random};
use serde_json::Value;
use sha2::{Digest, Sha256};
use url::Url;

/// A PKCE verifier and its S256 challenge (RFC 7636).
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

pub fn pkce() -> Pkce {
    let verifier = random::secret();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    Pkce {
        verifier,
        challenge,
    }
}

/// The authorization request a desktop client sends: code flow with PKCE, the default redirect,
/// `offline` for a refresh token, state `state-123` and nonce `nonce-456`; `extra` appended.
pub fn authorize_url(stack: &Running, pkce: &Pkce, extra: &[(&str, &str)]) -> String {
    let mut url =
        Url::parse(&format!("{}/oauth2/auth", stack.issuer())).expect("the issuer is a URL");
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
pub fn with_param(url: &str, key: &str, value: Option<&str>) -> String {
    let mut parsed = Url::parse(url).expect("a URL");
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

/// The query parameter `key` of `url`.
pub fn param(url: &Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// Signing in as the seeded demo user.
pub fn demo(stack: &Running) -> Action {
    sign_in_as(&stack.accounts[0])
}

/// Signing in as the seeded second user, whose files the demo user must not see.
pub fn other(stack: &Running) -> Action {
    sign_in_as(&stack.accounts[1])
}

/// Runs the browser part and returns the redirect the app would receive.
pub async fn browse(ua: &UserAgent, url: &str, action: &Action) -> Url {
    ua.authorize(url, action, false)
        .await
        .expect("browser flow")
        .redirect
}

/// Exchanges `code` with `verifier` at the token endpoint.
pub async fn exchange(stack: &Running, code: &str, verifier: &str) -> reqwest::Response {
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
        .expect("the token endpoint answers")
}

/// Uses `refresh_token` at the token endpoint.
pub async fn refresh(stack: &Running, refresh_token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/oauth2/token", stack.issuer()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", &stack.state.config.client_id),
            ("refresh_token", refresh_token),
        ])
        .send()
        .await
        .expect("the token endpoint answers")
}

/// Signs in as `action` and returns the token response.
pub async fn sign_in(stack: &Running, action: &Action, extra: &[(&str, &str)]) -> Value {
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
    response.json().await.expect("a JSON token response")
}

/// A JWT's claims, unverified: for reading what the provider put there.
pub fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT has a payload");
    let json = URL_SAFE_NO_PAD
        .decode(payload)
        .expect("the payload is base64url");
    serde_json::from_slice(&json).expect("the payload is JSON")
}

/// The status and the `error` of an OAuth error response (RFC 6749 §5.2).
pub async fn oauth_error(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON error body");
    (
        status,
        body["error"].as_str().unwrap_or_default().to_string(),
    )
}
