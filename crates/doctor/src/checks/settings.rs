//! Each setting, its value and where it came from: the environment, `./.env`, the build, or the
//! default. A value from a forgotten `.env` or an installer's compiled-in tenant is the usual
//! reason the app talks to another tenant than the person thinks.

use super::finding;
use crate::{Check, Status};
use kinvex_auth::Auth;
use kinvex_auth::config::{DEFAULT_REDIRECT, DEFAULT_SCOPES, Sources, VARIABLES};

pub fn check(auth: &Auth, sources: &Sources) -> Check {
    let config = &auth.config;
    let setup = match &config.audience {
        Some(audience) => format!("access token for the API audience `{audience}`"),
        None => "ID token (no KINDE_AUDIENCE)".to_string(),
    };
    let mut check = finding(
        "settings",
        "Settings",
        Status::Ok,
        format!(
            "Issuer {}, client {}; Convex gets the {setup}.",
            config.issuer_str(),
            config.client_id
        ),
    );
    for var in VARIABLES {
        let shown = match (sources.lookup(var), default_of(var)) {
            (Some((value, origin)), _) => format!("{value} (from {origin})"),
            (None, Some(default)) => format!("{default} (the default)"),
            (None, None) => "not set".to_string(),
        };
        check = check.detail(var, shown);
    }
    let plaintext = std::env::var("KINVEX_PLAINTEXT_TOKENS").unwrap_or_default();
    if !plaintext.is_empty() {
        check = check.detail(
            "KINVEX_PLAINTEXT_TOKENS",
            format!("{plaintext} (from the environment)"),
        );
    }
    check
}

fn default_of(var: &str) -> Option<&'static str> {
    match var {
        "KINDE_REDIRECT_URL" => Some(DEFAULT_REDIRECT),
        "KINDE_SCOPES" => Some(DEFAULT_SCOPES),
        _ => None,
    }
}
