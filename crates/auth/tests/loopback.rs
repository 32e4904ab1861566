//! The loopback callback listener under the faults and hostile clients a desktop sign-in meets:
//! sign-ins back to back on one fixed port, floods of idle connections, clients that never finish
//! their request, and requests addressed to another host (DNS rebinding). Full sign-ins run
//! against the local stack with the headless user agent; the rest drive the listener alone over
//! raw TCP, since a forged `Host` or a half-sent request is exactly what no HTTP client sends.

#![allow(clippy::unwrap_used)]

use kinvex_auth::loopback::Listener;
use kinvex_auth::token_store::Memory;
use kinvex_auth::{Auth, Secret, SignInOptions, TokenSet};
use kinvex_devstack::Running;
use kinvex_devstack::user_agent::UserAgent;
use kinvex_test_kit::browser::{HeadlessBrowser, sign_in_as};
use kinvex_test_kit::env::Settings;
use kinvex_test_kit::{port, stack};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use url::Url;

/// The longest a sign-in may take here; every wait below is bounded by it or less.
const WAIT: Duration = Duration::from_secs(30);
/// How soon after the answer a connection must be seen closed. The listener closes them as it
/// returns; this is a margin for a loaded machine, and short of its 5 s header deadline, so only
/// closing at the answer meets it.
const CLOSED_WITHIN: Duration = Duration::from_secs(3);
const STATE: &str = "expected-state-0123456789";
const ISSUER: &str = "https://tenant.kinde.com";

async fn never() {
    std::future::pending::<()>().await
}

/// A stack that registers `redirect` exactly, and an `Auth` that signs in through it.
async fn fixed_port_sign_in(redirect: &str) -> (Running, Auth) {
    let stack = stack::start_with(kinvex_devstack::Config {
        redirect_uris: vec![redirect.to_string()],
        ..stack::config(None)
    })
    .await;
    let config = Settings::for_stack(&stack)
        .with("KINDE_REDIRECT_URL", redirect)
        .config();
    let browser = Arc::new(HeadlessBrowser::new(sign_in_as(&stack.accounts[0])));
    let auth = stack::auth(config, Box::new(Memory::default()), browser);
    (stack, auth)
}

/// Signs in without opening a browser: `drive` gets the authorization URL once the listener is
/// bound, does what the test does with it, and delivers the genuine redirect.
async fn sign_in_driven<F, Fut>(auth: &Auth, drive: F) -> (TokenSet, Fut::Output)
where
    F: FnOnce(Url) -> Fut,
    Fut: Future,
{
    let (shown, url) = oneshot::channel::<Url>();
    let shown = Mutex::new(Some(shown));
    let options = SignInOptions::default();
    let sign_in = auth.sign_in(
        &options,
        false,
        WAIT,
        |u| {
            let _ = shown.lock().unwrap().take().unwrap().send(u.clone());
        },
        never(),
    );
    let driven = async { drive(url.await.unwrap()).await };
    let (tokens, driven) = tokio::time::timeout(WAIT, async { tokio::join!(sign_in, driven) })
        .await
        .expect("the sign-in finished in time");
    (tokens.unwrap(), driven)
}

/// Follows the authorization URL as the person would and delivers the redirect.
async fn deliver_genuine(stack: &Running, authorize: &Url) -> u16 {
    let handoff = UserAgent::new()
        .authorize(authorize.as_str(), &sign_in_as(&stack.accounts[0]), true)
        .await
        .unwrap();
    handoff.delivered.unwrap().0
}

/// A listener for one sign-in on a port of its own, and that port.
fn listener(header_timeout: Duration) -> (Listener, u16) {
    let redirect = Url::parse("http://127.0.0.1:0/callback").unwrap();
    let listener = Listener::bind(&redirect, &[])
        .unwrap()
        .header_timeout(header_timeout);
    let port = listener.redirect_uri().port().unwrap();
    (listener, port)
}

