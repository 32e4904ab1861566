//! Webhooks as Kinde sends them: `POST {site}/kinde`, `Content-Type: application/jwt`, the body an
//! RS256 JWT signed with the tenant's key and carrying no `iss`, `exp`, `iat` or `aud`; a
//! `webhook-id` header that stays the same across retries; retries with growing delays.

use crate::store::provider::User;
use crate::{State, random};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::{mpsc, watch};

/// One signed event, ready to send.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub webhook_id: String,
    pub jwt: String,
}

/// What deliveries have come to so far, so a test can wait for one instead of polling.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Attempts that have finished, whatever the backend answered.
    pub attempts: u64,
    /// Events the backend accepted (and so has applied).
    pub delivered: u64,
}

/// Queue of events to deliver; the sender side lives in the shared state.
pub struct Outbox {
    sender: mpsc::UnboundedSender<Delivery>,
    progress: watch::Sender<Progress>,
}

impl Outbox {
    pub fn new() -> (Outbox, mpsc::UnboundedReceiver<Delivery>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let (progress, _) = watch::channel(Progress::default());
        (Outbox { sender, progress }, receiver)
    }

    /// Follows [`Progress`]: `wait_for` on the receiver returns once a condition holds.
    pub fn progress(&self) -> watch::Receiver<Progress> {
        self.progress.subscribe()
    }

    /// Signs and queues a user event (`user.created`, `user.updated`, `user.deleted`).
    pub fn user_event(&self, state: &State, kind: &str, user: &User, source: &str) {
        let _ = self
            .sender
            .send(signed_user_event(state, kind, user, source));
    }
}

/// A user event signed as it is sent; also for tests that hold it to Kinde's own decoders.
pub fn signed_user_event(state: &State, kind: &str, user: &User, source: &str) -> Delivery {
    let payload = user_event_payload(kind, user, source, state.clock.now().into());
    Delivery {
        webhook_id: format!("msg_{}", random::hex(12)),
        jwt: state.keys().sign(&payload),
    }
}

/// The event body Kinde signs.
pub fn user_event_payload(kind: &str, user: &User, source: &str, at: OffsetDateTime) -> Value {
    let now = at.format(&Rfc3339).unwrap_or_default();
    // Never empty: everyone is at least in the default organisation.
    let organizations: Vec<Value> = user
        .organizations
        .iter()
        .map(|code| json!({ "code": code, "permissions": null, "roles": null }))
        .collect();
    json!({
        "type": kind,
        "event_id": format!("event_{}", random::hex(16)),
        "event_timestamp": now,
        "timestamp": now,
        "source": source,
        "data": {
            "user": {
                "id": user.id,
                "email": user.email,
                "first_name": user.given_name,
                "last_name": if user.family_name.is_empty() { Value::Null } else { Value::String(user.family_name.clone()) },
                "is_suspended": false,
                "is_password_reset_requested": false,
                "organizations": organizations,
                "phone": user.phone,
                "username": null,
                "image_url": user.picture,
            }
        }
    })
}

/// Delivers queued events until shutdown, each with its own retry schedule.
pub async fn deliver(
    state: Arc<State>,
    mut queue: mpsc::UnboundedReceiver<Delivery>,
    mut stopped: watch::Receiver<bool>,
) {
    let for_deliveries = stopped.clone();
    loop {
        tokio::select! {
            _ = stopped.wait_for(|&s| s) => return,
            next = queue.recv() => match next {
                Some(delivery) => {
                    let state = state.clone();
                    let mut stopped = for_deliveries.clone();
                    tokio::spawn(async move {
                        tokio::select! {
                            _ = stopped.wait_for(|&s| s) => {}
                            _ = send_with_retries(&state, &delivery) => {}
                        }
                    });
                }
                None => return,
            },
        }
    }
}

async fn send_with_retries(state: &State, delivery: &Delivery) {
    let url = format!("{}/kinde", state.site_url);
    let delays = std::iter::once(std::time::Duration::ZERO)
        .chain(state.config.webhook_retries.iter().copied());
    for delay in delays {
        tokio::time::sleep(delay).await;
        state
            .stats
            .webhook_deliveries
            .fetch_add(1, Ordering::SeqCst);
        let sent = state
            .http
            .post(&url)
            .header("content-type", "application/jwt")
            .header("webhook-id", &delivery.webhook_id)
            .body(delivery.jwt.clone())
            .send()
            .await;
        let accepted = sent.is_ok_and(|r| r.status().is_success());
        state.outbox.progress.send_modify(|p| {
            p.attempts += 1;
            p.delivered += u64::from(accepted);
        });
        if accepted {
            return;
        }
    }
    eprintln!(
        "devstack: gave up delivering webhook {}",
        delivery.webhook_id
    );
}
