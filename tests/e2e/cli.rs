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
async fn whoami_shows_what_the_person_may_do_in_the_organisation_signed_in_to() {
    let stack = stack().await;
    let browser = browser_for(&stack, "sign-in");
    let login = run(kinvex(&stack, &browser, &["login"])).await;
    assert!(login.status.success(), "{}", text(&login));

    let whoami = run(kinvex(&stack, &browser, &["whoami"])).await;
    assert!(whoami.status.success(), "{}", text(&whoami));
    let shown = String::from_utf8_lossy(&whoami.stdout).to_string();
    for line in [
        "\nAccess\n",
        "  Organization Northwind Studio (org_kinvex_demo)\n",
        "  Roles        Admin (admin)\n",
        "  Permissions  read:files, write:files, delete:files, manage:members\n",
        "beta_search = true\n",
        "max_upload_mb = 1024\n",
        "theme = \"light\"\n",
    ] {
        assert!(shown.contains(line), "{line:?} in {shown}");
    }

    // Signed in to the other organisation, the same person may do less.
    let login = run(kinvex(
        &stack,
        &browser,
        &["login", "--org", "org_kinvex_default"],
    ))
    .await;
    assert!(login.status.success(), "{}", text(&login));
    let json = run(kinvex(&stack, &browser, &["whoami", "--json"])).await;
    assert!(json.status.success(), "{}", text(&json));
    let me: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    let access = &me["access"];
    assert_eq!(access["org_code"], "org_kinvex_default", "{me}");
    assert_eq!(access["org_name"], "Kinvex", "{me}");
    assert_eq!(access["roles"][0]["key"], "member", "{me}");
    assert_eq!(
        access["permissions"],
        serde_json::json!(["read:files"]),
        "{me}"
    );
    assert_eq!(access["feature_flags"]["beta_search"], false, "{me}");
    assert_eq!(
        access["feature_flags"]["retention"],
        serde_json::json!({ "days": 30, "trash": true }),
        "{me}"
    );
    assert!(!text(&json).contains("eyJ"), "no token is printed");
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

#[cfg(unix)]
#[tokio::test]
async fn files_watch_json_prints_a_line_per_change_and_ends_with_0_on_ctrl_c() {
    use kinvex_devstack::store::backend::NewFile;
    use tokio::io::{AsyncBufReadExt, BufReader};

    let wait = std::time::Duration::from_secs(30);
    let stack = stack().await;
    let browser = browser_for(&stack, "sign-in");
    assert!(
        run(kinvex(&stack, &browser, &["login"]))
            .await
            .status
            .success()
    );
    let mut command = tokio::process::Command::from(kinvex(
        &stack,
        &browser,
        &["files", "--watch", "--json", "--limit", "5"],
    ));
    command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut watching = command.spawn().expect("kinvex runs");
    let mut lines = BufReader::new(watching.stdout.take().expect("stdout")).lines();
    let mut next_line = async || {
        let line = tokio::time::timeout(wait, lines.next_line())
            .await
            .expect("a line in time")
            .expect("stdout readable")
            .expect("still running");
        serde_json::from_str::<serde_json::Value>(&line).expect("one JSON object a line")
    };
    let first = next_line().await;
    assert_eq!(first["files"].as_array().map(Vec::len), Some(5), "{first}");
    assert_eq!(first["isDone"], false, "{first}");

    stack
        .state
        .store
        .backend()
        .insert_file(
            &NewFile {
                owner: stack.accounts[0].user_id.clone(),
                name: "watched-arrival.txt".into(),
                content_type: "text/plain".into(),
                size: 12,
            },
            stack.state.clock.unix_ms(),
        )
        .expect("inserted");
    let changed = next_line().await;
    assert_eq!(
        changed["files"][0]["name"], "watched-arrival.txt",
        "{changed}"
    );
    assert_eq!(changed["files"][0]["size"], 12, "{changed}");

    let pid = nix::unistd::Pid::from_raw(watching.id().expect("running") as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("SIGINT sent");
    let status = tokio::time::timeout(wait, watching.wait())
        .await
        .expect("exits in time after Ctrl+C")
        .expect("waited");
    assert!(status.success(), "{status:?}");
    let _ = run(kinvex(&stack, &browser, &["logout", "--no-browser"])).await;
}

/// A folder of the test's own under the temporary one, removed when dropped.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("kinvex-e2e-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch folder");
        Scratch(dir)
    }

    fn file(&self, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).expect("written");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn json_of(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("one JSON document ({e}): {}", text(output)))
}

