//! The test control that holds storage uploads part-way (`Running::hold_uploads`), which the
//! window's Cancel test stands on: held, an upload is running and not done and nothing is
//! stored; released, the same upload completes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use futures_util::StreamExt;
use kinvex_devstack::{Config, Running};
use kinvex_test_kit::stack;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Every wait on the stack is bounded by this.
const BOUND: Duration = Duration::from_secs(10);
const MIB: u64 = 1024 * 1024;

async fn upload_url(stack: &Running) -> String {
    let now = stack.state.clock.unix();
    let token = stack.state.keys().sign(&json!({
        "iss": stack.issuer(),
        "aud": [stack.state.config.client_id],
        "sub": "kp_ada",
        "iat": now,
        "exp": now + 3600,
    }));
    let body: Value = reqwest::Client::new()
        .post(format!("{}/api/mutation", stack.api_url()))
        .bearer_auth(token)
        .json(&json!({ "path": "files:generateUploadUrl", "args": {}, "format": "json" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "success", "{body}");
    body["value"].as_str().unwrap().to_string()
}

/// POSTs `size` bytes in 64 KiB chunks, counting in `sent` what the client has handed over.
fn post(
    url: String,
    size: u64,
    sent: Arc<AtomicU64>,
) -> tokio::task::JoinHandle<reqwest::Result<reqwest::Response>> {
    let chunk = 64 * 1024;
    let chunks = futures_util::stream::iter(0..size / chunk).map(move |_| {
        sent.fetch_add(chunk, Ordering::SeqCst);
        Ok::<_, std::io::Error>(vec![7u8; chunk as usize])
    });
    tokio::spawn(
        reqwest::Client::new()
            .post(url)
            .header("content-type", "application/octet-stream")
            .header("content-length", size.to_string())
            .body(reqwest::Body::wrap_stream(chunks))
            .send(),
    )
}

#[tokio::test]
async fn a_held_upload_stops_part_way_storing_nothing_and_completes_once_released() {
    let stack = stack::start_with(Config {
        seed_demo: false,
        ..stack::config(None)
    })
    .await;
    let url = upload_url(&stack).await;
    let hold = stack.hold_uploads();
    let sent = Arc::new(AtomicU64::new(0));
    let size = 16 * MIB;
    let upload = post(url, size, sent.clone());
    tokio::time::timeout(BOUND, hold.until_waiting(1))
        .await
        .expect("the upload reaches the hold");
    // Held, the server reads no more: what the client can hand over is what the sockets buffer,
    // a few MiB, never the whole.
    let pushed = sent.load(Ordering::SeqCst);
    assert!(pushed > 0 && pushed < size, "{pushed} of {size} sent");
    assert!(!upload.is_finished(), "no answer while held");
    assert_eq!(stack.state.store.storage().count().unwrap(), 0);

    drop(hold);
    let response = tokio::time::timeout(BOUND, upload)
        .await
        .expect("released, it ends")
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(sent.load(Ordering::SeqCst), size);
    assert_eq!(stack.state.store.storage().count().unwrap(), 1);

    // With no hold taken, an upload is not held at all.
    let sent = Arc::new(AtomicU64::new(0));
    let url = upload_url(&stack).await;
    let response = tokio::time::timeout(BOUND, post(url, MIB, sent))
        .await
        .expect("not held")
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 200);
    stack.stop().await;
}
