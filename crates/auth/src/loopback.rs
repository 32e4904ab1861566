//! The loopback redirect listener (RFC 8252 §7.3).
//!
//! It binds only the loopback address named in the redirect URL, without address reuse, and only
//! for the duration of one sign-in. Only a GET to the exact path with the expected `state` ends
//! the sign-in; any other request (another path, a wrong or missing `state`, a repeat after the
//! answer) gets an error page and changes nothing, so a stray or forged request can neither end
//! nor hijack the sign-in. The port is released on every way out: answer, timeout or cancel.

use crate::error::AuthError;
use crate::redirect::{self, Outcome, Rejection};
use crate::secret::Secret;
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::oneshot;
use url::Url;

/// A bound callback listener, not yet serving.
pub struct Listener {
    listener: TcpListener,
    redirect: Url,
}

impl Listener {
    /// Binds the redirect URL's loopback address on its port, or on the first free fallback.
    pub fn bind(redirect: &Url, fallback_ports: &[u16]) -> Result<Listener, AuthError> {
        let host = redirect
            .host_str()
            .unwrap_or("127.0.0.1")
            .trim_matches(['[', ']'])
            .to_string();
        let ip: IpAddr = host.parse().map_err(|_| AuthError::Listener {
            address: host.clone(),
            detail: "the redirect host must be an IP literal such as 127.0.0.1".into(),
        })?;
        let first = redirect.port().unwrap_or(0);
        let ports =
            std::iter::once(first).chain(fallback_ports.iter().copied().filter(|_| first != 0));
        for port in ports {
            match bind_exclusive(SocketAddr::new(ip, port)) {
                Ok(listener) => {
                    let bound = listener.local_addr().map_err(|e| AuthError::Listener {
                        address: format!("{ip}:{port}"),
                        detail: e.to_string(),
                    })?;
                    let mut redirect = redirect.clone();
                    let _ = redirect.set_port(Some(bound.port()));
                    return Ok(Listener { listener, redirect });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
                Err(e) => {
                    return Err(AuthError::Listener {
                        address: format!("{ip}:{port}"),
                        detail: e.to_string(),
                    });
                }
            }
        }
        Err(AuthError::PortInUse { host, port: first })
    }

    /// The redirect URI to send in the authorization request (with the port actually bound).
    pub fn redirect_uri(&self) -> &Url {
        &self.redirect
    }

    /// Serves until the genuine callback arrives, `timeout` passes or `cancel` completes, and
    /// returns the authorization code. The listener is closed before this returns.
    pub async fn wait(
        self,
        state: &Secret<String>,
        issuer: &str,
        timeout: Duration,
        cancel: impl Future<Output = ()>,
    ) -> Result<Secret<String>, AuthError> {
        let (sender, receiver) = oneshot::channel::<Outcome>();
        let shared = Arc::new(Callback {
            path: self.redirect.path().to_string(),
            state: state.clone(),
            issuer: issuer.to_string(),
            answer: Mutex::new(Some(sender)),
        });
        let app = axum::Router::new().fallback(handle).with_state(shared);
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let _ = axum::serve(self.listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });

        let outcome = redirect::settle(receiver, timeout, cancel).await;

        // Let the browser receive its page, then close. Connections that linger (a flood, a
        // stuck keep-alive) are cut after a moment so the port is always released.
        let _ = stop.send(());
        let abort = server.abort_handle();
        if tokio::time::timeout(Duration::from_secs(2), server)
            .await
            .is_err()
        {
            abort.abort();
        }
        outcome
    }
}

/// Binds without SO_REUSEADDR, so no other process can share or steal the port.
fn bind_exclusive(address: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if address.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(false)?;
    socket.bind(address)?;
    socket.listen(16)
}

struct Callback {
    path: String,
    state: Secret<String>,
    issuer: String,
    answer: Mutex<Option<oneshot::Sender<Outcome>>>,
}

async fn handle(
    State(callback): State<Arc<Callback>>,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let read = if uri.path() == callback.path {
        redirect::read(&query, &callback.state, &callback.issuer)
    } else {
        Err(Rejection::WrongPath)
    };
    let outcome = match read {
        Ok(outcome) => outcome,
        Err(rejection) => {
            let (status, title) = match rejection {
                Rejection::WrongPath => (StatusCode::NOT_FOUND, "Not the sign-in page"),
                Rejection::NoCode => (StatusCode::BAD_REQUEST, "Sign-in incomplete"),
                _ => (StatusCode::BAD_REQUEST, "Sign-in not recognised"),
            };
            return page(status, title, &rejection.to_string());
        }
    };

    let sender = callback
        .answer
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    let Some(sender) = sender else {
        return page(
            StatusCode::CONFLICT,
            "Already done",
            "This sign-in has already finished. You can close this tab.",
        );
    };
    let (status, title, message) = match &outcome {
        Ok(_) => (
            StatusCode::OK,
            "Signed in",
            "You are signed in to Kinvex. You can close this tab and return to the app."
                .to_string(),
        ),
        Err(AuthError::Denied) => (
            StatusCode::OK,
            "Sign-in cancelled",
            "You cancelled signing in. You can close this tab.".to_string(),
        ),
        Err(error) => (
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            format!("{error} Return to Kinvex to try again."),
        ),
    };
    let _ = sender.send(outcome);
    page(status, title, &message)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A small page for the browser tab, every value escaped.
fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} · Kinvex</title>\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <style>:root{{color-scheme:light dark;font-family:system-ui,sans-serif}}\
         body{{display:grid;place-items:center;min-height:90vh;margin:0}}main{{max-width:28rem;padding:2rem;text-align:center}}</style>\
         </head><body><main><h1>{title}</h1><p>{message}</p></main></body></html>",
        title = escape(title),
        message = escape(message),
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
        ],
        html,
    )
        .into_response()
}
