//! The provider's browser session: the cookie that makes a second sign-in silent (`prompt=none`
//! or no prompt) until the person signs out. The store keeps only the cookie's hash.

use crate::store::StoreError;
use crate::store::provider::User;
use crate::{State, random};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};

const SESSION_COOKIE: &str = "kinvex_idp_session";

/// The signed-in user of this browser and when they signed in.
pub fn current(state: &State, jar: &CookieJar) -> Option<(User, i64)> {
    let cookie = jar.get(SESSION_COOKIE)?;
    let store = state.store.provider();
    let session = store.session(&random::hash(cookie.value())).ok()??;
    let user = store.user(&session.user_id).ok()??;
    Some((user, session.auth_time))
}

/// Starts a session for `user` now; returns the jar with its cookie and the sign-in time.
pub fn start(state: &State, jar: CookieJar, user: &User) -> Result<(CookieJar, i64), StoreError> {
    let secret = random::secret();
    let auth_time = state.clock.unix();
    state
        .store
        .provider()
        .insert_session(&random::hash(&secret), &user.id, auth_time)?;
    let cookie = Cookie::build((SESSION_COOKIE, secret))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/");
    Ok((jar.add(cookie), auth_time))
}

/// Ends this browser's session, if any; returns the jar with the cookie removed.
pub fn end(state: &State, jar: CookieJar) -> CookieJar {
    if let Some(cookie) = jar.get(SESSION_COOKIE) {
        let _ = state
            .store
            .provider()
            .end_session(&random::hash(cookie.value()));
    }
    jar.remove(Cookie::build(SESSION_COOKIE).path("/"))
}
