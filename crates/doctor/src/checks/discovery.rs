//! The tenant's OpenID configuration: reachable, naming exactly the configured issuer, with the
//! endpoints, algorithm and PKCE method the app relies on, and revocation for sign-out. Its
//! answer's `Date` header is also the provider's clock, for [`super::clock`].

use super::{finding, millis, worst};
use crate::{Check, Status};
use kinvex_auth::Auth;
use kinvex_auth::config::Sources;
use kinvex_auth::http::{HttpClient, Resend};
use kinvex_clock::SharedClock;
use serde_json::Value;
use std::time::{Instant, SystemTime};

const TITLE: &str = "Provider discovery";

/// The parts of the document later checks use.
pub struct Document {
    pub issuer: String,
    pub authorization_endpoint: Option<String>,
    pub jwks_uri: Option<String>,
}

/// The provider's clock as its answer showed it, and the app's around the request.
pub struct Observed {
    pub date: SystemTime,
    pub sent: SystemTime,
    pub received: SystemTime,
}

pub async fn check(
    auth: &Auth,
    http: &HttpClient,
    sources: &Sources,
    clock: &SharedClock,
) -> (Check, Option<Document>, Option<Observed>) {
    let started = Instant::now();
    let issuer = auth.config.issuer_str().to_string();
    let url = format!("{issuer}/.well-known/openid-configuration");
    let sent = clock.now();
    let answer = http.send(Resend::Always, |client| client.get(&url)).await;
    let received = clock.now();
    let (check, document, observed) = match answer {
        Err(failure) => (
            finding(
                "discovery",
                TITLE,
                Status::Fail,
                format!("No answer from {url}: {failure}."),
            )
            .fix(format!(
                "Check your connection, and that KINDE_ISSUER_URL ({issuer}) is your Kinde domain, as shown in Kinde under Settings > Applications > your app > Details > Domain."
            )),
            None,
            None,
        ),
        Ok(answer) => {
            let observed = answer
                .headers
                .get(reqwest::header::DATE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| httpdate::parse_http_date(v).ok())
                .map(|date| Observed {
                    date,
                    sent,
                    received,
                });
            let (check, document) = if answer.status.is_success() {
                match serde_json::from_slice::<Value>(&answer.body) {
                    Ok(body) if body.is_object() => judge(&issuer, &url, &body, sources),
                    _ => (
                        finding(
                            "discovery",
                            TITLE,
                            Status::Fail,
                            format!("{url} is not an OpenID configuration (not a JSON object)."),
                        )
                        .fix(format!(
                            "Set KINDE_ISSUER_URL to your Kinde domain (https://<business>.kinde.com); {issuer} does not serve one."
                        )),
                        None,
                    ),
                }
            } else {
                (
                    finding(
                        "discovery",
                        TITLE,
                        Status::Fail,
                        format!("{url} answered HTTP {}.", answer.status.as_u16()),
                    )
                    .fix(format!(
                        "Set KINDE_ISSUER_URL to your Kinde domain (https://<business>.kinde.com); {issuer} serves no OpenID configuration."
                    )),
                    None,
                )
            };
            (check, document, observed)
        }
    };
    let mut check = check;
    check.millis = millis(started);
    (check, document, observed)
}

fn judge(issuer: &str, url: &str, body: &Value, sources: &Sources) -> (Check, Option<Document>) {
    let text = |key: &str| body[key].as_str().map(str::to_string);
    let list = |key: &str| -> Vec<String> {
        body[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let found = text("issuer").unwrap_or_default();
    let algorithms = list("id_token_signing_alg_values_supported");
    let pkce = list("code_challenge_methods_supported");
    let endpoints = [
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "end_session_endpoint",
        "revocation_endpoint",
    ];
    let mut problems: Vec<(Status, String, String)> = Vec::new();

    if found != issuer {
        problems.push((
            Status::Fail,
            format!("The document names the issuer `{found}`, not `{issuer}`."),
            format!(
                "Set KINDE_ISSUER_URL to exactly `{found}`: tokens carry it as `iss`, and Convex requires the discovery document to name that issuer exactly."
            ),
        ));
    } else if let Some((written, origin)) = sources.lookup("KINDE_ISSUER_URL")
        && written != found
    {
        problems.push((
            Status::Warn,
            format!("KINDE_ISSUER_URL is `{written}` (from {origin}), the issuer is `{found}`."),
            format!(
                "Set KINDE_ISSUER_URL to exactly `{found}` (no trailing slash). The app drops the slash, but tokens carry `{found}` as `iss`: copy exactly that wherever the value goes (the Convex deployment's KINDE_ISSUER_URL, other tools), since not every tool drops it."
            ),
        ));
    }
    for required in ["authorization_endpoint", "token_endpoint", "jwks_uri"] {
        if text(required).is_none() {
            problems.push((
                Status::Fail,
                format!("The document has no `{required}`."),
                "Set KINDE_ISSUER_URL to your Kinde domain: this provider cannot sign the app in."
                    .to_string(),
            ));
        }
    }
    if text("revocation_endpoint").is_none() {
        problems.push((
            Status::Warn,
            "No `revocation_endpoint` is advertised, so signing out cannot revoke the refresh token (RFC 7009).".to_string(),
            "Kinde advertises one: check that KINDE_ISSUER_URL is your Kinde domain.".to_string(),
        ));
    }
    if !algorithms.iter().any(|a| a == "RS256") {
        problems.push((
            Status::Fail,
            format!("ID tokens are not signed with RS256 (it offers {}).", shown(&algorithms)),
            "The app and Convex accept RS256 from Kinde: check that KINDE_ISSUER_URL is your Kinde domain.".to_string(),
        ));
    }
    if !pkce.iter().any(|m| m == "S256") {
        problems.push((
            Status::Fail,
            format!("PKCE with S256 is not advertised (it offers {}).", shown(&pkce)),
            "The app signs in with PKCE S256 only (RFC 7636): check that KINDE_ISSUER_URL is your Kinde domain.".to_string(),
        ));
    }

    let status = worst(problems.iter().map(|(s, _, _)| *s));
    let summary = match problems.first() {
        Some((_, summary, _)) => summary.clone(),
        None => format!("{url} names the issuer exactly, with every endpoint the app uses."),
    };
    let mut check = finding("discovery", TITLE, status, summary).detail("issuer", found.clone());
    for endpoint in endpoints {
        check = check.detail(
            endpoint,
            text(endpoint).unwrap_or_else(|| "not advertised".into()),
        );
    }
    check = check
        .detail("id_token_signing_alg_values_supported", shown(&algorithms))
        .detail("code_challenge_methods_supported", shown(&pkce));
    for (_, summary, _) in problems.iter().skip(1) {
        check = check.detail("also", summary.clone());
    }
    if !problems.is_empty() {
        let fixes: Vec<&str> = problems.iter().map(|(_, _, fix)| fix.as_str()).collect();
        check = check.fix(dedup(&fixes).join(" "));
    }
    let document = Document {
        issuer: found,
        authorization_endpoint: text("authorization_endpoint"),
        jwks_uri: text("jwks_uri"),
    };
    (check, Some(document))
}

pub fn shown(values: &[String]) -> String {
    if values.is_empty() {
        "none".to_string()
    } else {
        values.join(", ")
    }
}

/// `fixes` without repeats, in order.
pub fn dedup<'f>(fixes: &[&'f str]) -> Vec<&'f str> {
    let mut kept: Vec<&str> = Vec::new();
    for fix in fixes {
        if !kept.contains(fix) {
            kept.push(fix);
        }
    }
    kept
}