#[tokio::test]
async fn upload_download_and_rm_round_trip_with_json_and_a_failure_among_several_uploads() {
    let stack = stack().await;
    let browser = browser_for(&stack, "sign-in");
    assert!(
        run(kinvex(&stack, &browser, &["login"]))
            .await
            .status
            .success()
    );
    let scratch = Scratch::new("storage-round-trip");
    let notes = scratch.file("round-trip notes.txt", b"what was said, all of it\n");
    let pdf = scratch.file("round-trip.pdf", &[0x25, 0x50, 0x44, 0x46, 0, 1, 2, 255]);
    let path = |p: &std::path::Path| p.to_string_lossy().into_owned();

    let uploaded = run(kinvex(
        &stack,
        &browser,
        &["upload", &path(&notes), &path(&pdf)],
    ))
    .await;
    assert!(uploaded.status.success(), "{}", text(&uploaded));
    let shown = String::from_utf8_lossy(&uploaded.stdout).into_owned();
    assert!(
        shown.contains("Uploaded round-trip notes.txt (25 B) as ")
            && shown.contains("Uploaded round-trip.pdf (8 B) as "),
        "{shown}"
    );
    assert!(
        !text(&uploaded).contains('\u{1b}'),
        "no bar when not a terminal"
    );

    // Several at once, two refused: the good one is uploaded, each outcome said, exit 1.
    let folder = scratch.0.join("a folder");
    std::fs::create_dir(&folder).expect("folder");
    let third = scratch.file("third.csv", b"a,b\n1,2\n");
    let missing = scratch.0.join("missing.txt");
    let mixed = run(kinvex(
        &stack,
        &browser,
        &[
            "upload",
            "--json",
            &path(&folder),
            &path(&third),
            &path(&missing),
        ],
    ))
    .await;
    assert_eq!(mixed.status.code(), Some(1), "{}", text(&mixed));
    let outcome = json_of(&mixed);
    assert_eq!(
        outcome["uploaded"].as_array().map(Vec::len),
        Some(1),
        "{outcome}"
    );
    let third_upload = &outcome["uploaded"][0];
    assert_eq!(third_upload["name"], "third.csv", "{outcome}");
    assert_eq!(third_upload["size"], 8, "{outcome}");
    assert_eq!(third_upload["content_type"], "text/csv", "{outcome}");
    assert_eq!(third_upload["path"], path(&third).as_str(), "{outcome}");
    assert!(third_upload["id"].is_string(), "{outcome}");
    let codes: Vec<&str> = outcome["failed"]
        .as_array()
        .expect("failed")
        .iter()
        .map(|f| f["code"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(codes, ["not_a_file", "no_such_path"], "{outcome}");
    assert!(
        stderr(&mixed).trim_end().ends_with("[upload_failed]"),
        "{}",
        stderr(&mixed)
    );

    let listed = run(kinvex(
        &stack,
        &browser,
        &["files", "--json", "--limit", "100"],
    ))
    .await;
    let files = json_of(&listed);
    let id_of = |name: &str| {
        files
            .as_array()
            .expect("files")
            .iter()
            .find(|f| f["name"] == name)
            .and_then(|f| f["id"].as_str())
            .unwrap_or_else(|| panic!("{name} listed: {files}"))
            .to_string()
    };
    let notes_id = id_of("round-trip notes.txt");
    let pdf_id = id_of("round-trip.pdf");

    // By name, into the current folder, under its own name.
    let here = Scratch::new("storage-downloads");
    let mut by_name = kinvex(&stack, &browser, &["download", "round-trip notes.txt"]);
    by_name.current_dir(&here.0);
    let downloaded = run(by_name).await;
    assert!(downloaded.status.success(), "{}", text(&downloaded));
    assert_eq!(
        std::fs::read(here.0.join("round-trip notes.txt")).expect("downloaded"),
        std::fs::read(&notes).expect("source")
    );

    // By id, as JSON, to a path given.
    let target = here.0.join("copy.pdf");
    let by_id = run(kinvex(
        &stack,
        &browser,
        &["download", &pdf_id, "-o", &path(&target), "--json"],
    ))
    .await;
    assert!(by_id.status.success(), "{}", text(&by_id));
    assert_eq!(
        json_of(&by_id),
        serde_json::json!({
            "id": pdf_id,
            "name": "round-trip.pdf",
            "path": path(&target),
            "size": 8,
        })
    );
    assert_eq!(
        std::fs::read(&target).expect("downloaded"),
        std::fs::read(&pdf).expect("source")
    );

    let removed = run(kinvex(&stack, &browser, &["rm", &notes_id, "--json"])).await;
    assert!(removed.status.success(), "{}", text(&removed));
    assert_eq!(
        json_of(&removed),
        serde_json::json!({ "id": notes_id, "name": "round-trip notes.txt", "removed": true })
    );
    let removed = run(kinvex(&stack, &browser, &["rm", "round-trip.pdf"])).await;
    assert!(removed.status.success(), "{}", text(&removed));
    assert!(
        String::from_utf8_lossy(&removed.stdout)
            .contains(&format!("Removed round-trip.pdf ({pdf_id})")),
        "{}",
        text(&removed)
    );
    let again = run(kinvex(&stack, &browser, &["rm", &notes_id])).await;
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(
        stderr(&again).trim_end().ends_with("[no_such_file]"),
        "{}",
        stderr(&again)
    );
    let _ = run(kinvex(&stack, &browser, &["logout", "--no-browser"])).await;
}

#[tokio::test]
async fn download_refuses_an_ambiguous_name_and_an_existing_file_unless_forced() {
    let stack = stack().await;
    let browser = browser_for(&stack, "sign-in");
    assert!(
        run(kinvex(&stack, &browser, &["login"]))
            .await
            .status
            .success()
    );
    let first = Scratch::new("storage-first");
    let second = Scratch::new("storage-second");
    let one = first.file("twin.txt", b"first");
    let two = second.file("twin.txt", b"second");
    for path in [&one, &two] {
        let uploaded = run(kinvex(
            &stack,
            &browser,
            &["upload", &path.to_string_lossy()],
        ))
        .await;
        assert!(uploaded.status.success(), "{}", text(&uploaded));
    }
    let listed = json_of(
        &run(kinvex(
            &stack,
            &browser,
            &["files", "--json", "--limit", "100"],
        ))
        .await,
    );
    let twins: Vec<String> = listed
        .as_array()
        .expect("files")
        .iter()
        .filter(|f| f["name"] == "twin.txt")
        .map(|f| f["id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(twins.len(), 2, "{listed}");

    let here = Scratch::new("storage-here");
    let in_here = |args: &[&str]| {
        let mut command = kinvex(&stack, &browser, args);
        command.current_dir(&here.0);
        command
    };
    let ambiguous = run(in_here(&["download", "twin.txt"])).await;
    assert_eq!(ambiguous.status.code(), Some(1), "{}", text(&ambiguous));
    let said = stderr(&ambiguous);
    assert!(
        said.contains("2 of your files are named \"twin.txt\"")
            && twins.iter().all(|id| said.contains(id.as_str()))
            && said.contains("(created ")
            && said.trim_end().ends_with("[ambiguous_name]"),
        "{said}"
    );
    assert!(
        std::fs::read_dir(&here.0).expect("here").next().is_none(),
        "nothing written"
    );

    // The newest is listed first: the second upload.
    let newest = &twins[0];
    let downloaded = run(in_here(&["download", newest])).await;
    assert!(downloaded.status.success(), "{}", text(&downloaded));
    let written = here.0.join("twin.txt");
    assert_eq!(std::fs::read(&written).expect("downloaded"), b"second");

    std::fs::write(&written, b"edited here").expect("edited");
    let refused = run(in_here(&["download", &twins[1]])).await;
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        stderr(&refused).contains("--force")
            && stderr(&refused)
                .trim_end()
                .ends_with("[destination_exists]"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(std::fs::read(&written).expect("kept"), b"edited here");

    let forced = run(in_here(&["download", &twins[1], "--force"])).await;
    assert!(forced.status.success(), "{}", text(&forced));
    assert_eq!(std::fs::read(&written).expect("replaced"), b"first");
    let names: Vec<_> = std::fs::read_dir(&here.0)
        .expect("here")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["twin.txt"], "no partial file left");

    let unknown = run(in_here(&["download", "no such thing"])).await;
    assert_eq!(unknown.status.code(), Some(1), "{}", text(&unknown));
    assert!(
        stderr(&unknown).trim_end().ends_with("[no_such_file]"),
        "{}",
        stderr(&unknown)
    );
    let usage = run(in_here(&["download"])).await;
    assert_eq!(usage.status.code(), Some(2), "{}", text(&usage));
    let _ = run(kinvex(&stack, &browser, &["logout", "--no-browser"])).await;
}
