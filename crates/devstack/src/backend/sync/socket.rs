//! One client's socket, as get-convex/convex-backend crates/sync/src/worker.rs serves it: client
//! messages handled in arrival order (so mutations run one at a time), a Transition after each
//! ModifyQuerySet, Authenticate and mutation or action, and after each commit that changed a
//! subscribed result; heartbeats both ways; and the socket closed the way the deployment closes
//! it for each kind of failure ([`Failure`]).

use super::control::{self, Disruption};
use super::failure::Failure;
use super::protocol::{ClientMessage, ServerMessage, TokenType, Ts, arguments, canonical_path};
use super::session::{Identity, Outcome, Session};
use crate::State;
use crate::backend::functions::{self, FunctionError, Kind};
use crate::backend::redaction;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use serde_json::Value;
use std::sync::Arc;
use std::time::UNIX_EPOCH;
use tokio::time::{Instant, sleep_until};

pub async fn serve(mut socket: WebSocket, state: Arc<State>) {
    let (id, disruptions) = state.sync.opened();
    let mut connection = Connection {
        state: state.clone(),
        id,
        session: Session::default(),
        session_id: None,
        clock_skew: None,
        last_sent: Instant::now(),
    };
    let failure = connection.run(&mut socket, disruptions).await;
    state.sync.closed(id, &failure);
    if matches!(failure, Failure::Gone | Failure::Cut) {
        return;
    }
    if let Some(message) = failure.message() {
        let _ = connection.send(&mut socket, &message).await;
    }
    let frame = failure.close().map(|close| CloseFrame {
        code: close.code,
        reason: close.reason.into(),
    });
    let _ = socket.send(Message::Close(frame)).await;
}

struct Connection {
    state: Arc<State>,
    /// This socket's number in [`super::Hub::activity`].
    id: u64,
    session: Session,
    /// From Connect: the key of this client's mutation records.
    session_id: Option<String>,
    /// `clientTs − server now` in ms, from Connect; echoed in every Transition.
    clock_skew: Option<i64>,
    last_sent: Instant,
}

impl Connection {
    /// Serves the socket until it fails or ends; returns why.
    async fn run(
        &mut self,
        socket: &mut WebSocket,
        mut disruptions: tokio::sync::broadcast::Receiver<Disruption>,
    ) -> Failure {
        let beats = self.state.config.sync_heartbeats.clone();
        let mut commits = self.state.store.commits().subscribe();
        commits.mark_unchanged();
        let mut commits_open = true;
        let stopping = stopping(self.state.sync.stopped.clone());
        tokio::pin!(stopping);
        let mut ping = tokio::time::interval_at(Instant::now() + beats.ping, beats.ping);
        let mut last_received = Instant::now();
        loop {
            let step = tokio::select! {
                frame = socket.recv() => {
                    last_received = Instant::now();
                    match frame {
                        Some(Ok(Message::Text(text))) => self.handle(socket, text.as_str()).await,
                        Some(Ok(Message::Binary(_))) => Err(Failure::Internal(
                            "a binary frame is not a sync message; send JSON text frames".into(),
                        )),
                        // Pings are answered by the WebSocket layer; both count as activity.
                        Some(Ok(Message::Ping(_))) => {
                            self.state.sync.received(self.id, "(ping)");
                            Ok(())
                        }
                        Some(Ok(Message::Pong(_))) => {
                            self.state.sync.received(self.id, "(pong)");
                            Ok(())
                        }
                        Some(Ok(Message::Close(_)) | Err(_)) | None => Err(Failure::Gone),
                    }
                }
                _ = ping.tick() => socket
                    .send(Message::Ping(Default::default()))
                    .await
                    .map_err(|_| Failure::Gone),
                () = sleep_until(last_received + beats.client_timeout) => Err(Failure::Silent),
                () = sleep_until(self.last_sent + beats.protocol_ping) => {
                    self.send(socket, &ServerMessage::Ping).await
                }
                changed = commits.changed(), if commits_open => match changed {
                    Ok(()) => {
                        commits.mark_unchanged();
                        self.update(socket, false).await
                    }
                    Err(_) => {
                        commits_open = false;
                        Ok(())
                    }
                },
                () = &mut stopping => Err(Failure::Stopping),
                Ok(disruption) = disruptions.recv() => Err(match disruption {
                    Disruption::Cut => Failure::Cut,
                    Disruption::Fatal(error) => Failure::BadRequest(error),
                }),
            };
            if let Err(failure) = step {
                return failure;
            }
        }
    }

