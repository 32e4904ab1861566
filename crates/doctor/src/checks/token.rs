//! The token Convex gets, redacted (its claims and header, never the token or its signature),
//! and whether it passes Convex's rules for an OIDC provider: exactly one audience, RS256 or
//! EdDSA, a `kid` unless the key set has one key, `iss` exactly the issuer, not expired, and
//! `iss`, `sub`, `aud`, `exp`, `iat` all present (get-convex/convex-backend,
//! crates/authentication).

use super::discovery::Document;
use super::{SIGN_IN, finding};
use crate::{Check, Status};
use jsonwebtoken::{Algorithm, Header};
use kinvex_auth::{Auth, AuthError, Secret, TokenSet};
use kinvex_clock::SharedClock;
use serde_json::Value;

const TITLE: &str = "Token for Convex";

/// The session as a call to Convex would use it: renewed first if its token is about to expire.
pub type Session = Result<TokenSet, AuthError>;

pub async fn session(auth: &Auth) -> Session {
    auth.fresh_tokens().await
}

/// The header and claims of the token Convex gets, read without verifying it.
pub struct Decoded {
    pub header: Header,
    pub claims: Value,
}

impl Decoded {
    /// The audiences, each once (Convex counts an audience listed twice as one).
    pub fn audiences(&self) -> Vec<String> {
        let mut all: Vec<String> = match &self.claims["aud"] {
            Value::String(one) => vec![one.clone()],
            Value::Array(many) => many
                .iter()
                .filter_map(|a| a.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        let mut seen = Vec::new();
        all.retain(|a| {
            let new = !seen.contains(a);
            seen.push(a.clone());
            new
        });
        all
    }

    pub fn issuer(&self) -> Option<&str> {
        self.claims["iss"].as_str()
    }
}

/// The token Convex gets in this setup: the access token with an API audience, else the ID token.
pub fn bearer<'t>(auth: &Auth, tokens: &'t TokenSet) -> &'t Secret<String> {
    if auth.config.audience.is_some() {
        &tokens.access_token
    } else {
        &tokens.id_token
    }
}

fn which(auth: &Auth) -> &'static str {
    if auth.config.audience.is_some() {
        "access token"
    } else {
        "ID token"
    }
}

pub fn decode(auth: &Auth, tokens: &TokenSet) -> Result<Decoded, String> {
    jsonwebtoken::dangerous::insecure_decode::<Value>(bearer(auth, tokens).expose())
        .map(|data| Decoded {
            header: data.header,
            claims: data.claims,
        })
        .map_err(|e| format!("it is not a JWT ({e})"))
}

