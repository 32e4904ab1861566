//! The checks, a module per hop, and the order they run in: the keychain and the session first
//! (later hops need the token), then the provider, then the token's own rules and the deployment.
//! The report lists them in the order a request travels.

mod client;
mod clock;
mod deployment;
mod discovery;
mod jwks;
mod keychain;
mod refresh;
mod settings;
mod token;

use crate::{Check, Inputs, Report, Status};
use kinvex_auth::config::Sources;
use kinvex_auth::http::{HttpClient, RetryPolicy};
use std::time::{Duration, Instant};

/// The provider's hiccups get one more try, so a single blip is not reported as a broken set-up,
/// and a provider that hangs is reported within 15 seconds rather than the sign-in's 30.
const POLICY: RetryPolicy = RetryPolicy {
    attempts: 2,
    first_pause: Duration::from_millis(250),
    max_pause: Duration::from_millis(250),
    attempt_timeout: Duration::from_secs(10),
    budget: Duration::from_secs(15),
};

/// What to tell a person who is not signed in.
pub const SIGN_IN: &str = "Sign in first: run `kinvex login` (or Sign in in the app).";

pub async fn run(inputs: Inputs<'_>) -> Report {
    let system;
    let sources = match inputs.sources {
        Some(sources) => sources,
        None => {
            system = Sources::system();
            &system
        }
    };
    let auth = inputs.auth;
    let http: HttpClient = auth.http().clone().with_retry(POLICY);

    let settings = timed(async || settings::check(auth, sources)).await;
    let (keychain, stored) = keychain::check(auth).await;
    let session = match stored {
        Some(_) => Some(token::session(auth).await),
        None => None,
    };
    let (discovery, document, observed) =
        discovery::check(auth, &http, sources, &inputs.clock).await;
    let client = timed(async || client::check(auth, &http, document.as_ref()).await).await;
    let decoded = session
        .as_ref()
        .and_then(|s| s.as_ref().ok())
        .and_then(|tokens| token::decode(auth, tokens).ok());
    let (jwks, key_count) = jwks::check(&http, document.as_ref(), decoded.as_ref()).await;
    let clock = timed(async || clock::check(observed.as_ref())).await;
    let token = timed(async || {
        token::check(
            auth,
            session.as_ref(),
            document.as_ref(),
            key_count,
            &inputs.clock,
        )
    })
    .await;
    let refresh = timed(async || refresh::check(auth, session.as_ref())).await;
    let convex = timed(async || {
        deployment::check(auth, inputs.convex_url, session.as_ref(), decoded.as_ref()).await
    })
    .await;
    Report::new(vec![
        settings, discovery, client, jwks, clock, keychain, token, refresh, convex,
    ])
}

/// Runs `check` and records how long it took.
async fn timed(check: impl AsyncFnOnce() -> Check) -> Check {
    let started = Instant::now();
    let mut check = check().await;
    check.millis = millis(started);
    check
}

pub fn millis(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The most serious of `statuses`: a failure over a warning over ok; `Ok` for none.
pub fn worst(statuses: impl IntoIterator<Item = Status>) -> Status {
    let rank = |s: &Status| match s {
        Status::Fail => 3,
        Status::Warn => 2,
        Status::Skip => 1,
        Status::Ok => 0,
    };
    statuses.into_iter().max_by_key(rank).unwrap_or(Status::Ok)
}

/// A check with no details yet, its fix to be given when the status is not `ok`.
pub fn finding(id: &'static str, title: &str, status: Status, summary: impl Into<String>) -> Check {
    Check {
        id,
        title: title.to_string(),
        status,
        summary: summary.into(),
        details: Vec::new(),
        fix: None,
        millis: 0,
    }
}

impl Check {
    pub(crate) fn detail(mut self, label: &str, value: impl Into<String>) -> Check {
        self.details.push((label.to_string(), value.into()));
        self
    }

    pub(crate) fn fix(mut self, fix: impl Into<String>) -> Check {
        self.fix = Some(fix.into());
        self
    }
}
