//! The provider's answer at the redirect URI, read the same way whichever way it arrives: as a
//! request to the loopback listener (RFC 8252 §7.3) or as a URL the operating system hands the
//! app for its private-use URI scheme (§7.1). Only the exact path with the expected `state` (and,
//! when present, the expected `iss`, RFC 9207) ends a sign-in; anything else is rejected and
//! changes nothing.

use crate::error::AuthError;
use crate::secret::Secret;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::oneshot;
use url::Url;

/// The authorization code, or why the provider sent none.
pub(crate) type Outcome = Result<Secret<String>, AuthError>;

/// Why a request to the redirect URI was not taken as the answer to the sign-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("This address is not part of signing in to Kinvex.")]
    WrongPath,
    #[error(
        "This response does not belong to the sign-in Kinvex started. Return to the app and try again."
    )]
    WrongState,
    #[error("This response came from a different sign-in service.")]
    WrongIssuer,
    #[error("The response carried no authorization code.")]
    NoCode,
    #[error("No sign-in is waiting for this response; it may have finished or been cancelled.")]
    NotWaiting,
    #[error(
        "This response names a parameter more than once, so it cannot be trusted. Return to the app and try again."
    )]
    Repeated,
}

/// A callback's query parameters by name. RFC 6749 §3.1: a parameter is never sent twice; a
/// repeated one is refused, since `state=guess&state=<the real one>` would otherwise pass the
/// `state` check with whichever copy a parser keeps.
pub(crate) fn parameters(
    pairs: impl IntoIterator<Item = (String, String)>,
) -> Result<HashMap<String, String>, Rejection> {
    let mut query = HashMap::new();
    for (name, value) in pairs {
        if query.insert(name, value).is_some() {
            return Err(Rejection::Repeated);
        }
    }
    Ok(query)
}

/// Reads a callback's query for the sign-in that expects `state` from `issuer`.
pub(crate) fn read(
    query: &HashMap<String, String>,
    state: &Secret<String>,
    issuer: &str,
) -> Result<Outcome, Rejection> {
    if query.get("state").map(String::as_str) != Some(state.expose().as_str()) {
        return Err(Rejection::WrongState);
    }
    if query
        .get("iss")
        .is_some_and(|iss| iss.trim_end_matches('/') != issuer.trim_end_matches('/'))
    {
        return Err(Rejection::WrongIssuer);
    }
    if let Some(error) = query.get("error") {
        return Ok(Err(if error == "access_denied" {
            AuthError::Denied
        } else {
            AuthError::Provider {
                error: error.clone(),
                description: query.get("error_description").cloned(),
            }
        }));
    }
    match query.get("code").filter(|c| !c.is_empty()) {
        Some(code) => Ok(Ok(Secret::new(code.clone()))),
        None => Err(Rejection::NoCode),
    }
}

/// Waits for the answer, a timeout or a cancel, whichever comes first.
pub(crate) async fn settle(
    answer: oneshot::Receiver<Outcome>,
    timeout: Duration,
    cancel: impl Future<Output = ()>,
) -> Outcome {
    tokio::select! {
        answer = answer => answer.unwrap_or(Err(AuthError::Cancelled)),
        _ = tokio::time::sleep(timeout) => Err(AuthError::Timeout { seconds: timeout.as_secs() }),
        _ = cancel => Err(AuthError::Cancelled),
    }
}

/// The sign-in, if any, that waits for its redirect through the app's URI scheme. The front end
/// that receives URLs from the operating system hands them to [`SchemeHandoff::deliver`].
#[derive(Default)]
pub struct SchemeHandoff {
    waiting: Mutex<Option<Waiting>>,
}

struct Waiting {
    redirect: Url,
    state: Secret<String>,
    issuer: String,
    answer: oneshot::Sender<Outcome>,
}

impl SchemeHandoff {
    /// Registers a sign-in; one started earlier stops waiting (it ends as cancelled).
    pub(crate) fn expect(
        &self,
        redirect: Url,
        state: Secret<String>,
        issuer: &str,
    ) -> oneshot::Receiver<Outcome> {
        let (answer, receiver) = oneshot::channel();
        *self.lock() = Some(Waiting {
            redirect,
            state,
            issuer: issuer.to_string(),
            answer,
        });
        receiver
    }

    /// Forgets the waiting sign-in (it ended some other way).
    pub(crate) fn clear(&self) {
        self.lock().take();
    }

