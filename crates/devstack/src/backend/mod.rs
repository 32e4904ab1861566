//! The backend, shaped like a Convex deployment's HTTP API: `POST /api/query|mutation|action`
//! and `/api/run/{module}/{function}` with Convex's bodies, statuses and error bodies; HTTP
//! actions on a second origin (the "site").

pub mod auth;
pub mod functions;
pub mod site;

use crate::{State, lock};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State as Shared};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::post;
use functions::Kind;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;

pub fn api_router(state: Arc<State>) -> Router {
    Router::new()
        .route(
            "/api/query",
            post(|s, h, b| call(s, Some(Kind::Query), None, h, b)),
        )
        .route(
            "/api/mutation",
            post(|s, h, b| call(s, Some(Kind::Mutation), None, h, b)),
        )
        .route(
            "/api/action",
            post(|s, h, b| call(s, Some(Kind::Action), None, h, b)),
        )
        .route("/api/run/{*path}", post(run))
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

async fn run(
    state: Shared<Arc<State>>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // `/api/run/dir/file/fn` names `dir/file:fn`.
    let function = match path.rsplit_once('/') {
        Some((module, name)) => format!("{module}:{name}"),
        None => path,
    };
    call(state, None, Some(function), headers, body).await
}

async fn call(
    Shared(state): Shared<Arc<State>>,
    kind: Option<Kind>,
    path: Option<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state.stats.backend_calls.fetch_add(1, Ordering::SeqCst);
    let fault = lock(&state.faults).backend.latency_ms;
    if fault > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(fault)).await;
    }
    if let Some(response) = injected_failure(&state) {
        return response;
    }
    if !has_content_type(&headers, "application/json") {
        return failure(
            StatusCode::BAD_REQUEST,
            "BadContentType",
            "Content-Type must be application/json",
        );
    }
    if let Some(client) = headers.get("convex-client")
        && !client.to_str().is_ok_and(|v| v.contains('-'))
    {
        return failure(
            StatusCode::BAD_REQUEST,
            "InvalidConvexClient",
            "Convex-Client must look like <name>-<version>",
        );
    }
    let request: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(e) => {
            return failure(
                StatusCode::BAD_REQUEST,
                "BadJsonBody",
                &format!("Invalid JSON body: {e}"),
            );
        }
    };
    let Some(path) = path.or_else(|| request["path"].as_str().map(str::to_string)) else {
        return failure(
            StatusCode::BAD_REQUEST,
            "BadJsonBody",
            "Missing field `path`",
        );
    };
    // The official clients send `convex_encoded_json`; plain HTTP callers send `json`. The two
    // differ only for Int64 and bytes, which none of these functions take or return.
    match request.get("format") {
        None | Some(Value::Null) => {}
        Some(Value::String(f)) if f == "json" || f == "convex_encoded_json" => {}
        Some(other) => {
            return failure(
                StatusCode::BAD_REQUEST,
                "BadFormat",
                &format!("Unsupported format {other}; use \"json\""),
            );
        }
    }
    let args = match request.get("args") {
        None | Some(Value::Null) => json!({}),
        Some(Value::Array(list)) if list.len() == 1 && list[0].is_object() => list[0].clone(),
        Some(object @ Value::Object(_)) => object.clone(),
        Some(_) => {
            return failure(
                StatusCode::BAD_REQUEST,
                "BadJsonBody",
                "args must be an object",
            );
        }
    };

    let identity = match bearer(&headers) {
        Some(token) => match state.verifier.verify(&state.http, token).await {
            Ok(identity) => Some(identity),
            Err(e) => return failure(StatusCode::UNAUTHORIZED, e.code(), &e.to_string()),
        },
        None => None,
    };

    let result = functions::run(&state, kind, &path, identity.as_ref(), &args);
    let body = match result {
        Ok(value) => json!({ "status": "success", "value": value, "logLines": [] }),
        Err(error) => {
            let mut body =
                json!({ "status": "error", "errorMessage": error.message, "logLines": [] });
            if let Some(data) = error.data {
                body["errorData"] = data;
            }
            body
        }
    };
    Json(body).into_response()
}

/// The token from `Authorization: Bearer …` (the scheme is case-insensitive).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}
