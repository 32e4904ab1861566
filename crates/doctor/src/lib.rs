//! `kinvex doctor` and the app's Diagnostics view: the hops between a person and their data
//! (settings, the provider's discovery and keys, the clock, the keychain, the token Convex gets,
//! renewals, the deployment), each checked, timed, and explained with the setting to change.
//! It never fails: every problem it meets is a finding in the [`Report`].

mod checks;
mod report;

pub use report::{Check, Report, Status};

use kinvex_auth::Auth;
use kinvex_auth::config::Sources;
use kinvex_clock::SharedClock;
use url::Url;

/// What a diagnosis looks at: what the CLI and the app already hold.
pub struct Inputs<'a> {
    pub auth: &'a Auth,
    /// The deployment to call; `None` when `CONVEX_URL` is not set.
    pub convex_url: Option<&'a Url>,
    /// The app's clock, the one `auth` reads (skew is measured against it).
    pub clock: SharedClock,
    /// Where the settings came from; `None` reads the system's (environment, `./.env`, the
    /// build's defaults), as [`kinvex_auth::Config::from_system`] does.
    pub sources: Option<&'a Sources>,
}

impl<'a> Inputs<'a> {
    /// For `auth` as the CLI and the app build it: its configured deployment, the system clock
    /// and the system's settings sources.
    pub fn new(auth: &'a Auth) -> Inputs<'a> {
        Inputs {
            auth,
            convex_url: auth.config.convex_url.as_ref(),
            clock: kinvex_clock::system(),
            sources: None,
        }
    }
}

/// Runs every check, in the order a request travels. Every network wait is bounded.
pub async fn run(inputs: Inputs<'_>) -> Report {
    checks::run(inputs).await
}
