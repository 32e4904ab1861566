//! Token, revocation and user-profile endpoints, with Kinde's claims.
//!
//! Codes are single use and bound to client, redirect URI and PKCE verifier. Refresh tokens
//! rotate on every use; a rotated token keeps working for a short overlap (so a lost response
//! can be retried) and reusing it after that revokes the whole family (RFC 9700 §4.14.2).

use super::oauth_error;
use crate::store::provider::{CodeLookup, Grant, User};
use crate::{State, random, validity};
use axum::extract::{Form, State as Shared};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::Ordering;

#[derive(Debug, Default, Deserialize)]
pub struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
}

fn invalid_grant(description: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

pub async fn token(Shared(state): Shared<Arc<State>>, Form(form): Form<TokenForm>) -> Response {
    if form.client_id.as_deref() != Some(state.config.client_id.as_str()) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Unknown client_id",
        );
    }
    match form.grant_type.as_deref() {
        Some("authorization_code") => exchange_code(&state, &form),
        Some("refresh_token") => refresh(&state, &form),
        Some(_) => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Unsupported grant_type",
        ),
        None => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "grant_type is required",
        ),
    }
}

/// RFC 7636 §4.1: 43 to 128 characters of `[A-Za-z0-9-._~]`.
fn is_verifier(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn exchange_code(state: &State, form: &TokenForm) -> Response {
    state.stats.code_exchanges.fetch_add(1, Ordering::SeqCst);
    let Some(code) = form.code.as_deref() else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "code is required",
        );
    };
    let code_hash = random::hash(code);
    let store = state.store.provider();
    let bound = match store.take_code(&code_hash) {
        Ok(CodeLookup::Fresh(bound)) => bound,
        Ok(CodeLookup::Reused { family }) => {
            if let Some(family) = family {
                let _ = store.revoke_family(&family);
            }
            return invalid_grant("The authorization code has already been used");
        }
        Ok(CodeLookup::Missing) => return invalid_grant("The authorization code is invalid"),
        Err(e) => {
            return oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                &e.to_string(),
            );
        }
    };
    if state.clock.unix() > bound.expires_at {
        return invalid_grant("The authorization code has expired");
    }
    if form.redirect_uri.as_deref() != Some(bound.redirect_uri.as_str()) {
        return invalid_grant("redirect_uri does not match the authorization request");
    }
    let Some(verifier) = form.code_verifier.as_deref() else {
        return invalid_grant("code_verifier is required");
    };
    if !is_verifier(verifier) || s256(verifier) != bound.challenge {
        return invalid_grant(
            "PKCE verification failed: code_verifier does not match code_challenge",
        );
    }
    let family = random::hex(16);
    let _ = store.link_code_family(&code_hash, &family);
    issue(state, &bound.grant, bound.nonce.as_deref(), &family)
}

fn refresh(state: &State, form: &TokenForm) -> Response {
    state.stats.refreshes.fetch_add(1, Ordering::SeqCst);
    let Some(token) = form.refresh_token.as_deref() else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "refresh_token is required",
        );
    };
    let token_hash = random::hash(token);
    let store = state.store.provider();
    let row = match store.refresh_token(&token_hash) {
        Ok(Some(row)) => row,
        Ok(None) => return invalid_grant("The refresh token is invalid"),
        Err(e) => {
            return oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                &e.to_string(),
            );
        }
    };
    let now = state.clock.unix();
    if row.revoked {
        return invalid_grant("The refresh token has been revoked");
    }
    if now > row.expires_at {
        return invalid_grant("The refresh token has expired");
    }
    if row.grant.client_id != state.config.client_id {
        return invalid_grant("The refresh token was issued to another client");
    }
    if let Some(rotated_at) = row.rotated_at
        && now - rotated_at > state.lifetimes().rotation_overlap.as_secs() as i64
    {
        let _ = store.revoke_family(&row.family);
        return invalid_grant("The refresh token was already used; the session has been revoked");
    }
    if let Err(e) = store.mark_rotated(&token_hash, now) {
        return oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            &e.to_string(),
        );
    }
    issue(state, &row.grant, None, &row.family)
}

