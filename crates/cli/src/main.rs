//! `kinvex`: the sign-in core from a terminal, in the spirit of `gh auth`.

use kinvex_auth::browser::SystemBrowser;
use kinvex_auth::http::HttpClient;
use kinvex_auth::session::SIGN_IN_TIMEOUT;
use kinvex_auth::{Auth, AuthError, Config, SignInOptions, Status, default_store};
use kinvex_convex::data::{files, profile};
use kinvex_convex::{Client, ConvexError};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

const USAGE: &str = "\
usage: kinvex <command> [options]

commands:
  login     sign in through your browser
              --register         create an account instead (Kinde's registration screen)
              --org CODE         sign in to this organization
              --login-hint TEXT  prefill the email on the sign-in page
              --force            show the sign-in page even if the browser is signed in
              --no-browser       do not open a browser; only print the address
              --timeout SECONDS  give up after this long (default 300)
  status    show who is signed in, until when, and where the tokens are kept
  logout    revoke the session, remove it from the keychain, end the browser session
              --no-browser       do not open the browser to end its session
  whoami    your profile from the backend, merged with your sign-in
              --json             print JSON
  files     your files from the backend, newest first
              --limit N          show at most N (default 50)
              --json             print JSON

Settings come from the environment or .env: KINDE_ISSUER_URL, KINDE_CLIENT_ID, KINDE_AUDIENCE,
KINDE_REDIRECT_URL, KINDE_REDIRECT_FALLBACK_PORTS, KINDE_LOGOUT_REDIRECT_URL, KINDE_SCOPES.
";

struct Args {
    command: String,
    flags: Vec<String>,
    values: Vec<(String, String)>,
}

fn parse(raw: Vec<String>) -> Result<Args, String> {
    let mut raw = raw.into_iter();
    let command = raw.next().ok_or_else(|| USAGE.to_string())?;
    let (mut flags, mut values) = (Vec::new(), Vec::new());
    while let Some(arg) = raw.next() {
        match arg.as_str() {
            "--register" | "--force" | "--no-browser" | "--json" => flags.push(arg),
            "--org" | "--login-hint" | "--timeout" | "--limit" => {
                let value = raw.next().ok_or_else(|| format!("{arg} needs a value"))?;
                values.push((arg, value));
            }
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown option `{other}`\n\n{USAGE}")),
        }
    }
    Ok(Args {
        command,
        flags,
        values,
    })
}

impl Args {
    fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }

    fn value(&self, name: &str) -> Option<String> {
        self.values
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KINVEX_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .without_time()
        .init();
    let args = match parse(std::env::args().skip(1).collect()) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let config = match Config::from_system() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let store = default_store(&config);
    let http = match HttpClient::new() {
        Ok(http) => http,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let auth = Auth::new(config, http, store, Arc::new(SystemBrowser));
    let result = runtime.block_on(async {
        let result = match args.command.as_str() {
            "login" => login(&auth, &args).await,
            "status" => status(&auth).await,
            "logout" => logout(&auth, &args).await,
            "whoami" => whoami(&auth, &args).await,
            "files" => list_files(&auth, &args).await,
            other => Err(Failure::Usage(format!(
                "unknown command `{other}`\n\n{USAGE}"
            ))),
        };
        // A session renewed during the command is written to the keychain before exiting.
        auth.flush().await;
        result
    });
    match result {
        Ok(code) => code,
        Err(Failure::Usage(message)) => {
            eprintln!("{message}");
            ExitCode::from(2)
        }
        Err(Failure::Auth(e)) => {
            eprintln!("error: {e} [{}]", e.code());
            ExitCode::FAILURE
        }
        Err(Failure::Convex(e)) => {
            eprintln!("error: {e} [{}]", e.code());
            ExitCode::FAILURE
        }
    }
}

enum Failure {
    Usage(String),
    Auth(AuthError),
    Convex(ConvexError),
}

impl From<AuthError> for Failure {
    fn from(e: AuthError) -> Self {
        Failure::Auth(e)
    }
}

impl From<ConvexError> for Failure {
    fn from(e: ConvexError) -> Self {
        Failure::Convex(e)
    }
}

fn who(name: &Option<String>, email: &Option<String>, subject: &str) -> String {
    match (name, email) {
        (Some(name), Some(email)) => format!("{name} <{email}>"),
        (None, Some(email)) => email.clone(),
        (Some(name), None) => format!("{name} ({subject})"),
        (None, None) => subject.to_string(),
    }
}

fn until(expires_at: i64) -> String {
    let left = expires_at - kinvex_auth::id_token::unix(std::time::SystemTime::now());
    match left {
        l if l <= 0 => "expired; it will be refreshed when next used".into(),
        l if l < 120 => "valid for about a minute more".into(),
        l if l < 7200 => format!("valid for {} more minutes", l / 60),
        l => format!("valid for {} more hours", l / 3600),
    }
}

async fn login(auth: &Auth, args: &Args) -> Result<ExitCode, Failure> {
    // Only the desktop app is registered for its scheme; the CLI would wait for nothing.
    if !auth.config.redirect_is_loopback() {
        return Err(Failure::Usage(format!(
            "KINDE_REDIRECT_URL={} is the desktop app's scheme; the CLI signs in through a loopback callback. Set KINDE_REDIRECT_URL={} (allow-listed with Kinde) for the CLI.",
            auth.config.redirect,
            kinvex_auth::config::DEFAULT_REDIRECT
        )));
    }
    let timeout = match args.value("--timeout") {
        Some(text) => Duration::from_secs(text.parse().map_err(|_| {
            Failure::Usage(format!("--timeout: `{text}` is not a number of seconds"))
        })?),
        None => SIGN_IN_TIMEOUT,
    };
    let options = SignInOptions {
        register: args.flag("--register"),
        org_code: args.value("--org"),
        login_hint: args.value("--login-hint"),
        force_login: args.flag("--force"),
    };
    let open_browser = !args.flag("--no-browser");
    let show = |url: &url::Url| {
        if open_browser {
            eprintln!("Opening your browser to sign in. If it does not open, visit:\n\n  {url}\n");
        } else {
            eprintln!("Open this address in a browser to sign in:\n\n  {url}\n");
        }
        eprintln!("Waiting for the browser (Ctrl+C to cancel)...");
    };
    let cancel = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let tokens = auth
        .sign_in(&options, open_browser, timeout, show, cancel)
        .await?;
    println!(
        "Signed in as {}. Tokens are stored in {}.",
        who(&tokens.name, &tokens.email, &tokens.subject),
        auth.location()
    );
    Ok(ExitCode::SUCCESS)
}

async fn status(auth: &Auth) -> Result<ExitCode, Failure> {
    match auth.status().await? {
        Status::SignedIn {
            subject,
            email,
            name,
            expires_at,
            location,
        } => {
            println!(
                "Signed in to {} as {}.",
                auth.config.issuer_str(),
                who(&name, &email, &subject)
            );
            println!(
                "Session {}. Tokens are stored in {location}.",
                until(expires_at)
            );
            Ok(ExitCode::SUCCESS)
        }
        Status::SignedOut { location } => {
            println!(
                "Not signed in to {}. Run `kinvex login`. (Tokens would be stored in {location}.)",
                auth.config.issuer_str()
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn logout(auth: &Auth, args: &Args) -> Result<ExitCode, Failure> {
    let open_browser = !args.flag("--no-browser");
    let url = auth.sign_out(open_browser).await?;
    println!(
        "Signed out. Nothing of the session is left in {}.",
        auth.location()
    );
    if open_browser {
        eprintln!("Ending the browser's session at {url}");
    } else {
        eprintln!("To end the browser's session too, visit {url}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Text from the backend, made safe for a terminal: control characters (escape sequences
/// included) are shown as `?`.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// `YYYY-MM-DD` (UTC) for milliseconds since the epoch.
fn date(ms: f64) -> String {
    let days = (ms / 86_400_000.0).floor() as i64;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

async fn whoami(auth: &Auth, args: &Args) -> Result<ExitCode, Failure> {
    let client = Client::for_auth(auth)?;
    let me = profile(&client, auth).await?;
    if args.flag("--json") {
        println!("{}", serde_json::to_string_pretty(&me).unwrap_or_default());
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}", printable(me.name.as_deref().unwrap_or("(no name)")));
    let rows = [
        ("Email", me.email.clone()),
        ("Phone", me.phone.clone()),
        ("Kinde id", Some(me.kinde_id.clone())),
        ("Organization", me.organization.clone()),
        ("Member since", me.member_since.map(date)),
    ];
    for (label, value) in rows {
        if let Some(value) = value {
            println!("  {label:<13}{}", printable(&value));
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn list_files(auth: &Auth, args: &Args) -> Result<ExitCode, Failure> {
    let limit: usize =
        match args.value("--limit") {
            Some(text) => text.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                Failure::Usage(format!("--limit: `{text}` is not a positive number"))
            })?,
            None => 50,
        };
    let client = Client::for_auth(auth)?;
    let mut shown = Vec::new();
    let mut cursor = None;
    let mut more = false;
    while shown.len() < limit {
        let page_size = (limit - shown.len()).min(200) as u32;
        let page = files(&client, auth, cursor.as_deref(), page_size).await?;
        shown.extend(page.files);
        if page.is_done {
            break;
        }
        cursor = page.cursor;
        more = true;
    }
    more = more && shown.len() >= limit;
    if args.flag("--json") {
        println!(
            "{}",
            serde_json::to_string_pretty(&shown).unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    if shown.is_empty() {
        println!("You have no files yet.");
        return Ok(ExitCode::SUCCESS);
    }
    let width = shown
        .iter()
        .map(|f| printable(&f.name).chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 48);
    let type_width = shown
        .iter()
        .map(|f| f.content_type.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 32);
    println!(
        "{:<width$}  {:<type_width$}  {:>9}  CREATED",
        "NAME", "TYPE", "SIZE"
    );
    for file in &shown {
        let mut name = printable(&file.name);
        if name.chars().count() > width {
            name = name.chars().take(width - 1).collect::<String>() + "…";
        }
        let kind: String = printable(&file.content_type)
            .chars()
            .take(type_width)
            .collect();
        println!(
            "{name:<width$}  {kind:<type_width$}  {:>9}  {}",
            size(file.size),
            date(file.created)
        );
    }
    if more {
        println!("(first {} shown; use --limit to see more)", shown.len());
    } else {
        println!("({} files)", shown.len());
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_sizes_and_control_characters() {
        assert_eq!(date(0.0), "1970-01-01");
        assert_eq!(date(1_709_251_200_000.0), "2024-03-01");
        assert_eq!(size(512), "512 B");
        assert_eq!(size(482_113), "470.8 KB");
        assert_eq!(size(48_221_991), "46.0 MB");
        assert_eq!(printable("evil\u{1b}[31mred"), "evil?[31mred");
    }
}
