//! The provider's hiccups, over real HTTP: the local stack answering 503 a few times or for
//! good, or too slowly, at discovery, the code exchange and refresh, and a server on loopback
//! that never answers. Transient failures are retried under the client's policy (made fast
//! here); a provider that stays down is "unavailable, try again", a session being renewed stays
//! signed in (`Offline`), and only a wrong answer points at the configuration.

#![allow(clippy::unwrap_used)]

use kinvex_auth::browser::Browser;
use kinvex_auth::discovery::Provider;
use kinvex_auth::http::{Failure, HttpClient, Resend, RetryPolicy};
use kinvex_auth::token_store::{Memory, PlaintextFile};
use kinvex_auth::{Auth, AuthError, SessionState, SignInOptions, TokenStore};
use kinvex_clock::ManualClock;
use kinvex_devstack::Running;
use kinvex_devstack::user_agent::{Action, UserAgent};
use kinvex_test_kit::browser::{HeadlessBrowser, sign_in_as};
use kinvex_test_kit::env::Settings;
use kinvex_test_kit::stack::{self, TokenFile};
use openidconnect::AsyncHttpClient;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use url::Url;

/// Three tries a few milliseconds apart, so a test rides out two failures quickly.
const FAST: RetryPolicy = RetryPolicy {
    attempts: 3,
    first_pause: Duration::from_millis(10),
    max_pause: Duration::from_millis(40),
    attempt_timeout: Duration::from_secs(5),
    budget: Duration::from_secs(10),
};

const WAIT: Duration = Duration::from_secs(20);

fn http(policy: RetryPolicy) -> HttpClient {
    HttpClient::new().unwrap().with_retry(policy)
}

fn issuer(stack: &Running) -> Url {
    Url::parse(stack.issuer()).unwrap()
}

/// Replaces the provider's faults, as `POST /_devstack/faults` does.
async fn provider_fault(issuer: &str, fault: Value) {
    let response = reqwest::Client::new()
        .post(format!("{issuer}/_devstack/faults"))
        .json(&json!({ "idp": fault }))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
}

#[tokio::test]
async fn discovery_after_two_503s_is_retried_and_succeeds() {
    let stack = stack::start(None).await;
    provider_fault(stack.issuer(), json!({ "status": 503, "count": 2 })).await;
    let provider = Provider::discover(&http(FAST), &issuer(&stack))
        .await
        .unwrap();
    assert_eq!(provider.issuer, stack.issuer());
}

#[tokio::test]
async fn discovery_against_a_lasting_503_is_unavailable_not_a_configuration_error() {
    let stack = stack::start(None).await;
    provider_fault(stack.issuer(), json!({ "status": 503 })).await;
    let started = Instant::now();
    let error = Provider::discover(&http(FAST), &issuer(&stack))
        .await
        .err()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "bounded: {:?}",
        started.elapsed()
    );
    assert_eq!(error.code(), "provider_unavailable", "{error}");
    let message = error.to_string();
    assert!(
        message.contains(&format!(
            "The sign-in service at {}/.well-known/openid-configuration is unavailable (HTTP 503); try again in a moment.",
            stack.issuer()
        )),
        "{message}"
    );
    assert!(!message.contains("KINDE_ISSUER_URL"), "{message}");
}

#[tokio::test]
async fn discovery_stops_after_the_policys_attempts() {
    let stack = stack::start(None).await;
    let once = RetryPolicy {
        attempts: 1,
        ..FAST
    };
    // Four 503s: three tries take three, one try the fourth, and the next try is served.
    provider_fault(stack.issuer(), json!({ "status": 503, "count": 4 })).await;
    let first = Provider::discover(&http(FAST), &issuer(&stack)).await;
    assert_eq!(first.err().unwrap().code(), "provider_unavailable");
    let second = Provider::discover(&http(once), &issuer(&stack)).await;
    assert_eq!(second.err().unwrap().code(), "provider_unavailable");
    Provider::discover(&http(once), &issuer(&stack))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_404_discovery_document_still_says_check_kinde_issuer_url() {
    let stack = stack::start(None).await;
    let wrong = Url::parse(&format!("{}/not-a-tenant", stack.issuer())).unwrap();
    let error = Provider::discover(&http(FAST), &wrong).await.err().unwrap();
    assert_eq!(error.code(), "discovery", "{error}");
    let message = error.to_string();
    assert!(message.contains("HTTP 404"), "{message}");
    assert!(message.contains("Check KINDE_ISSUER_URL"), "{message}");
}

#[tokio::test]
async fn a_provider_that_does_not_answer_in_time_is_unavailable_within_the_budget() {
    let stack = stack::start(None).await;
    provider_fault(stack.issuer(), json!({ "latency_ms": 10_000 })).await;
    let slow = RetryPolicy {
        attempt_timeout: Duration::from_millis(200),
        budget: Duration::from_secs(1),
        ..FAST
    };
    let started = Instant::now();
    let error = Provider::discover(&http(slow), &issuer(&stack))
        .await
        .err()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "bounded by the budget: {:?}",
        started.elapsed()
    );
    assert_eq!(error.code(), "provider_unavailable", "{error}");
    assert!(
        error.to_string().contains("did not answer within 200 ms"),
        "{error}"
    );
}

