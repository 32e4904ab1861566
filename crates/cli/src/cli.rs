//! The command line as clap parses it: each command with its own flags. Parsing touches nothing
//! else, so `--help`, `help CMD` and `--version` work with no settings at all.
//!
//! One file: the command line is one clap definition, and its tests parse that whole definition
//! (flags belong to their own command, help lists every command); split, each part would be
//! checked only against itself.

use crate::colour::Colours;
use crate::exit::Exit;
use clap::builder::StyledStr;
use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::Shell;
use kinvex_auth::session::SIGN_IN_TIMEOUT;
use kinvex_convex::data::Order;
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

const SETTINGS: &str = "\
Settings come from the environment or .env: KINDE_ISSUER_URL, KINDE_CLIENT_ID, KINDE_AUDIENCE,
KINDE_REDIRECT_URL, KINDE_REDIRECT_FALLBACK_PORTS, KINDE_LOGOUT_REDIRECT_URL, KINDE_SCOPES,
CONVEX_URL.

Exit codes: 0 success, 1 failure (not signed in, for `status`; a check failed, for `doctor`),
2 usage or settings error.";

const COMPLETION_EXAMPLES: &str = "\
Examples:
  kinvex completion bash > ~/.local/share/bash-completion/completions/kinvex
  kinvex completion zsh > \"${fpath[1]}/_kinvex\"
  kinvex completion fish > ~/.config/fish/completions/kinvex.fish
  kinvex completion powershell >> $PROFILE";

/// Sign in to Kinde from the terminal and use your Convex data
#[derive(Debug, Parser)]
#[command(name = "kinvex", version, arg_required_else_help = true, after_help = SETTINGS)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sign in through your browser
    Login(LoginArgs),
    /// Show who is signed in, until when, and where the tokens are kept
    Status(StatusArgs),
    /// Revoke the session, remove it from the keychain, end the browser session
    Logout(LogoutArgs),
    /// List the accounts you are signed in with, the active one marked with *
    Accounts(AccountsArgs),
    /// Make another of your accounts active (no browser while its session is valid)
    Switch(SwitchArgs),
    /// Your profile from the backend, merged with your sign-in
    Whoami(WhoamiArgs),
    /// Your files from the backend, newest first (or --sort), all or those --search finds
    Files(FilesArgs),
    /// Upload files to your storage, each under its own name
    Upload(UploadArgs),
    /// Download one of your files, by id or name
    Download(DownloadArgs),
    /// Delete one of your files, by id or name
    Rm(RmArgs),
    /// Your organizations: list them, switch to one, create one
    #[command(subcommand)]
    Org(OrgCommand),
    /// Check each hop from your settings to the backend, and say what to fix
    Doctor(DoctorArgs),
    /// Print a shell completion script to standard output
    #[command(after_help = COMPLETION_EXAMPLES)]
    Completion(CompletionArgs),
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Create an account instead (Kinde's registration screen)
    #[arg(long)]
    pub register: bool,
    /// Sign in to this organization
    #[arg(long, value_name = "CODE")]
    pub org: Option<String>,
    /// Prefill the email on the sign-in page
    #[arg(long, value_name = "TEXT")]
    pub login_hint: Option<String>,
    /// Show the sign-in page even if the browser is signed in
    #[arg(long)]
    pub force: bool,
    /// Do not open a browser; only print the address
    #[arg(long)]
    pub no_browser: bool,
    /// Give up after this long
    #[arg(long, value_name = "SECONDS", default_value_t = SIGN_IN_TIMEOUT.as_secs())]
    pub timeout: u64,
    /// Print who signed in as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print the session as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// Sign out only this account, by its email or id (see `kinvex accounts`)
    #[arg(long, value_name = "EMAIL|ID", value_parser = not_blank, conflicts_with = "all")]
    pub account: Option<String>,
    /// Sign out every account, on every tenant
    #[arg(long)]
    pub all: bool,
    /// Do not open the browser to end its session
    #[arg(long)]
    pub no_browser: bool,
    /// Print the outcome as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AccountsArgs {
    /// Print the accounts as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SwitchArgs {
    /// The account's email or id (see `kinvex accounts`)
    #[arg(value_name = "EMAIL|ID", value_parser = not_blank)]
    pub account: String,
    /// Print the session now active as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct WhoamiArgs {
    /// Print the profile as JSON
    #[arg(long)]
    pub json: bool,
    /// Keep printing the profile each time it changes, until Ctrl+C (with --json, one object a line)
    #[arg(long)]
    pub watch: bool,
}

