//! Commands the web view may invoke: each a one-line adapter over a [`Desktop`] method. None
//! returns a token; errors arrive as `{code, message}`.

use crate::live::FileQuery;
use crate::state::Desktop;
use crate::transfers::Transfers;
use crate::view::{
    Account, AppInfo, CommandError, Connection, Diagnosis, FilePage, Organization, ProfileView,
    SessionView,
};
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

/// The person's organisations, the current one marked.
#[tauri::command]
pub async fn organizations(desktop: State<'_, Desktop>) -> Result<Vec<Organization>, CommandError> {
    Ok(desktop.organizations().await?)
}

/// Signs in to the organisation `code`, silently first; answers with the one now current.
#[tauri::command]
pub async fn switch_organization<R: Runtime>(
    app: AppHandle<R>,
    desktop: State<'_, Desktop>,
    code: String,
) -> Result<Organization, CommandError> {
    Ok(desktop.switch_organization(&app, code).await?)
}

/// Creates the organisation `name` and signs in to it; answers with it.
#[tauri::command]
pub async fn create_organization<R: Runtime>(
    app: AppHandle<R>,
    desktop: State<'_, Desktop>,
    name: String,
) -> Result<Organization, CommandError> {
    Ok(desktop.create_organization(&app, name).await?)
}

/// The accounts signed in on this tenant, the active one marked.
#[tauri::command]
pub async fn accounts(desktop: State<'_, Desktop>) -> Result<Vec<Account>, CommandError> {
    Ok(desktop.accounts().await?)
}

/// Makes the account `id` active from its stored session (no browser); answers with it.
#[tauri::command]
pub async fn switch_account(
    desktop: State<'_, Desktop>,
    id: String,
) -> Result<Account, CommandError> {
    Ok(desktop.switch_account(id).await?)
}

/// Signs one more person in, with the sign-in page even if the browser has a session.
#[tauri::command]
pub async fn add_account<R: Runtime>(
    app: AppHandle<R>,
    desktop: State<'_, Desktop>,
) -> Result<(), CommandError> {
    Ok(desktop.add_account(&app).await?)
}

/// Signs the account `id` out, and only it.
#[tauri::command]
pub async fn sign_out_account(desktop: State<'_, Desktop>, id: String) -> Result<(), CommandError> {
    Ok(desktop.sign_out_account(id).await?)
}

#[tauri::command]
pub fn cancel_sign_in(desktop: State<'_, Desktop>) {
    desktop.cancel_sign_in();
}

#[tauri::command]
pub async fn sign_out(desktop: State<'_, Desktop>) -> Result<(), CommandError> {
    Ok(desktop.sign_out().await?)
}

/// The profile now, its picture a `data:` URL or null; `profile` events carry its changes and
/// the picture once it has been fetched.
#[tauri::command]
pub async fn profile<R: Runtime>(
    app: AppHandle<R>,
    desktop: State<'_, Desktop>,
) -> Result<ProfileView, CommandError> {
    Ok(desktop.profile(&app).await?)
}

/// Page `page` of the files from `cursor` in `order`, filtered by `search` (`files:list`'s
/// arguments), as it is now; `file-page` events carry its changes.
#[tauri::command]
pub async fn watch_files<R: Runtime>(
    app: AppHandle<R>,
    desktop: State<'_, Desktop>,
    page: u64,
    cursor: Option<String>,
    page_size: u32,
    order: Option<String>,
    search: Option<String>,
) -> Result<FilePage, CommandError> {
    let query = FileQuery { order, search };
    Ok(desktop
        .watch_files(&app, page, cursor, page_size, query)
        .await?)
}

/// Stops the `file-page` events of the pages numbered below `before`.
#[tauri::command]
pub async fn unwatch_files(desktop: State<'_, Desktop>, before: u64) -> Result<(), CommandError> {
    desktop.unwatch_files(before).await;
    Ok(())
}

/// The live socket's state (null when signed out); `connection` events carry its changes.
#[tauri::command]
pub async fn connection(desktop: State<'_, Desktop>) -> Result<Option<Connection>, CommandError> {
    Ok(desktop.connection().await)
}

/// Connects again now, while offline.
#[tauri::command]
pub async fn reconnect<R: Runtime>(
    app: AppHandle<R>,
    desktop: State<'_, Desktop>,
) -> Result<(), CommandError> {
    Ok(desktop.reconnect(&app).await?)
}

/// The Diagnostics view's report: every check `kinvex doctor` runs, and its text to copy.
#[tauri::command]
pub async fn diagnose(desktop: State<'_, Desktop>) -> Result<Diagnosis, CommandError> {
    Ok(desktop.diagnose().await?)
}

/// Opens the file picker and uploads each file picked; `transfer` events carry their progress.
#[tauri::command]
pub async fn upload<R: Runtime>(
    app: AppHandle<R>,
    desktop: State<'_, Desktop>,
    transfers: State<'_, Transfers>,
) -> Result<Vec<u64>, CommandError> {
    Ok(desktop.upload(&app, &transfers).await?)
}

/// Downloads the file `id` into the private cache and opens it with the default application.
#[tauri::command]
pub async fn open_file(
    desktop: State<'_, Desktop>,
    transfers: State<'_, Transfers>,
    id: String,
) -> Result<u64, CommandError> {
    Ok(desktop.open_file(&transfers, &id).await?)
}

/// Asks where to save the file `id` and downloads it there; null when the person closes the dialog.
#[tauri::command]
pub async fn save_file_as<R: Runtime>(
    app: AppHandle<R>,
    desktop: State<'_, Desktop>,
    transfers: State<'_, Transfers>,
    id: String,
) -> Result<Option<u64>, CommandError> {
    Ok(desktop.save_file_as(&app, &transfers, &id).await?)
}

/// Deletes the file `id` (the window asked the person first).
#[tauri::command]
pub async fn delete_file(desktop: State<'_, Desktop>, id: String) -> Result<(), CommandError> {
    Ok(desktop.delete_file(&id).await?)
}

/// Stops the transfer `id`; false when it had already ended or is being saved.
#[tauri::command]
pub async fn cancel_transfer(
    transfers: State<'_, Transfers>,
    id: u64,
) -> Result<bool, CommandError> {
    Ok(transfers.cancel(id).await)
}
