//! `doctor` against the local stack, set up right and then wrong in each way a real set-up goes
//! wrong: each test names the check that catches the mistake and the setting its fix names.

#![allow(clippy::unwrap_used)]

use kinvex_auth::token_store::Memory;
use kinvex_auth::{Auth, SignInOptions, TokenSet};
use kinvex_clock::ManualClock;
use kinvex_devstack::Running;
use kinvex_devstack::backend::auth::Provider;
use kinvex_doctor::{Check, Inputs, Report, Status};
use kinvex_test_kit::browser::{HeadlessBrowser, sign_in_as};
use kinvex_test_kit::env::Settings;
use kinvex_test_kit::{port, stack};
use std::sync::Arc;
use std::time::Duration;

/// The app's side: an `Auth` on `settings` with a session store of its own, reading `clock`.
fn app(stack: &Running, settings: &Settings, clock: &ManualClock) -> Auth {
    let browser = HeadlessBrowser::new(sign_in_as(&stack.accounts[0]));
    stack::auth(
        settings.config(),
        Box::new(Memory::default()),
        Arc::new(browser),
    )
    .with_clock(clock.shared())
}

async fn sign_in(auth: &Auth) {
    stack::sign_in(auth, &SignInOptions::default()).await;
}

/// Renews the session once without moving time, so the Renewals check has a renewal to judge.
async fn renew(auth: &Auth) -> TokenSet {
    let tokens = auth.fresh_tokens().await.unwrap();
    let bearer = if auth.config.audience.is_some() {
        tokens.access_token
    } else {
        tokens.id_token
    };
    auth.tokens_after_rejection(&bearer).await.unwrap()
}

async fn diagnose(auth: &Auth, settings: &Settings, clock: &ManualClock) -> Report {
    let sources = settings.sources();
    let inputs = Inputs {
        clock: clock.shared(),
        sources: Some(&sources),
        ..Inputs::new(auth)
    };
    // Every wait inside is bounded; this bounds the test if one is not.
    tokio::time::timeout(Duration::from_secs(60), kinvex_doctor::run(inputs))
        .await
        .expect("doctor finished within a minute")
}

fn check<'r>(report: &'r Report, id: &str) -> &'r Check {
    report
        .check(id)
        .unwrap_or_else(|| panic!("no `{id}` check in:\n{}", report.to_text()))
}

/// Asserts that check `id` ended with `status` and that its fix names `setting`.
fn found(report: &Report, id: &str, status: Status, setting: &str) {
    let check = check(report, id);
    assert_eq!(check.status, status, "{id}:\n{}", report.to_text());
    let fix = check.fix.as_deref().unwrap_or_default();
    assert!(fix.contains(setting), "{id}'s fix names {setting}: {fix}");
}

fn access_token_setup(stack: &Running) -> Settings {
    Settings::for_stack(stack).with("KINDE_AUDIENCE", "convex")
}

#[tokio::test]
async fn a_healthy_set_up_passes_every_check_in_both_setups() {
    let clock = ManualClock::new();
    let stack = stack::start(Some(&clock)).await;
    for settings in [Settings::for_stack(&stack), access_token_setup(&stack)] {
        let auth = app(&stack, &settings, &clock);
        sign_in(&auth).await;
        renew(&auth).await;
        let report = diagnose(&auth, &settings, &clock).await;
        for check in &report.checks {
            assert_eq!(
                check.status,
                Status::Ok,
                "{}:\n{}",
                check.id,
                report.to_text()
            );
            assert!(check.fix.is_none(), "{}", report.to_text());
        }
        assert!(report.ok);
        let ids: Vec<&str> = report.checks.iter().map(|c| c.id).collect();
        assert_eq!(
            ids,
            [
                "settings",
                "discovery",
                "client",
                "jwks",
                "clock",
                "keychain",
                "token",
                "refresh",
                "convex"
            ]
        );
    }
}

