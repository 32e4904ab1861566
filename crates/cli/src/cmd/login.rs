//! `kinvex login`: signs in through the browser. The address is always shown on stderr (it can
//! be copied when no browser opens); who signed in goes to stdout.

use super::{Io, status, stored_in, write_json};
use crate::cli::LoginArgs;
use crate::error::CliError;
use crate::exit::Exit;
use crate::human::who;
use kinvex_auth::{Auth, SignInOptions, Status, TokenSet};
use std::future::Future;
use std::io::Write;
use std::time::Duration;
use url::Url;

pub async fn run(
    auth: &Auth,
    args: &LoginArgs,
    io: &mut Io<'_>,
    cancel: impl Future<Output = ()>,
) -> Result<Exit, CliError> {
    // Only the desktop app is registered for its scheme; the CLI would wait for nothing.
    if !auth.config.redirect_is_loopback() {
        return Err(CliError::LoopbackRequired {
            redirect: auth.config.redirect.to_string(),
        });
    }
    let open_browser = !args.no_browser;
    let err = &mut *io.err;
    // The terminal may be gone; the sign-in goes on regardless.
    let show = |url: &Url| {
        let _ = prompt(err, url, open_browser);
    };
    // Signed in already: this login adds an account (or renews this person's), so the page is
    // shown; the browser's provider session would otherwise sign the same person in again.
    let adding = auth
        .accounts()
        .await
        .is_ok_and(|accounts| accounts.iter().any(|a| a.active && auth.is_here(a)));
    let tokens = auth
        .sign_in(
            &options(args, adding),
            open_browser,
            Duration::from_secs(args.timeout),
            show,
            cancel,
        )
        .await?;
    let signed_in = session(tokens, auth);
    if args.json {
        write_json(
            io.out,
            &status::to_json(auth.config.issuer_str(), &signed_in),
        )?;
    } else {
        report(io.out, &signed_in)?;
    }
    Ok(Exit::Success)
}

fn options(args: &LoginArgs, adding: bool) -> SignInOptions {
    SignInOptions {
        register: args.register,
        org_code: args.org.clone(),
        login_hint: args.login_hint.clone(),
        force_login: args.force || adding,
        ..SignInOptions::default()
    }
}

fn prompt(err: &mut dyn Write, url: &Url, open_browser: bool) -> std::io::Result<()> {
    if open_browser {
        writeln!(
            err,
            "Opening your browser to sign in. If it does not open, visit:\n\n  {url}\n"
        )?;
    } else {
        writeln!(
            err,
            "Open this address in a browser to sign in:\n\n  {url}\n"
        )?;
    }
    writeln!(err, "Waiting for the browser (Ctrl+C to cancel)...")
}

/// The new session as `status` reports it, so `login --json` prints the same object.
pub(super) fn session(tokens: TokenSet, auth: &Auth) -> Status {
    Status::SignedIn {
        expires_at: tokens.id_expires_at.min(tokens.access_expires_at),
        subject: tokens.subject,
        email: tokens.email,
        name: tokens.name,
        location: auth.location(),
    }
}

fn report(out: &mut dyn Write, session: &Status) -> std::io::Result<()> {
    match session {
        Status::SignedIn {
            subject,
            email,
            name,
            location,
            ..
        } => writeln!(
            out,
            "Signed in as {}. Tokens are stored in {}.",
            who(name.as_deref(), email.as_deref(), subject),
            stored_in(location)
        ),
        Status::SignedOut { .. } => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::testing::{ISSUER, auth, tokens};
    use kinvex_auth::config::Sources;
    use serde_json::{Value, json};

    fn args(json: bool) -> LoginArgs {
        LoginArgs {
            register: true,
            org: Some("org_1".into()),
            login_hint: Some("dana@example.com".into()),
            force: true,
            no_browser: false,
            timeout: 300,
            json,
        }
    }

    #[test]
    fn every_flag_reaches_the_sign_in() {
        let options = options(&args(false), false);
        assert!(options.register && options.force_login);
        assert_eq!(options.org_code.as_deref(), Some("org_1"));
        assert_eq!(options.login_hint.as_deref(), Some("dana@example.com"));
    }

    #[test]
    fn a_login_while_signed_in_shows_the_page_so_another_person_can_be_added() {
        let mut plain = args(false);
        plain.force = false;
        assert!(!options(&plain, false).force_login);
        assert!(options(&plain, true).force_login);
    }

    #[test]
    fn the_address_is_always_shown() {
        let url = Url::parse("https://kinvex-test.kinde.com/oauth2/auth?state=s").expect("url");
        let mut err = Vec::new();
        prompt(&mut err, &url, true).expect("written");
        prompt(&mut err, &url, false).expect("written");
        let shown = String::from_utf8(err).expect("UTF-8");
        assert_eq!(
            shown,
            format!(
                "Opening your browser to sign in. If it does not open, visit:\n\n  {url}\n\n\
                 Waiting for the browser (Ctrl+C to cancel)...\n\
                 Open this address in a browser to sign in:\n\n  {url}\n\n\
                 Waiting for the browser (Ctrl+C to cancel)...\n"
            )
        );
    }

    #[test]
    fn who_signed_in_as_text_and_as_json() {
        let auth = auth(None);
        let signed_in = session(tokens(1_900_000_000), &auth);
        let mut out = Vec::new();
        report(&mut out, &signed_in).expect("written");
        assert_eq!(
            String::from_utf8(out).expect("UTF-8"),
            "Signed in as Dana Demo <demo@kinvex.dev>. Tokens are stored in memory only.\n"
        );
        let mut out = Vec::new();
        write_json(&mut out, &status::to_json(ISSUER, &signed_in)).expect("written");
        let shown: Value = serde_json::from_slice(&out).expect("JSON");
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
    }

    #[tokio::test]
    async fn the_apps_scheme_is_refused_before_anything_is_asked() {
        let sources = Sources::from_pairs([
            ("KINDE_ISSUER_URL", ISSUER),
            ("KINDE_CLIENT_ID", "cli"),
            ("KINDE_REDIRECT_URL", "dev.kinvex.desktop:/callback"),
        ]);
        let mut auth = auth(None);
        auth.config = kinvex_auth::Config::from_sources(&sources).expect("config");
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut io = Io {
            out: &mut out,
            err: &mut err,
        };
        let refused = run(&auth, &args(false), &mut io, std::future::pending()).await;
        match refused {
            Err(e @ CliError::LoopbackRequired { .. }) => assert_eq!(e.exit(), Exit::Usage),
            other => panic!("refused, not {other:?}"),
        }
        assert!(
            out.is_empty() && err.is_empty(),
            "nothing was shown or opened"
        );
    }
}
