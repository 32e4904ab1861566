//! File storage in the local backend over real HTTP on loopback, as a client of a Convex
//! deployment uses it: `files:generateUploadUrl`, a POST of the bytes, `files:save`, `files:url`
//! and a GET of the URL; and what goes wrong (expired or forged URLs, a dropped connection, a
//! file over the limit, a deleted blob), each leaving nothing half-done.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::StreamExt;
use kinvex_clock::ManualClock;
use kinvex_devstack::{Config, Running};
use kinvex_test_kit::stack;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// Every wait on the stack is bounded by this.
const BOUND: Duration = Duration::from_secs(10);

async fn start(clock: &ManualClock, limit: Option<u64>) -> Running {
    stack::start_with(Config {
        seed_demo: false,
        storage_upload_limit: limit,
        ..stack::config(Some(clock))
    })
    .await
}

/// A token for the Kinde user `subject`, signed by the stack's provider.
fn token(stack: &Running, subject: &str) -> String {
    let now = stack.state.clock.unix();
    stack.state.keys().sign(&json!({
        "iss": stack.issuer(),
        "aud": [stack.state.config.client_id],
        "sub": subject,
        "iat": now,
        "exp": now + 3 * 86_400,
    }))
}

/// Calls a function as `subject`; its `UdfResponse`.
async fn call(
    stack: &Running,
    subject: Option<&str>,
    kind: &str,
    path: &str,
    args: Value,
) -> Value {
    let mut request = reqwest::Client::new()
        .post(format!("{}/api/{kind}", stack.api_url()))
        .json(&json!({ "path": path, "args": args, "format": "json" }));
    if let Some(subject) = subject {
        request = request.bearer_auth(token(stack, subject));
    }
    request.send().await.unwrap().json().await.unwrap()
}

async fn value(stack: &Running, subject: &str, kind: &str, path: &str, args: Value) -> Value {
    let body = call(stack, Some(subject), kind, path, args).await;
    assert_eq!(body["status"], "success", "{path}: {body}");
    body["value"].clone()
}

async fn upload_url(stack: &Running, subject: &str) -> String {
    let url = value(
        stack,
        subject,
        "mutation",
        "files:generateUploadUrl",
        json!({}),
    )
    .await;
    url.as_str().unwrap().to_string()
}

/// POSTs `bytes` to `url`: the status and the JSON answer.
async fn post(url: &str, content_type: &str, bytes: Vec<u8>) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// What is in the storage directory besides the URL key: blobs and temp files.
fn stored_files(stack: &Running) -> Vec<String> {
    let dir = stack.state.store.storage().blobs().dir().to_path_buf();
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != ".url-key")
        .collect()
}

