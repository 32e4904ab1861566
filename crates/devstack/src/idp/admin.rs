//! Test controls under `/_devstack/`: counters, faults, lifetimes, key rotation, and the admin
//! actions that make Kinde send `user.updated` and `user.deleted`. Loopback only, like the rest.

use crate::{Fault, State, lock};
use axum::Router;
use axum::extract::{Path, Query, State as Shared};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

pub fn router() -> Router<Arc<State>> {
    Router::new()
        .route("/_devstack/stats", get(stats))
        .route("/_devstack/faults", post(faults))
        .route("/_devstack/lifetimes", post(lifetimes))
        .route("/_devstack/keys/rotate", post(rotate_keys))
        .route(
            "/_devstack/users/{id}",
            axum::routing::patch(update_user).delete(delete_user),
        )
        .route("/_devstack/users/{id}/revoke", post(revoke_user))
}

async fn stats(Shared(state): Shared<Arc<State>>) -> Response {
    Json(state.stats.snapshot()).into_response()
}

#[derive(Deserialize)]
struct FaultsBody {
    idp: Option<Fault>,
    backend: Option<Fault>,
}

/// Replaces the faults of each service named; `{}` for a service clears it.
async fn faults(Shared(state): Shared<Arc<State>>, Json(body): Json<FaultsBody>) -> Response {
    let mut faults = lock(&state.faults);
    if let Some(fault) = body.idp {
        faults.idp = fault;
    }
    if let Some(fault) = body.backend {
        faults.backend = fault;
    }
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct LifetimesBody {
    access_secs: Option<u64>,
    id_secs: Option<u64>,
    refresh_secs: Option<u64>,
    code_secs: Option<u64>,
    rotation_overlap_secs: Option<u64>,
}

async fn lifetimes(Shared(state): Shared<Arc<State>>, Json(body): Json<LifetimesBody>) -> Response {
    let mut lifetimes = lock(&state.lifetimes);
    let set = |slot: &mut Duration, value: Option<u64>| {
        if let Some(secs) = value {
            *slot = Duration::from_secs(secs);
        }
    };
    set(&mut lifetimes.access, body.access_secs);
    set(&mut lifetimes.id, body.id_secs);
    set(&mut lifetimes.refresh, body.refresh_secs);
    set(&mut lifetimes.code, body.code_secs);
    set(&mut lifetimes.rotation_overlap, body.rotation_overlap_secs);
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct RotateQuery {
    #[serde(default = "yes")]
    keep_old: bool,
}

fn yes() -> bool {
    true
}

async fn rotate_keys(Shared(state): Shared<Arc<State>>, Query(q): Query<RotateQuery>) -> Response {
    let mut keys = state.keys_mut();
    match keys.rotate(q.keep_old) {
        Ok(()) => Json(json!({ "kid": keys.current_kid() })).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[derive(Deserialize)]
struct UserPatch {
    email: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
    phone: Option<String>,
    picture: Option<String>,
    org_code: Option<String>,
}

async fn update_user(
    Shared(state): Shared<Arc<State>>,
    Path(id): Path<String>,
    Json(patch): Json<UserPatch>,
) -> Response {
    let Ok(Some(mut user)) = state.store.provider().user(&id) else {
        return (StatusCode::NOT_FOUND, "no such user").into_response();
    };
    if let Some(v) = patch.email {
        user.email = v;
    }
    if let Some(v) = patch.given_name {
        user.given_name = v;
    }
    if let Some(v) = patch.family_name {
        user.family_name = v;
    }
    user.phone = patch.phone.or(user.phone);
    user.picture = patch.picture.or(user.picture);
    user.org_code = patch.org_code.or(user.org_code);
    user.updated_at = state.clock.unix();
    match state.store.provider().update_user(&user) {
        Ok(_) => {
            state
                .outbox
                .user_event(&state, "user.updated", &user, "admin");
            Json(json!({ "id": user.id })).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn delete_user(Shared(state): Shared<Arc<State>>, Path(id): Path<String>) -> Response {
    let Ok(Some(user)) = state.store.provider().user(&id) else {
        return (StatusCode::NOT_FOUND, "no such user").into_response();
    };
    match state.store.provider().delete_user(&id) {
        Ok(_) => {
            state
                .outbox
                .user_event(&state, "user.deleted", &user, "admin");
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn revoke_user(Shared(state): Shared<Arc<State>>, Path(id): Path<String>) -> Response {
    match state.store.provider().revoke_user_tokens(&id) {
        Ok(count) => Json(json!({ "revoked": count })).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
