//! Token introspection (RFC 7662) at `POST /oauth2/introspect`, the endpoint Kinde serves and
//! discovery advertises: is this access or refresh token active, and what does it stand for.
//!
//! RFC 7662 §2.1 wants the caller authorised. A public client such as the desktop app has no
//! secret, so, as at the token and revocation endpoints, it identifies itself with its
//! `client_id` in the form; any other client gets `invalid_client`. A token this provider does not
//! know, or one that expired, was revoked or was rotated past its overlap, is `{"active": false}`
//! and nothing more (§2.2), so the answer tells a caller no more than that.

use super::oauth_error;
use super::token::verify_access_token;
use crate::{State, random};
use axum::extract::{Form, State as Shared};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

#[derive(Debug, Default, Deserialize)]
pub struct IntrospectForm {
    token: Option<String>,
    /// `access_token` or `refresh_token`; only a hint (§2.1), both kinds are tried.
    token_type_hint: Option<String>,
    client_id: Option<String>,
}

pub async fn introspect(
    Shared(state): Shared<Arc<State>>,
    Form(form): Form<IntrospectForm>,
) -> Response {
    if form.client_id.as_deref() != Some(state.config.client_id.as_str()) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Unknown client_id: send the application's client_id with the request",
        );
    }
    let Some(token) = form.token.as_deref().filter(|t| !t.is_empty()) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is required",
        );
    };
    let answer = if form.token_type_hint.as_deref() == Some("refresh_token") {
        refresh_token(&state, token).or_else(|| access_token(&state, token))
    } else {
        access_token(&state, token).or_else(|| refresh_token(&state, token))
    };
    let mut response = Json(answer.unwrap_or_else(|| json!({ "active": false }))).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

/// An access token's claims with the RFC 7662 members added.
fn access_token(state: &State, token: &str) -> Option<Value> {
    let mut claims = verify_access_token(state, token)?;
    let scope = claims["scp"]
        .as_array()
        .map(|scopes| {
            scopes
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    claims["active"] = Value::Bool(true);
    claims["scope"] = Value::String(scope);
    claims["client_id"] = claims["azp"].clone();
    claims["token_type"] = Value::String("Bearer".into());
    Some(claims)
}

/// A refresh token that would still be accepted at the token endpoint.
fn refresh_token(state: &State, token: &str) -> Option<Value> {
    let row = state
        .store
        .provider()
        .refresh_token(&random::hash(token))
        .ok()??;
    let now = state.clock.unix();
    let overlap = state.lifetimes().rotation_overlap.as_secs() as i64;
    let rotated_out = row.rotated_at.is_some_and(|at| now - at > overlap);
    if row.revoked || now > row.expires_at || rotated_out {
        return None;
    }
    Some(json!({
        "active": true,
        "client_id": row.grant.client_id,
        "sub": row.grant.user_id,
        "scope": row.grant.scope,
        "exp": row.expires_at,
        "iss": state.issuer,
    }))
}
