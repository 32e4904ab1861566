//! A call to the deployment as the signed-in person (`users:current`), and on a refusal the
//! exact provider entry the deployment needs. The call is made once, without the renew-and-retry
//! the app does, so what the deployment says about this token is what is reported.

use super::token::{Decoded, Session, bearer};
use super::{SIGN_IN, finding};
use crate::{Check, Status};
use kinvex_auth::{Auth, AuthError};
use kinvex_convex::{Client, ConvexError, Kind};
use serde_json::json;
use std::time::Duration;
use url::Url;

const TITLE: &str = "Convex deployment";
/// Longer than any healthy query, shorter than the client's own 30 s.
const LIMIT: Duration = Duration::from_secs(15);
const QUERY: &str = "users:current";

pub async fn check(
    auth: &Auth,
    url: Option<&Url>,
    session: Option<&Session>,
    decoded: Option<&Decoded>,
) -> Check {
    let Some(url) = url else {
        return finding("convex", TITLE, Status::Skip, "CONVEX_URL is not set, so no deployment was called.")
            .fix("Set CONVEX_URL to your deployment, for example CONVEX_URL=https://happy-animal-123.convex.cloud.");
    };
    let client = if auth.config.convex_url.as_ref() == Some(url) {
        Client::for_auth(auth)
    } else {
        Client::new(url.clone())
    };
    let client = match client {
        Ok(client) => client,
        Err(error) => {
            return finding("convex", TITLE, Status::Fail, error.to_string())
                .fix("Check HTTPS_PROXY and HTTP_PROXY.");
        }
    };
    let tokens = match session {
        Some(Ok(tokens)) => Some(tokens),
        None | Some(Err(AuthError::NotSignedIn)) => None,
        Some(Err(_)) => {
            return finding(
                "convex",
                TITLE,
                Status::Skip,
                "Not called: the session could not be made ready (see the Token check).",
            )
            .detail("CONVEX_URL", url.to_string());
        }
    };
    let token = tokens.map(|t| bearer(auth, t));
    let args = json!({});
    let call = client.call(Kind::Query, QUERY, &args, token);
    let answer = match tokio::time::timeout(LIMIT, call).await {
        Ok(answer) => answer,
        Err(_) => Err(ConvexError::Transport {
            url: url.to_string(),
            detail: format!("it did not answer within {} seconds", LIMIT.as_secs()),
        }),
    };
    let base = |status, summary: String| {
        finding("convex", TITLE, status, summary)
            .detail("CONVEX_URL", url.to_string())
            .detail("call", format!("query {QUERY}"))
    };
    match (answer, token) {
        (Ok(_), None) => base(Status::Skip, format!("{url} answers; signed out, so your token was not tried.")).fix(SIGN_IN),
        (Ok(value), Some(_)) => base(Status::Ok, "The deployment accepts your token.".into()).detail(
            "you",
            if value.is_null() { "not stored yet (the app stores you at sign-in)".to_string() } else { "found".to_string() },
        ),
        (Err(ConvexError::Function { .. }), None) => base(
            Status::Skip,
            format!("{url} answers; signed out, so your token was not tried."),
        )
        .fix(SIGN_IN),
        (Err(ConvexError::Function { message, .. }), Some(_)) => base(
            Status::Warn,
            "The deployment accepted the call, but the function failed.".into(),
        )
        .detail("error", message)
        .fix("Deploy this project's convex/ functions to the deployment (npx convex deploy), and check its logs."),
        (Err(ConvexError::Unauthenticated { code, message }), _) => {
            let check = base(Status::Fail, "The deployment refused your token (HTTP 401).".into())
                .detail("code", code.clone())
                .detail("message", message.clone());
            let no_provider = code == "NoAuthProvider" || message.contains("No auth provider found matching the given token");
            if no_provider {
                check.fix(provider_fix(auth, decoded))
            } else {
                check.fix(format!(
                    "The token did not verify there (expired, or signed with a key the deployment has not fetched yet). Check the Clock check; {}",
                    SIGN_IN.replace("Sign in first: run", "sign in again with")
                ))
            }
        }
        (Err(ConvexError::Http { status, code, message }), _) => {
            let check = base(Status::Fail, format!("The deployment answered HTTP {status} ({code})."))
                .detail("message", message);
            if code == "AuthProviderDiscoveryFailed" {
                check.fix("The deployment could not fetch the provider's discovery from the token's `iss`: KINDE_ISSUER_URL on the deployment and in the app must be exactly the tenant's issuer (no trailing slash), and the provider must be reachable from the deployment.")
            } else {
                check.fix("Check that CONVEX_URL is your deployment's URL (https://<name>.convex.cloud), and try again.")
            }
        }
        (Err(ConvexError::Transport { detail, .. }), _) => base(
            Status::Fail,
            format!("No answer from {url}: {detail}."),
        )
        .fix("Check your connection and CONVEX_URL (https://<name>.convex.cloud)."),
        (Err(other), _) => base(Status::Fail, other.to_string()).fix("Run the check again; if it persists, check CONVEX_URL."),
    }
}

/// The provider entry the deployment needs for this token, in `auth.config.ts` and as the
/// environment variables this project's `auth.config.ts` reads.
fn provider_fix(auth: &Auth, decoded: Option<&Decoded>) -> String {
    let issuer = decoded
        .and_then(Decoded::issuer)
        .unwrap_or(auth.config.issuer_str())
        .to_string();
    let audiences = decoded.map(Decoded::audiences).unwrap_or_default();
    match audiences.as_slice() {
        [audience] => format!(
            "The deployment has no auth provider for this token. In convex/functions/auth.config.ts set applicationID to `{audience}` and domain to `{issuer}`; with this project's auth.config.ts, set them on the deployment: npx convex env set KINDE_CONVEX_APPLICATION_ID {audience} and npx convex env set KINDE_ISSUER_URL {issuer}, then deploy again."
        ),
        [] => match &auth.config.audience {
            Some(audience) => format!(
                "The token has no audience, so no provider can match it: authorise this application for the API audience `{audience}` in Kinde, or set KINDE_AUDIENCE to one it is authorised for; then sign in again."
            ),
            None => "The token has no audience: set KINDE_CLIENT_ID to your Kinde application's Client ID and sign in again.".to_string(),
        },
        _ => "The token has several audiences, which Convex refuses: set KINDE_AUDIENCE to exactly one (`convex`) and sign in again.".to_string(),
    }
}
