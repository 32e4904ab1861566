//! `devstack`: runs the local identity provider and backend on loopback until SIGINT or SIGTERM.

use clap::{Args, Parser, Subcommand};
use kinvex_devstack::backend::auth::Provider;
use kinvex_devstack::{Config, start};
use std::path::PathBuf;
use std::process::ExitCode;

/// Runs a Kinde-compatible identity provider and a Convex-compatible backend on 127.0.0.1.
#[derive(Debug, Parser)]
#[command(name = "devstack", args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: Serve,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Play a person's browser for tests (point BROWSER at it)
    #[command(long_about = BROWSE_ABOUT)]
    Browse(Browse),
}

#[derive(Debug, Args)]
struct Serve {
    /// Keep keys and data here
    #[arg(long, value_name = "DIR", default_value = ".devstack")]
    data_dir: PathBuf,
    /// Keep everything in memory; nothing is written
    #[arg(long)]
    ephemeral: bool,
    /// Identity provider port (0 = any free port)
    #[arg(long, value_name = "N", default_value_t = 3290, value_parser = port)]
    idp_port: u16,
    /// Backend API port
    #[arg(long, value_name = "N", default_value_t = 3210, value_parser = port)]
    api_port: u16,
    /// Backend HTTP actions port
    #[arg(long, value_name = "N", default_value_t = 3211, value_parser = port)]
    site_port: u16,
    /// Once ready, write the KINDE_*/CONVEX_* settings to PATH
    #[arg(long, value_name = "PATH")]
    env_file: Option<PathBuf>,
    /// The app sends the access token (audience `convex`) instead of the ID token
    #[arg(long)]
    access_token_setup: bool,
    /// Allow this callback URL (repeatable; default http://127.0.0.1:53180/callback)
    #[arg(long = "redirect-uri", value_name = "URL")]
    redirect_uris: Vec<String>,
    /// Accept allowed loopback callbacks on any port (RFC 8252)
    #[arg(long)]
    any_loopback_port: bool,
    /// Allow this logout redirect (repeatable)
    #[arg(long = "logout-redirect", value_name = "URL")]
    logout_redirects: Vec<String>,
    /// Give the demo user N extra files
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = count)]
    demo_files: usize,
    /// Refreshes answer without an `id_token`, as Kinde's documented refresh does
    #[arg(long)]
    no_refresh_id_token: bool,
    /// A refresh while the access token is valid returns that same access token
    #[arg(long)]
    refresh_reuses_access_token: bool,
    /// Access tokens carry `email` (off by default, as on Kinde)
    #[arg(long)]
    access_token_email: bool,
    /// The backend runs as a production deployment: function errors are redacted
    #[arg(long)]
    production: bool,
    /// Trust only this auth provider at the backend instead of what convex/auth.config.ts
    /// declares (repeatable), to misconfigure the deployment on purpose
    #[arg(long = "auth-provider", value_name = "DOMAIN=APPLICATION_ID", value_parser = auth_provider)]
    auth_providers: Vec<Provider>,
}

const BROWSE_ABOUT: &str = "\
Plays a person's browser for tests: follows URL through the provider's pages, signs in, registers
or cancels, and delivers the final redirect to the app with a GET (a redirect to a private-use
scheme goes to the system's URL opener, as a browser would). Point BROWSER at it:
  BROWSER=\"devstack browse --email demo@kinvex.dev --password …\"";

#[derive(Debug, Args)]
struct Browse {
    /// Create an account instead of signing in
    #[arg(long, conflicts_with = "cancel", requires = "given_name")]
    register: bool,
    /// Press Cancel on the sign-in page
    #[arg(long)]
    cancel: bool,
    /// The email to sign in or register with
    #[arg(long, value_name = "E", default_value = "", hide_default_value = true)]
    email: String,
    /// The password to sign in or register with
    #[arg(
        long,
        value_name = "P",
        default_value = "",
        hide_default_value = true,
        allow_hyphen_values = true
    )]
    password: String,
    /// With --register
    #[arg(long, value_name = "G")]
    given_name: Option<String>,
    /// With --register
    #[arg(long, value_name = "F", default_value = "", hide_default_value = true)]
    family_name: String,
    /// The authorization URL the app opened
    url: String,
}

fn port(text: &str) -> Result<u16, String> {
    text.parse()
        .map_err(|_| format!("`{text}` is not a port number (0-65535)"))
}

fn count(text: &str) -> Result<usize, String> {
    text.parse().map_err(|_| format!("`{text}` is not a count"))
}

