//! The header's organisation menu in the real window, from the keyboard: the demo person, who is
//! in two organisations, switches to the other one and creates a third. The app's system browser
//! is a script that hands each address to this test, whose one browser profile (the headless user
//! agent, cookies kept) follows it: the sign-in, and every later switch, in the same "browser",
//! so a silent switch finds the provider's session as it would in a person's own browser.

use kinvex_devstack::Running;
use kinvex_devstack::user_agent::{Action, UserAgent};
use kinvex_e2e::desktop::{app_settings, local_stack};
use kinvex_e2e::keys::{ARROW_DOWN, END, ENTER, ESCAPE, SHIFT, TAB};
use kinvex_e2e::{Session, UI_TIMEOUT};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the person does with the pages the app opens after the first sign-in.
#[derive(Clone, Copy, PartialEq)]
enum Later {
    /// Their browser keeps the provider's session, and they sign in on any page shown.
    SignIn,
    /// Their browser has lost the provider's session, and they leave any page shown alone.
    WalkAway,
}

/// The person's browser: every address the app opens, in order, followed by one user agent that
/// signs in as the demo person on the first (and later as `later` says).
struct Browser {
    script: PathBuf,
    opened: Arc<Mutex<Vec<String>>>,
}

impl Browser {
    fn start(stack: &Running, dir: &Path, later: Later) -> Browser {
        let inbox = dir.join("opened");
        std::fs::create_dir_all(&inbox).expect("inbox");
        let script = dir.join("browser.sh");
        // One file per address, renamed into place whole so the test never reads half of one.
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nname=$(date +%s%N)-$$\nprintf '%s' \"$1\" > {dir}/.$name && mv {dir}/.$name {dir}/$name\n",
                dir = inbox.display()
            ),
        )
        .expect("script");
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        let opened = Arc::new(Mutex::new(Vec::new()));
        let demo = &stack.accounts[0];
        let action = Action::SignIn {
            email: demo.email.clone(),
            password: demo.password.clone(),
        };
        let seen = opened.clone();
        tokio::spawn(async move {
            let agent = UserAgent::new();
            loop {
                let mut names: Vec<_> = std::fs::read_dir(&inbox)
                    .expect("inbox")
                    .filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .filter(|n| !n.starts_with('.'))
                    .collect();
                names.sort();
                for name in names {
                    let path = inbox.join(&name);
                    let url = std::fs::read_to_string(&path).expect("address");
                    std::fs::remove_file(&path).expect("taken");
                    let first = {
                        let mut seen = seen.lock().expect("opened");
                        seen.push(url.clone());
                        seen.len() == 1
                    };
                    if first || later == Later::SignIn {
                        agent
                            .authorize(&url, &action, true)
                            .await
                            .unwrap_or_else(|e| panic!("the browser failed on {url}: {e}"));
                    } else if url.contains("prompt=none") {
                        // No session: the provider sends `login_required` straight back.
                        UserAgent::new()
                            .authorize(&url, &action, true)
                            .await
                            .unwrap_or_else(|e| panic!("the browser failed on {url}: {e}"));
                    }
                }
                // The script is another process: nothing to wait on but its file appearing.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        Browser { script, opened }
    }

    fn opened(&self) -> Vec<String> {
        self.opened.lock().expect("opened").clone()
    }
}

/// Waits until the element with `data-testid` = `id` shows text other than `was`, and returns it.
async fn text_changed(app: &Session, id: &str, was: &str) -> String {
    let deadline = Instant::now() + UI_TIMEOUT;
    loop {
        let now = app.filled_text_of(id).await;
        if now != was {
            return now;
        }
        assert!(Instant::now() < deadline, "`{id}` stayed `{was}`");
        // Text set by script fires nothing WebDriver can wait on.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn switching_and_creating_an_organisation_from_the_header_by_keyboard() {
    let stack = local_stack().await;
    let dir = std::env::temp_dir().join(format!("kinvex-org-browser-{}", std::process::id()));
    let browser = Browser::start(&stack, &dir, Later::SignIn);
    let app =
        Session::desktop_with(&app_settings(&stack, &browser.script.display().to_string())).await;
    app.click("[data-testid=sign-in]").await;
    app.wait_for_text("profile-name", "Dana Demo").await;
    app.wait_for_text("profile-org", "org_kinvex_demo").await;
    app.wait_for_text("files-count", "14 files").await;
    assert_eq!(browser.opened().len(), 1, "one sign-in page");

    // Both organisations, named, the current one checked and on the button.
    app.wait_for_text("org-button-text", "Northwind Studio")
        .await;
    app.wait_for("//*[@data-testid='org-list']/*[@data-testid='org-org_kinvex_demo'][@role='menuitemradio'][@aria-checked='true'][normalize-space()='Northwind Studio']")
        .await;
    app.wait_for("//*[@data-testid='org-list']/*[@data-testid='org-org_kinvex_default'][@aria-checked='false'][normalize-space()='Kinvex']")
        .await;
    app.press_until_focused(&[SHIFT, TAB], "org-button", 12)
        .await;
    app.press(&[ENTER]).await;
    app.wait_for("//*[@data-testid='org-button'][@aria-expanded='true']")
        .await;
    app.wait_shown("org-list").await;
    assert_eq!(app.focused().await, "org-org_kinvex_demo");
    app.screenshot("organizations-menu").await;

    let exchanges = stack.state.stats.code_exchanges.load(Ordering::SeqCst);
    app.press(&[ARROW_DOWN]).await;
    assert_eq!(app.focused().await, "org-org_kinvex_default");
    app.press(&[ENTER]).await;
    app.wait_announced("Now in Kinvex.").await;
    app.wait_for_text("profile-org", "org_kinvex_default").await;
    app.wait_for_text("org-button-text", "Kinvex").await;
    app.wait_for("//*[@data-testid='org-org_kinvex_default'][@aria-checked='true']")
        .await;
    app.wait_for("//*[@data-testid='org-org_kinvex_demo'][@aria-checked='false']")
        .await;
    assert_eq!(
        stack.state.stats.code_exchanges.load(Ordering::SeqCst),
        exchanges + 1,
        "one new sign-in"
    );
    let opened = browser.opened();
    assert_eq!(
        opened.len(),
        2,
        "the switch asked the browser once: {opened:?}"
    );
    assert!(
        opened[1].contains("prompt=none") && opened[1].contains("org_code=org_kinvex_default"),
        "silently, for the chosen one: {}",
        opened[1]
    );
    app.wait_for("//*[@data-testid='screen-signed-in'][not(@hidden)]")
        .await;
    app.wait_for_text("files-count", "14 files").await;
    app.wait_for("//*[@data-testid='files']//span[normalize-space()='Quarterly report.pdf']")
        .await;
    assert_eq!(
        app.focused().await,
        "org-button",
        "the focus is back on the menu"
    );

    // A new one, through the dialog: it becomes current and is listed.
    app.press(&[ENTER]).await;
    app.wait_shown("org-list").await;
    app.press(&[END]).await;
    assert_eq!(app.focused().await, "org-new");
    app.press(&[ENTER]).await;
    app.wait_for("//*[@data-testid='org-create'][@open]").await;
    assert_eq!(app.focused().await, "org-create-name");
    app.fill("[data-testid=org-create-name]", "Acme Labs").await;
    app.press(&[ENTER]).await;
    app.wait_announced("Now in Acme Labs.").await;
    app.wait_for_text("org-button-text", "Acme Labs").await;
    app.wait_for("//*[@data-testid='org-list']/*[@role='menuitemradio'][@aria-checked='true'][normalize-space()='Acme Labs']")
        .await;
    app.wait_for("//*[@data-testid='org-org_kinvex_default'][@aria-checked='false']")
        .await;
    let org = text_changed(&app, "profile-org", "org_kinvex_default").await;
    assert!(
        org.starts_with("org_"),
        "the new organisation's code: {org}"
    );
    assert_eq!(
        stack.state.stats.code_exchanges.load(Ordering::SeqCst),
        exchanges + 2
    );
    assert_eq!(browser.opened().len(), 3, "created silently too");
    app.wait_for_text("files-count", "14 files").await;
    app.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_switch_whose_sign_in_page_opens_can_be_cancelled_with_escape() {
    let stack = local_stack().await;
    let dir = std::env::temp_dir().join(format!("kinvex-org-walk-away-{}", std::process::id()));
    let browser = Browser::start(&stack, &dir, Later::WalkAway);
    let app =
        Session::desktop_with(&app_settings(&stack, &browser.script.display().to_string())).await;
    app.click("[data-testid=sign-in]").await;
    app.wait_for_text("profile-org", "org_kinvex_demo").await;
    app.wait_for_text("org-button-text", "Northwind Studio")
        .await;
    app.press_until_focused(&[SHIFT, TAB], "org-button", 12)
        .await;
    app.press(&[ARROW_DOWN]).await;
    app.press(&[ARROW_DOWN]).await;
    assert_eq!(app.focused().await, "org-org_kinvex_default");
    app.press(&[ENTER]).await;

    // The silent attempt comes back with `login_required`: the page opens, and waits.
    app.wait_announced(
        "Sign in on the page that opened to continue to Kinvex, or press Escape to cancel.",
    )
    .await;
    app.wait_for_text("org-button-text", "Switching to Kinvex…")
        .await;
    app.wait_for("//*[@data-testid='org-button'][@disabled]")
        .await;
    app.wait_shown("org-cancel").await;
    let opened = browser.opened();
    assert_eq!(opened.len(), 3, "{opened:?}");
    assert!(opened[1].contains("prompt=none"), "{}", opened[1]);
    assert!(!opened[2].contains("prompt=none"), "{}", opened[2]);
    app.screenshot("organizations-switching").await;

    app.press(&[ESCAPE]).await;
    app.wait_announced("Cancelled; still in Northwind Studio.")
        .await;
    app.wait_for_text("org-button-text", "Northwind Studio")
        .await;
    app.wait_for("//*[@data-testid='org-cancel'][@hidden]")
        .await;
    assert_eq!(app.focused().await, "org-button");
    app.wait_for_text("profile-org", "org_kinvex_demo").await;
    app.wait_for("//*[@data-testid='banner'][@hidden]").await;
    app.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
