//! The backend, shaped like a Convex deployment's public HTTP API (get-convex/convex-backend
//! crates/local_backend/src/public_api.rs): `POST /api/query|mutation|action`, `/api/run/...`,
//! `/api/function`, `/api/query_batch`, `/api/query_ts`, `/api/query_at_ts` and `GET
//! /api/query`, with Convex's bodies, statuses, error codes and the order it checks things in;
//! the live-query socket, `GET /api/sync` ([`sync`]); file storage's upload and download,
//! `/api/storage/...` ([`storage`]); HTTP actions on a second origin (the "site").

pub mod auth;
pub mod files;
pub mod functions;
mod identity;
mod key_cache;
mod redaction;
mod request;
pub mod site;
pub mod storage;
pub mod sync;
mod upload_token;

use crate::{State, lock};
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State as Shared};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use functions::Kind;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;

pub fn api_router(state: Arc<State>) -> Router {
    Router::new()
        .route(
            "/api/query",
            post(|s, h, b| single(s, Some(Kind::Query), h, b)).get(query_get),
        )
        .route(
            "/api/mutation",
            post(|s, h, b| single(s, Some(Kind::Mutation), h, b)),
        )
        .route(
            "/api/action",
            post(|s, h, b| single(s, Some(Kind::Action), h, b)),
        )
        .route("/api/function", post(function))
        .route("/api/run/{*path}", post(run))
        .route("/api/query_batch", post(query_batch))
        .route("/api/query_ts", post(query_ts))
        .route("/api/query_at_ts", post(query_at_ts))
        .route("/api/sync", get(sync::sync))
        .route("/api/{client_version}/sync", get(sync::sync_versioned))
        .merge(storage::router())
        .with_state(state)
}

pub fn site_router(state: Arc<State>) -> Router {
    Router::new()
        .route("/kinde", post(site::kinde))
        .with_state(state)
}

/// The backend's injected fault for this request, as the response to send instead.
pub fn injected_failure(state: &State) -> Option<Response> {
    let status = state.fault(|f| &mut f.backend).status?;
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    Some(failure(
        status,
        "InjectedFault",
        "The local backend is failing on purpose (fault injection)",
    ))
}

/// Whether the request's media type (parameters aside) is `expected`.
pub fn has_content_type(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(expected))
}

/// A non-function failure: a real HTTP status with `{code, message}`.
pub fn failure(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "code": code, "message": message }))).into_response()
}

/// A request refused instead of answered: a real HTTP status with Convex's `{code, message}`.
#[derive(Debug)]
pub struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl Refusal {
    fn new(status: StatusCode, code: &'static str, message: &str) -> Refusal {
        Refusal {
            status,
            code,
            message: message.to_string(),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        failure(self.status, self.code, &self.message)
    }
}

/// A call's body: `args` is required (any JSON; the function's validator judges it).
#[derive(Deserialize)]
struct Call {
    path: String,
    args: Box<RawValue>,
    format: Option<String>,
}

/// `/api/run/...` names the function in its path.
#[derive(Deserialize)]
struct ArgsOnly {
    args: Box<RawValue>,
    format: Option<String>,
}

#[derive(Deserialize)]
struct CallAt {
    path: String,
    args: Box<RawValue>,
    ts: String,
    format: Option<String>,
}

#[derive(Deserialize)]
struct Batch {
    queries: Vec<Call>,
}

/// What every API request goes through first: the stack's own faults, then the client-version
/// check Convex runs before any handler.
async fn admit(state: &State, headers: &HeaderMap) -> Result<(), Refusal> {
    state.stats.backend_calls.fetch_add(1, Ordering::SeqCst);
    let latency = lock(&state.faults).backend.latency_ms;
    if latency > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
    }
    if let Some(status) = state.fault(|f| &mut f.backend).status {
        return Err(Refusal::new(
            StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            "InjectedFault",
            "The local backend is failing on purpose (fault injection)",
        ));
    }
    request::client_version(headers)
}

/// The caller's identity from the bearer token, if any; a bad token fails the request.
async fn authenticate(state: &State, token: Option<String>) -> Result<Option<Value>, Refusal> {
    let Some(token) = token else {
        return Ok(None);
    };
    match state
        .verifier
        .verify(&state.http, &token, state.config.production)
        .await
    {
        Ok(identity) => Ok(Some(identity)),
        Err(e) => {
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::UNAUTHORIZED);
            Err(Refusal::new(status, e.code(), &e.to_string()))
        }
    }
}

/// A value format Convex knows (`json` and its alias `convex_clean_json`, `convex_encoded_json`
/// and its alias `convex_json`, `export_json`). They write the values these functions return
/// (floats, text, booleans, null) the same way; they differ only for Int64 and bytes.
fn check_format(format: Option<&str>) -> Result<(), Refusal> {
    match format {
        None
        | Some(
            "json" | "convex_clean_json" | "convex_encoded_json" | "convex_json" | "export_json",
        ) => Ok(()),
        Some(other) => Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "BadFormat",
            &format!("format param must be one of [`json`]. Got {other}"),
        )),
    }
}

/// A function's arguments: an object, or (legacy) one object in an array.
fn arguments(args: &RawValue) -> Value {
    match serde_json::from_str(args.get()) {
        Ok(Value::Array(mut list)) if list.len() == 1 => list.remove(0),
        Ok(value) => value,
        Err(_) => Value::Null,
    }
}

/// Runs one function and shapes its outcome as a `UdfResponse`.
fn outcome(
    state: &State,
    kind: Option<Kind>,
    path: &str,
    identity: Option<&Value>,
    args: &RawValue,
) -> Value {
    match functions::run(state, kind, path, identity, &arguments(args)) {
        // `logLines` is left out when there are none, as Convex does.
        Ok(value) => json!({ "status": "success", "value": value }),
        Err(error) => redaction::body(&error, &redaction::request_id(), state.config.production),
    }
}

