//! The desktop app in a real window (tauri-driver + WebKitWebDriver under Xvfb), signing in
//! against the local stack with the headless user agent (or Chromium) as the system browser and
//! keeping its tokens in the real Secret Service.

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use kinvex_devstack::{Config, Running, start};
use kinvex_e2e::desktop::{app_settings, demo_browser, local_stack};
use kinvex_e2e::hostile::Fragments;
use kinvex_e2e::{Session, keychain_items, required_env};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

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
    let stack = local_stack().await;
    let app = Session::desktop_with(&app_settings(&stack, &demo_browser(&stack))).await;
    app.wait_shown("screen-signed-out").await;
    app.wait_shown("local-badge").await;
    app.screenshot("app-signed-out").await;

    app.click("[data-testid=sign-in]").await;
    app.wait_for_text("profile-name", "Dana Demo").await;
    app.wait_for_text("profile-id", &stack.accounts[0].user_id)
        .await;
    // The stack's picture, fetched by Rust: the window holds only its bytes, never its address.
    let picture = app
        .wait_for("//*[@id='avatar']/img[starts-with(@src, 'data:image/png;base64,')]")
        .await;
    let src = picture.attr("src").await.ok().flatten().unwrap_or_default();
    assert!(!src.contains("_devstack"), "no remote address in the page");
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
    let app = Session::desktop_with(&app_settings(&stack, "false")).await;
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
    let stack = local_stack().await;
    let browser = format!(
        "{} browse --register --given-name Wendy --family-name Window --email wendy@example.com --password window-password",
        required_env("KINVEX_E2E_DEVSTACK")
    );
    let app = Session::desktop_with(&app_settings(&stack, &browser)).await;
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
    let stack = local_stack().await;
    // A browser that opens nothing: the person uses the app's Cancel.
    let app = Session::desktop_with(&app_settings(&stack, "true")).await;
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
    let app = Session::desktop_with(&app_settings(&stack, &cancel)).await;
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
async fn backend_down_at_start_is_shown_and_reconnect_brings_the_window_live() {
    let stack = local_stack().await;
    let app = Session::desktop_with(&app_settings(&stack, &demo_browser(&stack))).await;
    admin(
        &stack,
        "faults",
        serde_json::json!({ "backend": { "status": 503 } }),
    )
    .await;
    app.click("[data-testid=sign-in]").await;
    app.wait_shown("banner").await;
    // The socket cannot open: reconnecting, then offline with the time it went down.
    app.wait_for("//*[@data-testid='connection'][@data-state='offline']")
        .await;
    app.wait_shown("reconnect").await;
    let status = app.text_of("[data-testid=connection-text]").await;
    assert!(status.starts_with("Offline since "), "{status}");
    app.screenshot("app-backend-down").await;

    admin(&stack, "faults", serde_json::json!({ "backend": {} })).await;
    app.click("[data-testid=reconnect]").await;
    app.wait_for_text("connection-text", "Live").await;
    app.wait_for_text("files-count", "14 files").await;
    app.wait_for_text("profile-name", "Dana Demo").await;
    app.wait_for("//*[@data-testid='banner'][@hidden]").await;
    app.wait_for("//*[@data-testid='reconnect'][@hidden]").await;
    app.click("[data-testid=sign-out]").await;
    app.wait_shown("screen-signed-out").await;
    app.close().await;
}

