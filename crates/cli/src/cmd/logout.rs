//! `kinvex logout`: revokes the session, removes it from the keychain, and ends the browser's
//! session (or says where to, with `--no-browser`).

use super::{Io, storage, stored_in, write_json};
use crate::cli::LogoutArgs;
use crate::error::CliError;
use crate::exit::Exit;
use kinvex_auth::Auth;
use kinvex_auth::token_store::Location;
use serde_json::{Value, json};
use std::io::Write;
use url::Url;

pub async fn run(auth: &Auth, args: &LogoutArgs, io: &mut Io<'_>) -> Result<Exit, CliError> {
    let open_browser = !args.no_browser;
    let end_session = auth.sign_out(open_browser).await?;
    let location = auth.location();
    if args.json {
        write_json(io.out, &to_json(&location, &end_session))?;
    } else {
        writeln!(
            io.out,
            "Signed out. Nothing of the session is left in {}.",
            stored_in(&location)
        )?;
    }
    // A hint only: signed out either way.
    let _ = hint(io.err, &end_session, open_browser);
    Ok(Exit::Success)
}

fn hint(err: &mut dyn Write, end_session: &Url, open_browser: bool) -> std::io::Result<()> {
    if open_browser {
        writeln!(err, "Ending the browser's session at {end_session}")
    } else {
        writeln!(err, "To end the browser's session too, visit {end_session}")
    }
}

/// `logout --json`: signed out, where the session was, and the provider's end-session address
/// (to open when `--no-browser` was given).
fn to_json(location: &Location, end_session: &Url) -> Value {
    json!({
        "signed_in": false,
        "storage": storage(location),
        "end_session_url": end_session.as_str(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_names_the_end_session_address() {
        let url = Url::parse("https://kinvex-test.kinde.com/logout?redirect=x").expect("url");
        assert_eq!(
            to_json(&Location::Keychain, &url),
            json!({
                "signed_in": false,
                "storage": { "kind": "keychain", "path": null },
                "end_session_url": "https://kinvex-test.kinde.com/logout?redirect=x",
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
