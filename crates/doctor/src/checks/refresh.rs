//! Whether the provider's refresh answers carry an ID token. Kinde's documented refresh answer
//! has none; in the access-token setup that changes nothing, in the ID-token setup it means a
//! browser sign-in every hour, so the fix there is the audience setup.

use super::token::Session;
use super::{SIGN_IN, finding};
use crate::{Check, Status};
use kinvex_auth::{Auth, AuthError};

const TITLE: &str = "Renewals";

pub const AUDIENCE_SETUP: &str = "Use the audience setup: in Kinde, register an API with the audience `convex` and authorise this application for it; set KINDE_AUDIENCE=convex for the app; set KINDE_CONVEX_APPLICATION_ID=convex on the Convex deployment (npx convex env set KINDE_CONVEX_APPLICATION_ID convex); then sign in again.";

pub fn check(auth: &Auth, session: Option<&Session>) -> Check {
    let tokens = match session {
        Some(Ok(tokens)) => tokens,
        None | Some(Err(AuthError::NotSignedIn)) => {
            return finding("refresh", TITLE, Status::Skip, "Not signed in.").fix(SIGN_IN);
        }
        Some(Err(_)) => {
            return finding(
                "refresh",
                TITLE,
                Status::Skip,
                "Not checked: the session could not be read (see the Token check).",
            );
        }
    };
    let id_token_setup = auth.config.audience.is_none();
    let check = |status, summary: &str| {
        finding("refresh", TITLE, status, summary).detail(
            "refresh token",
            if tokens.refresh_token.is_some() {
                "stored"
            } else {
                "none (KINDE_SCOPES lacks `offline`?)"
            },
        )
    };
    if tokens.refresh_token.is_none() {
        return check(Status::Warn, "The session has no refresh token, so it cannot be renewed without a browser sign-in.")
            .fix("Include `offline` in KINDE_SCOPES (Kinde issues refresh tokens for `offline`, not `offline_access`), then sign in again.");
    }
    match (tokens.id_token_on_refresh, id_token_setup) {
        (None, _) => check(
            Status::Skip,
            "No renewal has happened in this session yet, so it is not known whether renewals return an ID token.",
        )
        .fix("Run the check again after the session has been renewed once (the app renews before a token expires)."),
        (Some(true), _) => check(Status::Ok, "Renewals return an ID token.")
            .detail("last renewal", "carried an ID token"),
        (Some(false), false) => check(
            Status::Ok,
            "Renewals return no ID token; in the access-token setup that changes nothing (the profile keeps the last ID token's claims).",
        )
        .detail("last renewal", "carried no ID token"),
        (Some(false), true) => check(
            Status::Fail,
            "Renewals return no ID token, and in the ID-token setup Convex needs a fresh one: every hour would need a browser sign-in.",
        )
        .detail("last renewal", "carried no ID token")
        .fix(AUDIENCE_SETUP),
    }
}