#[tokio::test]
async fn chromium_as_the_system_browser_signs_the_app_in_through_the_real_pages() {
    let stack = local_stack().await;
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

    let app = Session::desktop_with(&app_settings(&stack, &script.display().to_string())).await;
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
    let app = Session::desktop_with(&app_settings(&stack, &demo_browser(&stack))).await;
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
    let stack = local_stack().await;
    let mut env = app_settings(&stack, &demo_browser(&stack));
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

/// Pieces of every token of the app's session for `stack`, read from the keychain through the
/// library (the app's own store for these settings).
async fn session_fragments(stack: &Running) -> Fragments {
    let sources = kinvex_auth::config::Sources::from_pairs([
        ("KINDE_ISSUER_URL", stack.issuer()),
        ("KINDE_CLIENT_ID", stack.state.config.client_id.as_str()),
        ("CONVEX_URL", stack.api_url()),
    ]);
    let config = kinvex_auth::Config::from_sources(&sources).expect("config");
    let store = kinvex_auth::default_store(&config);
    let tokens = tokio::task::spawn_blocking(move || store.load())
        .await
        .expect("join")
        .expect("the keychain entry reads")
        .expect("signed in");
    let mut fragments = Fragments::of(&[tokens.access_token.expose(), tokens.id_token.expose()]);
    if let Some(refresh) = &tokens.refresh_token {
        fragments.add(refresh.expose());
    }
    fragments
}

/// Opens the Diagnostics view and waits until its checks have been rendered; returns their ids
/// and statuses.
async fn open_diagnostics(app: &Session) -> Vec<(String, String)> {
    app.click("[data-testid=open-diagnostics]").await;
    app.wait_for("//dialog[@data-testid='diagnostics'][@open]")
        .await;
    // Rendered: rows in the list and the busy flag down.
    app.wait_for("//ol[@data-testid='diagnostics-checks'][@aria-busy='false']/li")
        .await;
    let rows = app
        .client()
        .execute(
            "return [...document.querySelectorAll('[data-testid=diagnostics-checks] > li')]\
               .map(li => [li.dataset.testid, li.dataset.status]);",
            Vec::new(),
        )
        .await
        .expect("the rows");
    // WebDriver's "displayed" ignores a scrolling parent's clipping: measure instead.
    let fits = app
        .client()
        .execute(
            "const list = document.querySelector('[data-testid=diagnostics-checks]');\
             return list.firstElementChild.offsetHeight > 0\
               && list.clientHeight >= list.firstElementChild.offsetHeight;",
            Vec::new(),
        )
        .await
        .expect("the list's height");
    assert_eq!(
        fits,
        serde_json::json!(true),
        "the first check is on screen, not squeezed out of the dialog"
    );
    serde_json::from_value(rows).expect("pairs of strings")
}

/// What the clipboard holds, pasted (Ctrl+V, as a person would) into a text area the test adds.
async fn pasted(app: &Session) -> String {
    app.client()
        .execute(
            "const area = document.createElement('textarea');\
             area.id = 'paste-target';\
             document.getElementById('diagnostics').append(area);",
            Vec::new(),
        )
        .await
        .expect("a paste target");
    app.fill("#paste-target", "\u{E009}v").await;
    let text = app.wait_for_value("#paste-target", "\n").await;
    app.client()
        .execute(
            "document.getElementById('paste-target').remove();",
            Vec::new(),
        )
        .await
        .expect("remove the paste target");
    text
}

#[tokio::test]
async fn diagnostics_open_signed_out_and_in_show_every_check_and_copy_a_report_without_tokens() {
    let stack = local_stack().await;
    let app = Session::desktop_with(&app_settings(&stack, &demo_browser(&stack))).await;
    app.wait_shown("screen-signed-out").await;

    // Signed out: the view opens from the footer; the checks of the session are skipped.
    let signed_out = open_diagnostics(&app).await;
    assert!(signed_out.len() > 3, "every hop has a row: {signed_out:?}");
    assert!(
        signed_out.iter().any(|(_, status)| status == "skip"),
        "without a session its checks are skipped: {signed_out:?}"
    );
    app.screenshot("app-diagnostics-signed-out").await;
    app.click("[data-testid=diagnostics-close]").await;
    app.wait_for("//dialog[@data-testid='diagnostics'][not(@open)]")
        .await;

    app.click("[data-testid=sign-in]").await;
    app.wait_for_text("profile-name", "Dana Demo").await;
    let secrets = session_fragments(&stack).await;
    assert!(!secrets.is_empty());

    // Signed in against a healthy stack: every check runs and none fails.
    let signed_in = open_diagnostics(&app).await;
    assert_eq!(
        signed_in.len(),
        signed_out.len(),
        "the same checks: {signed_in:?}"
    );
    let failed: Vec<_> = signed_in.iter().filter(|(_, s)| s == "fail").collect();
    assert!(
        failed.is_empty(),
        "a healthy stack fails nothing: {failed:?}"
    );
    assert!(
        signed_in.iter().filter(|(_, s)| s == "skip").count()
            < signed_out.iter().filter(|(_, s)| s == "skip").count(),
        "signed in, the session's checks run: {signed_in:?}"
    );
    let overall = app.filled_text_of("diagnostics-overall").await;
    assert!(overall.starts_with("No problems found"), "{overall}");
    app.screenshot("app-diagnostics-signed-in").await;

    let dom = app
        .client()
        .execute("return document.documentElement.outerHTML", Vec::new())
        .await
        .expect("the DOM")
        .to_string();
    assert!(!secrets.found_in(&dom), "no token fragment in the page");
    let answer = app
        .client()
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             window.__TAURI__.core.invoke('diagnose')\
               .then(r => done(JSON.stringify(r)), e => done(JSON.stringify({ err: e })));",
            Vec::new(),
        )
        .await
        .expect("the command's answer");
    let answer = answer.as_str().unwrap_or_default();
    assert!(answer.contains("\"checks\""), "diagnose answered: {answer}");
    assert!(
        !secrets.found_in(answer),
        "no token fragment in what the command hands the page"
    );

    app.click("[data-testid=diagnostics-copy]").await;
    app.wait_for_text("diagnostics-notice", "Report copied.")
        .await;
    let report = pasted(&app).await;
    for title in app
        .client()
        .execute(
            "return [...document.querySelectorAll('[data-testid=diagnostics-checks] .check-title')].map(t => t.textContent);",
            Vec::new(),
        )
        .await
        .expect("titles")
        .as_array()
        .expect("a list")
    {
        let title = title.as_str().expect("text");
        assert!(report.contains(title), "the copied report has `{title}`:\n{report}");
    }
    assert!(
        !secrets.found_in(&report),
        "no token fragment in the copied report"
    );

    // Escape closes the view and the person is back where they were.
    let escape = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: '\u{E00C}' })
        .then(KeyAction::Up { value: '\u{E00C}' });
    app.client()
        .perform_actions(escape)
        .await
        .expect("press Escape");
    app.wait_for("//dialog[@data-testid='diagnostics'][not(@open)]")
        .await;
    app.wait_shown("screen-signed-in").await;
    app.click("[data-testid=sign-out]").await;
    app.wait_shown("screen-signed-out").await;
    app.close().await;
}