#[tokio::test]
async fn neither_the_json_nor_the_text_contains_a_token() {
    let clock = ManualClock::new();
    let stack = stack::start(Some(&clock)).await;
    let settings = access_token_setup(&stack);
    let auth = app(&stack, &settings, &clock);
    sign_in(&auth).await;
    let tokens = renew(&auth).await;
    let report = diagnose(&auth, &settings, &clock).await;
    let json = serde_json::to_string(&report).unwrap();
    let text = report.to_text();
    let signature = |token: &str| token.rsplit('.').next().unwrap().to_string();
    let secrets = [
        signature(tokens.access_token.expose()),
        signature(tokens.id_token.expose()),
        tokens.refresh_token.as_ref().unwrap().expose().clone(),
    ];
    for shown in [&json, &text] {
        assert!(!shown.contains("eyJ"), "something JWT-shaped: {shown}");
        for secret in &secrets {
            assert!(!shown.contains(secret.as_str()), "a secret in: {shown}");
        }
    }
    // The redacted view is there all the same.
    let token = check(&report, "token");
    let detail = |label: &str| {
        token
            .details
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(detail("aud").as_deref(), Some("convex"));
    assert_eq!(detail("iss").as_deref(), Some(stack.issuer()));
    assert!(detail("kid").is_some_and(|kid| kid != "absent"));
}

#[tokio::test]
async fn a_wrong_client_id_fails_the_application_check() {
    let clock = ManualClock::new();
    let stack = stack::start(Some(&clock)).await;
    let settings = Settings::for_stack(&stack).with("KINDE_CLIENT_ID", "not-this-app");
    let auth = app(&stack, &settings, &clock);
    let report = diagnose(&auth, &settings, &clock).await;
    found(&report, "client", Status::Fail, "KINDE_CLIENT_ID");
    assert!(!report.ok);
    found(&report, "token", Status::Skip, "kinvex login");
}

#[tokio::test]
async fn an_audience_the_application_is_not_authorised_for_fails_the_token_check() {
    let clock = ManualClock::new();
    let stack = stack::start(Some(&clock)).await;
    let settings = Settings::for_stack(&stack).with("KINDE_AUDIENCE", "not-an-api");
    let auth = app(&stack, &settings, &clock);
    sign_in(&auth).await;
    let report = diagnose(&auth, &settings, &clock).await;
    found(&report, "token", Status::Fail, "KINDE_AUDIENCE");
    let summary = &check(&report, "token").summary;
    assert!(summary.contains("no audience"), "{summary}");
    found(&report, "convex", Status::Fail, "KINDE_AUDIENCE");
}

#[tokio::test]
async fn an_issuer_with_a_trailing_slash_is_flagged_with_the_exact_issuer() {
    let clock = ManualClock::new();
    let stack = stack::start(Some(&clock)).await;
    let settings =
        Settings::for_stack(&stack).with("KINDE_ISSUER_URL", format!("{}/", stack.issuer()));
    let auth = app(&stack, &settings, &clock);
    let report = diagnose(&auth, &settings, &clock).await;
    found(&report, "discovery", Status::Warn, "KINDE_ISSUER_URL");
    let fix = check(&report, "discovery").fix.clone().unwrap();
    assert!(
        fix.contains(&format!("`{}`", stack.issuer())),
        "the fix quotes the issuer exactly: {fix}"
    );
}

#[tokio::test]
async fn a_deployment_trusting_another_application_id_gets_the_exact_provider_to_set() {
    let clock = ManualClock::new();
    let idp_port = port::free();
    let issuer = format!("http://127.0.0.1:{idp_port}");
    let stack = stack::start_with(kinvex_devstack::Config {
        idp_port,
        auth_providers: Some(vec![Provider {
            domain: issuer.clone(),
            application_id: "other".into(),
        }]),
        ..stack::config(Some(&clock))
    })
    .await;
    for (settings, audience) in [
        (access_token_setup(&stack), "convex".to_string()),
        (
            Settings::for_stack(&stack),
            stack.state.config.client_id.clone(),
        ),
    ] {
        let auth = app(&stack, &settings, &clock);
        sign_in(&auth).await;
        let report = diagnose(&auth, &settings, &clock).await;
        found(&report, "convex", Status::Fail, "applicationID");
        let fix = check(&report, "convex").fix.clone().unwrap();
        assert!(
            fix.contains(&format!(
                "applicationID to `{audience}` and domain to `{issuer}`"
            )) && fix.contains(&format!("KINDE_CONVEX_APPLICATION_ID {audience}")),
            "{fix}"
        );
        assert_eq!(
            check(&report, "token").status,
            Status::Ok,
            "the token is fine"
        );
    }
}

#[tokio::test]
async fn a_clock_ten_minutes_off_fails_the_clock_check() {
    let provider = ManualClock::new();
    let stack = stack::start(Some(&provider)).await;
    let computer = ManualClock::new();
    computer.advance(Duration::from_secs(600));
    let settings = Settings::for_stack(&stack);
    let auth = app(&stack, &settings, &computer);
    let report = diagnose(&auth, &settings, &computer).await;
    found(&report, "clock", Status::Fail, "NTP");
    let summary = &check(&report, "clock").summary;
    assert!(summary.contains("ahead of"), "{summary}");
}

#[tokio::test]
async fn a_provider_ten_minutes_ahead_fails_the_clock_check() {
    let provider = ManualClock::new();
    provider.advance(Duration::from_secs(600));
    let stack = stack::start(Some(&provider)).await;
    let computer = ManualClock::new();
    let settings = Settings::for_stack(&stack);
    let auth = app(&stack, &settings, &computer);
    let report = diagnose(&auth, &settings, &computer).await;
    found(&report, "clock", Status::Fail, "NTP");
    let summary = &check(&report, "clock").summary;
    assert!(summary.contains("behind"), "{summary}");
}

#[tokio::test]
async fn renewals_without_an_id_token_fail_only_the_id_token_setup() {
    let clock = ManualClock::new();
    let stack = stack::start_with(kinvex_devstack::Config {
        refresh_id_token: false,
        ..stack::config(Some(&clock))
    })
    .await;

    let settings = Settings::for_stack(&stack);
    let auth = app(&stack, &settings, &clock);
    sign_in(&auth).await;
    // A renewal of the ID-token setup may end in an error (it cannot get the fresh ID token
    // Convex needs); what matters is what the stored session says about it.
    let tokens = auth.fresh_tokens().await.unwrap();
    let _ = auth.tokens_after_rejection(&tokens.id_token).await;
    let report = diagnose(&auth, &settings, &clock).await;
    found(&report, "refresh", Status::Fail, "KINDE_AUDIENCE=convex");

    let settings = access_token_setup(&stack);
    let auth = app(&stack, &settings, &clock);
    sign_in(&auth).await;
    renew(&auth).await;
    let report = diagnose(&auth, &settings, &clock).await;
    assert_eq!(
        check(&report, "refresh").status,
        Status::Ok,
        "{}",
        report.to_text()
    );
}

#[tokio::test]
async fn a_token_signed_with_a_key_no_longer_published_fails_the_key_check() {
    let clock = ManualClock::new();
    let stack = stack::start(Some(&clock)).await;
    let settings = access_token_setup(&stack);
    let auth = app(&stack, &settings, &clock);
    sign_in(&auth).await;
    stack.state.keys_mut().rotate(false).unwrap();
    let report = diagnose(&auth, &settings, &clock).await;
    found(&report, "jwks", Status::Fail, "Sign in again");
}

#[tokio::test]
async fn a_keychain_that_does_not_answer_fails_the_keychain_check_and_skips_the_token() {
    use kinvex_auth::token_store::{Fault, Location, SecretStore};

    struct Absent;
    impl SecretStore for Absent {
        fn get(&self, _: &str) -> Result<Option<String>, Fault> {
            Err(Fault::Unavailable("no D-Bus session".into()))
        }
        fn set(&self, _: &str, _: &str) -> Result<(), Fault> {
            Err(Fault::Unavailable("no D-Bus session".into()))
        }
        fn delete(&self, _: &str) -> Result<(), Fault> {
            Ok(())
        }
        fn location(&self) -> Location {
            Location::Keychain
        }
    }
    let clock = ManualClock::new();
    let stack = stack::start(Some(&clock)).await;
    let settings = Settings::for_stack(&stack);
    let browser = HeadlessBrowser::new(sign_in_as(&stack.accounts[0]));
    let auth = stack::auth(settings.config(), Box::new(Absent), Arc::new(browser));
    let report = diagnose(&auth, &settings, &clock).await;
    found(
        &report,
        "keychain",
        Status::Fail,
        "KINVEX_PLAINTEXT_TOKENS=1",
    );
    assert_eq!(check(&report, "token").status, Status::Skip);
}
