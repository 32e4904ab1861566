//! The callback parser: raw bytes sent to the real loopback listener, as a browser, a web page
//! or another local program could. Whatever arrives, a sign-in may end only on a GET whose one
//! `Host` is the redirect's authority, whose path is the redirect's path and whose every `state`
//! is the one the sign-in sent; the code it yields must be one the request carried.

use crate::stack;
use kinvex_auth::loopback::Listener;
use kinvex_auth::{AuthError, Secret};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use url::Url;

pub const STATE: &str = "fuzz-state-4n7Qk2";
pub const ISSUER: &str = "https://tenant.kinde.com";
/// Replaced by the listener's `127.0.0.1:port`, which changes with every listener.
pub const AUTHORITY: &str = "{authority}";
/// How long a connection may take to send its request head; short, so a fuzzer is not slowed.
const HEADER_TIMEOUT: Duration = Duration::from_millis(200);

struct SignIn {
    authority: String,
    waiting: JoinHandle<Result<Secret<String>, AuthError>>,
}

/// One waiting sign-in at a time, replaced after it ends.
static SIGN_IN: Mutex<Option<SignIn>> = Mutex::const_new(None);

pub fn target(data: &[u8]) {
    let shared = stack::shared();
    shared.run(async {
        let mut slot = SIGN_IN.lock().await;
        if slot.is_none() {
            *slot = Some(listen());
        }
        let Some(sign_in) = slot.as_mut() else {
            unreachable!("a sign-in was just put in place")
        };
        let request = replace(data, AUTHORITY.as_bytes(), sign_in.authority.as_bytes());
        let answer = exchange(&sign_in.authority, &request).await;
        let ended = ["Signed in", "Sign-in cancelled", "Sign-in failed"]
            .iter()
            .any(|title| answer.contains(&format!("<h1>{title}</h1>")));
        if !ended && !sign_in.waiting.is_finished() {
            return;
        }
        let Some(sign_in) = slot.take() else { return };
        let outcome = tokio::time::timeout(Duration::from_secs(2), sign_in.waiting)
            .await
            .unwrap_or_else(|_| panic!("the listener answered but the sign-in did not end"))
            .unwrap_or_else(|e| panic!("the sign-in task failed: {e}"));
        let codes = genuine(&request, &sign_in.authority).unwrap_or_else(|why| {
            panic!(
                "a request ended the sign-in although {why}: {:?}",
                String::from_utf8_lossy(&request)
            )
        });
        if let Ok(code) = outcome
            && !codes.contains(code.expose())
        {
            panic!("the sign-in yielded a code the request did not carry");
        }
    });
}

fn listen() -> SignIn {
    let redirect = Url::parse("http://127.0.0.1:0/callback").unwrap_or_else(|e| panic!("{e}"));
    let listener = Listener::bind(&redirect, &[])
        .unwrap_or_else(|e| panic!("cannot bind a callback listener: {e}"))
        .header_timeout(HEADER_TIMEOUT);
    let uri = listener.redirect_uri();
    let authority = format!(
        "{}:{}",
        uri.host_str().unwrap_or_default(),
        uri.port().unwrap_or_default()
    );
    let waiting = tokio::spawn(async move {
        let state = Secret::new(STATE.to_string());
        listener
            .wait(
                &state,
                ISSUER,
                Duration::from_secs(3600),
                std::future::pending(),
            )
            .await
    });
    SignIn { authority, waiting }
}

/// Sends `request` on a new connection and reads the answer until the listener closes it.
async fn exchange(authority: &str, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(authority)
        .await
        .unwrap_or_else(|e| panic!("cannot reach the callback listener: {e}"));
    // A listener that closed the connection early (a refused request) is fine.
    let _ = stream.write_all(request).await;
    let _ = stream.shutdown().await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// Whether `request` may end the sign-in, read with a parser of the fuzzer's own; the codes it
/// carries when it may, or why it may not.
fn genuine(request: &[u8], authority: &str) -> Result<Vec<String>, &'static str> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Request::new(&mut headers);
    if !matches!(parsed.parse(request), Ok(httparse::Status::Complete(_))) {
        return Err("it is not a complete HTTP request");
    }
    if parsed.method != Some("GET") {
        return Err("it is not a GET");
    }
    let hosts: Vec<&[u8]> = parsed
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("host"))
        .map(|h| h.value)
        .collect();
    if hosts.len() != 1 || !hosts[0].eq_ignore_ascii_case(authority.as_bytes()) {
        return Err("its Host is not the redirect's authority");
    }
    let target = parsed.path.unwrap_or_default();
    let origin = target
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case("http://"))
        .map(|_| &target[7..])
        .map(|rest| {
            let at = rest.find('/').unwrap_or(rest.len());
            (&rest[..at], &rest[at..])
        })
        .filter(|(named, _)| named.eq_ignore_ascii_case(authority));
    let target = match origin {
        Some((_, path)) => path,
        None if target.starts_with('/') => target,
        None => return Err("its target names another authority"),
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path != "/callback" {
        return Err("its path is not the redirect's");
    }
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let states: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "state")
        .map(|(_, v)| v.as_str())
        .collect();
    if states.is_empty() || states.iter().any(|s| *s != STATE) {
        return Err("a state in it is not the sign-in's");
    }
    if pairs
        .iter()
        .any(|(k, v)| k == "iss" && v.trim_end_matches('/') != ISSUER)
    {
        return Err("an iss in it is not the provider's");
    }
    Ok(pairs
        .into_iter()
        .filter(|(k, _)| k == "code")
        .map(|(_, v)| v)
        .collect())
}

fn replace(data: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut rest = data;
    while let Some(at) = rest.windows(from.len()).position(|w| w == from) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(to);
        rest = &rest[at + from.len()..];
    }
    out.extend_from_slice(rest);
    out
}