/// A person who signs in on the provider's pages, then, before the browser delivers the
/// redirect to the app, the provider starts failing with `fault`: the code exchange is the next
/// request it sees.
struct FaultBeforeDelivery {
    action: Action,
    issuer: String,
    fault: Value,
}

impl Browser for FaultBeforeDelivery {
    fn open(&self, url: &str) -> Result<(), String> {
        let (url, action) = (url.to_string(), self.action.clone());
        let (issuer, fault) = (self.issuer.clone(), self.fault.clone());
        tokio::spawn(async move {
            let handoff = UserAgent::new()
                .authorize(&url, &action, false)
                .await
                .unwrap();
            provider_fault(&issuer, fault).await;
            reqwest::get(handoff.redirect).await.unwrap();
        });
        Ok(())
    }
}

fn auth_with_fault_at_exchange(stack: &Running, fault: Value) -> Auth {
    let config = Settings::for_stack(stack).config();
    let store = TokenStore::new(
        Box::new(Memory::default()),
        config.issuer_str(),
        &config.client_id,
    );
    let browser = FaultBeforeDelivery {
        action: sign_in_as(&stack.accounts[0]),
        issuer: stack.issuer().to_string(),
        fault,
    };
    Auth::new(config, http(FAST), store, Arc::new(browser))
}

async fn sign_in(auth: &Auth) -> Result<kinvex_auth::TokenSet, AuthError> {
    auth.sign_in(
        &SignInOptions::default(),
        true,
        WAIT,
        |_| {},
        std::future::pending(),
    )
    .await
}

#[tokio::test]
async fn the_code_exchange_after_one_503_is_retried_and_signs_in() {
    let stack = stack::start(None).await;
    let auth = auth_with_fault_at_exchange(&stack, json!({ "status": 503, "count": 1 }));
    let tokens = sign_in(&auth).await.unwrap();
    assert_eq!(tokens.subject, stack.accounts[0].user_id);
    assert_eq!(
        stack.state.stats.code_exchanges.load(Ordering::SeqCst),
        1,
        "the 503 answered before the provider took the code; the retry spent it"
    );
}

#[tokio::test]
async fn a_code_exchange_against_a_lasting_503_is_unavailable() {
    let stack = stack::start(None).await;
    let auth = auth_with_fault_at_exchange(&stack, json!({ "status": 503 }));
    let error = sign_in(&auth).await.unwrap_err();
    assert_eq!(error.code(), "provider_unavailable", "{error}");
    assert!(
        error
            .to_string()
            .contains("/oauth2/token is unavailable (HTTP 503); try again in a moment"),
        "{error}"
    );
    assert_eq!(auth.load().await.unwrap(), None, "nothing stored");
}

/// A server on loopback that takes connections and reads their first bytes but never answers.
/// A connection that starts with `MARK` is answered on the channel with how many others came
/// before it: they are accepted in order, so it counts every request sent until then.
async fn silent_server() -> (SocketAddr, mpsc::UnboundedReceiver<usize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (report, reports) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut held = Vec::new();
        let mut requests = 0;
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut start = [0u8; 4];
            if stream.read_exact(&mut start).await.is_err() {
                continue;
            }
            if &start == b"MARK" {
                let _ = report.send(requests);
            } else {
                requests += 1;
                held.push(stream);
            }
        }
    });
    (address, reports)
}