/// Mints the token response for `grant`: access token, ID token and, with `offline`, a new
/// refresh token in `family`.
fn issue(state: &State, grant: &Grant, nonce: Option<&str>, family: &str) -> Response {
    let user = match state.store.provider().user(&grant.user_id) {
        Ok(Some(user)) => user,
        Ok(None) => return invalid_grant("The user no longer exists"),
        Err(e) => {
            return oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                &e.to_string(),
            );
        }
    };
    let lifetimes = state.lifetimes();
    let now = state.clock.unix();
    let access_token = state.keys().sign(&access_claims(
        state,
        grant,
        &user,
        now,
        lifetimes.access.as_secs() as i64,
    ));
    let id_claims = id_claims(
        state,
        grant,
        &user,
        nonce,
        &access_token,
        now,
        lifetimes.id.as_secs() as i64,
    );
    let id_token = state.keys().sign(&id_claims);

    let mut body = json!({
        "access_token": access_token,
        "expires_in": lifetimes.access.as_secs(),
        "id_token": id_token,
        "scope": grant.scope,
        "token_type": "bearer",
    });
    // Kinde issues a refresh token for `offline` only; `offline_access` silently gets none.
    if grant.scope.split_whitespace().any(|s| s == "offline") {
        let refresh_token = random::secret();
        let expires_at = now + lifetimes.refresh.as_secs() as i64;
        if let Err(e) = state.store.provider().insert_refresh_token(
            &random::hash(&refresh_token),
            family,
            grant,
            expires_at,
        ) {
            return oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                &e.to_string(),
            );
        }
        body["refresh_token"] = Value::String(refresh_token);
    }
    let mut response = Json(body).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

fn access_claims(state: &State, grant: &Grant, user: &User, now: i64, lifetime: i64) -> Value {
    let mut claims = json!({
        "aud": grant.audience,
        "azp": grant.client_id,
        "exp": now + lifetime,
        "iat": now,
        "iss": state.issuer,
        "jti": random::hex(16),
        "sub": user.id,
        "scp": grant.scope.split_whitespace().collect::<Vec<_>>(),
        "permissions": [],
        "roles": [],
        "feature_flags": {},
        "email": user.email,
    });
    if let Some(org) = &grant.org_code {
        claims["org_code"] = Value::String(org.clone());
        claims["org_name"] = Value::String(org.clone());
    }
    claims
}

fn id_claims(
    state: &State,
    grant: &Grant,
    user: &User,
    nonce: Option<&str>,
    access_token: &str,
    now: i64,
    lifetime: i64,
) -> Value {
    let digest = Sha256::digest(access_token.as_bytes());
    let mut claims = json!({
        "aud": [grant.client_id],
        "azp": grant.client_id,
        "iss": state.issuer,
        "sub": user.id,
        "iat": now,
        "exp": now + lifetime,
        "auth_time": grant.auth_time,
        "at_hash": URL_SAFE_NO_PAD.encode(&digest[..16]),
        "jti": random::hex(16),
        "email": user.email,
        "email_verified": true,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "name": user.name(),
        "org_codes": grant.org_code.iter().collect::<Vec<_>>(),
        "updated_at": user.updated_at,
    });
    if let Some(nonce) = nonce {
        claims["nonce"] = Value::String(nonce.to_string());
    }
    if let Some(picture) = &user.picture {
        claims["picture"] = Value::String(picture.clone());
    }
    if let Some(phone) = &user.phone {
        claims["phone_number"] = Value::String(phone.clone());
    }
    claims
}

#[derive(Debug, Default, Deserialize)]
pub struct RevokeForm {
    token: Option<String>,
    client_id: Option<String>,
}

/// RFC 7009: revoking a refresh token ends its family; unknown tokens still get a 200.
pub async fn revoke(Shared(state): Shared<Arc<State>>, Form(form): Form<RevokeForm>) -> Response {
    if form.client_id.as_deref() != Some(state.config.client_id.as_str()) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Unknown client_id",
        );
    }
    let Some(token) = form.token else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is required",
        );
    };
    let store = state.store.provider();
    if let Ok(Some(row)) = store.refresh_token(&random::hash(&token)) {
        let _ = store.revoke_family(&row.family);
    }
    StatusCode::OK.into_response()
}

/// Verifies an access token this provider issued, unexpired by the stack's clock.
pub fn verify_access_token(state: &State, token: &str) -> Option<Value> {
    let header = jsonwebtoken::decode_header(token).ok()?;
    let key = state.keys().decoding_key(header.kid.as_deref()?)?;
    let mut validation = validity::untimed(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[&state.issuer]);
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .ok()?
        .claims;
    validity::check_exp(&claims, state.clock.unix(), 0).ok()?;
    Some(claims)
}

pub async fn user_profile(Shared(state): Shared<Arc<State>>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let claims = token.and_then(|t| verify_access_token(&state, t));
    let user = claims
        .as_ref()
        .and_then(|c| c["sub"].as_str())
        .and_then(|sub| state.store.provider().user(sub).ok().flatten());
    let Some(user) = user else {
        let mut response = oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "The access token is invalid or expired",
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
        return response;
    };
    Json(json!({
        "sub": user.id,
        "id": user.id,
        "provided_id": null,
        "name": user.name(),
        "given_name": user.given_name,
        "family_name": user.family_name,
        "email": user.email,
        "email_verified": true,
        "picture": user.picture,
        "preferred_username": null,
        "updated_at": user.updated_at,
    }))
    .into_response()
}
