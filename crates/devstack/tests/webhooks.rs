//! Kinde's webhooks between the two services: the backend verifies, deduplicates and
//! replay-checks them, and the provider's deliveries (retried while they fail) reach it.

#![allow(clippy::unwrap_used)]

use kinvex_clock::ManualClock;
use kinvex_devstack::Running;
use kinvex_devstack::store::backend::BackendUser;
use kinvex_test_kit::backend::webhooks_until;
use kinvex_test_kit::shipped::{stack, stack_with};
use serde_json::{Value, json};
use std::sync::atomic::Ordering;
use std::time::Duration;

fn webhook_event(kind: &str, user_id: &str, event_id: &str, timestamp: &str) -> Value {
    json!({
        "type": kind, "event_id": event_id, "timestamp": timestamp, "event_timestamp": timestamp, "source": "admin",
        "data": { "user": { "id": user_id, "email": "hook@example.com", "first_name": "Hook", "last_name": null,
            "is_suspended": false, "is_password_reset_requested": false, "organizations": [], "phone": null,
            "username": null, "image_url": null } }
    })
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// The system's time now, `offset_seconds` away, as an event's `timestamp`.
fn now_rfc3339(offset_seconds: i64) -> String {
    rfc3339(time::OffsetDateTime::now_utc() + time::Duration::seconds(offset_seconds))
}

async fn post_webhook(stack: &Running, content_type: &str, body: String) -> u16 {
    reqwest::Client::new()
        .post(format!("{}/kinde", stack.site_url()))
        .header("content-type", content_type)
        .header("webhook-id", "msg_test")
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The backend's document for the Kinde user `user_id`, read from its store.
fn backend_user(stack: &Running, user_id: &str) -> Option<BackendUser> {
    stack.state.store.backend().user(user_id).unwrap()
}

/// The backend user's field as the test reads it: `None` for no user or no value.
fn first_name(stack: &Running, user_id: &str) -> Option<String> {
    backend_user(stack, user_id).and_then(|u| u.first_name)
}

#[tokio::test]
async fn webhooks_are_verified_deduplicated_and_replay_checked() {
    let stack = stack().await;
    let sign = |v: &Value| stack.state.keys().sign(v);
    let created = webhook_event("user.created", "kp_hook", "event_1", &now_rfc3339(0));

    assert_eq!(
        post_webhook(&stack, "application/json", sign(&created)).await,
        400,
        "wrong content type"
    );
    let foreign = kinvex_devstack::keys::KeySet::open(None).unwrap();
    assert_eq!(
        post_webhook(&stack, "application/jwt", foreign.sign(&created)).await,
        400,
        "another tenant's key"
    );
    let mut stale = created.clone();
    stale["timestamp"] = json!(now_rfc3339(-3600));
    assert_eq!(
        post_webhook(&stack, "application/jwt", sign(&stale)).await,
        400,
        "replayed from an hour ago"
    );
    assert_eq!(
        post_webhook(&stack, "application/jwt", "not-a-jwt".into()).await,
        400,
        "malformed"
    );
    assert_eq!(
        backend_user(&stack, "kp_hook"),
        None,
        "nothing applied so far"
    );

    assert_eq!(
        post_webhook(&stack, "application/jwt", sign(&created)).await,
        200
    );
    assert_eq!(first_name(&stack, "kp_hook").as_deref(), Some("Hook"));
    let deleted = webhook_event("user.deleted", "kp_hook", "event_2", &now_rfc3339(0));
    assert_eq!(
        post_webhook(&stack, "application/jwt", sign(&deleted)).await,
        200
    );
    assert_eq!(
        post_webhook(&stack, "application/jwt", sign(&created)).await,
        200,
        "a retry is acknowledged"
    );
    assert_eq!(
        backend_user(&stack, "kp_hook"),
        None,
        "but not applied twice"
    );

    // Signed with a key the backend has not seen yet: one refetch of the JWKS finds it.
    stack.state.keys_mut().rotate(true).unwrap();
    let again = webhook_event("user.created", "kp_hook", "event_3", &now_rfc3339(0));
    assert_eq!(
        post_webhook(&stack, "application/jwt", sign(&again)).await,
        200
    );
}

#[tokio::test]
async fn admin_updates_and_deletes_reach_the_backend_through_webhooks() {
    let stack = stack().await;
    let user_id = stack.accounts[0].user_id.clone();
    let http = reqwest::Client::new();
    let updated = http
        .patch(format!("{}/_devstack/users/{user_id}", stack.issuer()))
        .json(&json!({ "given_name": "Danielle" }))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), 200);
    webhooks_until(&stack, |p| p.delivered >= 1).await;
    assert_eq!(
        first_name(&stack, &user_id).as_deref(),
        Some("Danielle"),
        "user.updated applied"
    );
    let deleted = http
        .delete(format!("{}/_devstack/users/{user_id}", stack.issuer()))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    webhooks_until(&stack, |p| p.delivered >= 2).await;
    assert_eq!(backend_user(&stack, &user_id), None, "user.deleted applied");
}

