//! `kinvex org list | switch CODE | create NAME`: the person's organisations, and signing in
//! to another one or to a new one. A switch and a creation are sign-ins through the loopback
//! like `login`, asked silently first (`prompt=none`), so a browser that still has the
//! provider's session shows no page; without one the sign-in page opens once.

use super::{Io, write_json};
use crate::cli::{OrgCommand, OrgCreateArgs, OrgSignInArgs, OrgSwitchArgs};
use crate::error::CliError;
use crate::escape;
use crate::exit::Exit;
use kinvex_auth::{Auth, AuthError, Organization, SignInOptions};
use serde_json::{Value, json};
use std::future::Future;
use std::io::Write;
use std::time::Duration;
use url::Url;

pub async fn run(
    auth: &Auth,
    command: &OrgCommand,
    io: &mut Io<'_>,
    cancel: impl Future<Output = ()>,
) -> Result<Exit, CliError> {
    match command {
        OrgCommand::List(args) => {
            let organizations = auth.organizations().await?;
            if args.json {
                write_json(
                    io.out,
                    &Value::Array(organizations.iter().map(to_json).collect()),
                )?;
            } else {
                list(io.out, &organizations)?;
            }
        }
        OrgCommand::Switch(args) => {
            let now = switch(auth, args, io.err, cancel).await?;
            done(io.out, &args.sign_in, &now, "Switched to")?;
        }
        OrgCommand::Create(args) => {
            let now = create(auth, args, io.err, cancel).await?;
            done(io.out, &args.sign_in, &now, "Created and switched to")?;
        }
    }
    Ok(Exit::Success)
}

/// Signs in to `args.code`. A refusal for an organisation the person is not in says so, and
/// the session stays as it was.
async fn switch(
    auth: &Auth,
    args: &OrgSwitchArgs,
    err: &mut dyn Write,
    cancel: impl Future<Output = ()>,
) -> Result<Organization, CliError> {
    let me = auth.identity().await?;
    let options = SignInOptions {
        org_code: Some(args.code.clone()),
        login_hint: me.email,
        silent: true,
        ..SignInOptions::default()
    };
    match sign_in(auth, &options, &args.sign_in, err, cancel).await {
        Err(CliError::Auth(AuthError::Denied)) => {
            let organizations = auth.organizations().await?;
            if organizations.iter().any(|o| o.code == args.code) {
                return Err(AuthError::Denied.into());
            }
            Err(CliError::NotAMember {
                code: args.code.clone(),
                current: organizations.iter().find(|o| o.current).map(label),
            })
        }
        other => other,
    }
}

/// Creates `args.name` and signs in to it.
async fn create(
    auth: &Auth,
    args: &OrgCreateArgs,
    err: &mut dyn Write,
    cancel: impl Future<Output = ()>,
) -> Result<Organization, CliError> {
    let me = auth.identity().await?;
    let options = SignInOptions {
        create_org: Some(args.name.clone()),
        login_hint: me.email,
        silent: true,
        ..SignInOptions::default()
    };
    sign_in(auth, &options, &args.sign_in, err, cancel).await
}

/// The sign-in `options` ask for, then the organisation the new session is signed in to.
async fn sign_in(
    auth: &Auth,
    options: &SignInOptions,
    args: &OrgSignInArgs,
    err: &mut dyn Write,
    cancel: impl Future<Output = ()>,
) -> Result<Organization, CliError> {
    // Only the desktop app is registered for its scheme; the CLI would wait for nothing.
    if !auth.config.redirect_is_loopback() {
        return Err(CliError::LoopbackRequired {
            redirect: auth.config.redirect.to_string(),
        });
    }
    let open_browser = !args.no_browser;
    let mut asked = 0;
    // The terminal may be gone; the sign-in goes on regardless.
    let show = |url: &Url| {
        asked += 1;
        let _ = prompt(err, url, asked, open_browser);
    };
    auth.sign_in(
        options,
        open_browser,
        Duration::from_secs(args.timeout),
        show,
        cancel,
    )
    .await?;
    let organizations = auth.organizations().await?;
    organizations
        .into_iter()
        .find(|o| o.current)
        .ok_or_else(|| {
            AuthError::SignInAgain(
                "the sign-in service signed you in to no organization; run `kinvex login`".into(),
            )
            .into()
        })
}