/// Waits (bounded) until `done` holds; the server notices a dropped client on its own time.
async fn eventually(mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + BOUND;
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn ada(stack: &Running) -> String {
    // Any Kinde-shaped subject will do; no user document is needed to hold files.
    let _ = stack;
    "kp_ada".into()
}

#[tokio::test]
async fn an_upload_is_saved_listed_and_served_with_its_type_length_digest_and_ranges() {
    let clock = ManualClock::new();
    let stack = start(&clock, None).await;
    let ada = ada(&stack);
    let url = upload_url(&stack, &ada).await;
    assert!(
        url.starts_with(&format!("{}/api/storage/upload?token=", stack.api_url())),
        "{url}"
    );
    let bytes = b"hello, storage".to_vec();
    let (status, answer) = post(&url, "text/plain", bytes.clone()).await;
    assert_eq!(status, 200, "{answer}");
    let storage_id = answer["storageId"].as_str().unwrap().to_string();
    assert_eq!(answer.as_object().unwrap().len(), 1, "{answer}");

    let doc = stack
        .state
        .store
        .storage()
        .get(&storage_id)
        .unwrap()
        .unwrap();
    let digest = STANDARD.encode(Sha256::digest(&bytes));
    assert_eq!(doc.sha256, digest);
    assert_eq!(doc.size, bytes.len() as f64);
    assert_eq!(doc.content_type.as_deref(), Some("text/plain"));

    let id = value(
        &stack,
        &ada,
        "mutation",
        "files:save",
        json!({ "storageId": storage_id, "name": "hello.txt" }),
    )
    .await;
    let page = value(
        &stack,
        &ada,
        "query",
        "files:list",
        json!({ "paginationOpts": { "numItems": 10, "cursor": null } }),
    )
    .await;
    assert_eq!(page["page"][0]["_id"], id);
    assert_eq!(page["page"][0]["name"], "hello.txt");
    assert_eq!(page["page"][0]["storageId"], storage_id.as_str());
    assert_eq!(page["page"][0]["size"], 14.0);
    assert_eq!(page["page"][0]["contentType"], "text/plain");

    let file_url = value(&stack, &ada, "query", "files:url", json!({ "id": id })).await;
    let file_url = file_url.as_str().unwrap();
    assert_eq!(
        file_url,
        format!("{}/api/storage/{}", stack.api_url(), doc.uuid)
    );
    let http = reqwest::Client::new();
    let response = http.get(file_url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    assert_eq!(
        header(&response, "content-type").as_deref(),
        Some("text/plain")
    );
    assert_eq!(header(&response, "content-length").as_deref(), Some("14"));
    assert_eq!(header(&response, "accept-ranges").as_deref(), Some("bytes"));
    assert_eq!(
        header(&response, "cache-control").as_deref(),
        Some("private, max-age=2592000")
    );
    assert_eq!(
        header(&response, "digest"),
        Some(format!("sha-256={digest}"))
    );
    assert_eq!(response.bytes().await.unwrap().as_ref(), bytes.as_slice());

    let range = http
        .get(file_url)
        .header("range", "bytes=7-13")
        .send()
        .await
        .unwrap();
    assert_eq!(range.status(), 206);
    assert_eq!(
        header(&range, "content-range").as_deref(),
        Some("bytes 7-13/14")
    );
    assert_eq!(header(&range, "content-length").as_deref(), Some("7"));
    assert_eq!(header(&range, "digest"), None);
    assert_eq!(range.bytes().await.unwrap().as_ref(), b"storage");

    for unsatisfiable in ["bytes=0-1,4-5", "bytes=100-200"] {
        let response = http
            .get(file_url)
            .header("range", unsatisfiable)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 416, "{unsatisfiable}");
    }
    stack.stop().await;
}

#[tokio::test]
async fn an_upload_url_works_for_an_hour_and_then_is_refused_as_expired() {
    let clock = ManualClock::new();
    let stack = start(&clock, None).await;
    let url = upload_url(&stack, "kp_ada").await;
    // The manual clock runs on from the system's: 30 s of margin for a loaded machine, so the
    // first post is in time however long the test takes to get there.
    clock.advance(Duration::from_secs(3570));
    assert_eq!(post(&url, "text/plain", b"in time".to_vec()).await.0, 200);
    clock.advance(Duration::from_secs(30));
    let (status, answer) = post(&url, "text/plain", b"too late".to_vec()).await;
    assert_eq!(status, 401);
    assert_eq!(
        answer,
        json!({ "code": "StorageTokenExpired", "message": "Store File Authorization expired" })
    );
    assert_eq!(stack.state.store.storage().count().unwrap(), 1);
    stack.stop().await;
}

#[tokio::test]
async fn a_forged_foreign_or_missing_upload_token_is_refused() {
    let clock = ManualClock::new();
    let stack = start(&clock, None).await;
    let other = start(&clock, None).await;
    let foreign = upload_url(&other, "kp_ada").await;
    let foreign_token = foreign.split("token=").nth(1).unwrap();
    let upload = format!("{}/api/storage/upload", stack.api_url());
    for token in ["nonsense", "", foreign_token] {
        let (status, answer) = post(
            &format!("{upload}?token={token}"),
            "text/plain",
            b"x".to_vec(),
        )
        .await;
        assert_eq!(status, 401, "{token}: {answer}");
        assert_eq!(answer["code"], "StorageTokenInvalid", "{token}");
    }
    let (status, answer) = post(&upload, "text/plain", b"x".to_vec()).await;
    assert_eq!(status, 400);
    assert_eq!(answer["code"], "BadQueryArgs");
    let get = reqwest::get(&upload).await.unwrap();
    assert_eq!(get.status(), 405);
    assert_eq!(stack.state.store.storage().count().unwrap(), 0);
    assert!(stored_files(&stack).is_empty());
    stack.stop().await;
    other.stop().await;
}

#[tokio::test]
async fn anonymous_callers_get_no_upload_url() {
    let clock = ManualClock::new();
    let stack = start(&clock, None).await;
    let body = call(
        &stack,
        None,
        "mutation",
        "files:generateUploadUrl",
        json!({}),
    )
    .await;
    assert_eq!(body["errorData"]["code"], "UNAUTHENTICATED", "{body}");
    stack.stop().await;
}

#[tokio::test]
async fn a_connection_dropped_mid_upload_leaves_no_temp_file_and_no_row() {
    let clock = ManualClock::new();
    let stack = start(&clock, None).await;
    let url = upload_url(&stack, "kp_ada").await;
    let (sent_half, half_sent) = tokio::sync::oneshot::channel::<()>();
    let mut sent_half = Some(sent_half);
    let chunks = futures_util::stream::iter(0..).then(move |i| {
        let signal = if i == 4 { sent_half.take() } else { None };
        async move {
            if let Some(signal) = signal {
                let _ = signal.send(());
                // The second half never comes: the client gives up here.
                std::future::pending::<()>().await;
            }
            Ok::<_, std::io::Error>(vec![7u8; 64 * 1024])
        }
    });
    let request = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/octet-stream")
        .header("content-length", (16 * 64 * 1024).to_string())
        .body(reqwest::Body::wrap_stream(chunks))
        .send();
    let upload = tokio::spawn(request);
    tokio::time::timeout(BOUND, half_sent)
        .await
        .unwrap()
        .unwrap();
    eventually(|| !stored_files(&stack).is_empty()).await;
    // Dropping the request closes the connection with half the body sent.
    upload.abort();
    eventually(|| stored_files(&stack).is_empty()).await;
    assert_eq!(stack.state.store.storage().count().unwrap(), 0);
    stack.stop().await;
}

#[tokio::test]
async fn a_file_over_the_limit_is_refused_and_leaves_nothing_behind() {
    let clock = ManualClock::new();
    let stack = start(&clock, Some(1000)).await;
    let url = upload_url(&stack, "kp_ada").await;
    assert_eq!(post(&url, "text/plain", vec![1; 1000]).await.0, 200);
    let (status, answer) = post(&url, "text/plain", vec![1; 1001]).await;
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["code"], "PayloadTooLarge");
    // Without a length up front, the limit is found while streaming.
    let chunks =
        futures_util::stream::iter([vec![2u8; 800], vec![2u8; 800]].map(Ok::<_, std::io::Error>));
    let response = reqwest::Client::new()
        .post(&url)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    eventually(|| stored_files(&stack).len() == 1).await;
    assert_eq!(stack.state.store.storage().count().unwrap(), 1);
    stack.stop().await;
}