/// Adds a file for the demo user straight into the stack's store, as another client's upload
/// would; returns its name.
fn add_file(stack: &Running, name: &str) -> String {
    let file = kinvex_devstack::store::backend::NewFile {
        owner: stack.accounts[0].user_id.clone(),
        name: name.into(),
        content_type: "text/plain".into(),
        size: 12,
    };
    // Newer than every seeded file, so it is the first row.
    let created = stack.state.clock.unix_ms() + 60_000.0;
    stack
        .state
        .store
        .backend()
        .insert_file(&file, created)
        .expect("insert a file");
    name.to_string()
}

/// The stack's open sync sockets, counted until they are `wanted` (bounded: nothing to wait on).
async fn wait_for_sockets(stack: &Running, wanted: impl Fn(usize) -> bool) -> usize {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let open = stack.state.store.commits().followers();
        if wanted(open) {
            return open;
        }
        assert!(Instant::now() < deadline, "{open} sync sockets open");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn files_and_the_profile_change_live_in_the_open_window_and_sign_out_closes_the_socket() {
    let stack = local_stack().await;
    let app = Session::desktop_with(&app_settings(&stack, &demo_browser(&stack))).await;
    app.click("[data-testid=sign-in]").await;
    app.wait_for_text("files-count", "14 files").await;
    app.wait_for_text("connection-text", "Live").await;
    let status = app
        .client()
        .execute(
            "const s = document.querySelector('[data-testid=connection]');\
             return [s.getAttribute('role'), s.getAttribute('aria-live')];",
            Vec::new(),
        )
        .await
        .expect("the status's attributes");
    assert_eq!(status, serde_json::json!(["status", "polite"]));
    assert!(
        app.client()
            .find_all(fantoccini::Locator::Css("[data-testid=refresh-files]"))
            .await
            .expect("query")
            .is_empty(),
        "no Refresh button: the list is live"
    );
    // Every payload the live events bring, kept to check for tokens.
    app.client()
        .execute(
            "window.__payloads = [];\
             for (const name of ['connection', 'profile', 'file-page']) {\
               window.__TAURI__.event.listen(name, (e) => window.__payloads.push(JSON.stringify(e.payload)));\
             }",
            Vec::new(),
        )
        .await
        .expect("listen");

    // Another client adds a file: it appears without a click.
    let name = add_file(&stack, "Added elsewhere.txt");
    app.wait_for(&format!(
        "//*[@data-testid='files']//span[normalize-space()='{name}']"
    ))
    .await;
    app.wait_for_text("files-count", "15 files").await;

    // Kinde's `user.updated` webhook renames the person: the card follows.
    let user = &stack.accounts[0].user_id;
    let renamed = reqwest::Client::new()
        .patch(format!("{}/_devstack/users/{user}", stack.issuer()))
        .json(&serde_json::json!({ "family_name": "Livewire" }))
        .send()
        .await
        .expect("admin");
    assert!(renamed.status().is_success());
    app.wait_for_text("profile-name", "Dana Livewire").await;
    app.screenshot("app-live").await;

    let secrets = session_fragments(&stack).await;
    let payloads = app
        .client()
        .execute("return window.__payloads.join('\\n');", Vec::new())
        .await
        .expect("payloads")
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(payloads.contains("Added elsewhere.txt"), "{payloads}");
    assert!(
        !secrets.found_in(&payloads),
        "no token fragment in a live event"
    );

    assert!(wait_for_sockets(&stack, |open| open >= 1).await >= 1);
    app.click("[data-testid=sign-out]").await;
    app.wait_shown("screen-signed-out").await;
    assert_eq!(
        wait_for_sockets(&stack, |open| open == 0).await,
        0,
        "signing out closed the socket"
    );
    app.close().await;
}

#[tokio::test]
async fn a_backend_restart_shows_reconnecting_then_live_with_the_list_still_live() {
    let dir = std::env::temp_dir().join(format!("kinvex-app-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = |ports: Option<(u16, u16, u16)>| {
        let mut config = Config {
            any_loopback_port: true,
            data_dir: Some(dir.clone()),
            ..Config::default()
        };
        if let Some(ports) = ports {
            (config.idp_port, config.api_port, config.site_port) = ports;
        }
        config
    };
    let first = start(config(None)).await.expect("stack starts");
    let port = |url: &str| {
        url.trim_end_matches('/')
            .rsplit(':')
            .next()
            .and_then(|p| p.parse::<u16>().ok())
            .expect("a port")
    };
    let ports = (
        port(first.issuer()),
        port(first.api_url()),
        port(first.site_url()),
    );
    let app = Session::desktop_with(&app_settings(&first, &demo_browser(&first))).await;
    app.click("[data-testid=sign-in]").await;
    app.wait_for_text("files-count", "14 files").await;
    app.wait_for_text("connection-text", "Live").await;

    first.stop().await;
    app.wait_for(
        "//*[@data-testid='connection'][@data-state='reconnecting' or @data-state='offline']",
    )
    .await;
    app.screenshot("app-reconnecting").await;

    let second = start(config(Some(ports)))
        .await
        .expect("stack starts again");
    // The client retries by itself (at most 15 s apart): no click.
    app.wait_for_text("connection-text", "Live").await;
    let name = add_file(&second, "After the restart.txt");
    app.wait_for(&format!(
        "//*[@data-testid='files']//span[normalize-space()='{name}']"
    ))
    .await;
    app.wait_for_text("files-count", "15 files").await;
    app.click("[data-testid=sign-out]").await;
    app.wait_shown("screen-signed-out").await;
    app.close().await;
    second.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Waits until the list's first row is the file named `name` (no `'` in it: an XPath literal).
async fn wait_first_row(app: &Session, name: &str) {
    app.wait_for(&format!(
        "(//*[@data-testid='files']//*[contains(@class,'file-row')])[1]/*[contains(@class,'file-name')][normalize-space()='{name}']"
    ))
    .await;
}

#[tokio::test]
async fn sorting_by_name_puts_the_first_name_first_and_a_search_narrows_the_list() {
    let stack = local_stack().await;
    let app = Session::desktop_with(&app_settings(&stack, &demo_browser(&stack))).await;
    app.click("[data-testid=sign-in]").await;
    app.wait_for_text("files-count", "14 files").await;

    // By the name's bytes, `<` comes before every letter: the HTML-named file leads, as text.
    app.find("[data-testid=files-sort]")
        .await
        .select_by_value("name")
        .await
        .expect("choose Name");
    wait_first_row(&app, r#"<b>not bold</b> & "quoted".html"#).await;
    app.find("[data-testid=files-sort]")
        .await
        .select_by_value("size")
        .await
        .expect("choose Size");
    wait_first_row(&app, "Product demo.mp4").await;

    // A search ignores case and narrows the list; one that matches nothing says so.
    app.fill("[data-testid=files-search]", "REPORT").await;
    app.wait_for_text("files-count", "1 file").await;
    wait_first_row(&app, "Quarterly report.pdf").await;
    app.fill("[data-testid=files-search]", "zzz").await;
    app.wait_for_text("files-state", "No files match “REPORTzzz”.")
        .await;
    app.screenshot("app-files-search").await;

    // Escape clears the search: every file is back, still largest first.
    app.fill("[data-testid=files-search]", "\u{E00C}").await;
    app.wait_for_text("files-count", "14 files").await;
    wait_first_row(&app, "Product demo.mp4").await;
    app.close().await;
}