    async fn handle(&mut self, socket: &mut WebSocket, text: &str) -> Result<(), Failure> {
        let message: ClientMessage = serde_json::from_str(text).map_err(|e| {
            Failure::Internal(format!(
                "not a sync protocol message ({e}); send one of Connect, ModifyQuerySet, Mutation, Action, Authenticate or Event"
            ))
        })?;
        self.state.sync.received(self.id, message.kind());
        match message {
            ClientMessage::Connect {
                session_id,
                max_observed_timestamp,
                client_ts,
                connection_count,
            } => {
                self.state
                    .sync
                    .connected(self.id, connection_count, &session_id);
                if control::fatal_connect(&self.state) {
                    return Err(Failure::BadRequest(
                        "a FatalError injected by a test (fatal_connects)".into(),
                    ));
                }
                self.session_id = Some(session_id);
                let now_ms = self.state.clock.unix_ms() as i64;
                self.clock_skew = client_ts.map(|client| client - now_ms);
                let latest = self.state.store.commits().latest();
                if let Some(Ts(observed)) = max_observed_timestamp
                    && observed > latest
                {
                    return Err(Failure::Internal(format!(
                        "the client has seen timestamp {observed}, ahead of this backend's latest {latest}: its clock went back"
                    )));
                }
                Ok(())
            }
            ClientMessage::ModifyQuerySet {
                base_version,
                new_version,
                modifications,
            } => {
                self.session
                    .modify_query_set(base_version, new_version, modifications)?;
                self.update(socket, true).await
            }
            ClientMessage::Mutation {
                request_id,
                udf_path,
                args,
                component_path,
            } => {
                self.mutation(socket, request_id, &udf_path, args, component_path)
                    .await
            }
            ClientMessage::Action {
                request_id,
                udf_path,
                args,
                component_path,
            } => {
                self.action(socket, request_id, &udf_path, args, component_path)
                    .await
            }
            ClientMessage::Authenticate {
                base_version,
                token_type,
                value,
            } => {
                self.authenticate(socket, base_version, token_type, value)
                    .await
            }
            ClientMessage::Event {} => Ok(()),
        }
    }

    /// The identity's expiry, checked lazily as the deployment checks it: before each mutation,
    /// action and Transition.
    fn check_expiry(&self) -> Result<(), Failure> {
        if self.session.identity.expired(self.state.clock.unix()) {
            return Err(Failure::Auth {
                error: "Convex token identity expired".into(),
                base_version: Some(self.session.sent().identity),
                attempted: false,
            });
        }
        Ok(())
    }

    /// Runs one function the way the HTTP API does.
    fn call(
        &self,
        kind: Kind,
        udf_path: &str,
        args: Vec<Value>,
        component_path: Option<String>,
    ) -> Result<Value, FunctionError> {
        if component_path.is_some() {
            return Err(FunctionError {
                message: "componentPath is only for admin clients, and this backend has no components; call the function by its path alone".into(),
                data: None,
            });
        }
        functions::run(
            &self.state,
            Some(kind),
            &canonical_path(udf_path),
            self.session.identity.value(),
            &arguments(args),
        )
    }

    fn error_message(&self, error: &FunctionError) -> String {
        redaction::message(
            error,
            &redaction::request_id(),
            self.state.config.production,
        )
    }

    async fn mutation(
        &mut self,
        socket: &mut WebSocket,
        request_id: u32,
        udf_path: &str,
        args: Vec<Value>,
        component_path: Option<String>,
    ) -> Result<(), Failure> {
        self.check_expiry()?;
        let key = self.session_id.clone().map(|id| (id, request_id));
        let recorded = key
            .as_ref()
            .and_then(|key| self.state.sync.recorded(self.id, key));
        let response = match recorded {
            Some((result, ts)) => success(request_id, result, ts),
            None => match self.call(Kind::Mutation, udf_path, args, component_path) {
                Ok(result) => {
                    let ts = self.state.store.commits().latest();
                    if let Some(key) = key {
                        self.state.sync.record(key, result.clone(), ts);
                    }
                    success(request_id, result, ts)
                }
                Err(error) => ServerMessage::MutationResponse {
                    request_id,
                    success: false,
                    result: Value::String(self.error_message(&error)),
                    ts: None,
                    log_lines: Vec::new(),
                    error_data: error.data,
                },
            },
        };
        self.send(socket, &response).await?;
        // The client resolves a mutation only once a Transition reaches its timestamp.
        self.update(socket, true).await
    }

