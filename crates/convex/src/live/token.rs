//! The token on the live socket. The `convex` crate sends a token when it is given one
//! (`set_auth_callback` calls the callback with `false` at once) and fetches one with `true` on
//! every reconnect, and nothing else: it does not renew before `exp`, and when the callback
//! fails it replays the queries anonymously (get-convex/convex-rs src/base_client/mod.rs,
//! `restart` and `set_auth_fetcher`). So here:
//! - the callback answers `false` with the token this socket holds, which the worker got before
//!   building the socket, so the first answer never fails;
//! - on a reconnect it takes the session's token through [`Auth::live_bearer`] (the same
//!   single-flight renewal and cross-process lock as HTTP calls); after a socket that opened and
//!   closed without a single Transition (the server's answer to a token it rejects: AuthError,
//!   then close) it renews once through [`Auth::live_bearer_after_rejection`], and a second such
//!   rejection gives up. The crate does not say why a socket closed, and it also abandons sockets
//!   of its own (after a `FatalError` or an `AuthError` it reconnects twice: once for the message,
//!   once for the close that follows), and networks drop sockets before their first Transition;
//!   so before renewing or giving up, one of the socket's queries is run over HTTP with the
//!   token ([`Probe`]), and only a 401 counts as a rejection;
//! - when there is no token to give it never answers: the crate waits inside its reconnect,
//!   sends neither Authenticate nor its queries, and the worker, told why, drops the socket.

use super::socket::Event;
use convex::{AuthTokenFetcher, AuthenticationToken};
use kinvex_auth::{Auth, LiveBearer, Secret};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc::UnboundedSender;

/// What one socket knows about its token, shared by the worker, the socket's event pumps and
/// the crate's callback.
#[derive(Debug)]
pub(super) struct Slot {
    state: Mutex<State>,
}

/// One of the socket's queries, to ask the HTTP API whether it accepts a token: the same
/// deployment checks it the same way, and a query has no effect.
#[derive(Debug)]
pub(super) struct Probe {
    pub(super) client: crate::Client,
    pub(super) path: String,
    pub(super) args: serde_json::Value,
}

impl Probe {
    /// Whether the deployment refuses `token` (401). A function error, a backend that is down or
    /// anything else is not a refusal of the token.
    async fn refuses(&self, token: &Secret<String>) -> bool {
        let call = self
            .client
            .call(crate::Kind::Query, &self.path, &self.args, Some(token));
        matches!(call.await, Err(crate::ConvexError::Unauthenticated { .. }))
    }
}

#[derive(Debug)]
struct State {
    bearer: LiveBearer,
    probe: Option<Arc<Probe>>,
    /// A socket opened and no Transition has arrived on it since.
    opened_unconfirmed: bool,
    /// The token was already renewed because a socket was rejected.
    renewed_after_rejection: bool,
}

/// What to do when the crate asks for a token for a new socket.
#[derive(Debug, PartialEq)]
enum Reconnect {
    /// The session's token, renewed if it is due.
    Fresh,
    /// The last socket was rejected: renew once.
    Renew(Secret<String>),
    /// The renewed token was rejected too.
    GiveUp(Secret<String>),
}

