//! `kinvex`: the sign-in core from a terminal, in the spirit of `gh auth`.

use kinvex_auth::browser::SystemBrowser;
use kinvex_auth::http::HttpClient;
use kinvex_auth::session::SIGN_IN_TIMEOUT;
use kinvex_auth::{Auth, AuthError, Config, SignInOptions, Status, default_store};
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
            "--register" | "--force" | "--no-browser" => flags.push(arg),
            "--org" | "--login-hint" | "--timeout" => {
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
    let auth = Auth::new(config, HttpClient::new(), store, Arc::new(SystemBrowser));
    let result = runtime.block_on(async {
        match args.command.as_str() {
            "login" => login(&auth, &args).await,
            "status" => status(&auth).await,
            "logout" => logout(&auth, &args).await,
            other => Err(Failure::Usage(format!(
                "unknown command `{other}`\n\n{USAGE}"
            ))),
        }
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
    }
}

enum Failure {
    Usage(String),
    Auth(AuthError),
}

impl From<AuthError> for Failure {
    fn from(e: AuthError) -> Self {
        Failure::Auth(e)
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