    /// Ends the waiting sign-in with `url` if it is that sign-in's answer.
    pub fn deliver(&self, url: &Url) -> Result<(), Rejection> {
        let mut slot = self.lock();
        let waiting = slot.as_ref().ok_or(Rejection::NotWaiting)?;
        if url.scheme() != waiting.redirect.scheme()
            || url.host_str() != waiting.redirect.host_str()
            || url.path() != waiting.redirect.path()
        {
            return Err(Rejection::WrongPath);
        }
        let query = parameters(url.query_pairs().into_owned())?;
        let outcome = read(&query, &waiting.state, &waiting.issuer)?;
        let waiting = slot.take().ok_or(Rejection::NotWaiting)?;
        waiting
            .answer
            .send(outcome)
            .map_err(|_| Rejection::NotWaiting)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Waiting>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "https://tenant.kinde.com";

    fn waiting(handoff: &SchemeHandoff) -> oneshot::Receiver<Outcome> {
        handoff.expect(
            Url::parse("dev.kinvex.desktop:/callback").unwrap(),
            Secret::new("expected-state".into()),
            ISSUER,
        )
    }

    fn code_of(outcome: Outcome) -> String {
        outcome.unwrap().expose().clone()
    }

    #[test]
    fn the_genuine_answer_ends_the_sign_in_once() {
        let handoff = SchemeHandoff::default();
        let mut answer = waiting(&handoff);
        let url = Url::parse("dev.kinvex.desktop:/callback?code=abc&state=expected-state").unwrap();
        handoff.deliver(&url).unwrap();
        assert_eq!(code_of(answer.try_recv().unwrap()), "abc");
        assert_eq!(handoff.deliver(&url), Err(Rejection::NotWaiting));
    }

    #[test]
    fn forged_or_stray_urls_change_nothing() {
        let handoff = SchemeHandoff::default();
        let mut answer = waiting(&handoff);
        for (url, why) in [
            (
                "dev.kinvex.desktop:/callback?code=abc&state=other",
                Rejection::WrongState,
            ),
            (
                "dev.kinvex.desktop:/callback?code=abc",
                Rejection::WrongState,
            ),
            (
                "dev.kinvex.desktop:/elsewhere?code=abc&state=expected-state",
                Rejection::WrongPath,
            ),
            (
                "other.app:/callback?code=abc&state=expected-state",
                Rejection::WrongPath,
            ),
            (
                "dev.kinvex.desktop:/callback?code=abc&state=expected-state&iss=https%3A%2F%2Fevil.example",
                Rejection::WrongIssuer,
            ),
            (
                "dev.kinvex.desktop:/callback?state=expected-state",
                Rejection::NoCode,
            ),
            (
                "dev.kinvex.desktop:/callback?code=abc&state=guess&state=expected-state",
                Rejection::Repeated,
            ),
            (
                "dev.kinvex.desktop:/callback?code=evil&code=abc&state=expected-state",
                Rejection::Repeated,
            ),
        ] {
            assert_eq!(
                handoff.deliver(&Url::parse(url).unwrap()),
                Err(why),
                "{url}"
            );
        }
        assert!(answer.try_recv().is_err(), "still waiting");
        let genuine = Url::parse(
            "dev.kinvex.desktop:/callback?code=xyz&state=expected-state&iss=https%3A%2F%2Ftenant.kinde.com",
        )
        .unwrap();
        handoff.deliver(&genuine).unwrap();
        assert_eq!(code_of(answer.try_recv().unwrap()), "xyz");
    }

    #[test]
    fn a_refusal_from_the_provider_is_the_answer() {
        let handoff = SchemeHandoff::default();
        let mut answer = waiting(&handoff);
        let url =
            Url::parse("dev.kinvex.desktop:/callback?error=access_denied&state=expected-state")
                .unwrap();
        handoff.deliver(&url).unwrap();
        assert!(matches!(answer.try_recv().unwrap(), Err(AuthError::Denied)));
    }

    #[test]
    fn nothing_is_delivered_after_the_sign_in_gave_up() {
        let handoff = SchemeHandoff::default();
        let answer = waiting(&handoff);
        handoff.clear();
        drop(answer);
        let url = Url::parse("dev.kinvex.desktop:/callback?code=abc&state=expected-state").unwrap();
        assert_eq!(handoff.deliver(&url), Err(Rejection::NotWaiting));
    }
}
