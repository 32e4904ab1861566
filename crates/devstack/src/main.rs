//! `devstack`: runs the local identity provider and backend on loopback until SIGINT or SIGTERM.

use kinvex_devstack::{Config, start};
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
usage: devstack [options]

Runs a Kinde-compatible identity provider and a Convex-compatible backend on 127.0.0.1.

options:
  --data-dir DIR          keep keys and data here (default: .devstack)
  --ephemeral             keep everything in memory; nothing is written
  --idp-port N            identity provider port (default 3290; 0 = any free port)
  --api-port N            backend API port (default 3210)
  --site-port N           backend HTTP actions port (default 3211)
  --env-file PATH         once ready, write the KINDE_*/CONVEX_* settings to PATH
  --access-token-setup    the app sends the access token (audience `convex`) instead of the ID token
  --redirect-uri URL      allow this callback URL (repeatable; default http://127.0.0.1:53180/callback)
  --any-loopback-port     accept allowed loopback callbacks on any port (RFC 8252)
  --logout-redirect URL   allow this logout redirect (repeatable)
  --demo-files N          give the demo user N extra files
";

struct Options {
    config: Config,
    env_file: Option<PathBuf>,
    access_token_setup: bool,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut config = Config {
        data_dir: Some(PathBuf::from(".devstack")),
        idp_port: 3290,
        api_port: 3210,
        site_port: 3211,
        ..Config::default()
    };
    let mut options = Options {
        config: Config::default(),
        env_file: None,
        access_token_setup: false,
    };
    let mut redirects = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        let port = |text: String, name: &str| {
            text.parse::<u16>()
                .map_err(|_| format!("{name}: `{text}` is not a port number (0-65535)"))
        };
        match arg.as_str() {
            "--data-dir" => config.data_dir = Some(PathBuf::from(value("--data-dir")?)),
            "--ephemeral" => config.data_dir = None,
            "--idp-port" => config.idp_port = port(value("--idp-port")?, "--idp-port")?,
            "--api-port" => config.api_port = port(value("--api-port")?, "--api-port")?,
            "--site-port" => config.site_port = port(value("--site-port")?, "--site-port")?,
            "--env-file" => options.env_file = Some(PathBuf::from(value("--env-file")?)),
            "--access-token-setup" => options.access_token_setup = true,
            "--redirect-uri" => redirects.push(value("--redirect-uri")?),
            "--any-loopback-port" => config.any_loopback_port = true,
            "--logout-redirect" => config.logout_redirects.push(value("--logout-redirect")?),
            "--demo-files" => {
                let text = value("--demo-files")?;
                config.extra_demo_files = text
                    .parse()
                    .map_err(|_| format!("--demo-files: `{text}` is not a count"))?;
            }
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown option `{other}`\n\n{USAGE}")),
        }
    }
    if !redirects.is_empty() {
        config.redirect_uris = redirects;
    }
    options.config = config;
    Ok(options)
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

const BROWSE_USAGE: &str = "\
usage: devstack browse [--email E --password P | --register --given-name G [--family-name F] --email E --password P | --cancel] URL

Plays a person's browser for tests: follows URL through the provider's pages, signs in, registers
or cancels, and delivers the final redirect to the app with a GET (a redirect to a private-use
scheme goes to the system's URL opener, as a browser would). Point BROWSER at it:
  BROWSER=\"devstack browse --email demo@kinvex.dev --password …\"
";

/// `devstack browse …`: the headless user agent as a command, for BROWSER.
fn browse(args: &[String]) -> ExitCode {
    use kinvex_devstack::user_agent::{Action, UserAgent};
    let mut flags = std::collections::HashMap::new();
    let mut url = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--register" | "--cancel" => {
                flags.insert(arg.trim_start_matches('-').to_string(), String::new());
            }
            "--email" | "--password" | "--given-name" | "--family-name" => match it.next() {
                Some(value) => {
                    flags.insert(arg.trim_start_matches('-').to_string(), value.clone());
                }
                None => {
                    eprintln!("{arg} needs a value\n\n{BROWSE_USAGE}");
                    return ExitCode::from(2);
                }
            },
            other if !other.starts_with('-') => url = Some(other.to_string()),
            other => {
                eprintln!("unknown option `{other}`\n\n{BROWSE_USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(url) = url else {
        eprintln!("{BROWSE_USAGE}");
        return ExitCode::from(2);
    };
    let get = |k: &str| flags.get(k).cloned().unwrap_or_default();
    let action = if flags.contains_key("cancel") {
        Action::Cancel
    } else if flags.contains_key("register") {
        Action::Register {
            given_name: get("given-name"),
            family_name: get("family-name"),
            email: get("email"),
            password: get("password"),
        }
    } else {
        Action::SignIn {
            email: get("email"),
            password: get("password"),
        }
    };
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
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "browse") {
        return browse(&args[1..]);
    }
    let options = match parse(&args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return if args.iter().any(|a| a == "-h" || a == "--help") {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
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
