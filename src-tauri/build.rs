fn main() {
    // Declaring the app's commands generates one `allow-<command>` permission each, so the
    // capability file can grant exactly these and nothing else.
    let manifest = tauri_build::AppManifest::new().commands(&[
        "app_info",
        "session",
        "sign_in",
        "cancel_sign_in",
        "sign_out",
        "profile",
        "watch_files",
        "unwatch_files",
        "connection",
        "reconnect",
        "diagnose",
        "upload",
        "open_file",
        "save_file_as",
        "delete_file",
        "cancel_transfer",
        "organizations",
        "switch_organization",
        "create_organization",
        "accounts",
        "switch_account",
        "add_account",
        "sign_out_account",
    ]);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest))
        .expect("tauri build script failed: check tauri.conf.json and capabilities/");
}