fn auth_provider(text: &str) -> Result<Provider, String> {
    match text.split_once('=') {
        Some((domain, application_id)) if !domain.is_empty() && !application_id.is_empty() => {
            Ok(Provider {
                domain: domain.to_string(),
                application_id: application_id.to_string(),
            })
        }
        _ => Err(format!(
            "`{text}` is not DOMAIN=APPLICATION_ID (say http://127.0.0.1:3290=convex)"
        )),
    }
}

struct Options {
    config: Config,
    env_file: Option<PathBuf>,
    access_token_setup: bool,
}

impl Serve {
    fn options(self) -> Options {
        let defaults = Config::default();
        let config = Config {
            data_dir: (!self.ephemeral).then_some(self.data_dir),
            idp_port: self.idp_port,
            api_port: self.api_port,
            site_port: self.site_port,
            redirect_uris: if self.redirect_uris.is_empty() {
                defaults.redirect_uris.clone()
            } else {
                self.redirect_uris
            },
            any_loopback_port: self.any_loopback_port,
            logout_redirects: self.logout_redirects,
            extra_demo_files: self.demo_files,
            refresh_id_token: !self.no_refresh_id_token,
            refresh_reuses_access_token: self.refresh_reuses_access_token,
            access_token_email: self.access_token_email,
            production: self.production,
            auth_providers: (!self.auth_providers.is_empty()).then_some(self.auth_providers),
            ..defaults
        };
        Options {
            config,
            env_file: self.env_file,
            access_token_setup: self.access_token_setup,
        }
    }
}

fn write_env_file(path: &PathBuf, contents: &str) -> std::io::Result<()> {
    // Written whole and renamed into place, so a reader that sees the file sees all of it.
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, contents)?;
    std::fs::rename(&temporary, path)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `devstack browse …`: the headless user agent as a command, for BROWSER.
