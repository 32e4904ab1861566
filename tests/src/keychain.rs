//! The real Secret Service, read the way a person (or a script) would, to check what the code
//! under test left there.

use std::process::Command;

/// How many Secret Service items the app's session for `issuer` occupies, counted with
/// libsecret's own `secret-tool` rather than through the code under test.
pub fn keychain_items(issuer: &str) -> usize {
    let output = Command::new("secret-tool")
        .args(["search", "--all", "service", "dev.kinvex.desktop"])
        .output()
        .expect("secret-tool runs (apt-get install libsecret-tools)");
    let listing = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    let account = format!("session {issuer} ");
    listing
        .lines()
        .filter(|l| l.contains("username") && l.contains(&account))
        .count()
}
