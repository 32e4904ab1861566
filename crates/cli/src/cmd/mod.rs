//! The commands, a module each (as `gh` keeps a package per command). Each writes only to the
//! streams it is handed, so a test reads what it printed; the ones that sign in or read data get
//! the sign-in core and an async runtime, built here for them alone.

pub mod accounts;
mod bar;
pub mod completion;
pub mod doctor;
pub mod download;
pub mod files;
pub mod login;
pub mod logout;
pub mod org;
mod resolve;
pub mod rm;
pub mod status;
pub mod upload;
mod watch;
pub mod whoami;

use crate::cli::Command;
use crate::error::CliError;
use crate::escape;
use crate::exit::Exit;
use crate::setup;
use kinvex_auth::Auth;
use kinvex_auth::token_store::Location;
use kinvex_clock::Clock;
use serde_json::{Value, json};
use std::io::Write;
use std::sync::Arc;

/// Where a command writes: its result to `out`, progress and hints to `err`.
pub struct Io<'a> {
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
}

pub fn run(command: Command, clock: &dyn Clock, io: &mut Io<'_>) -> Result<Exit, CliError> {
    let exit = match command {
        Command::Completion(args) => completion::run(&args, io)?,
        Command::Login(args) => {
            with_auth(async |auth| login::run(auth, &args, io, interrupted()).await)?
        }
        Command::Status(args) => with_auth(async |auth| status::run(auth, &args, clock, io).await)?,
        Command::Logout(args) => with_auth(async |auth| logout::run(auth, &args, io).await)?,
        Command::Accounts(args) => with_auth(async |auth| accounts::list(auth, &args, io).await)?,
        Command::Switch(args) => with_auth(async |auth| accounts::switch(auth, &args, io).await)?,
        Command::Whoami(args) => with_auth(async |auth| whoami::run(auth, &args, io).await)?,
        Command::Files(args) => with_auth(async |auth| files::run(auth, &args, io).await)?,
        Command::Upload(args) => with_auth(async |auth| upload::run(auth, &args, io).await)?,
        Command::Download(args) => with_auth(async |auth| download::run(auth, &args, io).await)?,
        Command::Rm(args) => with_auth(async |auth| rm::run(auth, &args, io).await)?,
        Command::Org(command) => {
            with_auth(async |auth| org::run(auth, &command, io, interrupted()).await)?
        }
        Command::Doctor(args) => with_auth(async |auth| {
            let inputs = kinvex_doctor::Inputs::new(auth);
            doctor::run(inputs, &args, doctor::Marks::detect(), io).await
        })?,
    };
    io.out.flush()?;
    Ok(exit)
}

/// Shared, because a `--watch` command's live connection keeps the session for its lifetime.
fn with_auth(
    command: impl AsyncFnOnce(&Arc<Auth>) -> Result<Exit, CliError>,
) -> Result<Exit, CliError> {
    let auth = Arc::new(setup::auth()?);
    on_runtime(async {
        let result = command(&auth).await;
        // A session renewed during the command is written to the keychain before exiting
        // (for at most the keychain's bound).
        auth.flush().await;
        result
    })?
}

/// Runs `work` on a runtime of its own, then shuts that down without waiting for blocking calls
/// still under way. A keychain call that did not answer within its bound is left behind on one
/// of the runtime's threads; waiting for it, as dropping the runtime does, would keep the
/// process running after its error has been reported.
fn on_runtime<T>(work: impl Future<Output = T>) -> Result<T, CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    let outcome = runtime.block_on(work);
    runtime.shutdown_background();
    Ok(outcome)
}

async fn interrupted() {
    let _ = tokio::signal::ctrl_c().await;
}

/// Prints one JSON document, pretty, with a final newline, and nothing a terminal would obey.
pub fn write_json(out: &mut dyn Write, value: &Value) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value).map_err(std::io::Error::from)?;
    writeln!(out, "{}", escape::json(&text))?;
    Ok(())
}

/// Where the tokens are, for JSON: `{"kind": "keychain" | "plaintext_file" | "memory", "path"}`.
pub fn storage(location: &Location) -> Value {
    match location {
        Location::Keychain => json!({ "kind": "keychain", "path": null }),
        Location::PlaintextFile(path) => {
            json!({ "kind": "plaintext_file", "path": path.to_string_lossy() })
        }
        Location::Memory => json!({ "kind": "memory", "path": null }),
    }
}

/// Where the tokens are, for a person.
pub fn stored_in(location: &Location) -> String {
    escape::line(&location.to_string()).into_owned()
}

#[cfg(test)]
pub mod testing {
    //! A sign-in core on memory, for the commands' tests: no keychain, no network.

