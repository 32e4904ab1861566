//! The authorization endpoint: it validates the request, then either completes it at once (the
//! browser already has a session) or holds it pending while the person uses the sign-in or
//! registration page ([`super::login`]), and finally issues the code.
//!
//! Order of checks follows RFC 6749 §4.1.2.1: an unknown client or a redirect URI that is not
//! registered gets an error page (redirecting would make the provider an open redirector);
//! every later problem goes back to the redirect URI as `error`, `error_description`, `state`.

use super::{organizations, session};
use crate::store::provider::{CodeGrant, Grant, User};
use crate::{State, lock, pages, random};
use axum::extract::{Query, RawQuery, State as Shared};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use serde::Deserialize;
use std::sync::Arc;
use url::Url;

/// How long a person has to finish the sign-in page.
const PENDING_SECONDS: i64 = 15 * 60;
/// The name of an organisation created without `org_name`.
const UNNAMED_ORG: &str = "My organization";

#[derive(Debug, Default, Deserialize)]
pub struct AuthorizeQuery {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    prompt: Option<String>,
    /// What Kinde's SDKs send for the registration screen: `registration` is `prompt=create`.
    start_page: Option<String>,
    login_hint: Option<String>,
    org_code: Option<String>,
    /// `true` creates an organisation named `org_name` and signs the person in to it.
    is_create_org: Option<String>,
    org_name: Option<String>,
    // `audience` may be repeated, which this struct cannot hold: see [`audiences`].
}

/// A validated authorization request waiting for the person to sign in.
#[derive(Clone, Debug)]
pub struct Pending {
    client_id: String,
    redirect_uri: String,
    scope: String,
    state: Option<String>,
    nonce: Option<String>,
    challenge: String,
    audience: Vec<String>,
    org_code: Option<String>,
    /// The name of the organisation to create (`is_create_org=true`), if one is to be.
    create_org: Option<String>,
    login_hint: String,
    expires_at: i64,
}

impl Pending {
    /// The `login_hint` to prefill the form with, if it is an email.
    pub(super) fn email_hint(&self) -> &str {
        email_hint(&self.login_hint)
    }

    /// The organisation the request asks to sign in to (none when it creates one).
    pub(super) fn org_code(&self) -> Option<&str> {
        match self.create_org {
            Some(_) => None,
            None => self.org_code.as_deref(),
        }
    }
}

/// Every `audience` of the query: Kinde takes several space-separated in one parameter (its docs)
/// and repeated parameters (what its SDKs send), so both are read.
fn audiences(raw_query: Option<&str>) -> Vec<String> {
    url::form_urlencoded::parse(raw_query.unwrap_or_default().as_bytes())
        .filter(|(key, _)| key == "audience")
        .flat_map(|(_, value)| {
            value
                .split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

pub(super) fn found(location: &str) -> Response {
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, location.to_string()),
            (header::CACHE_CONTROL, "no-store".into()),
        ],
    )
        .into_response()
}

/// Sends an error back to the client's redirect URI.
fn redirect_error(
    redirect_uri: &str,
    state: Option<&str>,
    error: &str,
    description: &str,
) -> Response {
    let mut url = match Url::parse(redirect_uri) {
        Ok(url) => url,
        Err(_) => return pages::error(StatusCode::BAD_REQUEST, "Invalid redirect", redirect_uri),
    };
    {
        let mut pairs = url.query_pairs_mut();
        pairs
            .append_pair("error", error)
            .append_pair("error_description", description);
        if let Some(state) = state {
            pairs.append_pair("state", state);
        }
    }
    found(url.as_str())
}

