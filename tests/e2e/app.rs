//! The desktop app in a real window (tauri-driver + WebKitWebDriver under Xvfb), signing in
//! against the local stack with the headless user agent (or Chromium) as the system browser and
//! keeping its tokens in the real Secret Service.

use kinvex_devstack::{Config, Running, start};
use kinvex_e2e::{Session, keychain_items, required_env};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

async fn stack() -> Running {
    start(Config {
        any_loopback_port: true,
        ..Config::default()
    })
    .await
    .expect("stack starts")
}

fn settings(stack: &Running, browser: &str) -> Vec<(String, String)> {
    [
        ("KINDE_ISSUER_URL", stack.issuer().to_string()),
        ("KINDE_CLIENT_ID", stack.state.config.client_id.clone()),
        ("KINDE_REDIRECT_URL", "http://127.0.0.1:0/callback".into()),
        ("CONVEX_URL", stack.api_url().to_string()),
        ("BROWSER", browser.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn sign_in_browser(stack: &Running) -> String {
    let demo = &stack.accounts[0];
    format!(
        "{} browse --email {} --password {}",
        required_env("KINVEX_E2E_DEVSTACK"),
        demo.email,
        demo.password
    )
}

async fn admin(stack: &Running, path: &str, body: serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/_devstack/{path}", stack.issuer()))
        .json(&body)
        .send()
        .await
        .expect("admin");
    assert!(response.status().is_success());
}

#[tokio::test]
async fn sign_in_shows_the_profile_and_files_survives_a_restart_and_signs_out() {
    let stack = stack().await;
    let app = Session::desktop_with(&settings(&stack, &sign_in_browser(&stack))).await;
    app.wait_shown("screen-signed-out").await;
    app.wait_shown("local-badge").await;
    app.screenshot("app-signed-out").await;

    app.click("[data-testid=sign-in]").await;
    app.wait_for_text("profile-name", "Dana Demo").await;
    app.wait_for_text("profile-id", &stack.accounts[0].user_id)
        .await;
    app.wait_for("//*[@data-testid='files']//span[normalize-space()='Quarterly report.pdf']")
        .await;
    app.wait_for_text("files-count", "14 files").await;
    // Markup in a file name is shown as text, never run.
    app.wait_for(
        "//*[@data-testid='files']//span[normalize-space()='<b>not bold</b> & \"quoted\".html']",
    )
    .await;
    app.screenshot("app-signed-in").await;
    assert!(
        keychain_items(stack.issuer()) >= 2,
        "the session is in the keychain"
    );
    app.close().await;

    // Restart: signed in again from the keychain, with a browser that cannot open.
    let exchanges = stack.state.stats.code_exchanges.load(Ordering::SeqCst);
    let app = Session::desktop_with(&settings(&stack, "false")).await;
    app.wait_for_text("profile-name", "Dana Demo").await;
    assert_eq!(
        stack.state.stats.code_exchanges.load(Ordering::SeqCst),
        exchanges,
        "no new sign-in"
    );

    app.click("[data-testid=sign-out]").await;
    app.wait_shown("screen-signed-out").await;
    assert_eq!(
        keychain_items(stack.issuer()),
        0,
        "nothing of the session is left in the keychain"
    );
    app.close().await;
}

#[tokio::test]
async fn registering_shows_the_new_persons_profile() {
    let stack = stack().await;
    let browser = format!(
        "{} browse --register --given-name Wendy --family-name Window --email wendy@example.com --password window-password",
        required_env("KINVEX_E2E_DEVSTACK")
    );
    let app = Session::desktop_with(&settings(&stack, &browser)).await;
    app.click("[data-testid=register]").await;
    app.wait_for_text("profile-name", "Wendy Window").await;
    app.wait_for_text("profile-email", "wendy@example.com")
        .await;
    app.wait_shown("files-state").await;
    app.click("[data-testid=sign-out]").await;
    app.wait_shown("screen-signed-out").await;
    app.close().await;
}

#[tokio::test]
async fn a_sign_in_can_be_cancelled_in_the_app_or_in_the_browser() {
    let stack = stack().await;
    // A browser that opens nothing: the person uses the app's Cancel.
    let app = Session::desktop_with(&settings(&stack, "true")).await;
    app.click("[data-testid=sign-in]").await;
    app.wait_shown("screen-signing-in").await;
    let shown = app
        .wait_for_value("[data-testid=waiting-url]", "/oauth2/auth?")
        .await;
    assert!(
        shown.contains("code_challenge_method=S256"),
        "the real sign-in URL is shown: {shown}"
    );
    app.screenshot("app-signing-in").await;
    app.click("[data-testid=cancel-sign-in]").await;
    app.wait_shown("screen-signed-out").await;
    app.close().await;

    let cancel = format!("{} browse --cancel", required_env("KINVEX_E2E_DEVSTACK"));
    let app = Session::desktop_with(&settings(&stack, &cancel)).await;
    app.click("[data-testid=sign-in]").await;
    app.wait_shown("banner").await;
    assert!(
        app.text_of("[data-testid=banner]")
            .await
            .contains("cancelled in the browser")
    );
    app.wait_shown("screen-signed-out").await;
    app.close().await;
}

#[tokio::test]
async fn backend_down_shows_a_banner_and_recovers() {
    let stack = stack().await;
    let app = Session::desktop_with(&settings(&stack, &sign_in_browser(&stack))).await;
    app.click("[data-testid=sign-in]").await;
    app.wait_for_text("files-count", "14 files").await;

    admin(
        &stack,
        "faults",
        serde_json::json!({ "backend": { "status": 503 } }),
    )
    .await;
    app.click("[data-testid=refresh-files]").await;
    app.wait_shown("banner").await;
    app.screenshot("app-backend-down").await;
    admin(&stack, "faults", serde_json::json!({ "backend": {} })).await;
    app.click("#banner-action").await;
    app.wait_for_text("files-count", "14 files").await;
    app.wait_for("//*[@data-testid='banner'][@hidden]").await;
    app.click("[data-testid=sign-out]").await;
    app.wait_shown("screen-signed-out").await;
    app.close().await;
}

#[tokio::test]
async fn chromium_as_the_system_browser_signs_the_app_in_through_the_real_pages() {
    let stack = stack().await;
    let dir = std::env::temp_dir().join(format!("kinvex-chromium-browser-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let handoff = dir.join("url");
    let script = dir.join("browser.sh");
    // The "system browser" hands the URL to a Chromium the test drives, like a person would.
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s' \"$1\" > {}.tmp && mv {0}.tmp {0}\n",
            handoff.display()
        ),
    )
    .expect("script");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");

    let app = Session::desktop_with(&settings(&stack, &script.display().to_string())).await;
    app.click("[data-testid=sign-in]").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !handoff.exists() {
        assert!(Instant::now() < deadline, "the app never opened a browser");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let url = std::fs::read_to_string(&handoff).expect("url");

    let chromium = Session::chromium(&dir.join("profile")).await;
    chromium
        .client()
        .goto(&url)
        .await
        .expect("open the sign-in page");
    let demo = &stack.accounts[0];
    chromium.fill("input[name=email]", &demo.email).await;
    chromium
        .fill(
            "input[name=password]",
            &format!("{}\u{E007}", demo.password),
        )
        .await;
    chromium
        .wait_for("//h1[normalize-space()='Signed in']")
        .await;
    chromium.close().await;

    app.wait_for_text("profile-name", "Dana Demo").await;
    app.click("[data-testid=sign-out]").await;
    app.wait_shown("screen-signed-out").await;
    app.close().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn ten_thousand_files_stay_a_short_list_in_the_page() {
    let stack = start(Config {
        any_loopback_port: true,
        extra_demo_files: 10_000,
        ..Config::default()
    })
    .await
    .expect("stack starts");
    let app = Session::desktop_with(&settings(&stack, &sign_in_browser(&stack))).await;
    app.click("[data-testid=sign-in]").await;
    app.wait_for("//*[@data-testid='files']//span[normalize-space()='Quarterly report.pdf']")
        .await;

    let rows = |app: &Session| {
        let script = "return document.querySelectorAll('[data-testid=files] .file-row').length;";
        let client = app.client().clone();
        async move {
            client
                .execute(script, Vec::new())
                .await
                .expect("script")
                .as_u64()
                .unwrap_or(0)
        }
    };
    let first = rows(&app).await;
    assert!(
        first > 5 && first < 100,
        "only the visible rows are in the page: {first}"
    );

    // Scrolling to the end keeps pulling pages until the last file is there. Scroll again only
    // once the count has moved, as a person reading the list would.
    let last = "//*[@data-testid='files']//span[normalize-space()='Generated file 10000.txt']";
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen_count = String::new();
    loop {
        let count = app.text_of("[data-testid=files-count]").await;
        if count != seen_count {
            seen_count = count;
            app.client()
                .execute("const v = document.getElementById('files-viewport'); v.scrollTop = v.scrollHeight;", Vec::new())
                .await
                .expect("scroll");
        }
        let shown = app
            .client()
            .find_all(fantoccini::Locator::XPath(last))
            .await
            .expect("query");
        if !shown.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the last file never appeared (at {seen_count})"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        app.text_of("[data-testid=files-count]").await,
        "10014 files"
    );
    assert!(
        rows(&app).await < 100,
        "still a short list after 10,000 files"
    );
    app.click("[data-testid=sign-out]").await;
    app.wait_shown("screen-signed-out").await;
    app.close().await;
}

/// Asks the desktop (GIO, as GNOME's xdg-open does) which application opens `scheme:` links.
fn scheme_handler(scheme: &str) -> String {
    let output = std::process::Command::new("gio")
        .args(["mime", &format!("x-scheme-handler/{scheme}")])
        .output()
        .expect("gio runs (package libglib2.0-bin)");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

#[tokio::test]
async fn the_apps_scheme_brings_the_sign_in_back_through_the_desktop() {
    // The whole path a tenant with a custom-scheme callback gets: the browser's last redirect
    // goes to xdg-open, the desktop starts the registered app with the URL, the single-instance
    // plugin hands it to the running window, and the waiting sign-in takes it.
    let stack = stack().await;
    let mut env = settings(&stack, &sign_in_browser(&stack));
    for (key, value) in &mut env {
        if key == "KINDE_REDIRECT_URL" {
            *value = "dev.kinvex.desktop:/callback".into();
        }
    }
    // xdg-open hands links to GIO on GNOME. Its generic mode (no desktop named) in Debian 12's
    // xdg-utils 1.1.3 cannot read the quoted Exec line of a runtime registration.
    env.push(("XDG_CURRENT_DESKTOP".into(), "GNOME".into()));
    let app = Session::desktop_with(&env).await;
    app.wait_shown("screen-signed-out").await;
    // A development build registers itself when configured for the scheme; wait until the
    // desktop knows it (there is no event to wait on for that).
    let deadline = Instant::now() + Duration::from_secs(20);
    while !scheme_handler("dev.kinvex.desktop").contains(": kinvex-desktop-handler.desktop") {
        assert!(
            Instant::now() < deadline,
            "the app did not register its scheme: `{}`",
            scheme_handler("dev.kinvex.desktop")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let exchanges = stack.state.stats.code_exchanges.load(Ordering::SeqCst);
    app.click("[data-testid=sign-in]").await;
    app.wait_for_text("profile-name", "Dana Demo").await;
    assert_eq!(
        stack.state.stats.code_exchanges.load(Ordering::SeqCst),
        exchanges + 1
    );
    app.click("[data-testid=sign-out]").await;
    app.wait_shown("screen-signed-out").await;
    app.close().await;
}
