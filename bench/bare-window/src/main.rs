//! A Tauri 2 window showing one static page: what any app on this stack costs before it does
//! anything. `cargo xtask bench` compares Kinvex with it, built with the same profile.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    if let Err(e) = tauri::Builder::default().run(tauri::generate_context!()) {
        eprintln!("bare-window: {e}");
        std::process::exit(1);
    }
}