    async fn action(
        &mut self,
        socket: &mut WebSocket,
        request_id: u32,
        udf_path: &str,
        args: Vec<Value>,
        component_path: Option<String>,
    ) -> Result<(), Failure> {
        self.check_expiry()?;
        let response = match self.call(Kind::Action, udf_path, args, component_path) {
            Ok(result) => ServerMessage::ActionResponse {
                request_id,
                success: true,
                result,
                log_lines: Vec::new(),
                error_data: None,
            },
            Err(error) => ServerMessage::ActionResponse {
                request_id,
                success: false,
                result: Value::String(self.error_message(&error)),
                log_lines: Vec::new(),
                error_data: error.data,
            },
        };
        self.send(socket, &response).await?;
        self.update(socket, true).await
    }

    async fn authenticate(
        &mut self,
        socket: &mut WebSocket,
        base_version: u32,
        token_type: TokenType,
        value: Option<String>,
    ) -> Result<(), Failure> {
        let refused = |error: String| Failure::Auth {
            error,
            base_version: Some(self.session.sent().identity),
            attempted: true,
        };
        // The token is verified before its base version is checked, as the deployment does.
        let identity = match token_type {
            TokenType::None => Identity::Anonymous,
            TokenType::Admin => {
                return Err(refused(
                    "Admin keys are not accepted: the local backend has no deploy key. Authenticate with a user's JWT (tokenType User) or none".into(),
                ));
            }
            TokenType::User => {
                let token = value.unwrap_or_default();
                let state = &self.state;
                let identity = state
                    .verifier
                    .verify(&state.http, &token, state.config.production)
                    .await
                    .map_err(|e| refused(e.to_string()))?;
                let claims: Value =
                    jsonwebtoken::dangerous::insecure_decode_claims(&token).unwrap_or_default();
                Identity::User {
                    identity,
                    expires: claims["exp"].as_f64().unwrap_or(0.0),
                }
            }
        };
        self.session.authenticate(base_version, identity)?;
        self.update(socket, true).await
    }

    /// Re-runs the subscribed queries and sends a Transition: always when `always`, otherwise
    /// (after a commit) only if a result changed.
    async fn update(&mut self, socket: &mut WebSocket, always: bool) -> Result<(), Failure> {
        self.check_expiry()?;
        let state = self.state.clone();
        let production = state.config.production;
        let run = |path: &str, args: &Value, identity: Option<&Value>| match functions::run(
            &state,
            Some(Kind::Query),
            path,
            identity,
            args,
        ) {
            Ok(value) => Outcome::Value(value),
            Err(error) => Outcome::Failed {
                message: redaction::message(&error, &redaction::request_id(), production),
                error: error.message,
                data: error.data,
            },
        };
        // The timestamp is read after the queries ran, so it covers every write they saw.
        let latest = || state.store.commits().latest();
        let Some((start_version, end_version, modifications)) =
            self.session.advance(always, run, latest)
        else {
            return Ok(());
        };
        let fault = control::before_transition(&state);
        if fault.cut {
            return Err(Failure::Cut);
        }
        if !fault.delay.is_zero() {
            tokio::time::sleep(fault.delay).await;
        }
        let transition = ServerMessage::Transition {
            start_version,
            end_version,
            modifications,
            client_clock_skew: self.clock_skew,
            server_ts: server_now(&state),
        };
        self.send(socket, &transition).await
    }

    async fn send(
        &mut self,
        socket: &mut WebSocket,
        message: &ServerMessage,
    ) -> Result<(), Failure> {
        let text = serde_json::to_string(message)
            .map_err(|e| Failure::Internal(format!("a message did not serialize: {e}")))?;
        socket
            .send(Message::Text(text.into()))
            .await
            .map_err(|_| Failure::Gone)?;
        self.last_sent = Instant::now();
        Ok(())
    }
}

/// Until the stack stops (or is gone).
async fn stopping(mut stopped: tokio::sync::watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

fn success(request_id: u32, result: Value, ts: u64) -> ServerMessage {
    ServerMessage::MutationResponse {
        request_id,
        success: true,
        result,
        ts: Some(Ts(ts)),
        log_lines: Vec::new(),
        error_data: None,
    }
}

/// The server's time in ns, for `serverTs`.
fn server_now(state: &State) -> u64 {
    state
        .clock
        .now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos().min(u64::MAX as u128) as u64)
}
