//! Commands the web view may invoke: each a one-line adapter over a [`Desktop`] method. None
//! returns a token; errors arrive as `{code, message}`.

use crate::state::Desktop;
use crate::view::{AppInfo, CommandError, FilePage, Profile, SessionView};
use tauri::{AppHandle, Runtime, State};

#[tauri::command]
pub fn app_info<R: Runtime>(app: AppHandle<R>, desktop: State<'_, Desktop>) -> AppInfo {
    desktop.info(app.package_info())
}

/// The session, restored from the keychain on first call.
#[tauri::command]
pub async fn session(desktop: State<'_, Desktop>) -> Result<SessionView, CommandError> {
    Ok(desktop.session().await?)
}

/// Signs in through the system browser; `sign-in-waiting` carries the URL to show meanwhile.
#[tauri::command]
pub async fn sign_in<R: Runtime>(
    app: AppHandle<R>,
    desktop: State<'_, Desktop>,
    register: bool,
) -> Result<(), CommandError> {
    Ok(desktop.sign_in(&app, register).await?)
}

#[tauri::command]
pub fn cancel_sign_in(desktop: State<'_, Desktop>) {
    desktop.cancel_sign_in();
}

#[tauri::command]
pub async fn sign_out(desktop: State<'_, Desktop>) -> Result<(), CommandError> {
    Ok(desktop.sign_out().await?)
}

#[tauri::command]
pub async fn profile(desktop: State<'_, Desktop>) -> Result<Profile, CommandError> {
    Ok(desktop.profile().await?)
}

#[tauri::command]
pub async fn files(
    desktop: State<'_, Desktop>,
    cursor: Option<String>,
    page_size: u32,
) -> Result<FilePage, CommandError> {
    Ok(desktop.files(cursor.as_deref(), page_size).await?)
}
