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
    issue(
        state,
        &bound.grant,
        bound.nonce.as_deref(),
        &family,
        Answer::CodeExchange,
    )
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
    issue(state, &row.grant, None, &row.family, Answer::Refresh)
}

/// Which grant a token response answers: a refresh is where Kinde may leave out the ID token
/// ([`crate::Config::refresh_id_token`]) or repeat a still-valid access token
/// ([`crate::Config::refresh_reuses_access_token`]).
#[derive(Clone, Copy, PartialEq)]
enum Answer {
    CodeExchange,
    Refresh,
}

/// Mints the token response for `grant`: access token, ID token and, with `offline`, a new
/// refresh token in `family`.
fn issue(
    state: &State,
    grant: &Grant,
    nonce: Option<&str>,
    family: &str,
    answer: Answer,
) -> Response {
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
    let server_error = |e: crate::store::StoreError| {
        oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            &e.to_string(),
        )
    };
    let reuses = state.config.refresh_reuses_access_token;
    let still_valid = match answer {
        Answer::Refresh if reuses => match state.store.provider().last_access_token(family) {
            Ok(last) => last.filter(|(_, expires_at)| now < *expires_at),
            Err(e) => return server_error(e),
        },
        _ => None,
    };
    let access_token = match still_valid {
        Some((token, _)) => token,
        None => {
            let lifetime = lifetimes.access.as_secs() as i64;
            let claims = match access_claims(state, grant, &user, now, lifetime) {
                Ok(claims) => claims,
                Err(e) => return server_error(e),
            };
            let token = state.keys().sign(&claims);
            if reuses
                && let Err(e) =
                    state
                        .store
                        .provider()
                        .remember_access_token(family, &token, now + lifetime)
            {
                return server_error(e);
            }
            token
        }
    };
    let id_claims = id_claims(
        state,
        grant,
        &user,
        nonce,
        &access_token,
        now,
        lifetimes.id.as_secs() as i64,
    );
    let id_claims = match id_claims {
        Ok(claims) => claims,
        Err(e) => return server_error(e),
    };
    let id_token = state.keys().sign(&id_claims);

    // `expires_in` is the configured lifetime even for a repeated access token, whose own `exp`
    // is sooner: the case a client that trusts `expires_in` over `exp` gets wrong.
    let mut body = json!({
        "access_token": access_token,
        "expires_in": lifetimes.access.as_secs(),
        "scope": grant.scope,
        "token_type": "Bearer",
    });
    if answer == Answer::CodeExchange || state.config.refresh_id_token {
        body["id_token"] = Value::String(id_token);
    }
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

fn access_claims(
    state: &State,
    grant: &Grant,
    user: &User,
    now: i64,
    lifetime: i64,
) -> Result<Value, crate::store::StoreError> {
    // The organisation signed in to; a grant stored before organisations were kept names none.
    let org = grant.org_code.as_deref().unwrap_or(user.default_org());
    let store = state.store.provider();
    // What the person may do there; nothing once they have left it.
    let membership = if user.is_member(org) {
        store.membership(&user.id, org)?
    } else {
        Default::default()
    };
    let mut claims = json!({
        "aud": grant.audience,
        "azp": grant.client_id,
        "exp": now + lifetime,
        "iat": now,
        "iss": state.issuer,
        "jti": random::hex(16),
        "sub": user.id,
        "scp": grant.scope.split_whitespace().collect::<Vec<_>>(),
        "org_code": org,
        "org_name": store.organization_name(org)?,
        "permissions": membership.permissions,
        "roles": membership.roles,
        "feature_flags": store.feature_flags(org)?,
    });
    // Kinde leaves `email` out of access tokens unless the tenant adds it.
    if state.config.access_token_email {
        claims["email"] = Value::String(user.email.clone());
    }
    Ok(claims)
}

fn id_claims(
    state: &State,
    grant: &Grant,
    user: &User,
    nonce: Option<&str>,
    access_token: &str,
    now: i64,
    lifetime: i64,
) -> Result<Value, crate::store::StoreError> {
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
        // Every organisation the person is in; the access token's `org_code` says which one
        // this sign-in is for.
        "org_codes": user.organizations,
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
    // Kinde's "Organizations" ID-token customization: each organisation's code and name.
    if state.config.id_token_organizations {
        let store = state.store.provider();
        let mut organizations = Vec::with_capacity(user.organizations.len());
        for code in &user.organizations {
            organizations.push(json!({ "id": code, "name": store.organization_name(code)? }));
        }
        claims["organizations"] = Value::Array(organizations);
    }
    Ok(claims)
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

/// Verifies an access token this provider issued, unexpired by the stack's clock. An ID token
/// is signed by the same key but is no access token: only access tokens carry `scp`.
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
    claims.get("scp")?;
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
