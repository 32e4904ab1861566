//! The app's one window.

use tauri::{AppHandle, Manager, Runtime};

/// The window's label in tauri.conf.json and capabilities/main.json.
pub const MAIN: &str = "main";

/// Brings the window forward: after the browser hands a sign-in back, or on a second launch.
pub fn bring_to_front<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window(MAIN) {
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
}