/// How many requests had reached the silent server by now.
async fn requests_so_far(
    address: SocketAddr,
    reports: &mut mpsc::UnboundedReceiver<usize>,
) -> usize {
    use tokio::io::AsyncWriteExt;
    let mut mark = tokio::net::TcpStream::connect(address).await.unwrap();
    mark.write_all(b"MARK").await.unwrap();
    tokio::time::timeout(WAIT, reports.recv())
        .await
        .expect("the server counts within the wait")
        .unwrap()
}

#[tokio::test]
async fn a_code_exchange_that_timed_out_is_not_sent_again_but_a_read_is() {
    let (address, mut reports) = silent_server().await;
    let http = http(RetryPolicy {
        attempt_timeout: Duration::from_millis(200),
        ..FAST
    });
    let exchange = openidconnect::http::Request::builder()
        .method("POST")
        .uri(format!("http://{address}/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(b"grant_type=authorization_code&code=single-use".to_vec())
        .unwrap();
    let failure = AsyncHttpClient::call(&http, exchange).await.unwrap_err();
    assert_eq!(
        failure,
        Failure::Unavailable("it did not answer within 200 ms".into())
    );
    assert_eq!(
        requests_so_far(address, &mut reports).await,
        1,
        "the code may have been spent: not sent again"
    );

    let read = http
        .send(Resend::Always, |client| {
            client.get(format!("http://{address}/.well-known/jwks"))
        })
        .await
        .unwrap_err();
    assert!(matches!(read, Failure::Unavailable(_)), "{read}");
    assert_eq!(
        requests_so_far(address, &mut reports).await,
        1 + 3,
        "a read is tried again"
    );
}

/// A signed-in session in `file`, its tokens then past expiry on `clock`, and an `Auth` of a
/// restarted app on the same file that has not discovered the provider yet.
async fn restarted_with_expired_session(
    stack: &Running,
    clock: &ManualClock,
    file: &TokenFile,
) -> Auth {
    let config = Settings::for_stack(stack).config();
    let store = |config: &kinvex_auth::Config| {
        TokenStore::new(
            Box::new(PlaintextFile::new(file.to_path_buf())),
            config.issuer_str(),
            &config.client_id,
        )
    };
    let first = Auth::new(
        config.clone(),
        http(FAST),
        store(&config),
        Arc::new(HeadlessBrowser::new(sign_in_as(&stack.accounts[0]))),
    )
    .with_clock(clock.shared());
    sign_in(&first).await.unwrap();
    clock.advance(Duration::from_secs(25 * 3600));
    Auth::new(
        config.clone(),
        http(FAST),
        store(&config),
        Arc::new(HeadlessBrowser::new(Action::Cancel)),
    )
    .with_clock(clock.shared())
}

#[tokio::test]
async fn a_refresh_while_discovery_answers_503_stays_signed_in_offline() {
    let clock = ManualClock::new();
    let stack = stack::start(Some(&clock)).await;
    let file = TokenFile::new("provider-down");
    let auth = restarted_with_expired_session(&stack, &clock, &file).await;
    let stored = auth.load().await.unwrap();

    provider_fault(stack.issuer(), json!({ "status": 503 })).await;
    let error = auth.fresh_tokens().await.unwrap_err();
    assert_eq!(error.code(), "offline", "{error}");
    assert!(
        error.to_string().contains("You are still signed in"),
        "{error}"
    );
    assert!(matches!(
        *auth.watch().borrow(),
        SessionState::Offline { .. }
    ));
    assert_eq!(auth.load().await.unwrap(), stored, "the session is kept");

    provider_fault(stack.issuer(), json!({})).await;
    auth.fresh_tokens().await.unwrap();
    assert!(matches!(
        *auth.watch().borrow(),
        SessionState::SignedIn { .. }
    ));
}

#[tokio::test]
async fn a_refresh_after_two_503s_is_retried_and_renews() {
    let clock = ManualClock::new();
    let stack = stack::start(Some(&clock)).await;
    let file = TokenFile::new("provider-hiccup");
    let auth = restarted_with_expired_session(&stack, &clock, &file).await;
    let before = stack.state.stats.refreshes.load(Ordering::SeqCst);

    // Both fall on discovery (this app has not discovered the provider yet); its third try is
    // served, and so is the refresh.
    provider_fault(stack.issuer(), json!({ "status": 503, "count": 2 })).await;
    auth.fresh_tokens().await.unwrap();
    assert_eq!(
        stack.state.stats.refreshes.load(Ordering::SeqCst),
        before + 1,
        "one refresh reached the token endpoint"
    );
}
