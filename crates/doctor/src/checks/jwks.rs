//! The provider's signing keys: reachable, not empty, and holding the key that signed the token
//! Convex gets (after a rotation it may not).

use super::discovery::Document;
use super::token::Decoded;
use super::{finding, millis};
use crate::{Check, Status};
use kinvex_auth::http::{HttpClient, Resend};
use serde_json::Value;
use std::time::Instant;

const TITLE: &str = "Signing keys (JWKS)";

/// The check, and how many keys the set has (Convex accepts a token without `kid` only when
/// there is exactly one).
pub async fn check(
    http: &HttpClient,
    document: Option<&Document>,
    token: Option<&Decoded>,
) -> (Check, Option<usize>) {
    let started = Instant::now();
    let (mut check, count) = judge(http, document, token).await;
    check.millis = millis(started);
    (check, count)
}

async fn judge(
    http: &HttpClient,
    document: Option<&Document>,
    token: Option<&Decoded>,
) -> (Check, Option<usize>) {
    let Some(url) = document.and_then(|d| d.jwks_uri.as_deref()) else {
        return (
            finding(
                "jwks",
                TITLE,
                Status::Skip,
                "Not checked: the provider's discovery failed.",
            )
            .fix("Fix discovery first."),
            None,
        );
    };
    let fail = |summary: String| {
        finding("jwks", TITLE, Status::Fail, summary)
            .detail("jwks_uri", url.to_string())
            .fix("Check that KINDE_ISSUER_URL is your Kinde domain and that it is reachable, then run the check again.")
    };
    let answer = match http.send(Resend::Always, |client| client.get(url)).await {
        Ok(answer) if answer.status.is_success() => answer,
        Ok(answer) => {
            return (
                fail(format!("{url} answered HTTP {}.", answer.status.as_u16())),
                None,
            );
        }
        Err(failure) => return (fail(format!("No answer from {url}: {failure}.")), None),
    };
    let Some(keys) = serde_json::from_slice::<Value>(&answer.body)
        .ok()
        .and_then(|set| set["keys"].as_array().cloned())
    else {
        return (
            fail(format!("{url} is not a key set (no `keys` array).")),
            None,
        );
    };
    let kids: Vec<String> = keys
        .iter()
        .map(|k| {
            format!(
                "{} ({} {})",
                k["kid"].as_str().unwrap_or("no kid"),
                k["kty"].as_str().unwrap_or("?"),
                k["alg"].as_str().unwrap_or("no alg")
            )
        })
        .collect();
    let mut check = finding(
        "jwks",
        TITLE,
        Status::Ok,
        format!("{} key(s) published.", keys.len()),
    )
    .detail("jwks_uri", url.to_string())
    .detail(
        "keys",
        if kids.is_empty() {
            "none".into()
        } else {
            kids.join(", ")
        },
    );
    if keys.is_empty() {
        check.status = Status::Fail;
        check.summary = "The key set is empty: no token can be verified.".into();
        check = check.fix("Check that KINDE_ISSUER_URL is your Kinde domain.");
        return (check, Some(0));
    }
    if let Some(token) = token {
        match token.header.kid.as_deref() {
            Some(kid) if keys.iter().any(|k| k["kid"].as_str() == Some(kid)) => {
                check = check.detail("token's kid", format!("{kid} (published)"));
            }
            Some(kid) => {
                check.status = Status::Fail;
                check.summary = format!(
                    "The token Convex gets is signed with key `{kid}`, which the provider no longer publishes (its keys were rotated)."
                );
                check = check
                    .detail("token's kid", format!("{kid} (not published)"))
                    .fix("Sign in again (`kinvex login`, or Sign out and Sign in in the app) to get a token signed with a current key.");
            }
            None => {
                check = check.detail("token's kid", "none");
            }
        }
    }
    (check, Some(keys.len()))
}
