//! The window from the keyboard alone, with a screen reader's ears: each flow is driven by key
//! presses (no clicks), and each change of state is checked in the live region that a screen
//! reader reads out, not in what a sighted person sees.

use kinvex_e2e::Session;
use kinvex_e2e::desktop::{app_settings, demo_browser, local_stack};
use kinvex_e2e::keys::{ENTER, ESCAPE, SHIFT, TAB};

#[tokio::test]
async fn signing_in_and_out_by_keyboard_is_announced_and_keeps_the_focus_on_the_page() {
    let stack = local_stack().await;
    let app = Session::desktop_with(&app_settings(&stack, &demo_browser(&stack))).await;
    app.wait_shown("screen-signed-out").await;

    app.press_until_focused(&[TAB], "sign-in", 12).await;
    app.press(&[ENTER]).await;
    let demo = &stack.accounts[0];
    app.wait_announced(&format!("Signed in as {}.", demo.email))
        .await;
    app.wait_for_text("profile-name", "Dana Demo").await;
    // The Cancel button that had the focus went with the sign-in screen: the keyboard lands on
    // the files, not on the document's start.
    assert_eq!(app.focused().await, "files-title");

    // Every control of the signed-in screen is on the Tab path, Sign out included.
    for control in ["upload", "files-sort", "files-search"] {
        app.press_until_focused(&[TAB], control, 8).await;
    }
    app.press_until_focused(&[SHIFT, TAB], "sign-out", 12).await;
    app.press(&[ENTER]).await;
    app.wait_announced("Signed out.").await;
    app.wait_shown("screen-signed-out").await;
    assert_eq!(
        app.focused().await,
        "sign-in",
        "the next step is one Enter away"
    );
    app.close().await;
}

#[tokio::test]
async fn a_sign_in_cancelled_with_escape_is_announced_and_the_focus_returns_to_sign_in() {
    let stack = local_stack().await;
    // A browser that opens nothing: the sign-in waits until the person gives up.
    let app = Session::desktop_with(&app_settings(&stack, "true")).await;
    app.wait_shown("screen-signed-out").await;
    app.press_until_focused(&[TAB], "sign-in", 12).await;
    app.press(&[ENTER]).await;
    app.wait_announced("Continue in your browser to sign in.")
        .await;
    assert_eq!(app.focused().await, "cancel-sign-in");
    app.wait_for_value("[data-testid=waiting-url]", "/oauth2/auth?")
        .await;
    app.press(&[ESCAPE]).await;
    app.wait_announced("Sign-in cancelled.").await;
    app.wait_shown("screen-signed-out").await;
    assert_eq!(app.focused().await, "sign-in");
    app.close().await;
}