    use kinvex_auth::browser::SystemBrowser;
    use kinvex_auth::config::Sources;
    use kinvex_auth::http::HttpClient;
    use kinvex_auth::token_store::{Memory, SecretStore};
    use kinvex_auth::{Auth, Config, Secret, TokenSet, TokenStore};
    use std::sync::Arc;

    pub const ISSUER: &str = "https://kinvex-test.kinde.com";

    pub fn tokens(expires_at: i64) -> TokenSet {
        TokenSet {
            access_token: Secret::new("access".into()),
            id_token: Secret::new("id".into()),
            refresh_token: Some(Secret::new("refresh".into())),
            access_expires_at: expires_at + 60,
            id_expires_at: expires_at,
            subject: "kp_dana".into(),
            email: Some("demo@kinvex.dev".into()),
            name: Some("Dana Demo".into()),
            organization: None,
            id_token_on_refresh: None,
        }
    }

    fn config() -> Config {
        let sources =
            Sources::from_pairs([("KINDE_ISSUER_URL", ISSUER), ("KINDE_CLIENT_ID", "cli")]);
        Config::from_sources(&sources).expect("config")
    }

    /// An [`Auth`] whose store holds `session`, if any.
    pub fn auth(session: Option<TokenSet>) -> Auth {
        let store = TokenStore::new(Box::new(Memory::default()), ISSUER, "cli");
        if let Some(tokens) = session {
            store.save(&tokens).expect("saved");
        }
        over(store)
    }

    /// An [`Auth`] over `secrets`, standing for the keychain.
    pub fn auth_over(secrets: Box<dyn SecretStore>) -> Auth {
        over(TokenStore::new(secrets, ISSUER, "cli"))
    }

    fn over(store: TokenStore) -> Auth {
        let http = HttpClient::new().expect("http client");
        Auth::new(config(), http, store, Arc::new(SystemBrowser))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kinvex_auth::token_store::{Fault, SecretStore};
    use std::path::PathBuf;
    use std::sync::{Mutex, mpsc};
    use std::time::Duration;

    #[test]
    fn storage_is_named_for_scripts() {
        assert_eq!(
            storage(&Location::Keychain),
            json!({ "kind": "keychain", "path": null })
        );
        assert_eq!(
            storage(&Location::PlaintextFile(PathBuf::from(
                "/home/d/.local/share/kinvex/tokens.json"
            ))),
            json!({ "kind": "plaintext_file", "path": "/home/d/.local/share/kinvex/tokens.json" })
        );
        assert_eq!(
            storage(&Location::Memory),
            json!({ "kind": "memory", "path": null })
        );
    }

    /// A keychain whose calls do not return until the test ends, like a D-Bus that accepts a
    /// connection and never answers.
    struct Silent(Mutex<mpsc::Receiver<()>>);

    impl SecretStore for Silent {
        fn get(&self, _: &str) -> Result<Option<String>, Fault> {
            let end = self.0.lock().unwrap_or_else(|p| p.into_inner());
            let _ = end.recv_timeout(Duration::from_secs(60));
            Ok(None)
        }
        fn set(&self, _: &str, _: &str) -> Result<(), Fault> {
            Ok(())
        }
        fn delete(&self, _: &str) -> Result<(), Fault> {
            Ok(())
        }
        fn location(&self) -> Location {
            Location::Keychain
        }
    }

    #[test]
    fn a_keychain_call_that_never_answers_does_not_keep_the_command_running() {
        let (end, silent) = mpsc::channel::<()>();
        let auth = testing::auth_over(Box::new(Silent(Mutex::new(silent))))
            .with_keychain_timeout(Duration::from_millis(100));

        // On a thread of its own, so that a runtime waiting for the call fails the test rather
        // than hanging it.
        let (done, finished) = mpsc::channel();
        std::thread::spawn(move || {
            let status = on_runtime(async {
                let status = auth.status().await;
                auth.flush().await;
                status
            });
            let _ = done.send(status.map(|s| s.map_err(|e| e.code())));
        });
        let returned = finished.recv_timeout(Duration::from_secs(10));
        drop(end);
        match returned {
            Ok(Ok(Err(code))) => assert_eq!(code, "keychain_unavailable"),
            Ok(other) => panic!("the keychain answered: {other:?}"),
            Err(_) => panic!("still running 10 s after the keychain's 0.1 s bound"),
        }
    }

    #[test]
    fn json_is_one_pretty_document_with_a_newline() {
        let mut out = Vec::new();
        write_json(&mut out, &json!({ "name": "x\u{9b}y" })).expect("written");
        let text = String::from_utf8(out).expect("UTF-8");
        assert_eq!(text, "{\n  \"name\": \"x\\u009by\"\n}\n");
    }
}