#[tokio::test]
async fn failed_webhook_deliveries_are_retried_until_the_backend_accepts() {
    let stack = stack_with(|c| {
        c.webhook_retries = [300, 600, 1200, 2400].map(Duration::from_millis).to_vec();
    })
    .await;
    let http = reqwest::Client::new();
    let admin = |path: &str| format!("{}/_devstack/{path}", stack.issuer());
    let user_id = stack.accounts[0].user_id.clone();
    http.post(admin("faults"))
        .json(&json!({ "backend": { "status": 503 } }))
        .send()
        .await
        .unwrap();
    let counted = stack.state.stats.webhook_deliveries.load(Ordering::SeqCst);
    let before = *stack.state.outbox.progress().borrow();
    http.patch(admin(&format!("users/{user_id}")))
        .json(&json!({ "family_name": "Retried" }))
        .send()
        .await
        .unwrap();

    // Wait for the first attempt to fail, then let the backend recover.
    webhooks_until(&stack, |p| p.attempts > before.attempts).await;
    let last_name = || backend_user(&stack, &user_id).and_then(|u| u.last_name);
    assert_ne!(
        last_name().as_deref(),
        Some("Retried"),
        "not applied while failing"
    );
    http.post(admin("faults"))
        .json(&json!({ "backend": {} }))
        .send()
        .await
        .unwrap();
    let after = webhooks_until(&stack, |p| p.delivered > before.delivered).await;
    assert_eq!(last_name().as_deref(), Some("Retried"), "the retry applied");
    assert!(after.attempts >= before.attempts + 2, "a retry did it");
    assert!(
        stack.state.stats.webhook_deliveries.load(Ordering::SeqCst) >= counted + 2,
        "the stats count every attempt"
    );
}

#[tokio::test]
async fn event_timestamps_and_the_replay_window_follow_the_stacks_clock() {
    let clock = ManualClock::new();
    let stack = stack_with(|c| c.clock = clock.shared()).await;
    clock.advance(Duration::from_secs(3600));
    let sign = |v: &Value| stack.state.keys().sign(v);

    let by_system = webhook_event("user.created", "kp_hook", "event_1", &now_rfc3339(0));
    assert_eq!(
        post_webhook(&stack, "application/jwt", sign(&by_system)).await,
        400,
        "the system's now is an hour ago to the stack"
    );
    let by_clock = rfc3339(stack.state.clock.now().into());
    let fresh = webhook_event("user.created", "kp_hook", "event_2", &by_clock);
    assert_eq!(
        post_webhook(&stack, "application/jwt", sign(&fresh)).await,
        200
    );

    // The provider stamps its own events by the same clock, so they land inside the window.
    let user_id = stack.accounts[0].user_id.clone();
    reqwest::Client::new()
        .patch(format!("{}/_devstack/users/{user_id}", stack.issuer()))
        .json(&json!({ "given_name": "Later" }))
        .send()
        .await
        .unwrap();
    let progress = webhooks_until(&stack, |p| p.attempts >= 1).await;
    assert_eq!(progress.delivered, 1, "accepted at the first attempt");
    assert_eq!(first_name(&stack, &user_id).as_deref(), Some("Later"));
}

#[tokio::test]
async fn a_refused_delivery_does_not_burn_its_event_id_so_the_corrected_retry_applies() {
    let stack = stack().await;
    let sign = |v: &Value| stack.state.keys().sign(v);
    let mut broken = webhook_event("user.created", "kp_retry", "event_retry", &now_rfc3339(0));
    broken["data"]["user"].as_object_mut().unwrap().remove("id");
    assert_eq!(
        post_webhook(&stack, "application/jwt", sign(&broken)).await,
        400,
        "genuine and fresh, but it cannot be applied"
    );
    assert_eq!(backend_user(&stack, "kp_retry"), None);

    let corrected = webhook_event("user.created", "kp_retry", "event_retry", &now_rfc3339(0));
    assert_eq!(
        post_webhook(&stack, "application/jwt", sign(&corrected)).await,
        200
    );
    assert_eq!(
        first_name(&stack, "kp_retry").as_deref(),
        Some("Hook"),
        "the retry with the same event_id is applied"
    );

    // Once applied, the id is spent: the same event again changes nothing.
    let deleted = webhook_event("user.deleted", "kp_retry", "event_retry", &now_rfc3339(0));
    assert_eq!(
        post_webhook(&stack, "application/jwt", sign(&deleted)).await,
        200
    );
    assert!(
        backend_user(&stack, "kp_retry").is_some(),
        "not applied twice"
    );
}