#[tokio::test]
async fn a_removed_file_is_gone_from_storage_and_its_url_answers_file_not_found() {
    let clock = ManualClock::new();
    let stack = start(&clock, None).await;
    let url = upload_url(&stack, "kp_ada").await;
    let storage_id = post(&url, "text/plain", b"bye".to_vec()).await.1["storageId"].clone();
    let id = value(
        &stack,
        "kp_ada",
        "mutation",
        "files:save",
        json!({ "storageId": storage_id, "name": "bye.txt" }),
    )
    .await;
    let file_url = value(&stack, "kp_ada", "query", "files:url", json!({ "id": id })).await;
    let file_url = file_url.as_str().unwrap().to_string();
    let uuid = file_url.rsplit('/').next().unwrap().to_string();

    let theirs = call(
        &stack,
        Some("kp_bob"),
        "mutation",
        "files:remove",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(theirs["errorData"]["code"], "NOT_FOUND", "{theirs}");
    let theirs = call(
        &stack,
        Some("kp_bob"),
        "query",
        "files:url",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(theirs["errorData"]["code"], "NOT_FOUND", "{theirs}");

    value(
        &stack,
        "kp_ada",
        "mutation",
        "files:remove",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(stack.state.store.storage().count().unwrap(), 0);
    assert!(stored_files(&stack).is_empty());
    let response = reqwest::get(&file_url).await.unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "code": "FileNotFound", "message": format!("File {uuid} not found") })
    );
    let gone = call(
        &stack,
        Some("kp_ada"),
        "query",
        "files:url",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(gone["errorData"]["code"], "NOT_FOUND", "{gone}");

    let response = reqwest::get(format!("{}/api/storage/not-a-uuid", stack.api_url()))
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "InvalidStoragePath");
    stack.stop().await;
}

