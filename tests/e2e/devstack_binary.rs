//! The `devstack` binary as scripts use it: it writes its settings once ready, serves them, and
//! shuts down cleanly on SIGTERM.

use kinvex_e2e::required_env;
use std::time::{Duration, Instant};

#[tokio::test]
async fn writes_its_settings_when_ready_and_stops_cleanly_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("kinvex-devstack-bin-{}", std::process::id()));
    let env_file = dir.join("stack.env");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut child = std::process::Command::new(required_env("KINVEX_E2E_DEVSTACK"))
        .args(["--data-dir"])
        .arg(dir.join("data"))
        .args([
            "--idp-port",
            "0",
            "--api-port",
            "0",
            "--site-port",
            "0",
            "--access-token-setup",
            "--env-file",
        ])
        .arg(&env_file)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("devstack starts");

    let deadline = Instant::now() + Duration::from_secs(30);
    while !env_file.exists() {
        assert!(
            child.try_wait().expect("status").is_none(),
            "devstack exited early"
        );
        assert!(Instant::now() < deadline, "no settings file");
        std::thread::sleep(Duration::from_millis(20));
    }
    let settings: std::collections::HashMap<String, String> = std::fs::read_to_string(&env_file)
        .expect("settings")
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for key in [
        "KINDE_ISSUER_URL",
        "KINDE_CLIENT_ID",
        "KINDE_AUDIENCE",
        "KINDE_REDIRECT_URL",
        "CONVEX_URL",
        "CONVEX_SITE_URL",
    ] {
        assert!(
            settings.contains_key(key),
            "{key} missing from {settings:?}"
        );
    }
    assert_eq!(settings["KINDE_AUDIENCE"], "convex");
    let discovery: serde_json::Value = reqwest::get(format!(
        "{}/.well-known/openid-configuration",
        settings["KINDE_ISSUER_URL"]
    ))
    .await
    .expect("the provider answers once the file exists")
    .json()
    .await
    .expect("json");
    assert_eq!(discovery["issuer"], settings["KINDE_ISSUER_URL"].as_str());
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.join("data/signing-key.pem"))
            .expect("key")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "the signing key is private");

    std::process::Command::new("kill")
        .arg(child.id().to_string())
        .status()
        .expect("kill runs");
    let status = child.wait().expect("devstack exits");
    assert!(status.success(), "clean shutdown on SIGTERM: {status}");
    let _ = std::fs::remove_dir_all(dir);
}
