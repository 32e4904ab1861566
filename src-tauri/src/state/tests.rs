//! Several accounts as the app's state sees them, against the local stack: two people signed
//! in over one token file, as the app's keychain would hold them.

use super::*;
use crate::live::FileQuery;
use kinvex_auth::token_store::PlaintextFile;
use kinvex_test_kit::browser::{HeadlessBrowser, sign_in_as};
use kinvex_test_kit::env::Settings;
use kinvex_test_kit::stack::{self, TokenFile};
use tauri::test::mock_builder;

/// The names of the files on the person's first page, and the page's ids.
async fn first_page<R: Runtime>(desktop: &Desktop, app: &AppHandle<R>) -> Vec<(String, String)> {
    let page = desktop
        .watch_files(app, 0, None, 50, FileQuery::default())
        .await
        .expect("a page of files");
    page.files.into_iter().map(|f| (f.id, f.name)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switch_of_account_replaces_the_socket_and_forgets_the_last_persons_files_and_pictures() {
    let stack = stack::start(None).await;
    let tokens = TokenFile::new("accounts");
    let session_of = |person| {
        stack::auth(
            Settings::for_stack(&stack).config(),
            Box::new(PlaintextFile::new(tokens.to_path_buf())),
            Arc::new(HeadlessBrowser::new(sign_in_as(person))),
        )
    };
    let (dana, alex) = (&stack.accounts[0], &stack.accounts[1]);
    stack::sign_in(&session_of(dana), &SignInOptions::default()).await;
    let auth = Arc::new(session_of(alex));
    let added = SignInOptions {
        force_login: true,
        ..Default::default()
    };
    let alex_id = stack::sign_in(&auth, &added).await.subject;
    let app = crate::with_commands(mock_builder())
        .manage(Desktop::with_auth(auth.clone()))
        .build(tauri::generate_context!())
        .expect("mock app builds");
    let (desktop, handle) = (app.state::<Desktop>(), app.handle());

    let listed = desktop.accounts().await.expect("listed");
    let emails: Vec<_> = listed.iter().map(|a| (a.email.clone(), a.active)).collect();
    assert_eq!(
        emails,
        vec![
            (Some(dana.email.clone()), false),
            (Some(alex.email.clone()), true)
        ]
    );
    let dana_id = listed[0].id.clone();
    let alex_files = first_page(&desktop, handle).await;
    assert!(!alex_files.is_empty(), "Alex has seeded files");
    desktop.profile(handle).await.expect("Alex's profile");
    assert!(!desktop.pictures.is_empty(), "Alex's picture is kept");

    let now = desktop
        .switch_account(dana_id.clone())
        .await
        .expect("switched");
    assert_eq!((now.id.as_str(), now.active), (dana_id.as_str(), true));
    let state = auth.watch().borrow().clone();
    assert!(
        matches!(&state, SessionState::SignedIn { subject, .. } if *subject == dana_id),
        "the session event carries Dana: {state:?}"
    );
    desktop.follow_session(handle, &state).await;

    let live = desktop
        .live
        .lock()
        .await
        .as_ref()
        .map(|l| l.subject.clone());
    assert_eq!(live.as_deref(), Some(dana_id.as_str()), "Dana's socket");
    for (id, name) in &alex_files {
        assert!(desktop.shown.get(id).is_none(), "{name} is still openable");
    }
    assert!(desktop.pictures.is_empty(), "Alex's picture is forgotten");
    let dana_files = first_page(&desktop, handle).await;
    assert!(
        dana_files.iter().all(|f| !alex_files.contains(f)),
        "{dana_files:?}"
    );
    let profile = desktop.profile(handle).await.expect("Dana's profile");
    assert_eq!(profile.kinde_id, dana_id);

    // Signing out the other account leaves the active one signed in; the active one, no one.
    desktop
        .sign_out_account(alex_id.clone())
        .await
        .expect("Alex signed out");
    let listed = desktop.accounts().await.expect("listed");
    assert_eq!(
        listed.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        vec![dana_id.as_str()]
    );
    assert!(
        matches!(&*auth.watch().borrow(), SessionState::SignedIn { subject, .. } if *subject == dana_id)
    );
    desktop
        .sign_out_account(dana_id.clone())
        .await
        .expect("Dana signed out");
    assert_eq!(*auth.watch().borrow(), SessionState::SignedOut);
    assert!(desktop.accounts().await.expect("listed").is_empty());
    let refused = desktop
        .switch_account(alex_id)
        .await
        .expect_err("signed out");
    assert_eq!(refused.code(), "no_such_account");
}
