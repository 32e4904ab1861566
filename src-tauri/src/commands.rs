//! Commands the web view may invoke: one-line adapters over the library crates. None returns a
//! token; errors arrive as `{code, message}`.

use crate::desktop::{AppInfo, CommandError, Desktop, SessionView};
use kinvex_auth::SignInOptions;
use kinvex_auth::session::SIGN_IN_TIMEOUT;
use kinvex_convex::data::{self, FilePage, Profile};
use tauri::{AppHandle, Emitter, Manager, Runtime, State};

#[tauri::command]
pub fn app_info<R: Runtime>(app: AppHandle<R>, desktop: State<'_, Desktop>) -> AppInfo {
    let package = app.package_info();
    desktop.info(package.name.clone(), package.version.to_string())
}

/// The session, restored from the keychain on first call.
#[tauri::command]
pub async fn session(desktop: State<'_, Desktop>) -> Result<SessionView, CommandError> {
    let auth = desktop.auth().await?;
    auth.restore().await?;
    Ok(SessionView::from(&*auth.watch().borrow()))
}

/// Signs in through the system browser; `sign-in-waiting` carries the URL to show meanwhile.
#[tauri::command]
pub async fn sign_in<R: Runtime>(
    app: AppHandle<R>,
    desktop: State<'_, Desktop>,
    register: bool,
) -> Result<(), CommandError> {
    let auth = desktop.auth().await?;
    let cancel = desktop.arm_cancel();
    let options = SignInOptions {
        register,
        ..Default::default()
    };
    let waiting = |url: &url::Url| {
        let _ = app.emit(
            "sign-in-waiting",
            serde_json::json!({ "url": url.as_str(), "seconds": SIGN_IN_TIMEOUT.as_secs() }),
        );
    };
    let result = auth
        .sign_in(&options, true, SIGN_IN_TIMEOUT, waiting, async {
            let _ = cancel.await;
        })
        .await;
    // The browser handed back (or gave up): bring the app to the front either way.
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
    result.map(drop).map_err(Into::into)
}

#[tauri::command]
pub fn cancel_sign_in(desktop: State<'_, Desktop>) {
    desktop.cancel_sign_in();
}

#[tauri::command]
pub async fn sign_out(desktop: State<'_, Desktop>) -> Result<(), CommandError> {
    desktop
        .auth()
        .await?
        .sign_out(true)
        .await
        .map(drop)
        .map_err(Into::into)
}

#[tauri::command]
pub async fn profile(desktop: State<'_, Desktop>) -> Result<Profile, CommandError> {
    desktop.profile().await
}

#[tauri::command]
pub async fn files(
    desktop: State<'_, Desktop>,
    cursor: Option<String>,
    page_size: u32,
) -> Result<FilePage, CommandError> {
    let (auth, client) = desktop.client().await?;
    data::files(client, auth, cursor.as_deref(), page_size.clamp(1, 1000))
        .await
        .map_err(Into::into)
}
