//! The pages a person signs in or registers on, while their authorization request is pending:
//! `/oauth2/auth/sign-in` and `/oauth2/auth/register`, each a page (GET) and its form (POST).
//! Either form can cancel the request; a successful one starts a browser session and completes
//! the request.

use super::{authorize, session};
use crate::store::StoreError;
use crate::store::provider::{DEFAULT_ORG, User};
use crate::{State, pages, random};
use axum::extract::{Form, Query, State as Shared};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize)]
pub struct PageQuery {
    request: String,
}

pub async fn sign_in_page(
    Shared(state): Shared<Arc<State>>,
    Query(q): Query<PageQuery>,
) -> Response {
    match authorize::pending(&state, &q.request) {
        Some(p) => pages::sign_in(&q.request, p.email_hint(), None),
        None => authorize::expired_request(),
    }
}

pub async fn register_page(
    Shared(state): Shared<Arc<State>>,
    Query(q): Query<PageQuery>,
) -> Response {
    match authorize::pending(&state, &q.request) {
        Some(p) => pages::register(&q.request, p.email_hint(), None),
        None => authorize::expired_request(),
    }
}

/// A form posted for a sign-in that is gone, or whose Cancel was pressed, is answered here.
fn expired_or_cancelled(state: &State, request: &str, action: &str) -> Option<Response> {
    if authorize::pending(state, request).is_none() {
        Some(authorize::expired_request())
    } else if action == "cancel" {
        Some(authorize::cancel(state, request))
    } else {
        None
    }
}

#[derive(Deserialize)]
pub struct SignInForm {
    request: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    action: String,
}

pub async fn sign_in(
    Shared(state): Shared<Arc<State>>,
    jar: CookieJar,
    Form(form): Form<SignInForm>,
) -> Response {
    if let Some(answered) = expired_or_cancelled(&state, &form.request, &form.action) {
        return answered;
    }
    let user = match state.store.provider().credentials(form.email.trim()) {
        Ok(Some(found)) if random::password_hash(&found.salt, &form.password) == found.hash => {
            found.user
        }
        Ok(_) => {
            return pages::sign_in(
                &form.request,
                &form.email,
                Some("Email or password is incorrect."),
            );
        }
        Err(e) => {
            return pages::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Sign-in failed",
                &e.to_string(),
            );
        }
    };
    signed_in(&state, jar, &form.request, &user)
}

#[derive(Deserialize)]
pub struct RegisterForm {
    request: String,
    #[serde(default)]
    given_name: String,
    #[serde(default)]
    family_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    action: String,
}

pub async fn register(
    Shared(state): Shared<Arc<State>>,
    jar: CookieJar,
    Form(form): Form<RegisterForm>,
) -> Response {
    if let Some(answered) = expired_or_cancelled(&state, &form.request, &form.action) {
        return answered;
    }
    let email = form.email.trim();
    let problem = if !email.contains('@') || email.len() < 3 {
        Some("Enter a valid email address.")
    } else if form.password.chars().count() < 8 {
        Some("Choose a password of at least 8 characters.")
    } else if form.given_name.trim().is_empty() {
        Some("Enter your first name.")
    } else {
        None
    };
    if let Some(problem) = problem {
        return pages::register(&form.request, email, Some(problem));
    }
    let now = state.clock.unix();
    let user = User {
        id: random::kinde_user_id(),
        email: email.to_string(),
        given_name: form.given_name.trim().to_string(),
        family_name: form.family_name.trim().to_string(),
        phone: None,
        picture: None,
        // Registering with an `org_code` joins that organisation (Kinde's "Allow registrations"
        // policy); otherwise the default one.
        organizations: vec![
            pending_org(&state, &form.request).unwrap_or_else(|| DEFAULT_ORG.into()),
        ],
        created_at: now,
        updated_at: now,
    };
    let salt = random::salt();
    match state.store.provider().create_user(
        &user,
        &salt,
        &random::password_hash(&salt, &form.password),
    ) {
        Ok(()) => {}
        Err(StoreError::EmailTaken) => {
            return pages::register(
                &form.request,
                email,
                Some("An account with this email already exists. Sign in instead."),
            );
        }
        Err(e) => {
            return pages::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Registration failed",
                &e.to_string(),
            );
        }
    }
    state
        .outbox
        .user_event(&state, "user.created", &user, "user");
    signed_in(&state, jar, &form.request, &user)
}

/// The organisation the pending request `id` asks for.
fn pending_org(state: &State, id: &str) -> Option<String> {
    authorize::pending(state, id).and_then(|p| p.org_code().map(str::to_string))
}

/// Starts a browser session for `user`, finishes the request and sets the session cookie.
fn signed_in(state: &State, jar: CookieJar, id: &str, user: &User) -> Response {
    let Some(pending) = authorize::take_pending(state, id) else {
        return authorize::expired_request();
    };
    match session::start(state, jar, user) {
        Ok((jar, auth_time)) => {
            (jar, authorize::complete(state, &pending, user, auth_time)).into_response()
        }
        Err(e) => pages::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Sign-in failed",
            &e.to_string(),
        ),
    }
}
