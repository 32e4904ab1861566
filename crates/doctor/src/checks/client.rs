//! Whether the provider knows this application and its callback: the authorization request a
//! sign-in would send, with `prompt=none` and no browser session, so no page is shown and no code
//! is issued. RFC 6749 §4.1.2.1: a provider answers an unknown client or an unregistered callback
//! with an error of its own, and sends anything else back to the callback, here
//! `error=login_required` (OIDC Core §3.1.2.6).

use super::finding;
use crate::checks::discovery::Document;
use crate::{Check, Status};
use kinvex_auth::Auth;
use kinvex_auth::http::{HttpClient, Resend};
use url::Url;

const TITLE: &str = "Application and callback";
/// Never exchanged: no code is issued to a request without a browser session.
const UNUSED_CHALLENGE: &str = "kinvex-doctor-probe-no-code-is-ever-issued0";
/// Stands for "any port" (`KINDE_REDIRECT_URL` with port 0): a sign-in sends whichever is free.
const ANY_PORT: u16 = 49152;

pub async fn check(auth: &Auth, http: &HttpClient, document: Option<&Document>) -> Check {
    let config = &auth.config;
    let Some(endpoint) = document.and_then(|d| d.authorization_endpoint.as_deref()) else {
        return finding(
            "client",
            TITLE,
            Status::Skip,
            "Not checked: the provider's discovery failed.",
        )
        .fix("Fix discovery first.");
    };
    let mut redirect = config.redirect.clone();
    if redirect.port() == Some(0) {
        let _ = redirect.set_port(Some(ANY_PORT));
    }
    let Ok(mut url) = Url::parse(endpoint) else {
        return finding(
            "client",
            TITLE,
            Status::Fail,
            format!("The authorization endpoint `{endpoint}` is not a URL."),
        )
        .fix("Check that KINDE_ISSUER_URL is your Kinde domain.");
    };
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("client_id", &config.client_id)
            .append_pair("redirect_uri", redirect.as_str())
            .append_pair("response_type", "code")
            .append_pair("scope", &config.scopes.join(" "))
            .append_pair("state", "kinvex-doctor")
            .append_pair("code_challenge", UNUSED_CHALLENGE)
            .append_pair("code_challenge_method", "S256")
            .append_pair("prompt", "none");
        if let Some(audience) = &config.audience {
            query.append_pair("audience", audience);
        }
    }
    let check = |status, summary: String| {
        finding("client", TITLE, status, summary)
            .detail("KINDE_CLIENT_ID", config.client_id.clone())
            .detail("callback", redirect.to_string())
    };
    let unknown_fix = format!(
        "Set KINDE_CLIENT_ID to the Client ID of your Kinde application (Settings > Applications > your app > Details), and add the callback `{}` to its Allowed callback URLs (or set KINDE_REDIRECT_URL to one that is).",
        config.redirect
    );
    let answer = match http
        .send(Resend::Always, |client| client.get(url.as_str()))
        .await
    {
        Ok(answer) => answer,
        Err(failure) => {
            return check(
                Status::Fail,
                format!("No answer from the authorization endpoint: {failure}."),
            )
            .fix("Check your connection and KINDE_ISSUER_URL, then run the check again.");
        }
    };
    let status = answer.status.as_u16();
    let location = answer
        .headers
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let back_to_us = Url::parse(location).ok().filter(|l| {
        l.scheme() == redirect.scheme()
            && l.host_str() == redirect.host_str()
            && l.port() == redirect.port()
            && l.path() == redirect.path()
    });
    match back_to_us {
        Some(back) if answer.status.is_redirection() => {
            let error = back
                .query_pairs()
                .find(|(k, _)| k == "error")
                .map(|(_, v)| v.into_owned());
            let description = back
                .query_pairs()
                .find(|(k, _)| k == "error_description")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            match error.as_deref() {
                None | Some("login_required" | "interaction_required" | "consent_required") => {
                    check(
                        Status::Ok,
                        "The provider accepts this application and sends sign-ins back to its callback."
                            .to_string(),
                    )
                }
                Some(error) => check(
                    Status::Warn,
                    format!("The provider accepts the application but refused the request: {error} ({description})."),
                )
                .detail("error", error.to_string())
                .fix("Check KINDE_SCOPES (it needs openid; Kinde's refresh scope is `offline`) and KINDE_AUDIENCE against the application in Kinde."),
            }
        }
        _ if answer.status.is_client_error() => check(
            Status::Fail,
            format!(
                "The provider refused the sign-in request with HTTP {status}: it does not know this application, or not this callback."
            ),
        )
        .fix(unknown_fix),
        _ => check(
            Status::Warn,
            format!(
                "The provider answered HTTP {status} without sending the request back to the callback, so the application could not be confirmed."
            ),
        )
        .fix(format!(
            "Sign in once to confirm. If the provider shows an error instead of its sign-in page: {unknown_fix}"
        )),
    }
}
