//! The identity provider, shaped like a Kinde tenant: the same paths, parameters, errors and
//! token claims, so a client that works here works against Kinde.

pub mod admin;
pub mod authorize;
pub mod introspect;
pub mod login;
pub mod logout;
pub mod organizations;
pub mod session;
pub mod token;

use crate::State;
use axum::Router;
use axum::extract::{Request, State as Shared};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde_json::json;
use std::sync::Arc;

pub fn router(state: Arc<State>) -> Router {
    let discovery = get(discovery);
    let jwks = get(jwks);
    let faulty = Router::new()
        .route("/.well-known/openid-configuration", discovery.clone())
        .route("/.well-known/oauth-authorization-server", discovery)
        .route("/.well-known/jwks", jwks.clone())
        .route("/.well-known/jwks.json", jwks)
        .route("/oauth2/auth", get(authorize::authorize))
        .route(
            "/oauth2/auth/sign-in",
            get(login::sign_in_page).post(login::sign_in),
        )
        .route(
            "/oauth2/auth/register",
            get(login::register_page).post(login::register),
        )
        .route("/oauth2/token", post(token::token))
        .route("/oauth2/revoke", post(token::revoke))
        .route("/oauth2/introspect", post(introspect::introspect))
        .route("/oauth2/v2/user_profile", get(token::user_profile))
        .route("/logout", get(logout::logout))
        .layer(middleware::from_fn_with_state(state.clone(), inject_faults));
    faulty
        .merge(admin::router())
        .layer(middleware::from_fn_with_state(state.clone(), dated))
        .with_state(state)
}

/// Writes `Date` from the stack's clock, as a tenant's clock would: a client that measures its
/// skew against the provider (`kinvex doctor` does) sees the stack's time, not this machine's.
async fn dated(Shared(state): Shared<Arc<State>>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if let Ok(value) = header::HeaderValue::from_str(&httpdate::fmt_http_date(state.clock.now())) {
        response.headers_mut().insert(header::DATE, value);
    }
    response
}

/// Applies the provider's test faults (latency, forced status) to every public endpoint.
async fn inject_faults(
    Shared(state): Shared<Arc<State>>,
    request: Request,
    next: Next,
) -> Response {
    let fault = state.fault(|f| &mut f.idp);
    if fault.latency_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(fault.latency_ms)).await;
    }
    if let Some(status) = fault.status {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        return (status, "injected fault").into_response();
    }
    next.run(request).await
}

async fn discovery(Shared(state): Shared<Arc<State>>) -> Response {
    let issuer = &state.issuer;
    let body = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth2/auth"),
        "token_endpoint": format!("{issuer}/oauth2/token"),
        "userinfo_endpoint": format!("{issuer}/oauth2/v2/user_profile"),
        "end_session_endpoint": format!("{issuer}/logout"),
        "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
        "introspection_endpoint": format!("{issuer}/oauth2/introspect"),
        "jwks_uri": format!("{issuer}/.well-known/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["address", "email", "event_hooks", "offline", "openid", "phone", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_post"],
        "claims_supported": ["aud", "auth_time", "azp", "email", "email_verified", "exp",
            "family_name", "given_name", "iat", "iss", "jti", "name", "nonce", "org_codes",
            "picture", "sub", "updated_at"],
        "request_uri_parameter_supported": false,
    });
    cacheable(&state, Json(body).into_response())
}

async fn jwks(Shared(state): Shared<Arc<State>>) -> Response {
    cacheable(&state, Json(state.keys().jwks()).into_response())
}

/// Public and cached for [`crate::Lifetimes::key_cache`], as Kinde serves discovery and keys.
/// Verifiers that obey it (Convex does, and does not refetch on an unknown `kid`) keep a key set
/// that lacks a freshly rotated key until it expires.
fn cacheable(state: &State, mut response: Response) -> Response {
    let max_age = state.lifetimes().key_cache.as_secs();
    if let Ok(value) = header::HeaderValue::from_str(&format!("public, max-age={max_age}")) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}

/// An OAuth error body (RFC 6749 §5.2).
pub fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}