#[tokio::test]
async fn a_file_whose_blob_was_deleted_has_a_null_url() {
    let clock = ManualClock::new();
    let stack = start(&clock, None).await;
    let url = upload_url(&stack, "kp_ada").await;
    let storage_id = post(&url, "text/plain", b"x".to_vec()).await.1["storageId"].clone();
    let id = value(
        &stack,
        "kp_ada",
        "mutation",
        "files:save",
        json!({ "storageId": storage_id, "name": "x.txt" }),
    )
    .await;
    assert!(
        stack
            .state
            .store
            .storage()
            .delete(storage_id.as_str().unwrap())
            .unwrap()
    );
    let url = value(&stack, "kp_ada", "query", "files:url", json!({ "id": id })).await;
    assert_eq!(url, Value::Null);
    stack.stop().await;
}

#[tokio::test]
async fn an_empty_upload_is_a_zero_byte_blob_as_on_convex() {
    let clock = ManualClock::new();
    let stack = start(&clock, None).await;
    let url = upload_url(&stack, "kp_ada").await;
    let response = reqwest::Client::new().post(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let storage_id = response.json::<Value>().await.unwrap()["storageId"].clone();
    let doc = stack
        .state
        .store
        .storage()
        .get(storage_id.as_str().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(doc.size, 0.0);
    assert_eq!(doc.content_type, None);
    assert_eq!(doc.sha256, STANDARD.encode(Sha256::digest(b"")));
    let get = reqwest::get(format!("{}/api/storage/{}", stack.api_url(), doc.uuid))
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    assert_eq!(get.headers().get("content-type"), None);
    assert_eq!(get.bytes().await.unwrap().len(), 0);
    stack.stop().await;
}

#[tokio::test]
async fn a_saved_blob_cannot_be_saved_again_by_anyone() {
    let clock = ManualClock::new();
    let stack = start(&clock, None).await;
    let url = upload_url(&stack, "kp_ada").await;
    let storage_id = post(&url, "text/plain", b"x".to_vec()).await.1["storageId"].clone();
    let args = json!({ "storageId": storage_id, "name": "x.txt" });
    value(&stack, "kp_ada", "mutation", "files:save", args.clone()).await;
    for who in ["kp_ada", "kp_bob"] {
        let again = call(&stack, Some(who), "mutation", "files:save", args.clone()).await;
        assert_eq!(
            again["errorData"]["code"], "ALREADY_SAVED",
            "{who}: {again}"
        );
    }
    let bad = call(
        &stack,
        Some("kp_ada"),
        "mutation",
        "files:save",
        json!({ "storageId": storage_id, "name": "evil\u{202e}txt.exe" }),
    )
    .await;
    assert_eq!(bad["errorData"]["code"], "INVALID_NAME", "{bad}");
    stack.stop().await;
}

#[tokio::test]
async fn an_unsaved_upload_is_swept_two_hours_on_and_a_saved_one_is_kept() {
    let clock = ManualClock::new();
    let stack = start(&clock, None).await;
    let url = upload_url(&stack, "kp_ada").await;
    let unsaved = post(&url, "text/plain", b"unsaved".to_vec()).await.1["storageId"].clone();
    let saved = post(&url, "text/plain", b"saved".to_vec()).await.1["storageId"].clone();
    value(
        &stack,
        "kp_ada",
        "mutation",
        "files:save",
        json!({ "storageId": saved, "name": "kept.txt" }),
    )
    .await;
    clock.advance(Duration::from_secs(90 * 60));
    let url = upload_url(&stack, "kp_ada").await;
    let young = post(&url, "text/plain", b"young".to_vec()).await.1["storageId"].clone();
    let storage = stack.state.store.storage();
    assert_eq!(storage.count().unwrap(), 3, "nothing is old enough yet");

    // The cron ran at 90 minutes (an hour after the first call) and found nothing old enough;
    // at 121 minutes the unsaved upload is old enough, but the cron is not due until 150.
    clock.advance(Duration::from_secs(31 * 60));
    upload_url(&stack, "kp_ada").await;
    assert_eq!(storage.count().unwrap(), 3, "the cron runs hourly");
    clock.advance(Duration::from_secs(30 * 60));
    // Any call runs the cron once it is due.
    upload_url(&stack, "kp_ada").await;
    assert!(storage.get(unsaved.as_str().unwrap()).unwrap().is_none());
    assert!(storage.get(saved.as_str().unwrap()).unwrap().is_some());
    assert!(storage.get(young.as_str().unwrap()).unwrap().is_some());
    assert_eq!(stored_files(&stack).len(), 2);
    stack.stop().await;
}

/// The process's resident set, in KiB.
fn rss_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_64_mib_upload_and_download_are_streamed_not_held_in_memory() {
    const SIZE: usize = 64 << 20;
    const CHUNK: usize = 256 << 10;
    let clock = ManualClock::new();
    let stack = start(&clock, None).await;
    let url = upload_url(&stack, "kp_ada").await;
    // Warm up the client and server paths so their one-time allocations are not counted.
    post(&url, "application/octet-stream", vec![0; CHUNK]).await;
    // Resets the peak (VmHWM) to the current resident set (Linux's clear_refs, "5").
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = rss_kib("VmRSS:");
    let chunks = futures_util::stream::iter(0..SIZE / CHUNK)
        .map(|i| Ok::<_, std::io::Error>(vec![(i % 251) as u8; CHUNK]));
    let response = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/octet-stream")
        .header("content-length", SIZE.to_string())
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let storage_id = response.json::<Value>().await.unwrap()["storageId"].clone();
    let doc = stack
        .state
        .store
        .storage()
        .get(storage_id.as_str().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(doc.size, SIZE as f64);

    let mut download = reqwest::get(format!("{}/api/storage/{}", stack.api_url(), doc.uuid))
        .await
        .unwrap()
        .bytes_stream();
    let mut received = 0usize;
    while let Some(chunk) = download.next().await {
        received += chunk.unwrap().len();
    }
    assert_eq!(received, SIZE);
    let rise_mib = rss_kib("VmHWM:").saturating_sub(before) / 1024;
    assert!(
        rise_mib <= 8,
        "the resident set rose {rise_mib} MiB for a 64 MiB transfer"
    );
    stack.stop().await;
}

#[tokio::test]
async fn an_in_memory_stack_removes_its_blobs_when_it_stops() {
    let clock = ManualClock::new();
    let stack = start(&clock, None).await;
    let url = upload_url(&stack, "kp_ada").await;
    assert_eq!(post(&url, "text/plain", b"x".to_vec()).await.0, 200);
    let dir = stack.state.store.storage().blobs().dir().to_path_buf();
    assert!(dir.is_dir());
    stack.stop().await;
    assert!(!dir.exists(), "{} is left behind", dir.display());
}

#[cfg(unix)]
#[tokio::test]
async fn blobs_on_disk_are_the_owners_alone_and_outlive_a_restart() {
    use std::os::unix::fs::PermissionsExt;
    let data = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let config = || Config {
        seed_demo: false,
        data_dir: Some(data.path().to_path_buf()),
        ..stack::config(Some(&clock))
    };
    let stack = stack::start_with(config()).await;
    let url = upload_url(&stack, "kp_ada").await;
    let storage_id = post(&url, "text/plain", b"kept".to_vec()).await.1["storageId"].clone();
    stack.stop().await;

    let dir = data.path().join("storage");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    let stack = stack::start_with(config()).await;
    let doc = stack
        .state
        .store
        .storage()
        .get(storage_id.as_str().unwrap())
        .unwrap()
        .unwrap();
    let bytes = reqwest::get(format!("{}/api/storage/{}", stack.api_url(), doc.uuid))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(bytes.as_ref(), b"kept");
    // An upload URL from before the restart still works, as a deployment's do (the stack's port
    // is a new one, its deployment URL the same in spirit).
    let token = url.split("token=").nth(1).unwrap();
    let url = format!("{}/api/storage/upload?token={token}", stack.api_url());
    assert_eq!(post(&url, "text/plain", b"later".to_vec()).await.0, 200);
    stack.stop().await;
}