/// Waits for the answer on `listener` in a task of its own, as a sign-in does.
fn waiting(listener: Listener) -> tokio::task::JoinHandle<Result<String, kinvex_auth::AuthError>> {
    tokio::spawn(async move {
        let state = Secret::new(STATE.to_string());
        listener
            .wait(&state, ISSUER, WAIT, never())
            .await
            .map(|code| code.expose().clone())
    })
}

/// Sends `head` as is on a new connection and returns the status the listener answered, or
/// `None` if it closed the connection without an answer.
async fn send_raw(port: u16, head: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(WAIT, stream.read_to_end(&mut answer))
        .await
        .expect("the listener answered or closed in time");
    if read.is_err() && answer.is_empty() {
        return None;
    }
    let answer = String::from_utf8_lossy(&answer);
    answer.split(' ').nth(1).and_then(|s| s.parse().ok())
}

fn callback(target: &str, host: &str) -> String {
    format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
}

/// Reads `stream` until the other side closes it (end of stream or reset) and returns what came.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut seen = Vec::new();
    let mut buffer = [0u8; 1024];
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return seen,
            Ok(n) => seen.extend_from_slice(&buffer[..n]),
        }
    }
}

/// Asserts the server closes every one of `streams` within `within`.
async fn assert_all_closed(streams: &mut [TcpStream], within: Duration, what: &str) {
    let count = streams.len();
    tokio::time::timeout(within, async {
        for stream in streams.iter_mut() {
            read_until_closed(stream).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{count} {what} were still open {within:?} later"));
}

#[tokio::test]
async fn a_second_sign_in_on_the_same_fixed_port_right_after_the_first_is_not_port_in_use() {
    let port = port::free();
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let (stack, auth) = fixed_port_sign_in(&redirect).await;
    for attempt in ["first", "second", "third"] {
        let tokens = auth
            .sign_in(&SignInOptions::default(), true, WAIT, |_| {}, never())
            .await
            .unwrap_or_else(|e| panic!("the {attempt} sign-in on port {port}: [{}] {e}", e.code()));
        assert_eq!(tokens.subject, stack.accounts[0].user_id);
    }
}

#[tokio::test]
async fn three_hundred_idle_connections_neither_stay_open_nor_hold_the_port_after_the_answer() {
    let port = port::free();
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let (stack, auth) = fixed_port_sign_in(&redirect).await;
    let stack = &stack;
    let (tokens, mut idle) = sign_in_driven(&auth, |authorize| async move {
        let mut idle = Vec::new();
        for _ in 0..300 {
            idle.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
        }
        assert_eq!(deliver_genuine(stack, &authorize).await, 200);
        idle
    })
    .await;
    assert_eq!(tokens.subject, stack.accounts[0].user_id);

    assert_all_closed(&mut idle, CLOSED_WITHIN, "idle connections").await;
    let again = auth
        .sign_in(&SignInOptions::default(), true, WAIT, |_| {}, never())
        .await;
    assert!(again.is_ok(), "the port is free again: {:?}", again.err());
}

#[tokio::test]
async fn connections_open_at_the_answer_are_closed_at_once_and_never_served_again() {
    // A header deadline far beyond the test's bounds: only the answer can close these.
    let (listener, port) = listener(Duration::from_secs(120));
    let redirect = listener.redirect_uri().clone();
    let answer = waiting(listener);

    let mut open = Vec::new();
    for _ in 0..50 {
        open.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    }
    let mut half_sent = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    half_sent
        .write_all(
            format!("GET /callback?state={STATE}&code=late HTTP/1.1\r\nHost: 127").as_bytes(),
        )
        .await
        .unwrap();
    // A connection kept alive after an answer of its own, ready for another request.
    let mut kept_alive = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    kept_alive
        .write_all(
            format!("GET /callback?state=wrong&code=x HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut first = Vec::new();
    let mut buffer = [0u8; 4096];
    while !String::from_utf8_lossy(&first).contains("</html>") {
        let n = tokio::time::timeout(WAIT, kept_alive.read(&mut buffer))
            .await
            .unwrap()
            .unwrap();
        assert_ne!(n, 0, "the listener answered the first request");
        first.extend_from_slice(&buffer[..n]);
    }
    assert!(String::from_utf8_lossy(&first).starts_with("HTTP/1.1 400"));

    let status = send_raw(
        port,
        &callback(
            &format!("/callback?state={STATE}&code=genuine"),
            &format!("127.0.0.1:{port}"),
        ),
    )
    .await;
    assert_eq!(status, Some(200));
    assert_eq!(answer.await.unwrap().unwrap(), "genuine");

    Listener::bind(&redirect, &[]).expect("the port is free the moment the wait returns");
    let late =
        format!("GET /callback?state={STATE}&code=late HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    let _ = kept_alive.write_all(late.as_bytes()).await;
    let _ = half_sent.write_all(b".0.0.1\r\n\r\n").await;
    open.push(half_sent);
    assert_all_closed(&mut open, CLOSED_WITHIN, "connections open at the answer").await;
    let served = tokio::time::timeout(CLOSED_WITHIN, read_until_closed(&mut kept_alive))
        .await
        .expect("the kept-alive connection was closed");
    assert!(
        !String::from_utf8_lossy(&served).contains("HTTP/1.1"),
        "nothing is served after the answer: {}",
        String::from_utf8_lossy(&served)
    );
}

#[tokio::test]
async fn a_client_that_never_finishes_its_request_head_is_disconnected_after_the_header_timeout() {
    let header_timeout = Duration::from_millis(300);
    let (listener, port) = listener(header_timeout);
    let answer = waiting(listener);

    let mut slow = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let connected = Instant::now();
    slow.write_all(
        format!("GET /callback?state={STATE}&code=slow HTTP/1.1\r\nHost: 127.0.0.1").as_bytes(),
    )
    .await
    .unwrap();
    let silent = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    assert_all_closed(&mut [slow, silent], CLOSED_WITHIN, "slow clients").await;
    assert!(
        connected.elapsed() >= header_timeout,
        "closed by the deadline, not before it: {:?}",
        connected.elapsed()
    );
    assert!(!answer.is_finished(), "the sign-in is still waiting");

    let status = send_raw(
        port,
        &callback(
            &format!("/callback?state={STATE}&code=genuine"),
            &format!("127.0.0.1:{port}"),
        ),
    )
    .await;
    assert_eq!(status, Some(200));
    assert_eq!(answer.await.unwrap().unwrap(), "genuine");
}

#[tokio::test]
async fn a_callback_with_the_right_state_but_a_foreign_host_is_refused_and_the_sign_in_completes() {
    let port = port::free();
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let (stack, auth) = fixed_port_sign_in(&redirect).await;
    let stack = &stack;
    let (tokens, forged) = sign_in_driven(&auth, |authorize| async move {
        let query: std::collections::HashMap<_, _> = authorize.query_pairs().into_owned().collect();
        let target = format!("/callback?code=forged&state={}", query["state"]);
        let forged = send_raw(port, &callback(&target, &format!("evil.example:{port}"))).await;
        assert_eq!(deliver_genuine(stack, &authorize).await, 200);
        forged
    })
    .await;
    assert_eq!(forged, Some(421), "DNS rebinding gets Misdirected Request");
    assert_eq!(
        tokens.subject, stack.accounts[0].user_id,
        "the genuine answer won"
    );
}

#[tokio::test]
async fn requests_not_addressed_to_the_redirects_host_and_port_change_nothing() {
    let (listener, port) = listener(Duration::from_secs(5));
    let answer = waiting(listener);
    let target = format!("/callback?state={STATE}&code=forged");
    let refused = [
        (callback(&target, &format!("evil.example:{port}")), 421),
        (callback(&target, &format!("localhost:{port}")), 421),
        (
            callback(&target, &format!("127.0.0.1:{}", port.wrapping_add(1))),
            421,
        ),
        (callback(&target, "127.0.0.1"), 421),
        (
            callback(
                &format!("http://evil.example:{port}{target}"),
                &format!("127.0.0.1:{port}"),
            ),
            421,
        ),
        (format!("GET {target} HTTP/1.0\r\n\r\n"), 400),
        (
            format!(
                "GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nHost: evil.example\r\nConnection: close\r\n\r\n"
            ),
            400,
        ),
    ];
    for (head, status) in &refused {
        assert_eq!(send_raw(port, head).await, Some(*status), "{head:?}");
        assert!(!answer.is_finished(), "{head:?} ended the sign-in");
    }
    let status = send_raw(
        port,
        &callback(
            &format!("/callback?state={STATE}&code=genuine"),
            &format!("127.0.0.1:{port}"),
        ),
    )
    .await;
    assert_eq!(status, Some(200));
    assert_eq!(answer.await.unwrap().unwrap(), "genuine");
}

/// Found by the fuzzer (`fuzz/`, target `callback`): a repeated `state` or `code`, a method
/// other than GET and an absolute target with another scheme each ended the sign-in.
#[tokio::test]
async fn a_repeated_parameter_another_method_or_scheme_never_ends_the_sign_in() {
    let (listener, port) = listener(Duration::from_secs(5));
    let answer = waiting(listener);
    let host = format!("127.0.0.1:{port}");
    let genuine = format!("/callback?state={STATE}&code=forged");
    let refused = [
        (
            callback(
                &format!("/callback?state=guess&state={STATE}&code=forged"),
                &host,
            ),
            400,
        ),
        (
            callback(
                &format!("/callback?code=forged&code=x&state={STATE}"),
                &host,
            ),
            400,
        ),
        (
            format!(
                "POST {genuine} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            ),
            404,
        ),
        (
            format!("GEU {genuine} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
            404,
        ),
        (callback(&format!("htwp://{host}{genuine}"), &host), 421),
    ];
    for (head, status) in &refused {
        assert_eq!(send_raw(port, head).await, Some(*status), "{head:?}");
        assert!(!answer.is_finished(), "{head:?} ended the sign-in");
    }
    let status = send_raw(
        port,
        &callback(&format!("/callback?state={STATE}&code=genuine"), &host),
    )
    .await;
    assert_eq!(status, Some(200));
    assert_eq!(answer.await.unwrap().unwrap(), "genuine");
}

/// Descriptors this process holds open.
#[cfg(target_os = "linux")]
fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_flood_of_idle_connections_holds_a_bounded_number_of_descriptors_and_the_callback_still_arrives()
 {
    const FLOOD: usize = 200;
    let (listener, port) = listener(Duration::from_millis(300));
    let answer = waiting(listener);
    let before = open_descriptors();
    let mut idle = Vec::new();
    for _ in 0..FLOOD {
        idle.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    }
    // A request behind the flood is answered only once the listener has accepted everything
    // before it; what the listener holds then is what the flood cost it.
    let probe = send_raw(port, &callback("/elsewhere", &format!("127.0.0.1:{port}"))).await;
    assert_eq!(probe, Some(404));
    let held = open_descriptors().saturating_sub(before + FLOOD);
    assert!(
        held <= 40,
        "the listener held {held} descriptors for {FLOOD} idle connections"
    );
    let status = send_raw(
        port,
        &callback(
            &format!("/callback?state={STATE}&code=genuine"),
            &format!("127.0.0.1:{port}"),
        ),
    )
    .await;
    assert_eq!(status, Some(200));
    assert_eq!(answer.await.unwrap().unwrap(), "genuine");
    drop(idle);
}
