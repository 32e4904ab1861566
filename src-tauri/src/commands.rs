//! Commands the webview may invoke. Each one is a thin adapter; none returns a secret.

use serde::Serialize;
use tauri::{AppHandle, Runtime};

/// What the window shows in its footer.
#[derive(Debug, Serialize)]
pub struct AppInfo {
    name: String,
    version: String,
}

#[tauri::command]
pub fn app_info<R: Runtime>(app: AppHandle<R>) -> AppInfo {
    let package = app.package_info();
    AppInfo {
        name: package.name.clone(),
        version: package.version.to_string(),
    }
}
