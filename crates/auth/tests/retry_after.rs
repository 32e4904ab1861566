//! A provider that answers 429 or 503 with `Retry-After` is not asked again sooner, and one
//! that asks for longer than the call's budget ends the call at once with its own estimate.

#![allow(clippy::unwrap_used)]

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use kinvex_auth::http::{Failure, HttpClient, Resend, RetryPolicy};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A provider that refuses the first `refusals` requests with `status` and `Retry-After:
/// retry_after`, then answers 200; it counts every request.
async fn provider(
    status: StatusCode,
    retry_after: &'static str,
    refusals: u32,
) -> (String, Arc<AtomicU32>) {
    let hits = Arc::new(AtomicU32::new(0));
    let app = Router::new()
        .route(
            "/",
            get(move |State(hits): State<Arc<AtomicU32>>| async move {
                let mut headers = HeaderMap::new();
                if hits.fetch_add(1, Ordering::SeqCst) < refusals {
                    headers.insert("retry-after", retry_after.parse().unwrap());
                    (status, headers, "busy")
                } else {
                    (StatusCode::OK, headers, "ok")
                }
            }),
        )
        .with_state(hits.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, hits)
}

fn client() -> HttpClient {
    HttpClient::new().unwrap().with_retry(RetryPolicy {
        attempts: 4,
        first_pause: Duration::from_millis(10),
        max_pause: Duration::from_millis(20),
        attempt_timeout: Duration::from_secs(5),
        budget: Duration::from_secs(10),
    })
}

#[tokio::test]
async fn a_retry_after_beyond_the_budget_ends_the_call_at_once_with_the_providers_estimate() {
    let (url, hits) = provider(StatusCode::TOO_MANY_REQUESTS, "3600", u32::MAX).await;
    let started = Instant::now();
    let failure = client()
        .send(Resend::Always, |http| http.get(&url))
        .await
        .unwrap_err();
    let Failure::Unavailable(detail) = failure else {
        panic!("not unavailable: {failure:?}");
    };
    assert!(detail.contains("HTTP 429"), "{detail}");
    assert!(detail.contains("3600 seconds"), "{detail}");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "asked again before it said to"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn the_pause_before_a_retry_is_at_least_what_retry_after_asks() {
    let (url, hits) = provider(StatusCode::SERVICE_UNAVAILABLE, "1", 1).await;
    let started = Instant::now();
    let answer = client()
        .send(Resend::Always, |http| http.get(&url))
        .await
        .unwrap();
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    // The policy's own pause is 10 ms; the provider asked for a second.
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_unusable_retry_after_leaves_the_policys_backoff() {
    let (url, hits) = provider(StatusCode::SERVICE_UNAVAILABLE, "soon", 2).await;
    let answer = client()
        .send(Resend::Always, |http| http.get(&url))
        .await
        .unwrap();
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}
