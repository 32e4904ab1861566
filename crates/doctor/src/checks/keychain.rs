//! Where the session is kept: which store, how long one read takes, and whether the stored
//! session reads back whole (every chunk present, the whole parsing as a session).

use super::{finding, millis};
use crate::{Check, Status};
use kinvex_auth::session::KEYCHAIN_NOTICE;
use kinvex_auth::token_store::Location;
use kinvex_auth::{Auth, AuthError, TokenSet};
use std::time::Instant;

const TITLE: &str = "Keychain";

/// The check, and the stored session, if one reads back.
pub async fn check(auth: &Auth) -> (Check, Option<TokenSet>) {
    let started = Instant::now();
    let (mut check, stored) = judge(auth).await;
    check.millis = millis(started);
    (check, stored)
}

fn backend(location: &Location) -> String {
    match location {
        Location::Keychain if cfg!(target_os = "macos") => "the macOS Keychain".into(),
        Location::Keychain if cfg!(target_os = "windows") => {
            "the Windows Credential Manager".into()
        }
        Location::Keychain => {
            "the Secret Service (D-Bus: gnome-keyring, KWallet or KeePassXC)".into()
        }
        other => other.to_string(),
    }
}

async fn judge(auth: &Auth) -> (Check, Option<TokenSet>) {
    let location = auth.location();
    let backend = backend(&location);
    let read = Instant::now();
    if let Err(error) = auth.check_keychain().await {
        return (
            finding(
                "keychain",
                TITLE,
                Status::Fail,
                format!("{backend} did not answer a read: {error}"),
            )
            .detail("store", backend.clone())
            .detail("error", error.code())
            .fix(fix_for(&error)),
            None,
        );
    }
    let latency = read.elapsed();
    let loaded = Instant::now();
    let stored = auth.load().await;
    let load_time = loaded.elapsed();
    let mut check = finding("keychain", TITLE, Status::Ok, "")
        .detail("store", backend.clone())
        .detail("one read", format!("{} ms", latency.as_millis()))
        .detail(
            "reading the session",
            format!("{} ms", load_time.as_millis()),
        );
    let stored = match stored {
        Err(error) => {
            check.status = Status::Fail;
            check.summary = format!("Reading the stored session failed: {error}");
            check = check.fix(fix_for(&error));
            return (check, None);
        }
        Ok(stored) => stored,
    };
    check.summary = match &stored {
        Some(_) => format!("{backend} answers, and the stored session reads back whole."),
        None => format!(
            "{backend} answers; no session is stored (a damaged one also reads as none, with a warning in the log)."
        ),
    };
    if latency >= KEYCHAIN_NOTICE {
        check.status = Status::Warn;
        check.summary = format!("{backend} took {} s to answer one read.", latency.as_secs());
        check = check.fix("If the keychain asked to be unlocked, unlock it; a keychain that is slow every time delays every start of the app.");
    } else if let Location::PlaintextFile(_) = location {
        check.status = Status::Warn;
        check.summary = format!("Tokens are kept in {backend}.");
        check = check.fix("To keep them in the OS keychain instead, unset KINVEX_PLAINTEXT_TOKENS and sign in again.");
    }
    (check, stored)
}

fn fix_for(error: &AuthError) -> String {
    match error {
        AuthError::KeychainUnavailable { .. } => "Start a Secret Service (gnome-keyring or KeePassXC) in your desktop session, or opt in to a plaintext token file with KINVEX_PLAINTEXT_TOKENS=1.".into(),
        AuthError::Keychain { .. } => "Unlock your keychain, and allow kinvex to use it when asked.".into(),
        other => other.to_string(),
    }
}
