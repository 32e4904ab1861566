//! The CLI's one error type: every failure a command can end with, each with the stable code
//! printed in brackets (the sign-in core's and the backend's own codes pass through unchanged)
//! and the exit code it ends the process with.

use crate::colour::error_prefix;
use crate::escape;
use crate::exit::Exit;
use kinvex_auth::AuthError;
use kinvex_auth::config::{ConfigError, DEFAULT_REDIRECT};
use kinvex_auth::http::HttpError;
use kinvex_convex::ConvexError;
use std::io::{self, Write};
use std::path::PathBuf;

#[derive(Debug)]
pub enum CliError {
    /// A setting is missing or malformed.
    Config(ConfigError),
    /// `KINDE_REDIRECT_URL` is the desktop app's scheme, which only the app can receive.
    LoopbackRequired {
        redirect: String,
    },
    Auth(AuthError),
    Convex(ConvexError),
    /// The HTTP client could not be built (unusable proxy settings or TLS library).
    HttpClient(HttpError),
    /// The async runtime could not start.
    Runtime(io::Error),
    /// Standard output could not be written.
    Output(io::Error),
    /// `download`/`rm ID|NAME`: none of the person's files has that id or name.
    NoSuchFile {
        query: String,
    },
    /// Several of the person's files have that name: their ids and creation dates.
    AmbiguousName {
        name: String,
        files: Vec<(String, String)>,
    },
    /// `download` would replace a file without `--force`.
    DestinationExists {
        path: PathBuf,
    },
    /// The file's name cannot be a file name here (`..`, a path separator), so `-o` must say.
    NeedsOutput {
        name: String,
    },
    /// `upload`: some of the files were not uploaded (each one's error was printed).
    UploadsFailed {
        failed: usize,
        total: usize,
    },
    /// `org switch CODE`: the provider refused, and CODE is not one of the person's
    /// organisations; the session is unchanged (`current` is the one still signed in to).
    NotAMember {
        code: String,
        current: Option<String>,
    },
    /// `switch`/`logout --account EMAIL|ID`: no account has that email or id.
    NoSuchAccount {
        query: String,
    },
    /// Several accounts have that email (on other tenants): each as `who (id) on issuer`.
    AmbiguousAccount {
        query: String,
        accounts: Vec<String>,
    },
    /// `switch` to an account on another tenant than the configured one: the settings to use.
    AccountOnOtherTenant {
        query: String,
        issuer: String,
        client_id: String,
    },
}

