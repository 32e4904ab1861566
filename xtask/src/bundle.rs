//! `cargo xtask bundle`: release installers through the pinned Tauri CLI (npm `@tauri-apps/cli`,
//! a prebuilt binary). An installer carries the tenant settings present at build time: the
//! sign-in core reads them with `option_env!`, so they are compiled in, and the environment of
//! the person running the app still overrides them.

use crate::{root, run, system, target_dir};
use std::path::PathBuf;
use std::process::Command;

/// The settings an installer build compiles in when they are set.
pub const TENANT_VARS: &[&str] = &[
    "KINDE_ISSUER_URL",
    "KINDE_CLIENT_ID",
    "KINDE_AUDIENCE",
    "KINDE_REDIRECT_URL",
    "KINDE_REDIRECT_FALLBACK_PORTS",
    "KINDE_LOGOUT_REDIRECT_URL",
    "KINDE_SCOPES",
    "CONVEX_URL",
];

/// Installer formats built here. An AppImage needs linuxdeploy downloaded at build time, so it
/// is made by the release workflow only; MSI/NSIS and DMG need their own OS.
fn formats() -> &'static str {
    if cfg!(target_os = "macos") {
        "app,dmg"
    } else if cfg!(windows) {
        "nsis,msi"
    } else {
        "deb,rpm"
    }
}

pub fn tenant_from_env() -> Vec<(String, String)> {
    TENANT_VARS
        .iter()
        .filter_map(|var| std::env::var(var).ok().map(|v| (var.to_string(), v)))
        .collect()
}

/// Builds the installers with exactly `tenant` compiled in and returns their paths.
pub fn build(tenant: &[(String, String)]) -> Result<Vec<PathBuf>, String> {
    system::setup(system::Purpose::Develop)?;
    if tenant.is_empty() {
        eprintln!(
            "xtask: no KINDE_* or CONVEX_URL set: the installers carry no tenant settings, so people must set them in their environment"
        );
    } else {
        let names: Vec<&str> = tenant.iter().map(|(k, _)| k.as_str()).collect();
        eprintln!("xtask: compiling in {}", names.join(", "));
    }

    let mut tauri = Command::new(npx());
    tauri
        .args([
            "--no-install",
            "tauri",
            "build",
            "--ci",
            "--bundles",
            formats(),
        ])
        .current_dir(root())
        // The CLI accepts only `true` or `false` in CI; `--ci` says the same plainly.
        .env_remove("CI");
    for var in TENANT_VARS {
        tauri.env_remove(var);
    }
    tauri.envs(tenant.iter().map(|(k, v)| (k, v)));
    run(tauri, "building the release installers (tauri build)")?;

    let bundles = target_dir().join("release/bundle");
    let mut built = Vec::new();
    for format in formats().split(',') {
        let dir = bundles.join(format);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            let ours = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("Kinvex"));
            if ours && matches!(extension, "deb" | "rpm" | "dmg" | "msi" | "exe" | "app") {
                built.push(path);
            }
        }
    }
    for path in &built {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        eprintln!(
            "xtask: built {} ({:.2} MiB)",
            path.display(),
            size as f64 / 1048576.0
        );
    }
    if built.is_empty() {
        return Err(format!("no installer found under {}", bundles.display()));
    }
    Ok(built)
}

/// A made-up tenant for the installers the tests install and the benchmarks measure: the tests
/// look for it in the installed app to prove the settings were compiled in.
pub const INSTALLER_CHECK_ISSUER: &str = "https://kinvex-installer-check.kinde.com";

pub fn installer_check_tenant() -> Vec<(String, String)> {
    [
        ("KINDE_ISSUER_URL", INSTALLER_CHECK_ISSUER),
        ("KINDE_CLIENT_ID", "installer_check"),
        ("CONVEX_URL", "https://installer-check.convex.cloud"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .to_vec()
}

pub fn npx() -> &'static str {
    if cfg!(windows) { "npx.cmd" } else { "npx" }
}

/// The .deb a previous full run built, for a narrowed run that selects the installer test.
pub fn existing_deb() -> Option<PathBuf> {
    let dir = target_dir().join("release/bundle/deb");
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|entry| entry.path())
        .find(|path| {
            path.extension().is_some_and(|e| e == "deb")
                && path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("Kinvex"))
        })
}
