//! `kinvex status`: who is signed in, until when, and where the tokens are kept. Ends with 1
//! when signed out, so a script can test `kinvex status >/dev/null`.

use super::{Io, storage, stored_in, write_json};
use crate::cli::StatusArgs;
use crate::error::CliError;
use crate::escape;
use crate::exit::Exit;
use crate::human::{until, who};
use kinvex_auth::{Auth, Status};
use kinvex_clock::Clock;
use serde_json::{Value, json};
use std::io::Write;

pub async fn run(
    auth: &Auth,
    args: &StatusArgs,
    clock: &dyn Clock,
    io: &mut Io<'_>,
) -> Result<Exit, CliError> {
    let status = auth.status().await?;
    let issuer = auth.config.issuer_str();
    if args.json {
        write_json(io.out, &to_json(issuer, &status))?;
    } else {
        text(io.out, issuer, &status, clock.unix())?;
    }
    Ok(match status {
        Status::SignedIn { .. } => Exit::Success,
        Status::SignedOut { .. } => Exit::Failure,
    })
}

fn text(out: &mut dyn Write, issuer: &str, status: &Status, now: i64) -> std::io::Result<()> {
    let issuer = escape::line(issuer);
    match status {
        Status::SignedIn {
            subject,
            email,
            name,
            expires_at,
            location,
        } => {
            writeln!(
                out,
                "Signed in to {issuer} as {}.",
                who(name.as_deref(), email.as_deref(), subject)
            )?;
            writeln!(
                out,
                "Session {}. Tokens are stored in {}.",
                until(*expires_at, now),
                stored_in(location)
            )
        }
        Status::SignedOut { location } => writeln!(
            out,
            "Not signed in to {issuer}. Run `kinvex login`. (Tokens would be stored in {}.)",
            stored_in(location)
        ),
    }
}

/// The session object of `status --json` and `login --json`. Every key is always there; the
/// person's are null when signed out. `expires_at` is in Unix seconds.
pub fn to_json(issuer: &str, status: &Status) -> Value {
    match status {
        Status::SignedIn {
            subject,
            email,
            name,
            expires_at,
            location,
        } => json!({
            "signed_in": true,
            "issuer": issuer,
            "subject": subject,
            "name": name,
            "email": email,
            "expires_at": expires_at,
            "storage": storage(location),
        }),
        Status::SignedOut { location } => json!({
            "signed_in": false,
            "issuer": issuer,
            "subject": null,
            "name": null,
            "email": null,
            "expires_at": null,
            "storage": storage(location),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::testing::{ISSUER, auth, tokens};
    use kinvex_clock::{ManualClock, SystemClock};
    use std::time::Duration;

    async fn status(
        auth: &Auth,
        json: bool,
        clock: &dyn Clock,
    ) -> (Result<Exit, CliError>, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut io = Io {
            out: &mut out,
            err: &mut err,
        };
        let exit = run(auth, &StatusArgs { json }, clock, &mut io).await;
        let text = |bytes: Vec<u8>| String::from_utf8(bytes).expect("UTF-8");
        (exit, text(out), text(err))
    }

    #[tokio::test]
    async fn signed_in_says_who_and_for_how_long_by_the_clock_it_is_given() {
        let clock = ManualClock::new();
        // Halfway through a minute and an hour, so a second passing during the test changes nothing.
        let expires_at = clock.unix() + 2 * 3600 + 30 * 60;
        let auth = auth(Some(tokens(expires_at)));

        let (exit, out, err) = status(&auth, false, &clock).await;
        assert_eq!(exit.expect("status"), Exit::Success);
        assert_eq!(
            out,
            format!(
                "Signed in to {ISSUER} as Dana Demo <demo@kinvex.dev>.\n\
                 Session valid for 2 more hours. Tokens are stored in memory only.\n"
            )
        );
        assert!(err.is_empty());

        clock.advance(Duration::from_secs(2 * 3600 + 5 * 60 + 30));
        let (_, out, _) = status(&auth, false, &clock).await;
        assert!(out.contains("Session valid for 24 more minutes."), "{out}");
        clock.advance(Duration::from_secs(3600));
        let (_, out, _) = status(&auth, false, &clock).await;
        assert!(
            out.contains("Session expired; it will be refreshed"),
            "{out}"
        );
    }

    #[tokio::test]
    async fn signed_out_says_how_to_sign_in_and_ends_with_1() {
        let auth = auth(None);
        let (exit, out, _) = status(&auth, false, &SystemClock).await;
        assert_eq!(exit.expect("status"), Exit::Failure);
        assert_eq!(
            out,
            format!(
                "Not signed in to {ISSUER}. Run `kinvex login`. (Tokens would be stored in memory only.)\n"
            )
        );

        let (exit, out, _) = status(&auth, true, &SystemClock).await;
        assert_eq!(exit.expect("status"), Exit::Failure, "JSON or not");
        let shown: Value = serde_json::from_str(&out).expect("JSON");
        assert_eq!(
            shown,
            json!({
                "signed_in": false,
                "issuer": ISSUER,
                "subject": null,
                "name": null,
                "email": null,
                "expires_at": null,
                "storage": { "kind": "memory", "path": null },
            })
        );
    }

    #[tokio::test]
    async fn json_when_signed_in_has_the_same_keys() {
        let auth = auth(Some(tokens(1_900_000_000)));
        let (exit, out, _) = status(&auth, true, &SystemClock).await;
        assert_eq!(exit.expect("status"), Exit::Success);
        let shown: Value = serde_json::from_str(&out).expect("JSON");
        assert_eq!(
            shown,
            json!({
                "signed_in": true,
                "issuer": ISSUER,
                "subject": "kp_dana",
                "name": "Dana Demo",
                "email": "demo@kinvex.dev",
                "expires_at": 1_900_000_000,
                "storage": { "kind": "memory", "path": null },
            })
        );
        assert!(
            !out.contains("access") && !out.contains("refresh"),
            "no token: {out}"
        );
    }

    #[tokio::test]
    async fn names_from_the_provider_are_escaped() {
        let mut hostile = tokens(1_900_000_000);
        hostile.name = Some("Dana\u{1b}[1A\rSigned out".into());
        let auth = auth(Some(hostile));
        let (_, out, _) = status(&auth, false, &SystemClock).await;
        assert_eq!(out.lines().count(), 2, "{out}");
        assert!(
            out.contains("Dana\\x1b[1A\\rSigned out <demo@kinvex.dev>"),
            "{out}"
        );
    }
}