/// `POST /api/query|mutation|action`.
async fn single(
    Shared(state): Shared<Arc<State>>,
    kind: Option<Kind>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let answer = async {
        admit(&state, &headers).await?;
        let token = request::bearer(&headers)?;
        let call: Call = request::json(&headers, body).await?;
        let identity = authenticate(&state, token).await?;
        let value = outcome(&state, kind, &call.path, identity.as_ref(), &call.args);
        // Convex reads the format only once the function has run.
        check_format(call.format.as_deref())?;
        Ok::<_, Refusal>(Json(value).into_response())
    };
    answer.await.unwrap_or_else(IntoResponse::into_response)
}

/// `POST /api/function` runs any kind of function, in any component: an admin's call. A user's
/// token or none is refused, as the deployment refuses it.
async fn function(Shared(state): Shared<Arc<State>>, headers: HeaderMap, body: Body) -> Response {
    let answer = async {
        admit(&state, &headers).await?;
        let token = request::bearer(&headers)?;
        let _: Call = request::json(&headers, body).await?;
        authenticate(&state, token).await?;
        Err::<Response, Refusal>(Refusal::new(
            StatusCode::FORBIDDEN,
            "BadDeployKey",
            "The provided deploy key was invalid for this deployment. Double check that the environment this key was generated for matches the desired deployment.",
        ))
    };
    answer.await.unwrap_or_else(IntoResponse::into_response)
}

/// `POST /api/run/dir/file/fn` names `dir/file:fn`.
async fn run(
    Shared(state): Shared<Arc<State>>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let answer = async {
        admit(&state, &headers).await?;
        let token = request::bearer(&headers)?;
        let call: ArgsOnly = request::json(&headers, body).await?;
        let identity = authenticate(&state, token).await?;
        let Some((module, name)) = path
            .rsplit_once('/')
            .filter(|(m, f)| !m.is_empty() && !f.is_empty())
        else {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "MissingIdentifier",
                "Path or function name not provided in path, e.g. /api/run/messages/list",
            ));
        };
        let function = format!("{module}:{name}");
        let value = outcome(&state, None, &function, identity.as_ref(), &call.args);
        check_format(call.format.as_deref())?;
        Ok(Json(value).into_response())
    };
    answer.await.unwrap_or_else(IntoResponse::into_response)
}

/// `POST /api/query_batch`: several queries at one timestamp, one result each.
async fn query_batch(
    Shared(state): Shared<Arc<State>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let answer = async {
        admit(&state, &headers).await?;
        let token = request::bearer(&headers)?;
        let batch: Batch = request::json(&headers, body).await?;
        let identity = authenticate(&state, token).await?;
        let mut results = Vec::with_capacity(batch.queries.len());
        for query in &batch.queries {
            check_format(query.format.as_deref())?;
            results.push(outcome(
                &state,
                Some(Kind::Query),
                &query.path,
                identity.as_ref(),
                &query.args,
            ));
        }
        Ok::<_, Refusal>(Json(json!({ "results": results })).into_response())
    };
    answer.await.unwrap_or_else(IntoResponse::into_response)
}

/// A timestamp as the API writes one: the 8 little-endian bytes of nanoseconds since the epoch,
/// base64.
fn encode_ts(state: &State) -> String {
    let nanos = (state.clock.unix_ms() * 1e6) as u64;
    STANDARD.encode(nanos.to_le_bytes())
}

/// `POST /api/query_ts`: the timestamp later `query_at_ts` calls read at.
async fn query_ts(Shared(state): Shared<Arc<State>>, headers: HeaderMap) -> Response {
    if let Err(refusal) = admit(&state, &headers).await {
        return refusal.into_response();
    }
    Json(json!({ "ts": encode_ts(&state) })).into_response()
}

/// `POST /api/query_at_ts`: a query at a timestamp from `query_ts`. The store keeps no history,
/// so it reads the latest state, which is what a timestamp this recent shows.
async fn query_at_ts(
    Shared(state): Shared<Arc<State>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let answer = async {
        admit(&state, &headers).await?;
        let token = request::bearer(&headers)?;
        let call: CallAt = request::json(&headers, body).await?;
        let identity = authenticate(&state, token).await?;
        let ts = STANDARD.decode(&call.ts).ok().filter(|b| b.len() == 8);
        if ts.is_none() {
            return Err(Refusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "Your request couldn't be completed. Try again later.",
            ));
        }
        let value = outcome(
            &state,
            Some(Kind::Query),
            &call.path,
            identity.as_ref(),
            &call.args,
        );
        check_format(call.format.as_deref())?;
        Ok(Json(value).into_response())
    };
    answer.await.unwrap_or_else(IntoResponse::into_response)
}

/// `GET /api/query?path=…&args=…&format=…`. Convex reads `args` from the query string into the
/// same raw-JSON type as a body's, which a query string cannot fill, so the deployment refuses
/// every such request with `BadQueryArgs`; this does too, the same way.
async fn query_get(
    Shared(state): Shared<Arc<State>>,
    query: Result<Query<Call>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let answer = async {
        admit(&state, &headers).await?;
        let Query(call) = query.map_err(|rejection| {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                "BadQueryArgs",
                &rejection.body_text(),
            )
        })?;
        let token = request::bearer(&headers)?;
        let identity = authenticate(&state, token).await?;
        let value = outcome(
            &state,
            Some(Kind::Query),
            &call.path,
            identity.as_ref(),
            &call.args,
        );
        check_format(call.format.as_deref())?;
        Ok::<_, Refusal>(Json(value).into_response())
    };
    answer.await.unwrap_or_else(IntoResponse::into_response)
}