impl CliError {
    /// A stable identifier for this kind of failure (the README lists them all).
    pub fn code(&self) -> &'static str {
        match self {
            CliError::Config(_) | CliError::LoopbackRequired { .. } => "config",
            CliError::Auth(e) => e.code(),
            CliError::Convex(e) => e.code(),
            CliError::HttpClient(_) => "http_client",
            CliError::Runtime(_) => "runtime",
            CliError::Output(_) => "output",
            CliError::NoSuchFile { .. } => "no_such_file",
            CliError::AmbiguousName { .. } => "ambiguous_name",
            CliError::DestinationExists { .. } => "destination_exists",
            CliError::NeedsOutput { .. } => "needs_output",
            CliError::UploadsFailed { .. } => "upload_failed",
            CliError::NotAMember { .. } => "not_a_member",
            CliError::NoSuchAccount { .. } => "no_such_account",
            CliError::AmbiguousAccount { .. } => "ambiguous_account",
            CliError::AccountOnOtherTenant { .. } => "account_on_other_tenant",
        }
    }

    /// A setting to fix is a usage error, wherever it was found; everything else a failure.
    pub fn exit(&self) -> Exit {
        match self.code() {
            "config" => Exit::Usage,
            _ => Exit::Failure,
        }
    }

    /// The reader stopped reading (`kinvex files | head`): they have what they wanted.
    pub fn is_closed_output(&self) -> bool {
        matches!(self, CliError::Output(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }

    /// Prints `error: <message> [<code>]` on one line. The message is escaped because parts of
    /// it (a provider's `error_description`, a Convex function's path) come from a server.
    pub fn report(&self, err: &mut dyn Write, colour: bool) -> io::Result<()> {
        writeln!(
            err,
            "{} {} [{}]",
            error_prefix(colour),
            escape::line(&self.to_string()),
            self.code()
        )
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::Config(e) => e.fmt(f),
            CliError::LoopbackRequired { redirect } => write!(
                f,
                "KINDE_REDIRECT_URL={redirect} is the desktop app's scheme; the CLI signs in through a loopback callback. Set KINDE_REDIRECT_URL={DEFAULT_REDIRECT} (allow-listed with Kinde) for the CLI."
            ),
            CliError::Auth(e) => e.fmt(f),
            CliError::Convex(e) => e.fmt(f),
            CliError::HttpClient(e) => write!(f, "Cannot set up the HTTP client: {e}"),
            CliError::Runtime(e) => write!(f, "Cannot start: {e}"),
            CliError::Output(e) => write!(f, "Cannot write the output: {e}"),
            CliError::NoSuchFile { query } => write!(
                f,
                "None of your files has the id or name {query:?}. See them with `kinvex files`."
            ),
            CliError::AmbiguousName { name, files } => {
                let listed: Vec<String> = files
                    .iter()
                    .map(|(id, date)| format!("{id} (created {date})"))
                    .collect();
                write!(
                    f,
                    "{} of your files are named {name:?}: {}. Give the id of the one you mean.",
                    files.len(),
                    listed.join(", ")
                )
            }
            CliError::DestinationExists { path } => write!(
                f,
                "{} already exists; nothing was downloaded. Pass --force to replace it, or -o PATH to write elsewhere.",
                path.display()
            ),
            CliError::NeedsOutput { name } => write!(
                f,
                "The file's name {name:?} cannot be used as a file name here; nothing was downloaded. Give one with -o PATH."
            ),
            CliError::UploadsFailed { failed, total } => write!(
                f,
                "{failed} of {total} files were not uploaded (each one's error is above); the others were. Fix what each error says and upload those again."
            ),
            CliError::NotAMember { code, current } => write!(
                f,
                "You are not a member of the organization {code:?}, so you cannot switch to it. You are still signed in{}. See your organizations with `kinvex org list`.",
                current
                    .as_ref()
                    .map(|c| format!(" to {c}"))
                    .unwrap_or_default()
            ),
            CliError::NoSuchAccount { query } => write!(
                f,
                "None of your accounts has the email or id {query:?}. See them with `kinvex accounts`, or add one with `kinvex login --force`."
            ),
            CliError::AmbiguousAccount { query, accounts } => write!(
                f,
                "{} of your accounts match {query:?}: {}. Give the id of the one you mean.",
                accounts.len(),
                accounts.join(", ")
            ),
            CliError::AccountOnOtherTenant {
                query,
                issuer,
                client_id,
            } => write!(
                f,
                "The account {query:?} is signed in on another tenant, {issuer}; the CLI uses one tenant at a time. Run it with KINDE_ISSUER_URL={issuer} KINDE_CLIENT_ID={client_id} (and that tenant's CONVEX_URL), then `kinvex switch {query}`."
            ),
        }
    }
}

impl std::error::Error for CliError {}

impl From<ConfigError> for CliError {
    fn from(e: ConfigError) -> Self {
        CliError::Config(e)
    }
}

impl From<AuthError> for CliError {
    fn from(e: AuthError) -> Self {
        CliError::Auth(e)
    }
}

impl From<ConvexError> for CliError {
    fn from(e: ConvexError) -> Self {
        CliError::Convex(e)
    }
}

