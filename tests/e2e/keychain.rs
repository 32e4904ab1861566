//! The token store against the real Secret Service (gnome-keyring in the test's D-Bus session).

use kinvex_auth::Secret;
use kinvex_auth::token_store::{Keychain, TokenSet, TokenStore};

fn store(service: &str) -> TokenStore {
    TokenStore::new(
        Box::new(Keychain::new(service)),
        "https://tenant.kinde.com",
        "keychain-test",
    )
}

fn large_session() -> TokenSet {
    TokenSet {
        access_token: Secret::new("A".repeat(6000)),
        id_token: Secret::new("I".repeat(3000)),
        refresh_token: Some(Secret::new("R".repeat(64))),
        access_expires_at: 1,
        id_expires_at: 2,
        subject: "kp_keychain".into(),
        email: Some("keychain@example.com".into()),
        name: Some("Key Chain".into()),
        organization: None,
        id_token_on_refresh: None,
    }
}

#[tokio::test]
async fn a_session_over_8_kb_round_trips_in_one_entry_and_clears_completely() {
    let service = format!("dev.kinvex.test.{}", std::process::id());
    let tokens = large_session();
    let store_service = service.clone();
    let loaded = tokio::task::spawn_blocking(move || {
        let store = store(&store_service);
        store.save(&tokens).expect("save to the Secret Service");
        let loaded = store.load().expect("load");
        (loaded, tokens)
    })
    .await
    .expect("join");
    assert_eq!(loaded.0, Some(loaded.1));

    let items = |service: &str| {
        let out = std::process::Command::new("secret-tool")
            .args(["search", "--all", "service", service])
            .output()
            .expect("secret-tool");
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
    };
    let listing = items(&service);
    let secrets: Vec<&str> = listing
        .lines()
        .filter_map(|l| l.strip_prefix("secret = "))
        .collect();
    // The Secret Service takes large values: the session is its manifest and one chunk, and
    // the accounts index the same (each entry more would be one more D-Bus round trip). The
    // 2,000-byte split Windows needs is the in-memory store's, tested with it.
    assert_eq!(
        secrets.len(),
        4,
        "a manifest and one chunk each for the session and the index: {}",
        secrets.len()
    );
    assert!(
        secrets.iter().any(|s| s.len() > 9000),
        "the session's 9 kB in one entry"
    );

    let clear_service = service.clone();
    tokio::task::spawn_blocking(move || store(&clear_service).clear().expect("clear"))
        .await
        .expect("join");
    assert!(
        !items(&service).contains("secret = "),
        "nothing left after clearing"
    );
}

#[tokio::test]
async fn a_corrupted_entry_reads_as_signed_out() {
    let service = format!("dev.kinvex.test.corrupt.{}", std::process::id());
    let result = tokio::task::spawn_blocking(move || {
        let store = store(&service);
        store.save(&large_session()).expect("save");
        // Damage the manifest the way a broken write or another tool might.
        keyring::Entry::new(
            &service,
            "session https://tenant.kinde.com keychain-test kp_keychain",
        )
        .and_then(|e| e.set_password("\u{0}not a manifest"))
        .expect("overwrite");
        let loaded = store.load();
        store.clear().expect("clear");
        loaded
    })
    .await
    .expect("join");
    assert!(
        matches!(result, Ok(None)),
        "damaged data is signed out, not a crash: {result:?}"
    );
}
