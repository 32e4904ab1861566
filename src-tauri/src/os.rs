//! What the app asks of the desktop: the file picker (Upload), the save dialog (Save as…) and
//! the default application for a file (Open). All three are called from Rust, so the web view
//! needs no dialog or opener permission and never names a path.
//!
//! WebDriver cannot drive a native dialog, so a debug build (never a release one) lets the
//! end-to-end tests answer in its place through the environment: `KINVEX_E2E_PICK` (the picked
//! paths, separated as in `PATH`), `KINVEX_E2E_SAVE_AS` (the chosen destination) and
//! `KINVEX_E2E_OPENED` (a file each opened path is appended to, instead of opening it).

use std::path::{Path, PathBuf};
use tauri::{AppHandle, Runtime};
use tauri_plugin_dialog::DialogExt;
use tauri_plugin_opener::OpenerExt;
use tokio::sync::oneshot;

/// The files the person picks (several allowed); `None` when they close the picker.
pub async fn pick_files<R: Runtime>(app: &AppHandle<R>) -> Option<Vec<PathBuf>> {
    #[cfg(debug_assertions)]
    if let Some(paths) = std::env::var_os("KINVEX_E2E_PICK") {
        return Some(std::env::split_paths(&paths).collect());
    }
    let (answer, picked) = oneshot::channel();
    app.dialog()
        .file()
        .set_title("Upload files")
        .pick_files(move |paths| {
            let _ = answer.send(paths);
        });
    let paths = picked.await.ok()??;
    Some(
        paths
            .into_iter()
            .filter_map(|p| p.into_path().ok())
            .collect(),
    )
}

/// Where the person saves a file, offered under `name`; `None` when they close the dialog.
pub async fn save_as<R: Runtime>(app: &AppHandle<R>, name: &str) -> Option<PathBuf> {
    #[cfg(debug_assertions)]
    if let Some(path) = std::env::var_os("KINVEX_E2E_SAVE_AS") {
        return Some(PathBuf::from(path));
    }
    let (answer, chosen) = oneshot::channel();
    app.dialog()
        .file()
        .set_title("Save as")
        .set_file_name(name)
        .save_file(move |path| {
            let _ = answer.send(path);
        });
    chosen.await.ok()??.into_path().ok()
}

/// Opens `path` with the OS's default application for its type.
pub fn open<R: Runtime>(app: &AppHandle<R>, path: &Path) -> Result<(), String> {
    #[cfg(debug_assertions)]
    if let Some(log) = std::env::var_os("KINVEX_E2E_OPENED") {
        use std::io::Write;
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| e.to_string())?;
        return writeln!(log, "{}", path.display()).map_err(|e| e.to_string());
    }
    app.opener()
        .open_path(path.to_string_lossy(), None::<&str>)
        .map_err(|e| e.to_string())
}
