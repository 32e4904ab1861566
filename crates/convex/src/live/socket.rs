//! One socket: a `convex` crate client with the token it was opened with, the tasks that pump
//! its events to the worker, and one forwarding task per subscription. Dropping it aborts them
//! all, and with the last copy of the crate's client gone, the crate's tasks and its socket.

use super::token::{self, Probe, Slot};
use super::value;
use super::{Outcome, Registered};
use crate::ConvexError;
use convex::{ConvexClient, ConvexClientBuilder, WebSocketState};
use futures_util::StreamExt;
use kinvex_auth::{Auth, LiveBearer};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use url::Url;

/// After a subscribe the crate dropped in a reconnect, the next try; doubled each time.
const SUBSCRIBE_RETRY: Duration = Duration::from_millis(100);
const MAX_SUBSCRIBE_RETRY: Duration = Duration::from_secs(5);

/// What a socket tells the worker; `generation` names the socket, so a late event of one
/// already dropped is ignored.
#[derive(Debug)]
pub(super) enum Event {
    /// The crate's socket opened (not yet confirmed by a Transition).
    Opened { generation: u64 },
    /// The crate is (re)connecting: the socket dropped or an attempt failed.
    Dropped { generation: u64 },
    /// A Transition arrived.
    Transition { generation: u64 },
    /// The crate's callback took a token for a reconnect.
    Renewed { generation: u64 },
    /// The crate's callback has no token to give (it then never answers).
    NoToken {
        generation: u64,
        code: String,
        message: String,
    },
}

pub(super) struct Socket {
    pub(super) generation: u64,
    pub(super) slot: Arc<Slot>,
    client: ConvexClient,
    url: Url,
    auth: Arc<Auth>,
    events: mpsc::UnboundedSender<Event>,
    tasks: JoinSet<()>,
}

impl Socket {
    /// Builds the crate's client (it connects in the background) and gives it `bearer` before
    /// anything else, so its first socket sends Authenticate before any query.
    pub(super) async fn open(
        url: &Url,
        bearer: LiveBearer,
        auth: Arc<Auth>,
        events: mpsc::UnboundedSender<Event>,
        generation: u64,
    ) -> Result<Socket, ConvexError> {
        // The crate sends its announcements with `try_send`: room enough that none is lost
        // while the worker is busy.
        let (states_tx, mut states) = mpsc::channel(64);
        let mut client = ConvexClientBuilder::new(url.as_str())
            .with_on_state_change(states_tx)
            .build()
            .await
            .map_err(|e| ConvexError::Transport {
                url: url.to_string(),
                detail: format!("cannot open the live connection ({e})"),
            })?;
        let slot = Arc::new(Slot::new(bearer));
        let mut tasks = JoinSet::new();
        let mut transitions = client.watch_all();
        let (pump_slot, pump_events) = (slot.clone(), events.clone());
        // One task for both, announcements first: the crate announces a socket open before it
        // reads a frame from it, so that socket's first Transition is never taken before its
        // `Connected`, which would leave the socket looking unconfirmed and make the next
        // reconnect renew the token as if it had been rejected.
        tasks.spawn(async move {
            let mut announcing = true;
            loop {
                let event = tokio::select! {
                    biased;
                    state = states.recv(), if announcing => match state {
                        Some(WebSocketState::Connected) => {
                            pump_slot.opened();
                            Event::Opened { generation }
                        }
                        Some(WebSocketState::Connecting) => Event::Dropped { generation },
                        None => {
                            announcing = false;
                            continue;
                        }
                    },
                    transition = transitions.next() => match transition {
                        Some(_) => {
                            pump_slot.confirmed();
                            Event::Transition { generation }
                        }
                        None => return,
                    },
                };
                let _ = pump_events.send(event);
            }
        });
        client
            .set_auth_callback(Some(token::fetcher(
                slot.clone(),
                auth.clone(),
                events.clone(),
                generation,
            )))
            .await;
        Ok(Socket {
            generation,
            slot,
            client,
            url: url.clone(),
            auth,
            events,
            tasks,
        })
    }

    /// Sends `bearer` on this socket (Authenticate on the same socket; the server re-runs the
    /// queries with it and confirms with a Transition).
    pub(super) async fn reauthenticate(&mut self, bearer: LiveBearer) {
        self.slot.set(bearer);
        self.client
            .set_auth_callback(Some(token::fetcher(
                self.slot.clone(),
                self.auth.clone(),
                self.events.clone(),
                self.generation,
            )))
            .await;
    }

    /// Subscribes the crate's client to `entry` and forwards what changes.
    pub(super) fn attach(&mut self, entry: Arc<Registered>) {
        self.reap();
        self.slot.probe_with(Probe {
            client: crate::Client {
                http: self.auth.http().reqwest().clone(),
                url: self.url.clone(),
            },
            path: entry.path.clone(),
            args: entry.json_args.clone(),
        });
        let mut client = self.client.clone();
        self.tasks.spawn(async move {
            // The crate drops a subscribe that was under way when its socket failed (its worker
            // leaves the request on the reconnect) and answers it with an error: ask again once
            // it has reconnected, or the query would stay subscribed with no one receiving it.
            let mut retry = SUBSCRIBE_RETRY;
            let mut results = loop {
                match client.subscribe(&entry.path, entry.args.clone()).await {
                    Ok(results) => break results,
                    Err(_) if entry.sink.is_closed() => return,
                    Err(_) => {
                        // The crate announces no "reconnected" to wait on for this request, so
                        // a short doubling pause is the only signal there is.
                        tokio::time::sleep(retry).await;
                        retry = (retry * 2).min(MAX_SUBSCRIBE_RETRY);
                    }
                }
            };
            // Only the socket's own copy keeps the crate's client alive from here on.
            drop(client);
            loop {
                tokio::select! {
                    next = results.next() => match next {
                        Some(result) => entry.deliver(result),
                        None => return,
                    },
                    () = entry.sink.closed() => return,
                }
            }
        });
    }

    /// Runs a mutation on this socket, bounded by `limit`; the answer goes to `reply`.
    pub(super) fn mutation(
        &mut self,
        path: String,
        args: BTreeMap<String, convex::Value>,
        limit: Duration,
        reply: oneshot::Sender<Outcome>,
    ) {
        self.reap();
        let mut client = self.client.clone();
        self.tasks.spawn(async move {
            let outcome = match tokio::time::timeout(limit, client.mutation(&path, args)).await {
                Ok(Ok(result)) => value::outcome(&path, result),
                Ok(Err(_)) => Err(ConvexError::Interrupted { function: path }),
                Err(_) => Err(ConvexError::Timeout {
                    function: path,
                    seconds: limit.as_secs(),
                }),
            };
            let _ = reply.send(outcome);
        });
    }

    /// Forgets finished tasks (ended subscriptions, answered mutations).
    fn reap(&mut self) {
        while self.tasks.try_join_next().is_some() {}
    }
}