impl From<io::Error> for CliError {
    fn from(e: io::Error) -> Self {
        CliError::Output(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reported(error: &CliError) -> String {
        let mut err = Vec::new();
        error.report(&mut err, false).expect("written");
        String::from_utf8(err).expect("UTF-8")
    }

    #[test]
    fn an_error_is_one_line_ending_with_its_code() {
        let denied = CliError::Auth(AuthError::Denied);
        assert_eq!(
            reported(&denied),
            "error: Sign-in was cancelled in the browser. [access_denied]\n"
        );
        assert_eq!(denied.exit(), Exit::Failure);
    }

    #[test]
    fn a_server_cannot_move_the_cursor_or_add_lines_through_an_error() {
        let hostile = CliError::Auth(AuthError::Provider {
            error: "invalid_request".into(),
            description: Some("bad\u{1b}[2J\nerror: fake line".into()),
        });
        let shown = reported(&hostile);
        assert_eq!(shown.lines().count(), 1, "{shown}");
        assert!(!shown.contains('\u{1b}'), "{shown}");
        assert!(shown.contains("bad\\x1b[2J\\nerror: fake line"), "{shown}");
        assert!(shown.ends_with("[provider_error]\n"), "{shown}");

        let function = CliError::Convex(ConvexError::Function {
            function: "files:list\r\u{9b}31m".into(),
            message: "[Request ID: 1] Server Error\nUncaught\r\u{9b}31m".into(),
            data: None,
        });
        let shown = reported(&function);
        assert_eq!(shown.lines().count(), 1, "{shown}");
        assert!(shown.contains("`files:list\\r\\u{9b}31m`"), "{shown}");
        assert!(
            !shown.contains("Request ID"),
            "the server's text is never shown: {shown}"
        );
        assert!(shown.ends_with("[function_error]\n"), "{shown}");
    }

    #[test]
    fn settings_to_fix_are_usage_errors_and_the_rest_failures() {
        let missing = CliError::Config(ConfigError::Missing {
            var: "KINDE_CLIENT_ID",
            example: "abc",
        });
        assert_eq!((missing.code(), missing.exit()), ("config", Exit::Usage));
        let scheme = CliError::LoopbackRequired {
            redirect: "dev.kinvex.desktop:/callback".into(),
        };
        assert_eq!((scheme.code(), scheme.exit()), ("config", Exit::Usage));
        assert!(reported(&scheme).contains("KINDE_REDIRECT_URL=http://127.0.0.1:53180/callback"));
        let no_convex = CliError::Convex(ConvexError::NotConfigured);
        assert_eq!(
            (no_convex.code(), no_convex.exit()),
            ("config", Exit::Usage)
        );
        let keychain = CliError::Auth(AuthError::KeychainUnavailable {
            detail: "no D-Bus".into(),
        });
        assert_eq!(
            (keychain.code(), keychain.exit()),
            ("keychain_unavailable", Exit::Failure)
        );
    }

    #[test]
    fn an_ambiguous_name_lists_each_file_on_one_escaped_line() {
        let ambiguous = CliError::AmbiguousName {
            name: "notes\n.txt".into(),
            files: vec![
                ("id1".into(), "2024-03-01".into()),
                ("id2".into(), "2024-03-02".into()),
            ],
        };
        let shown = reported(&ambiguous);
        assert_eq!(shown.lines().count(), 1, "{shown}");
        assert!(
            shown.contains("2 of your files are named \"notes\\n.txt\": id1 (created 2024-03-01), id2 (created 2024-03-02)"),
            "{shown}"
        );
        assert!(shown.ends_with("[ambiguous_name]\n"), "{shown}");
        assert_eq!(ambiguous.exit(), Exit::Failure);
    }

    #[test]
    fn account_errors_say_what_to_do_on_one_line() {
        let other = CliError::AccountOnOtherTenant {
            query: "dana@example.com".into(),
            issuer: "https://b.kinde.com".into(),
            client_id: "cli-b".into(),
        };
        let shown = reported(&other);
        assert!(
            shown.contains("KINDE_ISSUER_URL=https://b.kinde.com KINDE_CLIENT_ID=cli-b"),
            "{shown}"
        );
        assert!(shown.ends_with("[account_on_other_tenant]\n"), "{shown}");
        let none = CliError::NoSuchAccount {
            query: "x\ny".into(),
        };
        let shown = reported(&none);
        assert_eq!(shown.lines().count(), 1, "{shown}");
        assert!(shown.contains("kinvex accounts"), "{shown}");
        assert_eq!(none.exit(), Exit::Failure);
    }

    #[test]
    fn a_closed_pipe_is_recognised() {
        let closed = CliError::Output(io::Error::from(io::ErrorKind::BrokenPipe));
        assert!(closed.is_closed_output());
        assert!(!CliError::Output(io::Error::other("disk full")).is_closed_output());
    }
}
