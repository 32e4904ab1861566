//! Several accounts in the real window, from the keyboard: Dana signs in, Add account… signs in
//! Alex, Dana is chosen again from the header's account menu (her stored session: no browser,
//! no code exchanged), and signing out of Dana's account leaves Alex's in the keychain. The app's
//! `BROWSER` is fixed at launch, so it is a script that signs in as Dana the first time and as
//! Alex after, and logs every address it is handed.

use kinvex_devstack::Running;
use kinvex_e2e::desktop::{app_settings, local_stack};
use kinvex_e2e::keys::{ARROW_UP, END, ENTER, HOME, SHIFT, TAB};
use kinvex_e2e::{Session, required_env};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

/// The person's browser: the stack's headless user agent, as Dana on the first sign-in page and
/// as Alex on every later one; any other address (the end-session page) is only logged.
struct Browser {
    script: PathBuf,
    log: PathBuf,
}

impl Browser {
    fn new(stack: &Running, dir: &Path) -> Browser {
        std::fs::create_dir_all(dir).expect("browser dir");
        let (script, log) = (dir.join("browser.sh"), dir.join("opened"));
        let (dana, alex) = (&stack.accounts[0], &stack.accounts[1]);
        let browse = |who: &kinvex_devstack::Account| {
            format!(
                "exec '{}' browse --email '{}' --password '{}' \"$1\"",
                required_env("KINVEX_E2E_DEVSTACK"),
                who.email,
                who.password
            )
        };
        let log_path = log.display();
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{log_path}'\ncase \"$1\" in */oauth2/auth*) ;; *) exit 0 ;; esac\nif [ \"$(grep -c /oauth2/auth '{log_path}')\" -eq 1 ]; then\n  {}\nfi\n{}\n",
                browse(dana),
                browse(alex)
            ),
        )
        .expect("script");
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        Browser { script, log }
    }

    /// Every address the app handed the browser, in order.
    fn opened(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// The app's own keychain store for `stack` (the same settings the window runs with).
fn app_store(stack: &Running) -> kinvex_auth::TokenStore {
    let sources = kinvex_auth::config::Sources::from_pairs([
        ("KINDE_ISSUER_URL", stack.issuer()),
        ("KINDE_CLIENT_ID", stack.state.config.client_id.as_str()),
        ("CONVEX_URL", stack.api_url()),
    ]);
    let config = kinvex_auth::Config::from_sources(&sources).expect("config");
    kinvex_auth::default_store(&config)
}

#[tokio::test]
async fn add_an_account_switch_back_by_keyboard_without_a_browser_and_sign_out_of_one() {
    let stack = local_stack().await;
    let (dana, alex) = (stack.accounts[0].clone(), stack.accounts[1].clone());
    let dir = std::env::temp_dir().join(format!("kinvex-accounts-browser-{}", std::process::id()));
    let browser = Browser::new(&stack, &dir);
    // An account in the header's menu, checked or not.
    let item = |email: &str, checked: bool| {
        format!(
            "//*[@data-testid='account-list']/*[@role='menuitemradio'][@aria-checked='{checked}'][normalize-space()='{email}']"
        )
    };
    // The account button once no switch is under way: it opens no list while one is (the
    // session event, and with it the new person's list, can come before the switch returns).
    let idle = "//*[@data-testid='account-button'][@aria-busy='false']";
    let app =
        Session::desktop_with(&app_settings(&stack, &browser.script.display().to_string())).await;
    app.click("[data-testid=sign-in]").await;
    app.wait_for_text("profile-name", "Dana Demo").await;
    app.wait_for_text("bar-email", &dana.email).await;
    app.wait_for(&item(&dana.email, true)).await;

    // Add account…: the sign-in page even though the browser could sign Dana straight back.
    app.wait_for(idle).await;
    app.press_until_focused(&[SHIFT, TAB], "account-button", 12)
        .await;
    app.press(&[ENTER]).await;
    app.wait_shown("account-list").await;
    app.press(&[END]).await;
    assert_eq!(app.focused().await, "account-sign-out");
    app.press(&[ARROW_UP]).await;
    assert_eq!(app.focused().await, "account-add");
    app.press(&[ENTER]).await;
    app.wait_announced(&format!("Signed in as {}.", alex.email))
        .await;
    app.wait_for_text("profile-name", "Alex Other").await;
    app.wait_for_text("bar-email", &alex.email).await;
    app.wait_for_text("files-count", "3 files").await;
    let opened = browser.opened();
    assert_eq!(opened.len(), 2, "{opened:?}");
    assert!(opened[1].contains("prompt=login"), "{}", opened[1]);

    // Both listed, Alex checked.
    app.wait_for(&item(&alex.email, true)).await;
    let dana_item = app.wait_for(&item(&dana.email, false)).await;
    let dana_id = dana_item
        .attr("data-testid")
        .await
        .expect("attribute")
        .expect("a test id");
    app.wait_for(&format!(
        "//*[@data-testid='account-sign-out'][normalize-space()='Sign out of {}']",
        alex.email
    ))
    .await;

    // Back to Dana from the keyboard: her stored session, no page and no code exchanged.
    let exchanges = stack.state.stats.code_exchanges.load(Ordering::SeqCst);
    app.wait_for(idle).await;
    app.press_until_focused(&[SHIFT, TAB], "account-button", 12)
        .await;
    app.press(&[ENTER]).await;
    app.wait_shown("account-list").await;
    app.press(&[HOME]).await;
    assert_eq!(app.focused().await, dana_id);
    app.screenshot("accounts-menu").await;
    app.press(&[ENTER]).await;
    app.wait_announced(&format!("Signed in as {}.", dana.email))
        .await;
    app.wait_for_text("profile-name", "Dana Demo").await;
    app.wait_for_text("bar-email", &dana.email).await;
    app.wait_for_text("files-count", "14 files").await;
    app.wait_for(&item(&dana.email, true)).await;
    app.wait_for(&item(&alex.email, false)).await;
    assert_eq!(
        stack.state.stats.code_exchanges.load(Ordering::SeqCst),
        exchanges,
        "no sign-in"
    );
    assert_eq!(browser.opened().len(), 2, "no browser");
    assert_eq!(app.focused().await, "account-button");

    // Sign out of Dana's account only: the window is signed out, Alex's account stays.
    app.wait_for(idle).await;
    app.press(&[ENTER]).await;
    app.wait_shown("account-list").await;
    app.press(&[END]).await;
    assert_eq!(app.focused().await, "account-sign-out");
    app.press(&[ENTER]).await;
    app.wait_shown("screen-signed-out").await;
    app.wait_announced("Signed out.").await;
    let (store, alex_email) = (app_store(&stack), alex.email.clone());
    let (accounts, alex_session) = tokio::task::spawn_blocking(move || {
        // This stack's tenant only: the keychain is the whole suite's, and other tests' tenants
        // have accounts in it too.
        let (issuer, client_id) = store.tenant();
        let accounts: Vec<_> = store
            .accounts()
            .expect("the accounts read")
            .into_iter()
            .filter(|a| a.is_on(issuer, client_id))
            .collect();
        let alex = accounts
            .iter()
            .find(|a| a.email.as_deref() == Some(alex_email.as_str()));
        let session = alex.map(|a| store.load_of(a).expect("the keychain reads"));
        (accounts, session)
    })
    .await
    .expect("join");
    let listed: Vec<_> = accounts
        .iter()
        .map(|a| (a.email.clone(), a.active))
        .collect();
    assert_eq!(
        listed,
        vec![(Some(alex.email.clone()), false)],
        "Alex's account is kept, none made active"
    );
    assert!(
        alex_session.flatten().is_some(),
        "and Alex's session with it"
    );
    app.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
