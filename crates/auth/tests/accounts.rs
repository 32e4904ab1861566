//! Several accounts on one tenant, against the local stack: two people signed in are both kept,
//! switching between them asks the provider for nothing (no authorization, no code exchange),
//! signing one out leaves the other, and a session stored before there were accounts is still
//! signed in after the upgrade. Each `Auth` over the same token file is another process.

#![allow(clippy::unwrap_used)]

use kinvex_auth::token_store::{PlaintextFile, SecretStore};
use kinvex_auth::{Account, Auth, Config, SignInOptions, TokenSet};
use kinvex_devstack::Running;
use kinvex_devstack::user_agent::Action;
use kinvex_test_kit::browser::{HeadlessBrowser, sign_in_as};
use kinvex_test_kit::env::Settings;
use kinvex_test_kit::stack::{self, TokenFile};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;

fn config(stack: &Running) -> Config {
    Settings::for_stack(stack).config()
}

/// A process over `file` whose browser does `action` on any page it is sent to.
fn process(stack: &Running, file: &TokenFile, action: Action) -> (Auth, Arc<HeadlessBrowser>) {
    let browser = Arc::new(HeadlessBrowser::new(action));
    let secrets = Box::new(PlaintextFile::new(file.path().to_path_buf()));
    (
        stack::auth(config(stack), secrets, browser.clone()),
        browser,
    )
}

fn exchanges(stack: &Running) -> u64 {
    stack.state.stats.code_exchanges.load(Ordering::SeqCst)
}

/// Who each account is, and which is active.
fn who(accounts: &[Account]) -> Vec<(String, bool)> {
    accounts
        .iter()
        .map(|a| (a.email.clone().unwrap_or_default(), a.active))
        .collect()
}

