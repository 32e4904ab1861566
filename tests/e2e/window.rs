//! The app opens its window and serves the bundled UI, scripts and IPC included.

use kinvex_e2e::Session;

#[tokio::test]
async fn window_shows_the_heading_and_answers_over_ipc() {
    let desktop = Session::desktop().await;

    assert_eq!(desktop.text_of("h1").await, "Kinvex");
    // The footer is filled by app.js through a command: it stays empty if the CSP blocked the
    // script, the capability denied the command, or the UI was not the bundled one.
    let footer = desktop.filled_text_of("app-version").await;
    assert_eq!(footer, format!("Kinvex {}", env!("CARGO_PKG_VERSION")));
    assert_eq!(desktop.client().title().await.expect("title"), "Kinvex");

    let shot = desktop.screenshot("window").await;
    eprintln!("screenshot: {}", shot.display());
    desktop.close().await;
}
