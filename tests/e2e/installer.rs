//! The Linux installer as a person gets it: the `.deb` from `cargo xtask bundle`, installed with
//! dpkg, launched from where it was installed (with no settings in the environment, so the tenant
//! it shows is the one compiled in) and removed again without leftovers.

#![allow(clippy::unwrap_used)]

use kinvex_devstack::{Config, start};
use kinvex_e2e::{Session, required_env};
use std::path::Path;
use std::process::{Command, Output};

const PACKAGE: &str = "kinvex";
const INSTALLED_APP: &str = "/usr/bin/kinvex-desktop";
const DESKTOP_FILE: &str = "/usr/share/applications/Kinvex.desktop";

/// Runs a package command as root: directly when the tests run as root (CI), else through
/// non-interactive sudo, which fails with a message rather than waiting for a password.
fn as_root(program: &str, args: &[&str]) -> Output {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    let mut command = if root {
        Command::new(program)
    } else {
        let mut sudo = Command::new("sudo");
        sudo.args(["-n", program]);
        sudo
    };
    let output = command.args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{program} {args:?} failed (installing a package needs root or passwordless sudo): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn installed() -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", PACKAGE])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

fn field(deb: &str, name: &str) -> String {
    let output = Command::new("dpkg-deb")
        .args(["--field", deb, name])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// Removes the package however the test ends, so a failure leaves no install behind.
struct Uninstall;

impl Drop for Uninstall {
    fn drop(&mut self) {
        if installed() {
            let _ = Command::new("dpkg").args(["--purge", PACKAGE]).status();
        }
    }
}

#[tokio::test]
async fn the_deb_installs_launches_signed_out_with_its_tenant_and_removes_cleanly() {
    let deb = required_env("KINVEX_E2E_DEB");
    let issuer = required_env("KINVEX_E2E_DEB_ISSUER");

    assert_eq!(field(&deb, "Package"), PACKAGE);
    let depends = field(&deb, "Depends");
    assert!(depends.contains("libwebkit2gtk-4.1-0"), "{depends}");
    assert!(
        depends.contains("libssl3"),
        "HTTPS uses the system OpenSSL: {depends}"
    );
    let contents = Command::new("dpkg-deb")
        .args(["--contents", &deb])
        .output()
        .unwrap();
    let contents = String::from_utf8_lossy(&contents.stdout);
    assert!(contents.contains("usr/bin/kinvex-desktop"), "{contents}");
    assert!(
        !contents.contains("devstack"),
        "the local stack is not shipped: {contents}"
    );

    if installed() {
        as_root("dpkg", &["--purge", PACKAGE]);
    }
    let _uninstall = Uninstall;
    as_root("dpkg", &["--install", &deb]);
    assert!(installed());

    let binary = std::fs::read(INSTALLED_APP).unwrap();
    let has = |needle: &str| binary.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(has(&issuer), "the tenant is compiled in");
    for marker in ["/_devstack/", "kinvex_local_desktop", "demo@kinvex.dev"] {
        assert!(
            !has(marker),
            "the local stack leaked into the app: {marker}"
        );
    }
    let desktop = std::fs::read_to_string(DESKTOP_FILE).unwrap();
    assert!(
        desktop.lines().any(|l| l == "Exec=kinvex-desktop %u"),
        "the desktop entry passes the link to the app: {desktop}"
    );
    assert!(
        desktop.contains("x-scheme-handler/dev.kinvex.desktop"),
        "the installer registers the sign-in scheme: {desktop}"
    );

    // Empty values count as unset, so the window shows the settings compiled into the package.
    let unset: Vec<(String, String)> = [
        "KINDE_ISSUER_URL",
        "KINDE_CLIENT_ID",
        "KINDE_REDIRECT_URL",
        "CONVEX_URL",
    ]
    .iter()
    .map(|k| (k.to_string(), String::new()))
    .collect();
    let app = Session::desktop_at(INSTALLED_APP, &unset).await;
    app.wait_shown("screen-signed-out").await;
    app.wait_for_text("target-issuer", &issuer).await;
    app.screenshot("installed-signed-out").await;
    app.close().await;

    // The scheme the package registered brings a sign-in back to the installed app: the
    // browser's last redirect goes to xdg-open, GIO finds the package's desktop entry (fresh XDG
    // directories, so nothing but the package's registration can answer) and starts the app with
    // the URL, and the single-instance plugin hands it to the running window.
    let stack = start(Config::default()).await.unwrap();
    let scratch = std::env::temp_dir().join(format!("kinvex-installer-{}", std::process::id()));
    let demo = &stack.accounts[0];
    let env: Vec<(String, String)> = [
        ("KINDE_ISSUER_URL", stack.issuer().to_string()),
        ("KINDE_CLIENT_ID", stack.state.config.client_id.clone()),
        ("KINDE_REDIRECT_URL", "dev.kinvex.desktop:/callback".into()),
        ("CONVEX_URL", stack.api_url().to_string()),
        (
            "BROWSER",
            format!(
                "{} browse --email {} --password {}",
                required_env("KINVEX_E2E_DEVSTACK"),
                demo.email,
                demo.password
            ),
        ),
        ("XDG_CURRENT_DESKTOP", "GNOME".into()),
        ("XDG_DATA_HOME", scratch.join("data").display().to_string()),
        (
            "XDG_CONFIG_HOME",
            scratch.join("config").display().to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let app = Session::desktop_at(INSTALLED_APP, &env).await;
    app.wait_shown("screen-signed-out").await;
    app.click("[data-testid=sign-in]").await;
    app.wait_for_text("profile-name", "Dana Demo").await;
    app.click("[data-testid=sign-out]").await;
    app.wait_shown("screen-signed-out").await;
    app.close().await;
    let _ = std::fs::remove_dir_all(&scratch);

    as_root("dpkg", &["--remove", PACKAGE]);
    assert!(!installed());
    assert!(!Path::new(INSTALLED_APP).exists());
    assert!(!Path::new(DESKTOP_FILE).exists());
}