#[derive(Debug, Args)]
pub struct FilesArgs {
    /// Show at most N
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = positive)]
    pub limit: usize,
    /// The order: newest or oldest first, by name (A to Z, capitals first), or largest first
    #[arg(long, value_enum, value_name = "ORDER", default_value_t = Sort::Newest)]
    pub sort: Sort,
    /// Only the files whose name contains TEXT, ignoring case
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,
    /// Print the files as JSON
    #[arg(long)]
    pub json: bool,
    /// Keep printing the first page each time it changes, until Ctrl+C (with --json, one object a line)
    #[arg(long)]
    pub watch: bool,
}

/// `files --sort`: the orders the backend's `files:list` offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Sort {
    Newest,
    Oldest,
    Name,
    Size,
}

impl From<Sort> for Order {
    fn from(sort: Sort) -> Order {
        match sort {
            Sort::Newest => Order::Newest,
            Sort::Oldest => Order::Oldest,
            Sort::Name => Order::Name,
            Sort::Size => Order::Size,
        }
    }
}

#[derive(Debug, Args)]
pub struct UploadArgs {
    /// The files to upload (each one's outcome is printed; the others are uploaded if one fails)
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
    /// Print the outcome as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DownloadArgs {
    /// The file's id, or its name if only one of your files has it
    #[arg(value_name = "ID|NAME")]
    pub file: String,
    /// Where to write it (a folder: under the file's name there); default: its name, here
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Replace a file already at that path
    #[arg(long)]
    pub force: bool,
    /// Print the outcome as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// The file's id, or its name if only one of your files has it
    #[arg(value_name = "ID|NAME")]
    pub file: String,
    /// Print the outcome as JSON
    #[arg(long)]
    pub json: bool,
}

/// `kinvex org …`.
#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// List your organizations, the one you are signed in to marked with *
    List(OrgListArgs),
    /// Sign in to another of your organizations (without a page if the browser is signed in)
    Switch(OrgSwitchArgs),
    /// Create an organization, with you as its admin, and switch to it
    Create(OrgCreateArgs),
}

#[derive(Debug, Args)]
pub struct OrgListArgs {
    /// Print the organizations as JSON
    #[arg(long)]
    pub json: bool,
}

/// What `org switch` and `org create` share: they sign in again through the browser.
#[derive(Debug, Args)]
pub struct OrgSignInArgs {
    /// Do not open a browser; only print the address
    #[arg(long)]
    pub no_browser: bool,
    /// Give up after this long
    #[arg(long, value_name = "SECONDS", default_value_t = SIGN_IN_TIMEOUT.as_secs())]
    pub timeout: u64,
    /// Print the organization now current as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct OrgSwitchArgs {
    /// The organization's code (see `kinvex org list`)
    #[arg(value_name = "CODE", value_parser = not_blank)]
    pub code: String,
    #[command(flatten)]
    pub sign_in: OrgSignInArgs,
}

#[derive(Debug, Args)]
pub struct OrgCreateArgs {
    /// The new organization's name
    #[arg(value_name = "NAME", value_parser = not_blank)]
    pub name: String,
    #[command(flatten)]
    pub sign_in: OrgSignInArgs,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: Shell,
}

fn write_styled(stream: &mut dyn Write, text: &StyledStr, colour: bool) -> std::io::Result<()> {
    if colour {
        write!(stream, "{}", text.ansi())
    } else {
        write!(stream, "{text}")
    }
}

fn not_blank(text: &str) -> Result<String, String> {
    match text.trim() {
        "" => Err("it must not be empty".into()),
        trimmed => Ok(trimmed.to_string()),
    }
}

fn positive(text: &str) -> Result<usize, String> {
    text.parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("`{text}` is not a positive number"))
}

