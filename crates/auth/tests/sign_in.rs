//! The sign-in core against the local stack over real HTTP, with the headless user agent as the
//! browser. Tokens go to an in-memory store here; the real keychain is exercised end to end
//! through the CLI in tests/e2e.

#![allow(clippy::unwrap_used)]

use kinvex_auth::config::Sources;
use kinvex_auth::redirect::Rejection;
use kinvex_auth::token_store::Memory;
use kinvex_auth::{Auth, AuthError, Config, SignInOptions};
use kinvex_devstack::Running;
use kinvex_devstack::user_agent::{Action, UserAgent};
use kinvex_test_kit::browser::{HeadlessBrowser, sign_in_as};
use kinvex_test_kit::env::Settings;
use kinvex_test_kit::stack;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

const SIGNED_OUT: &str = "http://127.0.0.1:53180/signed-out";

async fn stack() -> Running {
    stack::start_with(kinvex_devstack::Config {
        logout_redirects: vec![SIGNED_OUT.into()],
        ..stack::config(None)
    })
    .await
}

fn config(stack: &Running, extra: &[(&str, &str)]) -> Config {
    let mut settings = Settings::for_stack(stack).with("KINDE_LOGOUT_REDIRECT_URL", SIGNED_OUT);
    for (key, value) in extra {
        settings = settings.with(key, *value);
    }
    settings.config()
}

fn new_auth(config: Config, action: Action) -> (Auth, Arc<HeadlessBrowser>) {
    let browser = Arc::new(HeadlessBrowser::new(action));
    let auth = stack::auth(config, Box::new(Memory::default()), browser.clone());
    (auth, browser)
}

fn demo(stack: &Running) -> Action {
    sign_in_as(&stack.accounts[0])
}

async fn never() {
    std::future::pending::<()>().await
}

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn sign_in_validates_and_stores_the_session() {
    let stack = stack().await;
    let (auth, browser) = new_auth(
        config(&stack, &[("KINDE_AUDIENCE", "convex")]),
        demo(&stack),
    );
    let mut shown = None;
    let tokens = auth
        .sign_in(
            &SignInOptions::default(),
            true,
            WAIT,
            |u| shown = Some(u.clone()),
            never(),
        )
        .await
        .unwrap();

    assert_eq!(tokens.subject, stack.accounts[0].user_id);
    assert_eq!(tokens.email.as_deref(), Some("demo@kinvex.dev"));
    assert!(tokens.refresh_token.is_some(), "scope offline by default");
    let shown = shown.unwrap();
    assert_eq!(
        browser.opened().as_slice(),
        [shown.to_string()],
        "the URL shown is the one opened"
    );
    let query: std::collections::HashMap<_, _> = shown.query_pairs().into_owned().collect();
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["audience"], "convex");
    assert!(query["state"].len() >= 22 && query["nonce"].len() >= 22);
    assert_eq!(auth.load().await.unwrap(), Some(tokens));
    assert!(
        !format!("{:?}", auth.load().await.unwrap()).contains("eyJ"),
        "Debug output hides tokens"
    );
}

#[tokio::test]
async fn registration_signs_the_new_person_in() {
    let stack = stack().await;
    let action = Action::Register {
        given_name: "Reg".into(),
        family_name: "Istered".into(),
        email: "reg@example.com".into(),
        password: "registered-password".into(),
    };
    let (auth, browser) = new_auth(config(&stack, &[]), action);
    let options = SignInOptions {
        register: true,
        ..Default::default()
    };
    let tokens = auth
        .sign_in(&options, true, WAIT, |_| {}, never())
        .await
        .unwrap();
    assert_eq!(tokens.email.as_deref(), Some("reg@example.com"));
    assert!(browser.opened()[0].contains("prompt=create"));
}

#[tokio::test]
async fn cancelling_in_the_browser_ends_the_sign_in_and_stores_nothing() {
    let stack = stack().await;
    let (auth, _) = new_auth(config(&stack, &[]), Action::Cancel);
    let error = auth
        .sign_in(&SignInOptions::default(), true, WAIT, |_| {}, never())
        .await
        .unwrap_err();
    assert!(matches!(error, AuthError::Denied), "{error}");
    assert_eq!(error.code(), "access_denied");
    assert_eq!(auth.load().await.unwrap(), None);
}

