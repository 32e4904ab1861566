//! `GET /logout`: ends the browser session, then returns to an allow-listed URL or says so.

use super::{authorize, session};
use crate::{State, pages};
use axum::extract::{Query, State as Shared};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize)]
pub struct LogoutQuery {
    redirect: Option<String>,
}

/// Ends the browser session. A redirect must be allow-listed, as Kinde requires.
pub async fn logout(
    Shared(state): Shared<Arc<State>>,
    jar: CookieJar,
    Query(q): Query<LogoutQuery>,
) -> Response {
    if let Some(redirect) = &q.redirect
        && !state
            .config
            .logout_redirects
            .iter()
            .any(|allowed| allowed == redirect)
    {
        return pages::error(
            StatusCode::BAD_REQUEST,
            "Logout redirect not allowed",
            "The application asked to return to a URL that is not in its list of allowed logout redirect URLs.",
        );
    }
    let jar = session::end(&state, jar);
    match q.redirect {
        Some(redirect) => (jar, authorize::found(&redirect)).into_response(),
        None => (jar, pages::signed_out()).into_response(),
    }
}
