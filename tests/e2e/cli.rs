//! `kinvex login | status | logout` end to end: the real binary, the local stack, the headless
//! user agent as BROWSER, and the real Secret Service (gnome-keyring in the test's D-Bus session).
//! Help, version, completion and usage errors are checked with nothing configured at all, and
//! `status` and `login` with no session bus or one that never answers.
//!
//! One file: every test runs the one binary through the same few helpers (`kinvex`, `run`,
//! `text`, the stack); split, each part would carry its own copy of them.

use kinvex_devstack::{Config, Running, start};
use kinvex_e2e::{keychain_items, required_env};
use std::process::Output;

async fn stack() -> Running {
    start(Config {
        any_loopback_port: true,
        ..Config::default()
    })
    .await
    .expect("stack starts")
}

fn kinvex(stack: &Running, browser: &str, args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(required_env("KINVEX_E2E_CLI"));
    command
        .args(args)
        .env("KINDE_ISSUER_URL", stack.issuer())
        .env("KINDE_CLIENT_ID", &stack.state.config.client_id)
        .env("KINDE_REDIRECT_URL", "http://127.0.0.1:0/callback")
        .env("CONVEX_URL", stack.api_url())
        .env("BROWSER", browser)
        .env_remove("KINVEX_PLAINTEXT_TOKENS");
    command
}

async fn run(mut command: std::process::Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().expect("kinvex runs"))
        .await
        .expect("join")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn browser_for(stack: &Running, action: &str) -> String {
    let devstack = required_env("KINVEX_E2E_DEVSTACK");
    let demo = &stack.accounts[0];
    match action {
        "cancel" => format!("{devstack} browse --cancel"),
        _ => format!(
            "{devstack} browse --email {} --password {}",
            demo.email, demo.password
        ),
    }
}

#[tokio::test]
async fn login_status_logout_through_the_real_keychain() {
    let stack = stack().await;
    let browser = browser_for(&stack, "sign-in");

    let login = run(kinvex(&stack, &browser, &["login"])).await;
    assert!(login.status.success(), "{}", text(&login));
    assert!(
        text(&login).contains("Signed in as Dana Demo <demo@kinvex.dev>"),
        "{}",
        text(&login)
    );
    assert!(
        text(&login).contains("/oauth2/auth?"),
        "the URL is always shown"
    );
    assert!(
        keychain_items(stack.issuer()) >= 2,
        "manifest and chunks are in the Secret Service"
    );

    let status = run(kinvex(&stack, &browser, &["status"])).await;
    assert!(status.status.success(), "{}", text(&status));
    assert!(
        text(&status).contains("demo@kinvex.dev") && text(&status).contains("OS keychain"),
        "{}",
        text(&status)
    );
    assert!(!text(&status).contains("eyJ"), "no token is ever printed");
    let status = run(kinvex(&stack, &browser, &["status", "--json"])).await;
    assert!(status.status.success(), "{}", text(&status));
    let session: serde_json::Value = serde_json::from_slice(&status.stdout).expect("JSON");
    assert_eq!(session["signed_in"], true, "{session}");
    assert_eq!(session["email"], "demo@kinvex.dev", "{session}");
    assert_eq!(session["issuer"], stack.issuer(), "{session}");
    assert_eq!(session["storage"]["kind"], "keychain", "{session}");
    assert!(session["expires_at"].is_i64(), "{session}");
    assert!(!text(&status).contains("eyJ"), "no token in JSON either");

    let logout = run(kinvex(&stack, &browser, &["logout", "--no-browser"])).await;
    assert!(logout.status.success(), "{}", text(&logout));
    assert_eq!(
        keychain_items(stack.issuer()),
        0,
        "nothing of the session is left in the keychain"
    );
    let status = run(kinvex(&stack, &browser, &["status"])).await;
    assert_eq!(status.status.code(), Some(1));
    assert!(text(&status).contains("Not signed in"));
    let status = run(kinvex(&stack, &browser, &["status", "--json"])).await;
    assert_eq!(
        status.status.code(),
        Some(1),
        "signed out is 1 with --json too"
    );
    let session: serde_json::Value = serde_json::from_slice(&status.stdout).expect("JSON");
    assert_eq!(session["signed_in"], false, "{session}");
    assert!(session["email"].is_null(), "{session}");
}