/// The token file's entries, as the store keeps them.
fn entries(file: &TokenFile) -> serde_json::Map<String, Value> {
    let text = std::fs::read_to_string(file.path()).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn two_people_are_both_kept_switching_asks_the_provider_nothing_and_logout_removes_one() {
    let stack = stack::start(None).await;
    let file = TokenFile::new("accounts");
    let (dana, _) = process(&stack, &file, sign_in_as(&stack.accounts[0]));
    let (alex, _) = process(&stack, &file, sign_in_as(&stack.accounts[1]));
    let first = stack::sign_in(&dana, &SignInOptions::default()).await;
    let second = stack::sign_in(
        &alex,
        &SignInOptions {
            force_login: true,
            ..SignInOptions::default()
        },
    )
    .await;
    assert_ne!(first.subject, second.subject);
    assert_eq!(exchanges(&stack), 2);

    // Another process, whose browser would cancel any page: it must never be needed.
    let (cli, browser) = process(&stack, &file, Action::Cancel);
    let listed = cli.accounts().await.unwrap();
    assert_eq!(
        who(&listed),
        [
            ("demo@kinvex.dev".to_string(), false),
            (stack.accounts[1].email.clone(), true)
        ],
        "both kept, the last signed in active"
    );
    assert!(listed.iter().all(|a| cli.is_here(a)));
    assert_eq!(cli.identity().await.unwrap().subject, second.subject);

    let switched = cli.switch(&first.subject).await.unwrap();
    assert_eq!(switched.subject, first.subject);
    assert_eq!(
        switched, first,
        "the stored session, still valid, as it was"
    );
    assert_eq!(exchanges(&stack), 2, "no code exchanged for the switch");
    assert!(browser.opened().is_empty(), "{:?}", browser.opened());
    assert_eq!(cli.identity().await.unwrap().subject, first.subject);
    // Every process sees the switch: the next one to start is signed in as the first person.
    let (next, _) = process(&stack, &file, Action::Cancel);
    assert_eq!(next.load().await.unwrap().unwrap().subject, first.subject);

    // Signing in again as someone already signed in replaces that account's session.
    let again = stack::sign_in(&alex, &SignInOptions::default()).await;
    let listed = cli.accounts().await.unwrap();
    assert_eq!(listed.len(), 2, "not a third account: {:?}", who(&listed));
    assert_ne!(again, second, "a new session");
    let alex_account = listed
        .iter()
        .find(|a| a.subject == second.subject)
        .unwrap()
        .clone();
    assert!(alex_account.active);

    cli.sign_out_account(&alex_account).await.unwrap();
    assert_eq!(
        who(&cli.accounts().await.unwrap()),
        [("demo@kinvex.dev".to_string(), false)],
        "the other account stays, and is not made active behind the person's back"
    );
    let revoked =
        kinvex_test_kit::oauth::refresh(&stack, again.refresh_token.as_ref().unwrap().expose())
            .await;
    assert_eq!(revoked.status(), 400, "its refresh token was revoked");
    assert!(
        !entries(&file).keys().any(|k| k.contains(&second.subject)),
        "nothing of its session is left: {:?}",
        entries(&file).keys()
    );
    // Dana's session is still there, and switching back to it needs no page either.
    assert_eq!(cli.switch(&first.subject).await.unwrap(), first);
    assert_eq!(exchanges(&stack), 3);
    assert!(browser.opened().is_empty());

    cli.sign_out(false).await.unwrap();
    assert!(cli.accounts().await.unwrap().is_empty());
    assert!(entries(&file).is_empty(), "{:?}", entries(&file).keys());
}

#[tokio::test]
async fn an_unknown_account_is_refused_and_changes_nothing() {
    let stack = stack::start(None).await;
    let file = TokenFile::new("accounts-unknown");
    let (dana, _) = process(&stack, &file, sign_in_as(&stack.accounts[0]));
    let signed_in = stack::sign_in(&dana, &SignInOptions::default()).await;
    let refused = dana.switch("kp_nobody").await.unwrap_err();
    assert_eq!(refused.code(), "no_such_account", "{refused}");
    assert_eq!(dana.load().await.unwrap(), Some(signed_in));
}

/// The session as an earlier version stored it: one manifest per tenant and client, its chunk.
fn store_the_old_way(file: &TokenFile, config: &Config, tokens: &TokenSet) {
    let key = format!("session {} {}", config.issuer_str(), config.client_id);
    let stored = json!({
        "version": 1,
        "access_token": tokens.access_token.expose(),
        "id_token": tokens.id_token.expose(),
        "refresh_token": tokens.refresh_token.as_ref().map(|t| t.expose()),
        "access_expires_at": tokens.access_expires_at,
        "id_expires_at": tokens.id_expires_at,
        "subject": tokens.subject,
        "email": tokens.email,
        "name": tokens.name,
        "organization": tokens.organization,
    });
    let old = PlaintextFile::new(file.path().to_path_buf());
    old.set(&format!("{key} #0123456789abcdef.0"), &stored.to_string())
        .unwrap();
    old.set(&key, r#"{"generation":"0123456789abcdef","chunks":1}"#)
        .unwrap();
}

#[tokio::test]
async fn a_session_stored_before_accounts_stays_signed_in_and_moves_to_its_own_entries() {
    let stack = stack::start(None).await;
    let file = TokenFile::new("accounts-upgrade");
    let before = TokenFile::new("accounts-before");
    let (old, _) = process(&stack, &before, sign_in_as(&stack.accounts[0]));
    let tokens = stack::sign_in(&old, &SignInOptions::default()).await;
    let config = config(&stack);
    store_the_old_way(&file, &config, &tokens);
    let legacy = format!("session {} {}", config.issuer_str(), config.client_id);

    let (upgraded, browser) = process(&stack, &file, Action::Cancel);
    assert_eq!(upgraded.identity().await.unwrap().subject, tokens.subject);
    assert_eq!(upgraded.load().await.unwrap(), Some(tokens.clone()));
    let keys: Vec<String> = entries(&file).keys().cloned().collect();
    assert!(
        !keys
            .iter()
            .any(|k| k == &legacy || k.starts_with(&format!("{legacy} #"))),
        "the old entries are gone: {keys:?}"
    );
    assert!(
        keys.contains(&format!("{legacy} {}", tokens.subject)),
        "the account's own entry: {keys:?}"
    );
    let listed = upgraded.accounts().await.unwrap();
    assert_eq!(who(&listed), [("demo@kinvex.dev".to_string(), true)]);

    // The moved session renews as before, with no page.
    let refreshes = stack.state.stats.refreshes.load(Ordering::SeqCst);
    let bearer = upgraded.bearer().await.unwrap();
    upgraded.bearer_after_rejection(&bearer).await.unwrap();
    assert_eq!(
        stack.state.stats.refreshes.load(Ordering::SeqCst),
        refreshes + 1
    );
    assert!(browser.opened().is_empty());
}
