//! `kinvex logout [--account EMAIL|ID | --all]`: revokes a session, removes it from the
//! keychain, and ends the browser's session (or says where to, with `--no-browser`). Without a
//! flag, the active account of the configured tenant; the others stay signed in, and none is
//! made active in its place.

use super::accounts::{find, to_json as account_json};
use super::{Io, storage, stored_in, write_json};
use crate::cli::LogoutArgs;
use crate::error::CliError;
use crate::exit::Exit;
use crate::human::who;
use kinvex_auth::token_store::Location;
use kinvex_auth::{Account, Auth};
use serde_json::{Value, json};
use std::io::Write;
use url::Url;

pub async fn run(auth: &Auth, args: &LogoutArgs, io: &mut Io<'_>) -> Result<Exit, CliError> {
    let accounts = auth.accounts().await?;
    let chosen = args.all || args.account.is_some();
    let targets: Vec<Account> = match &args.account {
        Some(query) => vec![find(auth, &accounts, query)?.clone()],
        None if args.all => accounts.clone(),
        None => accounts
            .iter()
            .filter(|a| a.active && auth.is_here(a))
            .cloned()
            .collect(),
    };
    for account in &targets {
        auth.sign_out_account(account).await?;
    }
    // The provider's session in the browser would sign an account of this tenant straight back
    // in at the next `login`: it is ended whenever one is signed out (and by a plain `logout`).
    let ends = !chosen || targets.iter().any(|a| auth.is_here(a));
    let open_browser = !args.no_browser && ends;
    let end_session = auth.end_session(open_browser).await;
    let location = auth.location();
    if args.json {
        let here: Vec<Value> = targets
            .iter()
            .map(|a| account_json(a, auth.is_here(a)))
            .collect();
        write_json(io.out, &to_json(&location, &end_session, here))?;
    } else if chosen {
        for account in &targets {
            writeln!(
                io.out,
                "Signed out {}.",
                who(
                    account.name.as_deref(),
                    account.email.as_deref(),
                    &account.subject
                )
            )?;
        }
        writeln!(
            io.out,
            "Nothing of {} is left in {}.",
            if targets.len() == 1 {
                "its session"
            } else {
                "their sessions"
            },
            stored_in(&location)
        )?;
    } else {
        writeln!(
            io.out,
            "Signed out. Nothing of the session is left in {}.",
            stored_in(&location)
        )?;
    }
    // Hints only: signed out either way.
    if ends {
        let _ = hint(io.err, &end_session, open_browser);
    }
    let others_here = accounts
        .iter()
        .filter(|a| auth.is_here(a) && !targets.iter().any(|t| t.subject == a.subject))
        .count();
    if others_here > 0 && targets.iter().any(|a| a.active && auth.is_here(a)) {
        let _ = writeln!(
            io.err,
            "Your other accounts here stay signed in; make one active with `kinvex switch EMAIL|ID` (see `kinvex accounts`)."
        );
    }
    Ok(Exit::Success)
}

fn hint(err: &mut dyn Write, end_session: &Url, open_browser: bool) -> std::io::Result<()> {
    if open_browser {
        writeln!(err, "Ending the browser's session at {end_session}")
    } else {
        writeln!(err, "To end the browser's session too, visit {end_session}")
    }
}

/// `logout --json`: signed out, where the sessions were, the provider's end-session address
/// (to open when `--no-browser` was given), and the accounts signed out, as `accounts` lists them.
fn to_json(location: &Location, end_session: &Url, accounts: Vec<Value>) -> Value {
    json!({
        "signed_in": false,
        "storage": storage(location),
        "end_session_url": end_session.as_str(),
        "accounts": accounts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_names_the_end_session_address() {
        let url = Url::parse("https://kinvex-test.kinde.com/logout?redirect=x").expect("url");
        assert_eq!(
            to_json(&Location::Keychain, &url, Vec::new()),
            json!({
                "signed_in": false,
                "storage": { "kind": "keychain", "path": null },
                "end_session_url": "https://kinvex-test.kinde.com/logout?redirect=x",
                "accounts": [],
            })
        );
    }

    #[test]
    fn the_hint_says_whether_the_browser_was_asked() {
        let url = Url::parse("https://kinvex-test.kinde.com/logout").expect("url");
        let mut err = Vec::new();
        hint(&mut err, &url, true).expect("written");
        hint(&mut err, &url, false).expect("written");
        assert_eq!(
            String::from_utf8(err).expect("UTF-8"),
            format!(
                "Ending the browser's session at {url}\nTo end the browser's session too, visit {url}\n"
            )
        );
    }
}