#[tokio::test]
async fn cancelling_in_the_browser_is_reported_and_stores_nothing() {
    let stack = stack().await;
    let login = run(kinvex(&stack, &browser_for(&stack, "cancel"), &["login"])).await;
    assert_eq!(login.status.code(), Some(1));
    assert!(
        text(&login).contains("cancelled") && text(&login).contains("[access_denied]"),
        "{}",
        text(&login)
    );
    assert_eq!(keychain_items(stack.issuer()), 0);
}

#[tokio::test]
async fn without_a_browser_the_url_is_printed_and_the_wait_times_out() {
    let stack = stack().await;
    let login = run(kinvex(
        &stack,
        "",
        &["login", "--no-browser", "--timeout", "1"],
    ))
    .await;
    assert_eq!(login.status.code(), Some(1));
    let output = text(&login);
    assert!(
        output.contains("Open this address in a browser")
            && output.contains("code_challenge_method=S256"),
        "{output}"
    );
    assert!(output.contains("[timeout]"), "{output}");
}

/// No session bus, or one that never answers: the keychain is the Secret Service on D-Bus.
#[cfg(target_os = "linux")]
mod no_d_bus {
    use super::*;
    use kinvex_auth::session::{KEYCHAIN_NOTICE, KEYCHAIN_TIMEOUT};
    use std::path::PathBuf;
    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant};

    /// Runs `command`, killing it if it is still running after `limit`, and says how long it took.
    async fn run_within(command: std::process::Command, limit: Duration) -> (Output, Duration) {
        let mut command = tokio::process::Command::from(command);
        command
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let started = Instant::now();
        let child = command.spawn().expect("kinvex runs");
        match tokio::time::timeout(limit, child.wait_with_output()).await {
            Ok(output) => (output.expect("kinvex's output"), started.elapsed()),
            Err(_) => panic!("kinvex was still running after {limit:?} (and was killed)"),
        }
    }

    /// A directory of the test's own, 0700 like a runtime directory, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Scratch {
            let path = std::env::temp_dir().join(format!("kinvex-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            let mut builder = std::fs::DirBuilder::new();
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(&path).expect("scratch directory");
            Scratch(path)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// `command` with no session bus to reach: none named, no display for libdbus to autolaunch
    /// one on (it would start a new bus and a Secret Service on it), and a runtime directory
    /// without the `bus` socket it looks for when none is named.
    fn without_a_bus(command: &mut std::process::Command, runtime_dir: &Scratch) {
        command
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env("XDG_RUNTIME_DIR", &runtime_dir.0);
    }

    /// What `status` and `login` print and do when the keychain cannot be used: a failure that says
    /// what to do, and a login that ends before it shows or opens a sign-in address.
    fn assert_keychain_refused(stack: &Running, status: &Output, login: &Output) {
        for (command, output) in [("status", status), ("login", login)] {
            let shown = text(output);
            assert_eq!(output.status.code(), Some(1), "{command}: {shown}");
            assert!(
                shown.contains("[keychain_unavailable]")
                    && shown.contains("KINVEX_PLAINTEXT_TOKENS=1"),
                "{command} says what to do: {shown}"
            );
        }
        let shown = text(login);
        assert!(
            !shown.contains("/oauth2/auth") && !shown.contains("Open this address"),
            "no sign-in address before the keychain answered: {shown}"
        );
        assert_eq!(stack.state.stats.code_exchanges.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn without_a_d_bus_session_status_and_login_fail_at_once_and_login_shows_no_address() {
        let stack = stack().await;
        let runtime_dir = Scratch::new("no-bus");
        // Far under the keychain's bound: there is nothing to wait for.
        let at_once = Duration::from_secs(10);
        assert!(at_once < KEYCHAIN_TIMEOUT);
        for address in [None, Some("unix:path=/nonexistent/kinvex-test-bus")] {
            let mut status = kinvex(&stack, "", &["status"]);
            let mut login = kinvex(&stack, "", &["login", "--no-browser", "--timeout", "60"]);
            for command in [&mut status, &mut login] {
                without_a_bus(command, &runtime_dir);
                if let Some(address) = address {
                    command.env("DBUS_SESSION_BUS_ADDRESS", address);
                }
            }
            let ((status, status_took), (login, login_took)) = tokio::join!(
                run_within(status, at_once + KEYCHAIN_TIMEOUT),
                run_within(login, at_once + KEYCHAIN_TIMEOUT)
            );
            assert_keychain_refused(&stack, &status, &login);
            assert!(
                status_took < at_once && login_took < at_once,
                "{address:?}: status took {status_took:?}, login {login_took:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_d_bus_that_never_answers_ends_status_and_login_within_the_keychain_bound() {
        // A session bus that takes connections and never says a word, so every keychain call
        // waits until the bound ends it.
        let dir = Scratch::new("silent-bus");
        let socket = dir.0.join("bus");
        let listener = tokio::net::UnixListener::bind(&socket).expect("silent bus");
        tokio::spawn(async move {
            let mut connections = Vec::new();
            while let Ok((connection, _)) = listener.accept().await {
                connections.push(connection);
            }
        });
        let stack = stack().await;
        let address = format!("unix:path={}", socket.display());
        let mut status = kinvex(&stack, "", &["status"]);
        let mut login = kinvex(&stack, "", &["login", "--no-browser", "--timeout", "60"]);
        for command in [&mut status, &mut login] {
            command.env("DBUS_SESSION_BUS_ADDRESS", &address);
        }
        // The bound, then the message, then the end: the call left behind keeps nothing running.
        let margin = Duration::from_secs(10);
        let ((status, status_took), (login, login_took)) = tokio::join!(
            run_within(status, KEYCHAIN_TIMEOUT + 2 * margin),
            run_within(login, KEYCHAIN_TIMEOUT + 2 * margin)
        );
        assert_keychain_refused(&stack, &status, &login);
        for (command, output, took) in [
            ("status", &status, status_took),
            ("login", &login, login_took),
        ] {
            let shown = text(output);
            assert!(
                took >= KEYCHAIN_TIMEOUT && took < KEYCHAIN_TIMEOUT + margin,
                "{command} ended after {took:?}: {shown}"
            );
            assert!(
                shown.contains(&format!(
                    "has not answered for {} seconds",
                    KEYCHAIN_NOTICE.as_secs()
                )) && shown.contains(&format!(
                    "did not answer within {} seconds",
                    KEYCHAIN_TIMEOUT.as_secs()
                )),
                "{command} told the person while waiting, then gave up: {shown}"
            );
        }
    }
}

#[tokio::test]
async fn plaintext_storage_only_when_opted_in_and_then_said_plainly() {
    let stack = stack().await;
    let dir = std::env::temp_dir().join(format!("kinvex-plaintext-{}", std::process::id()));
    let mut login = kinvex(&stack, &browser_for(&stack, "sign-in"), &["login"]);
    login
        .env("KINVEX_PLAINTEXT_TOKENS", "1")
        .env("XDG_DATA_HOME", &dir);
    let output = run(login).await;
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("PLAINTEXT file"),
        "the status says so: {}",
        text(&output)
    );
    assert_eq!(
        keychain_items(stack.issuer()),
        0,
        "nothing went to the keychain"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("kinvex/tokens.json"))
            .expect("token file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "readable by its owner only");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn register_creates_an_account_and_signs_it_in() {
    let stack = stack().await;
    let devstack = required_env("KINVEX_E2E_DEVSTACK");
    let browser = format!(
        "{devstack} browse --register --given-name Terry --family-name Terminal --email terry@example.com --password terminal-password"
    );
    let login = run(kinvex(&stack, &browser, &["login", "--register", "--json"])).await;
    assert!(login.status.success(), "{}", text(&login));
    let signed_in: serde_json::Value = serde_json::from_slice(&login.stdout).expect("JSON");
    assert_eq!(signed_in["signed_in"], true, "{signed_in}");
    assert_eq!(signed_in["name"], "Terry Terminal", "{signed_in}");
    assert_eq!(signed_in["email"], "terry@example.com", "{signed_in}");
    assert!(
        text(&login).contains("prompt=create"),
        "Kinde's registration screen was asked for"
    );
    let logout = run(kinvex(
        &stack,
        &browser,
        &["logout", "--no-browser", "--json"],
    ))
    .await;
    assert!(logout.status.success(), "{}", text(&logout));
    let signed_out: serde_json::Value = serde_json::from_slice(&logout.stdout).expect("JSON");
    assert_eq!(signed_out["signed_in"], false, "{signed_out}");
    assert!(
        signed_out["end_session_url"]
            .as_str()
            .is_some_and(|url| url.starts_with(stack.issuer())),
        "{signed_out}"
    );
}

#[tokio::test]
async fn whoami_and_files_show_the_backend_data() {
    let stack = stack().await;
    let browser = browser_for(&stack, "sign-in");
    assert!(
        run(kinvex(&stack, &browser, &["login"]))
            .await
            .status
            .success()
    );

    let whoami = run(kinvex(&stack, &browser, &["whoami"])).await;
    assert!(whoami.status.success(), "{}", text(&whoami));
    let shown = text(&whoami);
    assert!(
        shown.contains("Dana Demo")
            && shown.contains("+44 7700 900123")
            && shown.contains(&stack.accounts[0].user_id),
        "{shown}"
    );

    let json = run(kinvex(&stack, &browser, &["whoami", "--json"])).await;
    assert!(json.status.success(), "{}", text(&json));
    let me: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(me["kinde_id"], stack.accounts[0].user_id.as_str(), "{me}");
    assert_eq!(me["name"], "Dana Demo", "{me}");
    assert_eq!(me["phone"], "+44 7700 900123", "{me}");

    let table = run(kinvex(&stack, &browser, &["files", "--limit", "5"])).await;
    assert!(table.status.success(), "{}", text(&table));
    let listing = String::from_utf8_lossy(&table.stdout).to_string();
    assert!(listing.starts_with("NAME"), "{listing}");
    assert_eq!(
        listing.lines().count(),
        1 + 5 + 1,
        "header, five rows, a footer: {listing}"
    );
    assert!(listing.contains("use --limit"), "{listing}");

    let json = run(kinvex(
        &stack,
        &browser,
        &["files", "--json", "--limit", "100"],
    ))
    .await;
    let all: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(all.as_array().map(Vec::len), Some(14));
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .all(|f| !f["name"].as_str().unwrap().starts_with("Alex"))
    );
    let _ = run(kinvex(&stack, &browser, &["logout", "--no-browser"])).await;
}

#[tokio::test]
async fn the_cli_and_the_library_refresh_at_the_same_moment_and_both_keep_working() {
    let mut config = Config {
        any_loopback_port: true,
        ..Config::default()
    };
    // With no overlap, spending a rotated refresh token twice would revoke the whole session.
    config.lifetimes.rotation_overlap = std::time::Duration::ZERO;
    // Two processes share no clock a test could move: an ID token that lives 30 s is inside the
    // 60-second renewal margin from the moment it is issued, so the next call renews it.
    config.lifetimes.id = std::time::Duration::from_secs(30);
    let stack = start(config).await.expect("stack starts");
    let browser = browser_for(&stack, "sign-in");
    assert!(
        run(kinvex(&stack, &browser, &["login"]))
            .await
            .status
            .success()
    );
    // Renewed tokens live long, so only the first one is ever inside the renewal margin.
    stack.state.lifetimes.lock().expect("lifetimes").id = std::time::Duration::from_secs(3600);

    let settings = kinvex_auth::config::Sources::from_pairs([
        ("KINDE_ISSUER_URL", stack.issuer()),
        ("KINDE_CLIENT_ID", stack.state.config.client_id.as_str()),
        ("CONVEX_URL", stack.api_url()),
    ]);
    let library_config = kinvex_auth::Config::from_sources(&settings).expect("config");
    let store = kinvex_auth::default_store(&library_config);
    let library = kinvex_auth::Auth::new(
        library_config,
        kinvex_auth::http::HttpClient::new().expect("http client"),
        store,
        std::sync::Arc::new(kinvex_auth::browser::SystemBrowser),
    );
    let client = kinvex_convex::Client::for_auth(&library).expect("client");

    let no_args = serde_json::json!({});
    let cli = run(kinvex(&stack, &browser, &["whoami"]));
    let in_process = client.call_as(
        &library,
        kinvex_convex::Kind::Query,
        "users:current",
        &no_args,
    );
    let (cli, in_process) = tokio::join!(cli, in_process);
    assert!(cli.status.success(), "the CLI kept working: {}", text(&cli));
    let record = in_process.expect("the library kept working");
    assert_eq!(record["kindeId"], stack.accounts[0].user_id.as_str());
    assert_eq!(
        stack
            .state
            .stats
            .refreshes
            .load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one refresh; the other process reused it"
    );

    let again = run(kinvex(&stack, &browser, &["whoami"])).await;
    assert!(
        again.status.success(),
        "still signed in afterwards: {}",
        text(&again)
    );
    let _ = run(kinvex(&stack, &browser, &["logout", "--no-browser"])).await;
}

#[tokio::test]
async fn the_apps_scheme_redirect_is_refused_by_the_cli_with_the_fix() {
    let stack = stack().await;
    let mut command = kinvex(&stack, &browser_for(&stack, "sign-in"), &["login"]);
    command.env("KINDE_REDIRECT_URL", "dev.kinvex.desktop:/callback");
    let login = run(command).await;
    assert_eq!(login.status.code(), Some(2));
    let output = text(&login);
    assert!(
        output.contains("desktop app's scheme")
            && output.contains("KINDE_REDIRECT_URL=http://127.0.0.1:53180/callback"),
        "{output}"
    );
    assert_eq!(
        stack
            .state
            .stats
            .code_exchanges
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
}

/// The binary with nothing configured: an empty environment but for PATH and HOME, and an
/// empty working directory, so no `.env` is found either.
fn unconfigured(args: &[&str]) -> Output {
    let dir = std::env::temp_dir().join(format!("kinvex-unconfigured-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("empty directory");
    let mut command = std::process::Command::new(required_env("KINVEX_E2E_CLI"));
    command.args(args).env_clear().current_dir(&dir);
    for kept in ["PATH", "HOME"] {
        if let Some(value) = std::env::var_os(kept) {
            command.env(kept, value);
        }
    }
    let output = command.output().expect("kinvex runs");
    let _ = std::fs::remove_dir_all(dir);
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).to_string()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

#[test]
fn help_needs_no_configuration() {
    let help = unconfigured(&["--help"]);
    assert_eq!(help.status.code(), Some(0), "{}", text(&help));
    let shown = stdout(&help);
    assert!(shown.contains("Usage: kinvex <COMMAND>"), "{shown}");
    for command in ["login", "status", "logout", "whoami", "files", "completion"] {
        assert!(shown.contains(command), "{command} is listed: {shown}");
    }
    assert!(
        !shown.contains('\u{1b}'),
        "no colour into a pipe: {shown:?}"
    );

    for args in [&["help", "login"][..], &["login", "--help"]] {
        let help = unconfigured(args);
        assert_eq!(help.status.code(), Some(0), "{args:?}: {}", text(&help));
        let shown = stdout(&help);
        assert!(
            shown.contains("Usage: kinvex login")
                && shown.contains("--login-hint <TEXT>")
                && shown.contains("--timeout <SECONDS>"),
            "{args:?}: {shown}"
        );
    }
}

#[test]
fn version_needs_no_configuration() {
    let version = unconfigured(&["--version"]);
    assert_eq!(version.status.code(), Some(0), "{}", text(&version));
    assert!(
        stdout(&version).starts_with("kinvex 0."),
        "{}",
        text(&version)
    );
}

#[test]
fn completion_needs_no_configuration() {
    let completion = unconfigured(&["completion", "bash"]);
    assert_eq!(completion.status.code(), Some(0), "{}", text(&completion));
    let script = stdout(&completion);
    assert!(
        script.contains("kinvex") && script.contains("complete") && script.contains("--login-hint"),
        "{script}"
    );
    assert!(stderr(&completion).is_empty(), "{}", stderr(&completion));
}

#[test]
fn a_stray_flag_is_a_usage_error_with_a_suggestion() {
    let misspelt = unconfigured(&["login", "--regster"]);
    assert_eq!(misspelt.status.code(), Some(2), "{}", text(&misspelt));
    let shown = stderr(&misspelt);
    assert!(
        shown.contains("unexpected argument '--regster'")
            && shown.contains("a similar argument exists: '--register'"),
        "{shown}"
    );
    assert!(stdout(&misspelt).is_empty());

    let elsewhere = unconfigured(&["status", "--limit", "5"]);
    assert_eq!(
        elsewhere.status.code(),
        Some(2),
        "a flag of `files` is not one of `status`"
    );
    assert!(stderr(&elsewhere).contains("unexpected argument '--limit'"));
}

#[test]
fn a_missing_setting_is_named_with_its_code_and_ends_with_2() {
    let status = unconfigured(&["status"]);
    assert_eq!(status.status.code(), Some(2), "{}", text(&status));
    let shown = stderr(&status);
    assert!(
        shown.starts_with("error: KINDE_ISSUER_URL is not set")
            && shown.trim_end().ends_with("[config]"),
        "{shown}"
    );
}