/// Exact match against the allow-list, or (when enabled) the same loopback URI on another port.
fn redirect_allowed(state: &State, candidate: &str) -> bool {
    if state
        .config
        .redirect_uris
        .iter()
        .any(|allowed| allowed == candidate)
    {
        return true;
    }
    if !state.config.any_loopback_port {
        return false;
    }
    let Ok(candidate) = Url::parse(candidate) else {
        return false;
    };
    let loopback = matches!(candidate.host_str(), Some("127.0.0.1" | "[::1]"));
    loopback
        && candidate.scheme() == "http"
        && state
            .config
            .redirect_uris
            .iter()
            .filter_map(|a| Url::parse(a).ok())
            .any(|allowed| {
                allowed.scheme() == "http"
                    && allowed.host_str() == candidate.host_str()
                    && allowed.path() == candidate.path()
                    && candidate.query().is_none()
                    && candidate.fragment().is_none()
            })
}

fn is_pkce_challenge(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub async fn authorize(
    Shared(state): Shared<Arc<State>>,
    jar: CookieJar,
    Query(query): Query<AuthorizeQuery>,
    RawQuery(raw_query): RawQuery,
) -> Response {
    if query.client_id.as_deref() != Some(state.config.client_id.as_str()) {
        return pages::error(
            StatusCode::BAD_REQUEST,
            "Unknown application",
            "The application that sent you here is not registered with this identity provider.",
        );
    }
    let Some(redirect_uri) = query
        .redirect_uri
        .clone()
        .filter(|r| redirect_allowed(&state, r))
    else {
        return pages::error(
            StatusCode::BAD_REQUEST,
            "Redirect URL not allowed",
            "The application asked to return to a URL that is not in its list of allowed callback URLs.",
        );
    };
    let client_state = query.state.as_deref();
    let fail = |error: &str, description: &str| {
        redirect_error(&redirect_uri, client_state, error, description)
    };

    if query.response_type.as_deref() != Some("code") {
        return fail(
            "unsupported_response_type",
            "Only response_type=code is supported",
        );
    }
    let Some(challenge) = query.code_challenge.clone() else {
        return fail(
            "invalid_request",
            "code_challenge is required: public clients must use PKCE",
        );
    };
    if query.code_challenge_method.as_deref() != Some("S256") {
        return fail("invalid_request", "code_challenge_method must be S256");
    }
    if !is_pkce_challenge(&challenge) {
        return fail(
            "invalid_request",
            "code_challenge must be 43 base64url characters",
        );
    }
    let scope = query.scope.clone().unwrap_or_default();
    if !scope.split_whitespace().any(|s| s == "openid") {
        return fail("invalid_scope", "The openid scope is required");
    }
    let prompt = match (query.prompt.as_deref(), query.start_page.as_deref()) {
        (None | Some(""), Some("registration")) => "create",
        (prompt, _) => prompt.unwrap_or(""),
    };
    if !matches!(prompt, "" | "login" | "create" | "none" | "consent") {
        return fail("invalid_request", "prompt must be login, create or none");
    }
    // Kinde leaves out audiences the application is not authorised for rather than failing.
    let mut audience: Vec<String> = Vec::new();
    for requested in audiences(raw_query.as_deref()) {
        if state.config.audiences.contains(&requested) && !audience.contains(&requested) {
            audience.push(requested);
        }
    }

    let pending = Pending {
        client_id: state.config.client_id.clone(),
        redirect_uri: redirect_uri.clone(),
        scope,
        state: query.state.clone(),
        nonce: query.nonce.clone(),
        challenge,
        audience,
        org_code: query.org_code.clone(),
        create_org: (query.is_create_org.as_deref() == Some("true")).then(|| {
            query
                .org_name
                .as_deref()
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .unwrap_or(UNNAMED_ORG)
                .to_string()
        }),
        login_hint: query.login_hint.clone().unwrap_or_default(),
        expires_at: state.clock.unix() + PENDING_SECONDS,
    };

    let session = session::current(&state, &jar);
    match (prompt, session) {
        ("none", Some((user, auth_time))) | ("" | "consent", Some((user, auth_time))) => {
            complete(&state, &pending, &user, auth_time)
        }
        ("none", None) => fail("login_required", "The user is not signed in"),
        _ => {
            let id = random::secret();
            let page = if prompt == "create" {
                pages::register(&id, email_hint(&pending.login_hint), None)
            } else {
                pages::sign_in(&id, email_hint(&pending.login_hint), None)
            };
            let mut pending_requests = lock(&state.pending);
            let now = state.clock.unix();
            pending_requests.retain(|_, p| p.expires_at > now);
            pending_requests.insert(id, pending);
            page
        }
    }
}

/// Kinde's `login_hint` may name a phone or username; only an email prefills the form.
fn email_hint(hint: &str) -> &str {
    if hint.contains('@') && !hint.contains(':') {
        hint
    } else {
        ""
    }
}

/// Issues a code bound to the request and sends the browser back to the client.
///
/// A request for an organisation the person is not a member of is refused once we know who they
/// are, with `error=access_denied` back to the client, the refusal RFC 6749 §4.1.2.1 has for a
/// request the resource owner cannot grant (Kinde joins people to an organisation only at
/// registration, when the organisation allows it). A request that creates an organisation
/// creates it now, with the person as its admin, and signs them in to it.
pub(super) fn complete(state: &State, pending: &Pending, user: &User, auth_time: i64) -> Response {
    let fail = |error: &str, description: &str| {
        redirect_error(
            &pending.redirect_uri,
            pending.state.as_deref(),
            error,
            description,
        )
    };
    if let Some(org_code) = pending.org_code()
        && !user.is_member(org_code)
    {
        return fail(
            "access_denied",
            "The user is not a member of the requested organization",
        );
    }
    let org_code = match &pending.create_org {
        Some(name) => match organizations::create(state, user, name) {
            Ok(org) => org.code,
            Err(e) => return fail("server_error", &e.to_string()),
        },
        None => pending
            .org_code
            .clone()
            .unwrap_or_else(|| user.default_org().to_string()),
    };
    let code = random::secret();
    let grant = CodeGrant {
        grant: Grant {
            user_id: user.id.clone(),
            client_id: pending.client_id.clone(),
            scope: pending.scope.clone(),
            audience: pending.audience.clone(),
            org_code: Some(org_code),
            auth_time,
        },
        redirect_uri: pending.redirect_uri.clone(),
        challenge: pending.challenge.clone(),
        nonce: pending.nonce.clone(),
        expires_at: state.clock.unix() + state.lifetimes().code.as_secs() as i64,
    };
    if let Err(e) = state
        .store
        .provider()
        .insert_code(&random::hash(&code), &grant)
    {
        return fail("server_error", &e.to_string());
    }
    let Ok(mut url) = Url::parse(&pending.redirect_uri) else {
        return pages::error(
            StatusCode::BAD_REQUEST,
            "Invalid redirect",
            &pending.redirect_uri,
        );
    };
    {
        let mut pairs = url.query_pairs_mut();
        pairs.append_pair("code", &code);
        if let Some(client_state) = &pending.state {
            pairs.append_pair("state", client_state);
        }
    }
    found(url.as_str())
}

/// The page for a sign-in or registration form whose request is unknown or too old.
pub(super) fn expired_request() -> Response {
    pages::error(
        StatusCode::BAD_REQUEST,
        "Sign-in request expired",
        "This sign-in request is no longer valid. Return to the app and start again.",
    )
}

/// The pending request `id`, if it has not expired.
pub(super) fn pending(state: &State, id: &str) -> Option<Pending> {
    let now = state.clock.unix();
    lock(&state.pending)
        .get(id)
        .filter(|p| p.expires_at > now)
        .cloned()
}

/// Removes the pending request `id`, to finish it.
pub(super) fn take_pending(state: &State, id: &str) -> Option<Pending> {
    lock(&state.pending).remove(id)
}

/// Ends a pending request because the person cancelled: `error=access_denied`.
pub(super) fn cancel(state: &State, id: &str) -> Response {
    match take_pending(state, id) {
        Some(p) => redirect_error(
            &p.redirect_uri,
            p.state.as_deref(),
            "access_denied",
            "The user cancelled the sign-in",
        ),
        None => expired_request(),
    }
}