#[tokio::test]
async fn a_sign_in_times_out_or_is_cancelled_and_the_port_is_released() {
    let stack = stack().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let (auth, _) = new_auth(
        config(&stack, &[("KINDE_REDIRECT_URL", &redirect)]),
        demo(&stack),
    );

    let error = auth
        .sign_in(
            &SignInOptions::default(),
            false,
            Duration::from_millis(300),
            |_| {},
            never(),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, AuthError::Timeout { .. }), "{error}");
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("port released after a timeout");

    let error = auth
        .sign_in(&SignInOptions::default(), false, WAIT, |_| {}, async {})
        .await
        .unwrap_err();
    assert!(matches!(error, AuthError::Cancelled), "{error}");
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("port released after a cancel");
}

#[tokio::test]
async fn a_port_in_use_is_named_or_the_fallback_is_used() {
    let stack = stack().await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let (auth, _) = new_auth(
        config(&stack, &[("KINDE_REDIRECT_URL", &redirect)]),
        demo(&stack),
    );
    let error = auth
        .sign_in(&SignInOptions::default(), true, WAIT, |_| {}, never())
        .await
        .unwrap_err();
    assert!(
        matches!(error, AuthError::PortInUse { port: p, .. } if p == port),
        "{error}"
    );
    assert!(error.to_string().contains(&port.to_string()));

    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let fallback = free.to_string();
    let (auth, browser) = new_auth(
        config(
            &stack,
            &[
                ("KINDE_REDIRECT_URL", &redirect),
                ("KINDE_REDIRECT_FALLBACK_PORTS", &fallback),
            ],
        ),
        demo(&stack),
    );
    auth.sign_in(&SignInOptions::default(), true, WAIT, |_| {}, never())
        .await
        .unwrap();
    let opened = browser.opened()[0].clone();
    assert!(
        opened.contains(&format!("127.0.0.1%3A{free}")),
        "the fallback port is in the redirect_uri: {opened}"
    );
}

#[tokio::test]
async fn forged_and_stray_callbacks_neither_end_nor_hijack_the_sign_in() {
    let stack = stack().await;
    let (auth, _) = new_auth(config(&stack, &[]), demo(&stack));
    let (url_sender, url_receiver) = tokio::sync::oneshot::channel::<Url>();
    let attacker = tokio::spawn(async move {
        let authorize = url_receiver.await.unwrap();
        let query: std::collections::HashMap<_, _> = authorize.query_pairs().into_owned().collect();
        let callback = Url::parse(&query["redirect_uri"]).unwrap();
        let state = query["state"].clone();
        let http = reqwest::Client::new();
        let at = |path: &str, query: &str| {
            let mut url = callback.clone();
            url.set_path(path);
            url.set_query(Some(query));
            url
        };
        let forged = [
            at("/callback", "code=stolen&state=wrong"),
            at("/callback", "code=stolen"),
            at("/elsewhere", &format!("code=stolen&state={state}")),
            at("/callback", &format!("state={state}")),
            at(
                "/callback",
                &format!("code=stolen&state={state}&iss=https://evil.example"),
            ),
        ];
        for url in &forged {
            let status = http.get(url.clone()).send().await.unwrap().status();
            assert!(status.is_client_error(), "{url} got {status}");
        }
        // A flood of wrong-state requests at once.
        let flood = (0..200).map(|i| {
            http.get(at("/callback", &format!("code=x{i}&state=flood")))
                .send()
        });
        for response in futures_join(flood).await {
            assert!(response.unwrap().status().is_client_error());
        }
        // Only now does the person's browser deliver the genuine redirect.
        authorize
    });

    let show_sender = std::sync::Mutex::new(Some(url_sender));
    let options = SignInOptions::default();
    let sign_in = auth.sign_in(
        &options,
        false,
        WAIT,
        |u| {
            let _ = show_sender.lock().unwrap().take().unwrap().send(u.clone());
        },
        never(),
    );
    let genuine = async {
        let authorize = attacker.await.unwrap();
        UserAgent::new()
            .authorize(authorize.as_str(), &demo(&stack), true)
            .await
            .unwrap()
    };
    let (tokens, handoff) = tokio::join!(sign_in, genuine);
    let tokens = tokens.unwrap();
    assert_eq!(
        tokens.subject, stack.accounts[0].user_id,
        "the genuine sign-in won"
    );
    assert_eq!(handoff.delivered.as_ref().map(|(s, _)| *s), Some(200));

    // The same callback again: the listener is gone, nothing can be replayed into it.
    let replay = reqwest::Client::new()
        .get(handoff.redirect.clone())
        .send()
        .await;
    assert!(replay.is_err() || replay.unwrap().status().is_client_error());
}