/// Parses `args` (the program name first). Help and version are printed to `out`, usage
/// errors to `err`, each in colour only if that stream may have it; both end the process, with
/// the exit returned.
pub fn parse<I, T>(
    args: I,
    colours: Colours,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Cli, Exit>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let error = match Cli::try_parse_from(args) {
        Ok(cli) => return Ok(cli),
        Err(error) => error,
    };
    let text = error.render();
    // Nothing more can be said if the terminal is gone.
    let _ = if error.use_stderr() {
        write_styled(err, &text, colours.stderr)
    } else {
        write_styled(out, &text, colours.stdout)
    };
    Err(if error.exit_code() == 0 {
        Exit::Success
    } else {
        Exit::Usage
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    const PLAIN: Colours = Colours {
        stdout: false,
        stderr: false,
    };

    fn command(args: &[&str]) -> Command {
        let all = std::iter::once("kinvex").chain(args.iter().copied());
        match Cli::try_parse_from(all) {
            Ok(cli) => cli.command,
            Err(e) => panic!("{args:?} should parse: {e}"),
        }
    }

    /// What a failed parse prints, where, and how it ends.
    fn refused(args: &[&str]) -> (Exit, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let all = std::iter::once("kinvex").chain(args.iter().copied());
        let exit = match parse(all, PLAIN, &mut out, &mut err) {
            Ok(cli) => panic!("{args:?} should not parse: {cli:?}"),
            Err(exit) => exit,
        };
        let text = |bytes: Vec<u8>| String::from_utf8(bytes).expect("UTF-8");
        (exit, text(out), text(err))
    }

    #[test]
    fn the_command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn login_takes_every_sign_in_option() {
        let Command::Login(login) = command(&[
            "login",
            "--register",
            "--org",
            "org_123",
            "--login-hint",
            "dana@example.com",
            "--force",
            "--no-browser",
            "--timeout",
            "7",
            "--json",
        ]) else {
            panic!("login");
        };
        assert!(login.register && login.force && login.no_browser && login.json);
        assert_eq!(login.org.as_deref(), Some("org_123"));
        assert_eq!(login.login_hint.as_deref(), Some("dana@example.com"));
        assert_eq!(login.timeout, 7);

        let Command::Login(defaults) = command(&["login"]) else {
            panic!("login");
        };
        assert!(!defaults.register && !defaults.force && !defaults.no_browser && !defaults.json);
        assert_eq!((defaults.org, defaults.login_hint), (None, None));
        assert_eq!(defaults.timeout, 300);
    }

    #[test]
    fn status_logout_whoami_and_files_take_their_flags() {
        assert!(matches!(
            command(&["status"]),
            Command::Status(StatusArgs { json: false })
        ));
        assert!(matches!(
            command(&["status", "--json"]),
            Command::Status(StatusArgs { json: true })
        ));
        assert!(matches!(
            command(&["logout", "--no-browser", "--json"]),
            Command::Logout(LogoutArgs {
                no_browser: true,
                json: true,
                account: None,
                all: false,
            })
        ));
        assert!(matches!(
            command(&["logout"]),
            Command::Logout(LogoutArgs {
                no_browser: false,
                json: false,
                ..
            })
        ));
        assert!(matches!(
            command(&["whoami", "--json"]),
            Command::Whoami(WhoamiArgs {
                json: true,
                watch: false
            })
        ));
        assert!(matches!(
            command(&["files"]),
            Command::Files(FilesArgs {
                limit: 50,
                sort: Sort::Newest,
                search: None,
                json: false,
                watch: false
            })
        ));
        assert!(matches!(
            command(&["files", "--json", "--limit", "5"]),
            Command::Files(FilesArgs {
                limit: 5,
                json: true,
                watch: false,
                ..
            })
        ));
        assert!(matches!(
            command(&["files", "--watch", "--json"]),
            Command::Files(FilesArgs {
                json: true,
                watch: true,
                ..
            })
        ));
        let Command::Files(sorted) = command(&[
            "files", "--sort", "size", "--search", "Report", "--json", "--watch",
        ]) else {
            panic!("files");
        };
        assert_eq!(
            (
                sorted.sort,
                sorted.search.as_deref(),
                sorted.json,
                sorted.watch
            ),
            (Sort::Size, Some("Report"), true, true)
        );
        assert_eq!(Order::from(sorted.sort), Order::Size);
        assert!(matches!(
            command(&["whoami", "--watch"]),
            Command::Whoami(WhoamiArgs {
                json: false,
                watch: true
            })
        ));
        assert!(matches!(
            command(&["doctor", "--json"]),
            Command::Doctor(DoctorArgs { json: true })
        ));
        assert!(matches!(
            command(&["completion", "zsh"]),
            Command::Completion(CompletionArgs { shell: Shell::Zsh })
        ));
    }

    #[test]
    fn upload_download_and_rm_take_their_arguments() {
        let Command::Upload(upload) = command(&["upload", "a.pdf", "b c.txt", "--json"]) else {
            panic!("upload");
        };
        assert_eq!(
            upload.paths,
            [PathBuf::from("a.pdf"), PathBuf::from("b c.txt")]
        );
        assert!(upload.json);
        let Command::Download(download) =
            command(&["download", "report.pdf", "-o", "/tmp/r.pdf", "--force"])
        else {
            panic!("download");
        };
        assert_eq!(download.file, "report.pdf");
        assert_eq!(download.output, Some(PathBuf::from("/tmp/r.pdf")));
        assert!(download.force && !download.json);
        let Command::Download(defaults) = command(&["download", "abc"]) else {
            panic!("download");
        };
        assert_eq!((defaults.output, defaults.force), (None, false));
        assert!(matches!(
            command(&["rm", "abc", "--json"]),
            Command::Rm(RmArgs { json: true, .. })
        ));
        for args in [&["upload"][..], &["download"], &["rm"]] {
            let (exit, _, err) = refused(args);
            assert_eq!(exit, Exit::Usage, "{args:?}");
            assert!(err.contains("required"), "{args:?}: {err}");
        }
    }

    #[test]
    fn org_takes_its_subcommands_and_refuses_a_blank_code_or_name() {
        assert!(matches!(
            command(&["org", "list", "--json"]),
            Command::Org(OrgCommand::List(OrgListArgs { json: true }))
        ));
        let Command::Org(OrgCommand::Switch(switch)) =
            command(&["org", "switch", " org_1 ", "--json", "--timeout", "9"])
        else {
            panic!("org switch");
        };
        assert_eq!(switch.code, "org_1");
        assert!(switch.sign_in.json && !switch.sign_in.no_browser);
        assert_eq!(switch.sign_in.timeout, 9);
        let Command::Org(OrgCommand::Create(create)) =
            command(&["org", "create", "Acme Labs", "--no-browser"])
        else {
            panic!("org create");
        };
        assert_eq!(create.name, "Acme Labs");
        assert!(create.sign_in.no_browser && !create.sign_in.json);
        assert_eq!(create.sign_in.timeout, 300);
        for args in [&["org", "switch", " "][..], &["org", "create", ""]] {
            let (exit, _, err) = refused(args);
            assert_eq!(exit, Exit::Usage, "{args:?}");
            assert!(err.contains("it must not be empty"), "{args:?}: {err}");
        }
        let (exit, _, err) = refused(&["org"]);
        assert_eq!(exit, Exit::Usage);
        assert!(
            err.contains("list") && err.contains("switch") && err.contains("create"),
            "{err}"
        );
    }

    #[test]
    fn accounts_switch_and_logout_take_an_account_or_all_but_not_both() {
        assert!(matches!(
            command(&["accounts", "--json"]),
            Command::Accounts(AccountsArgs { json: true })
        ));
        let Command::Switch(switch) = command(&["switch", " dana@example.com ", "--json"]) else {
            panic!("switch");
        };
        assert_eq!(switch.account, "dana@example.com");
        assert!(switch.json);
        let Command::Logout(one) = command(&["logout", "--account", "kp_1"]) else {
            panic!("logout");
        };
        assert_eq!((one.account.as_deref(), one.all), (Some("kp_1"), false));
        let Command::Logout(all) = command(&["logout", "--all", "--no-browser"]) else {
            panic!("logout");
        };
        assert!(all.all && all.no_browser && all.account.is_none());
        let (exit, _, err) = refused(&["logout", "--all", "--account", "kp_1"]);
        assert_eq!(exit, Exit::Usage);
        assert!(err.contains("cannot be used with"), "{err}");
        let (exit, _, err) = refused(&["switch"]);
        assert_eq!(exit, Exit::Usage);
        assert!(err.contains("required"), "{err}");
        let (exit, _, err) = refused(&["switch", " "]);
        assert_eq!(exit, Exit::Usage);
        assert!(err.contains("it must not be empty"), "{err}");
    }

    #[test]
    fn a_misspelt_flag_is_a_usage_error_with_a_suggestion() {
        let (exit, out, err) = refused(&["login", "--regster"]);
        assert_eq!(exit, Exit::Usage);
        assert!(out.is_empty());
        assert!(
            err.contains("unexpected argument '--regster'") && err.contains("'--register'"),
            "{err}"
        );
        let (exit, _, err) = refused(&["whoami", "--jsno"]);
        assert_eq!(exit, Exit::Usage);
        assert!(err.contains("'--json'"), "{err}");
        let (exit, _, err) = refused(&["logn"]);
        assert_eq!(exit, Exit::Usage);
        assert!(err.contains("'login'"), "{err}");
    }

    #[test]
    fn a_flag_belongs_to_its_own_command() {
        for args in [
            &["status", "--limit", "5"][..],
            &["whoami", "--no-browser"],
            &["logout", "--register"],
            &["--json", "status"],
            &["completion", "bash", "--json"],
        ] {
            let (exit, _, err) = refused(args);
            assert_eq!(exit, Exit::Usage, "{args:?}");
            assert!(err.contains("unexpected argument"), "{args:?}: {err}");
        }
    }

    #[test]
    fn values_are_checked_before_anything_runs() {
        let (exit, _, err) = refused(&["files", "--limit", "0"]);
        assert_eq!(exit, Exit::Usage);
        assert!(err.contains("`0` is not a positive number"), "{err}");
        let (exit, _, err) = refused(&["login", "--timeout", "soon"]);
        assert_eq!(exit, Exit::Usage);
        assert!(err.contains("--timeout <SECONDS>"), "{err}");
        let (exit, _, err) = refused(&["login", "--org"]);
        assert_eq!(exit, Exit::Usage);
        assert!(err.contains("a value is required"), "{err}");
        let (exit, _, err) = refused(&["files", "--sort", "biggest"]);
        assert_eq!(exit, Exit::Usage);
        assert!(
            err.contains("invalid value 'biggest' for '--sort <ORDER>'")
                && err.contains("[possible values: newest, oldest, name, size]"),
            "{err}"
        );
        let (exit, _, err) = refused(&["completion", "tcsh"]);
        assert_eq!(exit, Exit::Usage);
        assert!(err.contains("bash") && err.contains("powershell"), "{err}");
    }

    #[test]
    fn help_and_version_go_to_stdout_and_succeed() {
        let (exit, out, err) = refused(&["--help"]);
        assert_eq!(exit, Exit::Success);
        assert!(err.is_empty());
        for name in [
            "login",
            "status",
            "logout",
            "accounts",
            "switch",
            "whoami",
            "files",
            "upload",
            "download",
            "rm",
            "org",
            "doctor",
            "completion",
        ] {
            assert!(out.contains(name), "{name} is listed: {out}");
        }
        assert!(
            out.contains("KINDE_ISSUER_URL") && out.contains("Exit codes"),
            "{out}"
        );

        for args in [&["help", "login"][..], &["login", "--help"]] {
            let (exit, out, _) = refused(args);
            assert_eq!(exit, Exit::Success, "{args:?}");
            assert!(
                out.contains("Usage: kinvex login") && out.contains("--login-hint <TEXT>"),
                "{args:?}: {out}"
            );
        }

        let (exit, out, _) = refused(&["--version"]);
        assert_eq!(exit, Exit::Success);
        assert_eq!(out, format!("kinvex {}\n", env!("CARGO_PKG_VERSION")));
    }

    #[test]
    fn no_command_shows_the_help_as_a_usage_error() {
        let (exit, out, err) = refused(&[]);
        assert_eq!(exit, Exit::Usage);
        assert!(out.is_empty());
        assert!(err.contains("Usage: kinvex"), "{err}");
    }

    #[test]
    fn colour_follows_the_stream_it_is_written_to() {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let stderr_only = Colours {
            stdout: false,
            stderr: true,
        };
        let _ = parse(["kinvex", "--help"], stderr_only, &mut out, &mut err);
        assert!(!out.contains(&0x1b), "help on stdout is plain");
        let _ = parse(["kinvex", "--nope"], stderr_only, &mut out, &mut err);
        assert!(err.contains(&0x1b), "the error on stderr is coloured");
        let mut plain = Vec::new();
        let _ = parse(["kinvex", "--nope"], PLAIN, &mut out, &mut plain);
        assert!(!plain.contains(&0x1b), "and plain without colour");
    }
}
