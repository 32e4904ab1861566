//! Test controls under `/_devstack/`: counters, faults (the live-query sockets' are in
//! `backend::sync::control`), lifetimes, key rotation, the admin actions that make Kinde
//! send `user.updated` and `user.deleted`, the tenant's organisations, memberships (roles
//! and permissions) and feature flags, and people's pictures. Loopback only, like the rest.

use crate::store::provider::{Flag, Organization, Write};
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
        .route("/_devstack/pictures/{file}", get(crate::pictures::serve))
        .route("/_devstack/organizations", post(create_organization))
        .route(
            "/_devstack/organizations/{code}/members/{user_id}",
            axum::routing::put(set_member),
        )
        .route(
            "/_devstack/feature_flags/{key}",
            axum::routing::put(set_flag).delete(remove_flag),
        )
        .merge(crate::backend::sync::control::router())
}

async fn stats(Shared(state): Shared<Arc<State>>) -> Response {
    Json(state.stats.snapshot()).into_response()
}

#[derive(Deserialize)]
struct FaultsBody {
    idp: Option<Fault>,
    backend: Option<Fault>,
    sync: Option<crate::backend::sync::control::SyncFault>,
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
    if let Some(fault) = body.sync {
        faults.sync = fault;
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
    key_cache_secs: Option<u64>,
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
    set(&mut lifetimes.key_cache, body.key_cache_secs);
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
    /// The picture's URL (Kinde's `picture` claim, the webhook's `image_url`); `""` removes it.
    picture: Option<String>,
    /// Makes this the person's default organisation, joining it if need be.
    org_code: Option<String>,
    /// Replaces the person's organisations (the default first); never empty.
    organizations: Option<Vec<String>>,
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
    user.picture = match patch.picture {
        Some(url) if url.is_empty() => None,
        Some(url) => Some(url),
        None => user.picture,
    };
    if let Some(organizations) = patch.organizations {
        if organizations.is_empty() {
            return (
                StatusCode::BAD_REQUEST,
                "organizations cannot be empty: everyone is in at least one organisation",
            )
                .into_response();
        }
        user.organizations = organizations;
    }
    if let Some(org_code) = patch.org_code {
        user.organizations.retain(|o| *o != org_code);
        user.organizations.insert(0, org_code);
    }
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

#[derive(Deserialize)]
struct NewOrganization {
    /// A code of one's choosing; else one is made as Kinde makes them.
    code: Option<String>,
    name: String,
}

/// Creates an organisation with no members: `{code?, name}`; 409 if the code is taken.
async fn create_organization(
    Shared(state): Shared<Arc<State>>,
    Json(body): Json<NewOrganization>,
) -> Response {
    let name = body.name.trim();
    if name.is_empty() {
        return (StatusCode::BAD_REQUEST, "name is required").into_response();
    }
    let org = Organization {
        code: body.code.unwrap_or_else(super::organizations::new_code),
        name: name.to_string(),
    };
    match state
        .store
        .provider()
        .insert_organization(&org, state.clock.unix())
    {
        Ok(true) => (StatusCode::CREATED, Json(json!(org))).into_response(),
        Ok(false) => (
            StatusCode::CONFLICT,
            "an organization with this code exists",
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[derive(Deserialize)]
struct RoleBody {
    key: String,
    name: String,
}

#[derive(Deserialize)]
struct MemberBody {
    #[serde(default)]
    roles: Vec<RoleBody>,
    #[serde(default)]
    permissions: Vec<String>,
}

/// Makes the person a member of an existing organisation (if not already) with exactly these
/// roles and permissions: `{roles: [{key, name}], permissions: [key]}`. Tokens issued from now
/// on (a refresh included) carry them.
async fn set_member(
    Shared(state): Shared<Arc<State>>,
    Path((code, user_id)): Path<(String, String)>,
    Json(body): Json<MemberBody>,
) -> Response {
    let store = state.store.provider();
    let Ok(Some(mut user)) = store.user(&user_id) else {
        return (StatusCode::NOT_FOUND, "no such user").into_response();
    };
    match store.organization(&code) {
        Ok(Some(_)) => {}
        Ok(None) => return (StatusCode::NOT_FOUND, "no such organization").into_response(),
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
    let roles: Vec<(String, String)> = body.roles.into_iter().map(|r| (r.key, r.name)).collect();
    let joined = !user.is_member(&code);
    if joined {
        user.organizations.push(code.clone());
        user.updated_at = state.clock.unix();
    }
    let written = (if joined {
        store.update_user(&user).map(drop)
    } else {
        Ok(())
    })
    .and_then(|()| {
        store.set_membership(&user.id, &code, &roles, &body.permissions, Write::Replace)
    });
    if let Err(e) = written {
        return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response();
    }
    if joined {
        state
            .outbox
            .user_event(&state, "user.updated", &user, "admin");
    }
    match store.membership(&user.id, &code) {
        Ok(membership) => Json(json!({
            "org_code": code,
            "roles": membership.roles,
            "permissions": membership.permissions,
        }))
        .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[derive(Deserialize)]
struct FlagBody {
    /// `b`, `s`, `i` or `j`.
    #[serde(rename = "type")]
    flag_type: String,
    value: serde_json::Value,
    /// The organisation whose override this is; without it, the tenant's default.
    org_code: Option<String>,
}

/// Sets a feature flag: `{type, value, org_code?}`; 400 if the value is not of its type.
async fn set_flag(
    Shared(state): Shared<Arc<State>>,
    Path(key): Path<String>,
    Json(body): Json<FlagBody>,
) -> Response {
    let Some(flag) = Flag::new(&body.flag_type, body.value) else {
        return (
            StatusCode::BAD_REQUEST,
            "type must be b, s, i or j, with a value of that type",
        )
            .into_response();
    };
    match state
        .store
        .provider()
        .set_flag(body.org_code.as_deref(), &key, &flag, Write::Replace)
    {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[derive(Deserialize)]
struct FlagScope {
    org_code: Option<String>,
}

/// Removes an organisation's override (`?org_code=`) or the tenant's default; 404 if none.
async fn remove_flag(
    Shared(state): Shared<Arc<State>>,
    Path(key): Path<String>,
    Query(scope): Query<FlagScope>,
) -> Response {
    match state
        .store
        .provider()
        .remove_flag(scope.org_code.as_deref(), &key)
    {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => (StatusCode::NOT_FOUND, "no such flag").into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