fn browse(args: Browse) -> ExitCode {
    use kinvex_devstack::user_agent::{Action, UserAgent};
    let action = if args.cancel {
        Action::Cancel
    } else if args.register {
        Action::Register {
            given_name: args.given_name.unwrap_or_default(),
            family_name: args.family_name,
            email: args.email,
            password: args.password,
        }
    } else {
        Action::SignIn {
            email: args.email,
            password: args.password,
        }
    };
    let url = args.url;
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("devstack browse: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(UserAgent::new().authorize(&url, &action, true)) {
        Ok(handoff) => match handoff.delivered {
            Some((status, _)) => {
                eprintln!(
                    "devstack browse: delivered the redirect to {} (HTTP {status})",
                    handoff.redirect.path()
                );
                ExitCode::SUCCESS
            }
            None => open_with_system(&handoff.redirect),
        },
        Err(e) => {
            eprintln!("devstack browse: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let options = match cli.command {
        Some(Command::Browse(args)) => return browse(args),
        None => cli.serve.options(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("devstack: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let running = match start(options.config).await {
            Ok(running) => running,
            Err(e) => {
                eprintln!("devstack: {e}");
                return ExitCode::FAILURE;
            }
        };
        println!("identity provider  {}", running.issuer());
        println!("backend API        {}", running.api_url());
        println!("backend site       {}", running.site_url());
        if let Some(demo) = running.accounts.first() {
            println!("demo sign-in       {} / {}", demo.email, demo.password);
        }
        if let Some(path) = &options.env_file {
            if let Err(e) = write_env_file(path, &running.env_file(options.access_token_setup)) {
                eprintln!("devstack: cannot write {}: {e}", path.display());
                running.stop().await;
                return ExitCode::FAILURE;
            }
            println!("settings written   {}", path.display());
        }
        println!("ready; stop with Ctrl+C");
        shutdown_signal().await;
        running.stop().await;
        println!("stopped");
        ExitCode::SUCCESS
    })
}

/// Hands a redirect to a private-use scheme to the operating system, as a browser does; the OS
/// starts the app registered for the scheme with the URL.
fn open_with_system(url: &url::Url) -> ExitCode {
    let mut command = if cfg!(target_os = "macos") {
        std::process::Command::new("open")
    } else if cfg!(windows) {
        let mut start = std::process::Command::new("cmd");
        start.args(["/C", "start", ""]);
        start
    } else {
        std::process::Command::new("xdg-open")
    };
    let program = command.get_program().to_string_lossy().into_owned();
    match command.arg(url.as_str()).status() {
        Ok(status) if status.success() => {
            eprintln!(
                "devstack browse: handed the {}: redirect to {program}",
                url.scheme()
            );
            ExitCode::SUCCESS
        }
        Ok(status) => {
            eprintln!(
                "devstack browse: {program} could not open the {}: redirect ({status}); is an app registered for the scheme?",
                url.scheme()
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("devstack browse: could not run {program}: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use clap::CommandFactory;

    fn serve(args: &[&str]) -> Options {
        let cli =
            Cli::try_parse_from(std::iter::once("devstack").chain(args.iter().copied())).unwrap();
        assert!(cli.command.is_none());
        cli.serve.options()
    }

    fn refused(args: &[&str]) -> String {
        Cli::try_parse_from(std::iter::once("devstack").chain(args.iter().copied()))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_flags_serve_kindes_defaults_on_the_fixed_ports() {
        let options = serve(&[]);
        let config = options.config;
        assert_eq!(config.data_dir, Some(PathBuf::from(".devstack")));
        assert_eq!(
            (config.idp_port, config.api_port, config.site_port),
            (3290, 3210, 3211)
        );
        assert_eq!(config.redirect_uris, Config::default().redirect_uris);
        assert!(config.refresh_id_token);
        assert!(!config.refresh_reuses_access_token);
        assert!(!config.access_token_email);
        assert!(!config.production);
        assert!(config.auth_providers.is_none());
        assert!(options.env_file.is_none());
        assert!(!options.access_token_setup);
    }

    #[test]
    fn every_flag_reaches_the_config() {
        let options = serve(&[
            "--ephemeral",
            "--idp-port",
            "0",
            "--api-port",
            "4000",
            "--site-port",
            "4001",
            "--env-file",
            "app.env",
            "--access-token-setup",
            "--redirect-uri",
            "http://127.0.0.1:1/a",
            "--redirect-uri",
            "http://127.0.0.1:2/b",
            "--any-loopback-port",
            "--logout-redirect",
            "http://127.0.0.1:1/out",
            "--demo-files",
            "7",
            "--no-refresh-id-token",
            "--refresh-reuses-access-token",
            "--access-token-email",
            "--production",
            "--auth-provider",
            "http://127.0.0.1:3290=other-app",
            "--auth-provider",
            "http://x=convex",
        ]);
        let config = options.config;
        assert_eq!(config.data_dir, None);
        assert_eq!(
            (config.idp_port, config.api_port, config.site_port),
            (0, 4000, 4001)
        );
        assert_eq!(options.env_file, Some(PathBuf::from("app.env")));
        assert!(options.access_token_setup);
        assert_eq!(
            config.redirect_uris,
            ["http://127.0.0.1:1/a", "http://127.0.0.1:2/b"]
        );
        assert!(config.any_loopback_port);
        assert_eq!(config.logout_redirects, ["http://127.0.0.1:1/out"]);
        assert_eq!(config.extra_demo_files, 7);
        assert!(!config.refresh_id_token);
        assert!(config.refresh_reuses_access_token);
        assert!(config.access_token_email);
        assert!(config.production);
        let providers = config.auth_providers.unwrap();
        assert_eq!(providers.len(), 2);
        assert_eq!(providers[0].domain, "http://127.0.0.1:3290");
        assert_eq!(providers[0].application_id, "other-app");
        assert_eq!(providers[1].application_id, "convex");
    }

    #[test]
    fn bad_values_say_what_is_wrong() {
        assert!(refused(&["--idp-port", "http"]).contains("`http` is not a port number (0-65535)"));
        assert!(refused(&["--demo-files", "many"]).contains("`many` is not a count"));
        assert!(refused(&["--auth-provider", "convex"]).contains("is not DOMAIN=APPLICATION_ID"));
        assert!(refused(&["--bogus"]).contains("--bogus"));
        assert!(refused(&["--env-file"]).contains("--env-file"));
    }

    #[test]
    fn browse_takes_the_url_after_its_flags_as_browser_appends_it() {
        let cli = Cli::try_parse_from([
            "devstack",
            "browse",
            "--email",
            "demo@kinvex.dev",
            "--password",
            "-starts-with-a-dash",
            "http://127.0.0.1:3290/oauth2/auth?x=1",
        ])
        .unwrap();
        let Some(Command::Browse(args)) = cli.command else {
            panic!("browse parsed as {:?}", cli.command)
        };
        assert_eq!(args.email, "demo@kinvex.dev");
        assert_eq!(args.password, "-starts-with-a-dash");
        assert_eq!(args.url, "http://127.0.0.1:3290/oauth2/auth?x=1");
        assert!(
            Cli::try_parse_from(["devstack", "browse", "--register", "http://x/"]).is_err(),
            "--register needs --given-name"
        );
        assert!(
            Cli::try_parse_from(["devstack", "browse"]).is_err(),
            "URL needed"
        );
    }

    #[test]
    fn help_lists_the_kinde_switches() {
        let help = Cli::command().render_long_help().to_string();
        for flag in [
            "--no-refresh-id-token",
            "--refresh-reuses-access-token",
            "--access-token-email",
            "--production",
            "--auth-provider",
            "--env-file",
            "browse",
        ] {
            assert!(help.contains(flag), "{flag} missing from\n{help}");
        }
    }
}
