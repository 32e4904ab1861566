//! `POST /kinde` on the site origin: Kinde's webhooks, verified the way they must be. The body
//! is an RS256 JWT signed with the tenant's keys; it has no `iss` or `exp`, so requiring either
//! would reject every real webhook. Replays outside a window on `timestamp` are refused, and a
//! repeated `event_id` is acknowledged without being applied twice; an id is recorded only
//! together with its event's change, so a refused delivery can be retried.

use super::{failure, has_content_type, injected_failure};
use crate::State;
use crate::store::backend::{UserChange, UserFields};
use axum::body::Bytes;
use axum::extract::State as Shared;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, Validation};
use serde_json::Value;
use std::sync::Arc;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// How far an event's `timestamp` may be from now.
pub const REPLAY_WINDOW_SECONDS: i64 = 5 * 60;

pub async fn kinde(Shared(state): Shared<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    // The backend's faults cover its HTTP actions too, so webhook retries can be exercised.
    if let Some(response) = injected_failure(&state) {
        return response;
    }
    let bad = |message: &str| failure(StatusCode::BAD_REQUEST, "BadWebhook", message);
    if !has_content_type(&headers, "application/jwt") {
        return bad("Content-Type must be application/jwt");
    }
    let Ok(token) = std::str::from_utf8(&body) else {
        return bad("the body is not text");
    };
    let token = token.trim();
    let event = match verify(&state, token).await {
        Ok(event) => event,
        Err(message) => return bad(&message),
    };

    let Some(event_id) = event["event_id"].as_str() else {
        return bad("the event has no event_id");
    };
    let Some(kind) = event["type"].as_str() else {
        return bad("the event has no type");
    };
    let timestamp = event["timestamp"]
        .as_str()
        .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok());
    let Some(timestamp) = timestamp else {
        return bad("the event has no valid timestamp");
    };
    let age = (OffsetDateTime::from(state.clock.now()) - timestamp)
        .whole_seconds()
        .abs();
    if age > REPLAY_WINDOW_SECONDS {
        return bad("the event's timestamp is outside the replay window");
    }
    if !kind.starts_with("user.") {
        // Nothing here acts on other events; the Convex deployment does not record them either.
        return StatusCode::OK.into_response();
    }
    let user = &event["data"]["user"];
    let Some(kinde_id) = user["id"].as_str() else {
        return bad("a user event needs data.user.id");
    };
    let change = match kind {
        "user.created" | "user.updated" => UserChange::Upsert {
            kinde_id,
            fields: fields_of(user),
        },
        "user.deleted" => UserChange::Delete { kinde_id },
        _ => return StatusCode::OK.into_response(),
    };
    // The id is recorded with the change, in one transaction: a delivery refused above or
    // failing here leaves it unrecorded, so the provider's retry is applied.
    match state
        .store
        .backend()
        .apply_webhook_event(event_id, &change, state.clock.unix_ms())
    {
        Ok(_) => StatusCode::OK.into_response(),
        Err(e) => failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            "StoreFailed",
            &e.to_string(),
        ),
    }
}

async fn verify(state: &State, token: &str) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| format!("not a JWT: {e}"))?;
    if header.alg != Algorithm::RS256 {
        return Err(format!(
            "algorithm {:?} is not accepted; Kinde signs with RS256",
            header.alg
        ));
    }
    let kid = header.kid.ok_or("the JWT has no kid")?;
    let jwks_url = format!("{}/.well-known/jwks.json", state.issuer);
    let key = state
        .verifier
        .key_from(&state.http, &jwks_url, &kid)
        .await?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| format!("signature verification failed: {e}"))
}

/// The user document's fields from a Kinde event's `data.user`.
fn fields_of(user: &Value) -> UserFields {
    let text = |key: &str| {
        user[key]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    UserFields {
        // Phone-only users arrive with an empty email.
        email: user["email"].as_str().unwrap_or_default().to_string(),
        first_name: text("first_name"),
        last_name: text("last_name"),
        picture_url: text("image_url"),
        phone: text("phone"),
    }
}
