//! The person's organisations (`Auth::organizations`), switching silently (`prompt=none`, with
//! the page once when the browser has no session) and creating one (`is_create_org`), against
//! the local stack, with a browser profile that keeps the provider's cookie between sign-ins as
//! a real browser does.

#![allow(clippy::unwrap_used)]

use kinvex_auth::browser::Browser;
use kinvex_auth::token_store::Memory;
use kinvex_auth::{Auth, AuthError, Organization, SignInOptions};
use kinvex_devstack::Running;
use kinvex_devstack::user_agent::{Action, UserAgent};
use kinvex_test_kit::browser::sign_in_as;
use kinvex_test_kit::env::Settings;
use kinvex_test_kit::stack;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const DEMO_ORG: &str = "org_kinvex_demo";
const DEFAULT_ORG: &str = "org_kinvex_default";
const WAIT: Duration = Duration::from_secs(30);

/// One browser profile: its cookies last across every URL it opens, and it does `action` on
/// any page the provider shows (a silent sign-in shows none, so `Cancel` there proves it).
struct Profile {
    agent: Arc<UserAgent>,
    action: Mutex<Action>,
    opened: Mutex<Vec<String>>,
}

impl Profile {
    fn new(action: Action) -> Arc<Profile> {
        Arc::new(Profile {
            agent: Arc::new(UserAgent::new()),
            action: Mutex::new(action),
            opened: Mutex::new(Vec::new()),
        })
    }

    fn then(&self, action: Action) {
        *self.action.lock().unwrap() = action;
    }

    /// The URLs opened since the last call.
    fn take_opened(&self) -> Vec<String> {
        std::mem::take(&mut *self.opened.lock().unwrap())
    }
}

impl Browser for Profile {
    fn open(&self, url: &str) -> Result<(), String> {
        self.opened.lock().unwrap().push(url.to_string());
        let (agent, url) = (self.agent.clone(), url.to_string());
        let action = self.action.lock().unwrap().clone();
        tokio::spawn(async move {
            // A failure shows as the sign-in's own outcome (no answer, or the page's).
            let _ = agent.authorize(&url, &action, true).await;
        });
        Ok(())
    }
}

fn auth(stack: &Running, profile: &Arc<Profile>) -> Auth {
    let config = Settings::for_stack(stack)
        .with("KINDE_AUDIENCE", "convex")
        .config();
    stack::auth(config, Box::new(Memory::default()), profile.clone())
}

async fn sign_in(auth: &Auth, options: SignInOptions) -> Result<(), AuthError> {
    auth.sign_in(&options, true, WAIT, |_| {}, std::future::pending::<()>())
        .await
        .map(|_| ())
}

fn silent_to(org: &str) -> SignInOptions {
    SignInOptions {
        org_code: Some(org.into()),
        silent: true,
        ..SignInOptions::default()
    }
}

fn org(code: &str, name: &str, current: bool) -> Organization {
    Organization {
        code: code.into(),
        name: Some(name.into()),
        current,
    }
}

fn prompt_of(url: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "prompt")
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn both_organisations_are_listed_and_a_silent_switch_shows_no_page() {
    let stack = stack::start(None).await;
    let profile = Profile::new(sign_in_as(&stack.accounts[0]));
    let auth = auth(&stack, &profile);
    assert_eq!(
        auth.organizations().await.unwrap_err().code(),
        "not_signed_in"
    );
    sign_in(&auth, SignInOptions::default()).await.unwrap();
    assert_eq!(
        auth.organizations().await.unwrap(),
        [
            org(DEMO_ORG, "Northwind Studio", true),
            org(DEFAULT_ORG, "Kinvex", false)
        ]
    );
    profile.take_opened();

    // A page now would be cancelled, failing the switch.
    profile.then(Action::Cancel);
    sign_in(&auth, silent_to(DEFAULT_ORG)).await.unwrap();
    let opened = profile.take_opened();
    assert_eq!(opened.len(), 1, "{opened:?}");
    assert_eq!(prompt_of(&opened[0]).as_deref(), Some("none"));
    assert_eq!(
        auth.access().await.unwrap().org_code.as_deref(),
        Some(DEFAULT_ORG)
    );
    assert_eq!(
        auth.organizations().await.unwrap(),
        [
            org(DEMO_ORG, "Northwind Studio", false),
            org(DEFAULT_ORG, "Kinvex", true)
        ]
    );
}