impl Slot {
    pub(super) fn new(bearer: LiveBearer) -> Slot {
        Slot {
            state: Mutex::new(State {
                bearer,
                probe: None,
                opened_unconfirmed: false,
                renewed_after_rejection: false,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn bearer(&self) -> LiveBearer {
        self.lock().bearer.clone()
    }

    pub(super) fn set(&self, bearer: LiveBearer) {
        self.lock().bearer = bearer;
    }

    /// The query that checks a token, if there is none yet.
    pub(super) fn probe_with(&self, probe: Probe) {
        let mut state = self.lock();
        if state.probe.is_none() {
            state.probe = Some(Arc::new(probe));
        }
    }

    /// Whether the deployment refuses `token`; without a query to ask with, a socket closed
    /// before its first Transition counts as a refusal.
    async fn refused(&self, token: &Secret<String>) -> bool {
        let probe = self.lock().probe.clone();
        match probe {
            Some(probe) => probe.refuses(token).await,
            None => true,
        }
    }

    pub(super) fn opened(&self) {
        self.lock().opened_unconfirmed = true;
    }

    pub(super) fn confirmed(&self) {
        let mut state = self.lock();
        state.opened_unconfirmed = false;
        state.renewed_after_rejection = false;
    }

    fn reconnect(&self) -> Reconnect {
        let mut state = self.lock();
        match (state.opened_unconfirmed, state.renewed_after_rejection) {
            (false, _) => Reconnect::Fresh,
            (true, false) => {
                state.renewed_after_rejection = true;
                state.opened_unconfirmed = false;
                Reconnect::Renew(state.bearer.token.clone())
            }
            (true, true) => Reconnect::GiveUp(state.bearer.token.clone()),
        }
    }
}

/// The callback for the crate (see the module's comment).
pub(super) fn fetcher(
    slot: Arc<Slot>,
    auth: Arc<Auth>,
    events: UnboundedSender<Event>,
    generation: u64,
) -> AuthTokenFetcher {
    Box::new(move |reconnecting: bool| {
        let (slot, auth, events) = (slot.clone(), auth.clone(), events.clone());
        Box::pin(async move {
            if !reconnecting {
                return Ok(AuthenticationToken::User(
                    slot.bearer().token.expose().clone(),
                ));
            }
            let fetched = match slot.reconnect() {
                Reconnect::Fresh => auth.live_bearer().await,
                Reconnect::Renew(suspect) | Reconnect::GiveUp(suspect)
                    if !slot.refused(&suspect).await =>
                {
                    slot.confirmed();
                    auth.live_bearer().await
                }
                Reconnect::Renew(rejected) => auth.live_bearer_after_rejection(&rejected).await,
                Reconnect::GiveUp(_) => {
                    let _ = events.send(Event::NoToken {
                        generation,
                        code: "convex_rejects_token".into(),
                        message: "the backend refused the session's token twice, renewed in between. You are still signed in; live updates resume when it accepts it (check convex/auth.config.ts if this persists).".into(),
                    });
                    return std::future::pending().await;
                }
            };
            match fetched {
                Ok(bearer) => {
                    let token = bearer.token.expose().clone();
                    slot.set(bearer);
                    let _ = events.send(Event::Renewed { generation });
                    Ok(AuthenticationToken::User(token))
                }
                Err(e) => {
                    let _ = events.send(Event::NoToken {
                        generation,
                        code: e.code().to_string(),
                        message: e.to_string(),
                    });
                    std::future::pending().await
                }
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kinvex_auth::token_store::Memory;
    use kinvex_test_kit::env::{ANY_PORT_REDIRECT, Settings};
    use std::time::Duration;

    struct NoBrowser;

    impl kinvex_auth::browser::Browser for NoBrowser {
        fn open(&self, _url: &str) -> Result<(), String> {
            Err("no browser in this test".into())
        }
    }

    #[tokio::test]
    async fn without_a_token_the_callback_never_answers_so_the_crate_never_replays_anonymously() {
        let config = Settings::default()
            .with("KINDE_ISSUER_URL", "http://127.0.0.1:9")
            .with("KINDE_CLIENT_ID", "kinvex-test")
            .with("KINDE_REDIRECT_URL", ANY_PORT_REDIRECT)
            .config();
        let signed_out =
            kinvex_test_kit::stack::auth(config, Box::new(Memory::default()), Arc::new(NoBrowser));
        let (events, mut told) = tokio::sync::mpsc::unbounded_channel();
        let fetch = fetcher(Arc::new(slot()), Arc::new(signed_out), events, 7);
        let held = fetch(false).await.ok();
        assert_eq!(held, Some(AuthenticationToken::User("t1".into())));

        let reconnect = tokio::time::timeout(Duration::from_millis(300), fetch(true)).await;
        assert!(reconnect.is_err(), "the callback answered without a token");
        match told.try_recv() {
            Ok(Event::NoToken {
                generation, code, ..
            }) => assert_eq!((generation, code.as_str()), (7, "not_signed_in")),
            other => panic!("expected NoToken, got {other:?}"),
        }
    }

    fn slot() -> Slot {
        Slot::new(LiveBearer {
            token: Secret::new("t1".to_string()),
            renew_at: 100,
            expires_at: 160,
        })
    }

    #[test]
    fn a_socket_rejected_before_any_transition_renews_once_then_gives_up() {
        let slot = slot();
        assert_eq!(slot.reconnect(), Reconnect::Fresh, "a plain drop");
        slot.opened();
        assert_eq!(
            slot.reconnect(),
            Reconnect::Renew(Secret::new("t1".to_string()))
        );
        slot.opened();
        assert_eq!(
            slot.reconnect(),
            Reconnect::GiveUp(Secret::new("t1".to_string()))
        );
    }

    #[test]
    fn a_transition_confirms_the_token_and_resets_the_renewal() {
        let slot = slot();
        slot.opened();
        assert!(matches!(slot.reconnect(), Reconnect::Renew(_)));
        slot.opened();
        slot.confirmed();
        assert_eq!(slot.reconnect(), Reconnect::Fresh);
        slot.opened();
        assert!(matches!(slot.reconnect(), Reconnect::Renew(_)));
    }
}
