//! The loopback redirect listener (RFC 8252 §7.3).
//!
//! It binds only the loopback address named in the redirect URL, and only for the duration of one
//! sign-in. Only a GET addressed to the redirect's own host and port, to the exact path, with the
//! expected `state` ends the sign-in; any other request (another `Host`, as from a page using DNS
//! rebinding, another path, a wrong or missing `state`, a repeat after the answer) gets an error
//! page and changes nothing, so a stray or forged request can neither end nor hijack the sign-in.
//! The port and every connection are released on every way out: answer, timeout or cancel.

mod authority;
mod connections;

use crate::error::AuthError;
use crate::redirect::{self, Outcome, Rejection};
use crate::secret::Secret;
use authority::{Authority, Misaddressed};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use connections::{Connections, HEADER_TIMEOUT};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::oneshot;
use url::Url;

/// Connections the kernel queues before they are accepted: a browser needs one or two, and a
/// flood beyond this waits in the kernel, not in the app.
const BACKLOG: u32 = 128;

/// A bound callback listener, not yet serving.
pub struct Listener {
    listener: TcpListener,
    redirect: Url,
    header_timeout: Duration,
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
            match bind(SocketAddr::new(ip, port)) {
                Ok(listener) => {
                    let bound = listener.local_addr().map_err(|e| AuthError::Listener {
                        address: format!("{ip}:{port}"),
                        detail: e.to_string(),
                    })?;
                    let mut redirect = redirect.clone();
                    let _ = redirect.set_port(Some(bound.port()));
                    return Ok(Listener {
                        listener,
                        redirect,
                        header_timeout: HEADER_TIMEOUT,
                    });
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

    /// How long a connection may take to send its request head before it is closed; five
    /// seconds unless set.
    #[must_use]
    pub fn header_timeout(mut self, limit: Duration) -> Listener {
        self.header_timeout = limit;
        self
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
            authority: Authority::of(&self.redirect),
            path: self.redirect.path().to_string(),
            state: state.clone(),
            issuer: issuer.to_string(),
            answer: Mutex::new(Some(sender)),
        });
        let app = axum::Router::new().fallback(handle).with_state(shared);
        let mut connections = Connections::new(self.header_timeout);
        let outcome = tokio::select! {
            outcome = redirect::settle(receiver, timeout, cancel) => outcome,
            never = connections.serve(&self.listener, app) => match never {},
        };
        // The port first, so a new sign-in can bind it at once; then every connection.
        drop(self.listener);
        connections.close().await;
        outcome
    }
}

/// Binds the callback socket. On Unix, SO_REUSEADDR lets the next sign-in bind the port while the
/// last one's connections wait out TIME_WAIT; it still refuses a port another socket listens on
/// (SO_REUSEPORT, which would let another socket share it, is never set). Windows is left at its
/// default, where SO_REUSEADDR would let another socket bind the port while we listen on it.
/// Without it, Windows' enhanced socket security (Server 2003 and later) already refuses a second
/// bind of our specific address and port, which is what SO_EXCLUSIVEADDRUSE would add; that
/// option also has no safe setter (neither tokio nor socket2 has one) and the workspace forbids
/// the unsafe `setsockopt` call. SECURITY.md gives the sources.
fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if address.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(cfg!(unix))?;
    socket.bind(address)?;
    socket.listen(BACKLOG)
}

struct Callback {
    authority: Authority,
    path: String,
    state: Secret<String>,
    issuer: String,
    answer: Mutex<Option<oneshot::Sender<Outcome>>>,
}

async fn handle(
    State(callback): State<Arc<Callback>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    if let Err(misaddressed) = callback.authority.admits(&headers, &uri) {
        let status = match misaddressed {
            Misaddressed::Unnamed => StatusCode::BAD_REQUEST,
            Misaddressed::Elsewhere => StatusCode::MISDIRECTED_REQUEST,
        };
        return page(
            status,
            "Not the sign-in address",
            "This request was not addressed to Kinvex. If you are signing in, return to the app and try again.",
        );
    }
    // The provider redirects the browser with a GET; any other method is not its answer.
    let read = if uri.path() == callback.path && method == Method::GET {
        redirect::parameters(pairs)
            .and_then(|query| redirect::read(&query, &callback.state, &callback.issuer))
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