#[tokio::test]
async fn without_a_browser_session_the_page_opens_once_after_the_silent_attempt() {
    let stack = stack::start(None).await;
    let profile = Profile::new(sign_in_as(&stack.accounts[0]));
    let auth = auth(&stack, &profile);
    sign_in(&auth, silent_to(DEFAULT_ORG)).await.unwrap();
    let opened = profile.take_opened();
    assert_eq!(opened.len(), 2, "silent, then the page: {opened:?}");
    assert_eq!(prompt_of(&opened[0]).as_deref(), Some("none"));
    assert_eq!(prompt_of(&opened[1]), None);
    assert_eq!(
        auth.access().await.unwrap().org_code.as_deref(),
        Some(DEFAULT_ORG)
    );

    // Bounded: when the page is cancelled too, that is the answer, with no third attempt, and
    // the session signed in to before is kept.
    let elsewhere = Profile::new(Action::Cancel);
    let other = auth_sharing(&stack, &elsewhere, &auth).await;
    let refused = sign_in(&other, silent_to(DEMO_ORG)).await.unwrap_err();
    assert_eq!(refused.code(), "access_denied", "{refused}");
    assert_eq!(elsewhere.take_opened().len(), 2);
}

/// A second `Auth` over `first`'s session, opening `profile`: another browser, same person.
async fn auth_sharing(stack: &Running, profile: &Arc<Profile>, first: &Auth) -> Auth {
    let tokens = first.fresh_tokens().await.unwrap();
    let other = auth(stack, profile);
    other.save(tokens).await.unwrap();
    other
}

#[tokio::test]
async fn a_non_member_is_refused_and_keeps_the_session() {
    let stack = stack::start(None).await;
    let alex = stack
        .accounts
        .iter()
        .find(|a| a.email.starts_with("alex"))
        .unwrap();
    let profile = Profile::new(sign_in_as(alex));
    let auth = auth(&stack, &profile);
    sign_in(&auth, SignInOptions::default()).await.unwrap();
    let before = auth.fresh_tokens().await.unwrap();
    let refused = sign_in(&auth, silent_to(DEMO_ORG)).await.unwrap_err();
    assert_eq!(refused.code(), "access_denied", "{refused}");
    assert_eq!(auth.fresh_tokens().await.unwrap(), before);
    assert_eq!(
        auth.organizations().await.unwrap(),
        [org(DEFAULT_ORG, "Kinvex", true)]
    );
}

#[tokio::test]
async fn creating_an_organisation_makes_it_current_and_lists_it() {
    let stack = stack::start(None).await;
    let profile = Profile::new(sign_in_as(&stack.accounts[0]));
    let auth = auth(&stack, &profile);
    sign_in(&auth, SignInOptions::default()).await.unwrap();
    profile.then(Action::Cancel);
    let create = SignInOptions {
        create_org: Some("Acme Labs".into()),
        silent: true,
        ..SignInOptions::default()
    };
    sign_in(&auth, create).await.unwrap();
    let listed = auth.organizations().await.unwrap();
    assert_eq!(listed.len(), 3, "{listed:?}");
    let new = listed.iter().find(|o| o.current).unwrap();
    assert_eq!(new.name.as_deref(), Some("Acme Labs"));
    assert!(new.code.starts_with("org_") && new.code != DEMO_ORG && new.code != DEFAULT_ORG);
    let access = auth.access().await.unwrap();
    assert_eq!(access.org_code.as_deref(), Some(new.code.as_str()));
    assert!(access.has_role("admin"));
}