/// Sends every request at once and collects the answers.
async fn futures_join<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

#[tokio::test]
async fn sign_out_revokes_clears_and_returns_the_end_session_url() {
    let stack = stack().await;
    let (auth, _) = new_auth(config(&stack, &[]), demo(&stack));
    let tokens = auth
        .sign_in(&SignInOptions::default(), true, WAIT, |_| {}, never())
        .await
        .unwrap();
    let refresh = tokens.refresh_token.clone().unwrap();

    let url = auth.sign_out(false).await.unwrap();
    assert_eq!(
        url.as_str(),
        format!(
            "{}/logout?redirect=http%3A%2F%2F127.0.0.1%3A53180%2Fsigned-out",
            stack.issuer()
        )
    );
    assert_eq!(auth.load().await.unwrap(), None);
    let refreshed = reqwest::Client::new()
        .post(format!("{}/oauth2/token", stack.issuer()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", &stack.state.config.client_id),
            ("refresh_token", refresh.expose()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        refreshed.status(),
        400,
        "the refresh token was revoked at the provider"
    );
}

#[tokio::test]
async fn an_unreachable_provider_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let issuer = format!("http://127.0.0.1:{port}");
    let config = Config::from_sources(&Sources::from_pairs([
        ("KINDE_ISSUER_URL", issuer.as_str()),
        ("KINDE_CLIENT_ID", "x"),
    ]))
    .unwrap();
    let (auth, _) = new_auth(config, Action::Cancel);
    let error = auth
        .sign_in(&SignInOptions::default(), false, WAIT, |_| {}, never())
        .await
        .unwrap_err();
    assert_eq!(error.code(), "provider_unreachable", "{error}");
}

/// An `Auth` whose redirect goes to the app's private-use scheme: the browser hands the URL over
/// to the test, which plays the app's deep-link handler.
fn scheme_auth(
    stack: &Running,
    action: Action,
) -> (Arc<Auth>, tokio::sync::mpsc::UnboundedReceiver<Url>) {
    let config = config(
        stack,
        &[("KINDE_REDIRECT_URL", "dev.kinvex.desktop:/callback")],
    );
    let (browser, handed) = HeadlessBrowser::handing_over(action);
    let auth = stack::auth(config, Box::new(Memory::default()), Arc::new(browser));
    (Arc::new(auth), handed)
}

#[tokio::test]
async fn the_apps_scheme_carries_the_answer_back_once() {
    let stack = stack().await;
    let (auth, mut handed) = scheme_auth(&stack, demo(&stack));
    let signing_in = {
        let auth = auth.clone();
        tokio::spawn(async move {
            auth.sign_in(&SignInOptions::default(), true, WAIT, |_| {}, never())
                .await
        })
    };
    let redirect = handed.recv().await.unwrap();
    assert_eq!(redirect.scheme(), "dev.kinvex.desktop");
    assert_eq!(redirect.path(), "/callback");

    let mut forged = redirect.clone();
    forged.set_query(Some("code=forged&state=guessed"));
    assert_eq!(auth.deliver_redirect(&forged), Err(Rejection::WrongState));
    auth.deliver_redirect(&redirect).unwrap();
    let tokens = signing_in.await.unwrap().unwrap();
    assert_eq!(tokens.email.as_deref(), Some("demo@kinvex.dev"));
    assert_eq!(auth.load().await.unwrap(), Some(tokens));
    assert_eq!(
        auth.deliver_redirect(&redirect),
        Err(Rejection::NotWaiting),
        "a replayed redirect does nothing"
    );
}

#[tokio::test]
async fn a_scheme_sign_in_that_was_cancelled_takes_no_late_answer() {
    let stack = stack().await;
    let (auth, mut handed) = scheme_auth(&stack, demo(&stack));
    let (cancel, cancelled) = tokio::sync::oneshot::channel::<()>();
    let signing_in = {
        let auth = auth.clone();
        tokio::spawn(async move {
            let cancelled = async {
                let _ = cancelled.await;
            };
            auth.sign_in(&SignInOptions::default(), true, WAIT, |_| {}, cancelled)
                .await
        })
    };
    let redirect = handed.recv().await.unwrap();
    cancel.send(()).unwrap();
    assert!(matches!(
        signing_in.await.unwrap(),
        Err(AuthError::Cancelled)
    ));
    assert_eq!(auth.deliver_redirect(&redirect), Err(Rejection::NotWaiting));
    assert_eq!(auth.load().await.unwrap(), None, "nothing stored");
}