/// What to do with the `asked`th address: the first is the silent attempt, a second the page.
fn prompt(err: &mut dyn Write, url: &Url, asked: usize, open_browser: bool) -> std::io::Result<()> {
    if asked > 1 {
        writeln!(err, "Your browser is not signed in: sign in on the page.")?;
    }
    if open_browser {
        writeln!(
            err,
            "Opening your browser. If it does not open, visit:\n\n  {url}\n"
        )?;
    } else {
        writeln!(err, "Open this address in a browser:\n\n  {url}\n")?;
    }
    writeln!(err, "Waiting for the browser (Ctrl+C to cancel)...")
}

/// "Name (code)", or the code alone when it has no name.
fn label(organization: &Organization) -> String {
    match &organization.name {
        Some(name) => format!("{name} ({})", organization.code),
        None => organization.code.clone(),
    }
}

fn done(
    out: &mut dyn Write,
    args: &OrgSignInArgs,
    now: &Organization,
    what: &str,
) -> Result<(), CliError> {
    if args.json {
        write_json(out, &to_json(now))
    } else {
        writeln!(out, "{what} {}.", escape::line(&label(now)))?;
        Ok(())
    }
}

/// One organisation for `--json`: every key always there, `name` null when unknown.
fn to_json(organization: &Organization) -> Value {
    json!({
        "code": organization.code,
        "name": organization.name,
        "current": organization.current,
    })
}

/// One line each: `*` for the current one, the name (or `(no name)`), the code.
fn list(out: &mut dyn Write, organizations: &[Organization]) -> std::io::Result<()> {
    if organizations.is_empty() {
        return writeln!(out, "You are in no organization.");
    }
    let names: Vec<String> = organizations
        .iter()
        .map(|o| escape::line(o.name.as_deref().unwrap_or("(no name)")).into_owned())
        .collect();
    let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    for (organization, name) in organizations.iter().zip(&names) {
        let mark = if organization.current { '*' } else { ' ' };
        let pad = width - name.chars().count();
        writeln!(
            out,
            "{mark} {name}{:pad$}  {}",
            "",
            escape::line(&organization.code)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(code: &str, name: Option<&str>, current: bool) -> Organization {
        Organization {
            code: code.into(),
            name: name.map(str::to_string),
            current,
        }
    }

    fn listed(organizations: &[Organization]) -> String {
        let mut out = Vec::new();
        list(&mut out, organizations).expect("written");
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn the_list_marks_the_current_one_and_aligns_the_codes() {
        let shown = listed(&[
            org("org_kinvex_demo", Some("Northwind Studio"), true),
            org("org_kinvex_default", Some("Kinvex"), false),
            org("org_0123", None, false),
        ]);
        assert_eq!(
            shown,
            "* Northwind Studio  org_kinvex_demo\n  Kinvex            org_kinvex_default\n  (no name)         org_0123\n"
        );
        assert_eq!(listed(&[]), "You are in no organization.\n");
    }

    #[test]
    fn a_name_from_the_provider_cannot_fake_a_line() {
        let shown = listed(&[org("org_a", Some("Evil\n* Admins\u{1b}[2J"), false)]);
        assert_eq!(shown.lines().count(), 1, "{shown}");
        assert!(shown.contains("Evil\\n* Admins\\x1b[2J"), "{shown}");
    }

    #[test]
    fn the_second_address_says_why_a_page_opens() {
        let url = Url::parse("https://kinvex-test.kinde.com/oauth2/auth?state=s").expect("url");
        let mut err = Vec::new();
        prompt(&mut err, &url, 1, true).expect("written");
        let first = String::from_utf8(std::mem::take(&mut err)).expect("UTF-8");
        assert!(!first.contains("not signed in"), "{first}");
        prompt(&mut err, &url, 2, false).expect("written");
        let second = String::from_utf8(err).expect("UTF-8");
        assert!(
            second.starts_with("Your browser is not signed in: sign in on the page.\n"),
            "{second}"
        );
        assert!(second.contains(url.as_str()), "{second}");
    }

    #[test]
    fn json_has_every_key() {
        assert_eq!(
            to_json(&org("org_a", None, true)),
            json!({ "code": "org_a", "name": null, "current": true })
        );
    }
}