pub fn check(
    auth: &Auth,
    session: Option<&Session>,
    document: Option<&Document>,
    key_count: Option<usize>,
    clock: &SharedClock,
) -> Check {
    let config = &auth.config;
    let tokens = match session {
        None | Some(Err(AuthError::NotSignedIn)) => {
            return finding("token", TITLE, Status::Skip, "Not signed in.").fix(SIGN_IN);
        }
        Some(Err(error)) => {
            return finding(
                "token",
                TITLE,
                Status::Fail,
                format!("The session could not be made ready for Convex: {error}"),
            )
            .detail("error", error.code())
            .fix(match error {
                AuthError::Offline { .. }
                | AuthError::ProviderUnreachable { .. }
                | AuthError::ProviderUnavailable { .. } => {
                    "Check your connection and KINDE_ISSUER_URL, then run the check again."
                        .to_string()
                }
                _ => SIGN_IN.replace("Sign in first", "Sign in again"),
            });
        }
        Some(Ok(tokens)) => tokens,
    };
    let kind = which(auth);
    let decoded = match decode(auth, tokens) {
        Ok(decoded) => decoded,
        Err(why) => {
            return finding(
                "token",
                TITLE,
                Status::Fail,
                format!("The stored {kind} is unusable: {why}."),
            )
            .fix(SIGN_IN.replace("Sign in first", "Sign in again"));
        }
    };
    let claims = &decoded.claims;
    let now = clock.unix();
    let audiences = decoded.audiences();
    let expected_issuer = document.map_or(config.issuer_str(), |d| d.issuer.as_str());
    let mut problems: Vec<(String, String)> = Vec::new();

    let missing: Vec<&str> = ["iss", "sub", "aud", "exp", "iat"]
        .into_iter()
        .filter(|claim| claims[claim].is_null())
        .collect();
    if !missing.is_empty() {
        problems.push((
            format!("The {kind} lacks {}, which Convex requires.", missing.join(", ")),
            "Check that KINDE_ISSUER_URL is your Kinde domain: Kinde's tokens carry iss, sub, aud, exp and iat.".into(),
        ));
    }
    if !matches!(decoded.header.alg, Algorithm::RS256 | Algorithm::EdDSA) {
        problems.push((
            format!("The {kind} is signed with {:?}; Convex's OIDC providers accept RS256 or EdDSA only.", decoded.header.alg),
            "Check that KINDE_ISSUER_URL is your Kinde domain (Kinde signs with RS256).".into(),
        ));
    }
    if decoded.header.kid.is_none() && key_count != Some(1) {
        problems.push((
            format!("The {kind} names no signing key (`kid`), and the key set does not have exactly one key, so Convex cannot pick the key."),
            "Check that KINDE_ISSUER_URL is your Kinde domain (Kinde's tokens name their key).".into(),
        ));
    }
    match decoded.issuer() {
        Some(iss) if iss != expected_issuer => problems.push((
            format!("The {kind}'s issuer is `{iss}`, not exactly `{expected_issuer}`."),
            format!("Set KINDE_ISSUER_URL to exactly `{expected_issuer}` and sign in again: Convex fetches the discovery document from the token's `iss` and needs it to name that issuer exactly."),
        )),
        _ => {}
    }
    match (&config.audience, audiences.len()) {
        (Some(audience), 0) => problems.push((
            format!("The access token has no audience: Kinde leaves out an audience the application is not authorised for, and Convex matches none (it wanted `{audience}`)."),
            format!("In Kinde, register an API with the audience `{audience}` and authorise this application for it (Settings > APIs > the API > Applications), or set KINDE_AUDIENCE to an audience it is authorised for (this project uses `convex`); then sign in again."),
        )),
        (Some(audience), _) if !audiences.contains(audience) => problems.push((
            format!("The access token's audience is {}, not `{audience}`.", audiences.join(", ")),
            format!("Set KINDE_AUDIENCE to the API audience Convex expects, or authorise this application for `{audience}` in Kinde; then sign in again."),
        )),
        (None, _) if !audiences.contains(&config.client_id) => problems.push((
            format!("The ID token's audience is {}, not the client id `{}`.", if audiences.is_empty() { "empty".to_string() } else { audiences.join(", ") }, config.client_id),
            "Set KINDE_CLIENT_ID to the Client ID of the Kinde application you sign in to, then sign in again.".into(),
        )),
        _ => {}
    }
    if audiences.len() > 1 {
        problems.push((
            format!("The {kind} has {} audiences ({}); Convex refuses tokens with more than one.", audiences.len(), audiences.join(", ")),
            "Set KINDE_AUDIENCE to exactly one API audience (`convex`), and authorise the application in Kinde for that one only; then sign in again.".into(),
        ));
    }
    let exp = claims["exp"].as_i64();
    if let Some(exp) = exp
        && exp <= now
    {
        problems.push((
            format!(
                "The {kind} expired {} s ago, and renewing it did not help.",
                now - exp
            ),
            format!(
                "{} If it keeps happening, see the Clock and Renewals checks.",
                SIGN_IN.replace("Sign in first", "Sign in again")
            ),
        ));
    }

    let status = if problems.is_empty() {
        Status::Ok
    } else {
        Status::Fail
    };
    let summary = match problems.first() {
        Some((summary, _)) => summary.clone(),
        None => {
            format!("Convex gets the {kind}, and it meets Convex's rules for an OIDC provider.")
        }
    };
    let text = |claim: &str| match &claims[claim] {
        Value::Null => "absent".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut check = finding("token", TITLE, status, summary)
        .detail(
            "token",
            format!(
                "{kind} ({})",
                if config.audience.is_some() {
                    "the access-token setup"
                } else {
                    "the ID-token setup"
                }
            ),
        )
        .detail("alg", format!("{:?}", decoded.header.alg))
        .detail(
            "kid",
            decoded
                .header
                .kid
                .clone()
                .unwrap_or_else(|| "absent".into()),
        )
        .detail("iss", text("iss"))
        .detail(
            "aud",
            if audiences.is_empty() {
                "none".into()
            } else {
                audiences.join(", ")
            },
        )
        .detail("azp", text("azp"))
        .detail(
            "exp",
            match exp {
                Some(exp) => format!("{exp} ({}, {})", date(exp), relative(exp - now)),
                None => "absent".into(),
            },
        )
        .detail("iat", text("iat"))
        .detail("org_code", text("org_code"));
    if config.audience.is_some() {
        check = check.detail(
            "permissions",
            match &claims["permissions"] {
                Value::Array(list) => {
                    let names: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
                    if names.is_empty() {
                        "none".into()
                    } else {
                        names.join(", ")
                    }
                }
                _ => "absent".into(),
            },
        );
    } else {
        check = check.detail("org_codes", text("org_codes"));
    }
    for (summary, _) in problems.iter().skip(1) {
        check = check.detail("also", summary.clone());
    }
    if !problems.is_empty() {
        let fixes: Vec<&str> = problems.iter().map(|(_, fix)| fix.as_str()).collect();
        check = check.fix(super::discovery::dedup(&fixes).join(" "));
    }
    check
}

/// An HTTP date for Unix seconds.
fn date(unix: i64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix.max(0).unsigned_abs());
    httpdate::fmt_http_date(at)
}

/// `in 59 min` or `3 min ago`, for an offset in seconds.
fn relative(seconds: i64) -> String {
    let minutes = seconds.unsigned_abs() / 60;
    let amount = if minutes >= 120 {
        format!("{} h", minutes / 60)
    } else if minutes >= 1 {
        format!("{minutes} min")
    } else {
        format!("{} s", seconds.unsigned_abs())
    };
    if seconds >= 0 {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}
