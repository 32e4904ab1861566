//! The HTTP client every back-channel request goes through: no redirects (RFC 9700 §4.11; a
//! token endpoint that redirects must not be followed), bounded time, one retry policy for the
//! provider's hiccups (5xx, refused or broken connections, timeouts) shared by discovery, the
//! keys, the code exchange and refresh, and one seam tests can use.

use crate::error::AuthError;
use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio::time::Instant;

/// How a call to the provider is repeated when the provider, not the request, is the problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, the first included; 1 never retries.
    pub attempts: u32,
    /// The pause before the first retry; each later one doubles, up to `max_pause`.
    pub first_pause: Duration,
    pub max_pause: Duration,
    /// How long one try may take, from connecting to the body's last byte.
    pub attempt_timeout: Duration,
    /// How long the whole call may take, pauses included: no try runs past it.
    pub budget: Duration,
}

impl RetryPolicy {
    /// Four tries 0.25, 0.5 and 1 s apart ride out a restart or a load balancer's blip without
    /// keeping a person at a sign-in long from the message; 15 s is far beyond a healthy
    /// provider's answer, and 30 s in all bounds one that hangs.
    pub const DEFAULT: RetryPolicy = RetryPolicy {
        attempts: 4,
        first_pause: Duration::from_millis(250),
        max_pause: Duration::from_secs(2),
        attempt_timeout: Duration::from_secs(15),
        budget: Duration::from_secs(30),
    };

    /// The pause before retry number `retry` (1 for the first).
    pub fn pause_before(&self, retry: u32) -> Duration {
        let doubling = 2u32.saturating_pow(retry.saturating_sub(1));
        self.first_pause
            .saturating_mul(doubling)
            .min(self.max_pause)
    }
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy::DEFAULT
    }
}

/// Whether a request may be sent again when the provider may already have processed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resend {
    /// Harmless twice: reads, and a refresh (a lost answer leaves only the old refresh token
    /// either way, so trying it again at once is its best chance). Retried after any transient
    /// failure.
    Always,
    /// Spends something single-use (an authorization code): retried only when the provider
    /// cannot have used it, because no connection was made or it answered 5xx or 429. After a
    /// timeout or a broken connection the code may be spent, and a second use is what RFC 6749
    /// §4.1.2 treats as a stolen code (the provider revokes what it issued), so the call fails
    /// as unavailable and the person signs in again.
    IfUnprocessed,
}

/// The provider's answer, its body read.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// Why a call to the provider got no answer it could use, after its retries.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// No connection could be made (refused, no such host, connect timeout): nothing was sent.
    #[error("{0}")]
    Unreachable(String),
    /// The provider answered 5xx or 429, did not answer in time, or broke the connection.
    #[error("{0}")]
    Unavailable(String),
}

impl Failure {
    /// The sign-in error for a call to `url` that ended in this failure.
    pub fn at(self, url: &str) -> AuthError {
        let url = url.to_string();
        match self {
            Failure::Unreachable(detail) => AuthError::ProviderUnreachable { url, detail },
            Failure::Unavailable(detail) => AuthError::ProviderUnavailable { url, detail },
        }
    }
}

/// The back-channel client, and the retry policy its calls to the provider follow.
#[derive(Clone, Debug)]
pub struct HttpClient {
    inner: reqwest::Client,
    retry: RetryPolicy,
}

/// The HTTP client could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

impl HttpClient {
    /// Fails only if the environment's proxy settings or the TLS backend are unusable.
    pub fn new() -> Result<HttpClient, HttpError> {
        let inner = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("kinvex/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                HttpError(format!(
                    "cannot set up HTTPS ({e}); check HTTPS_PROXY and HTTP_PROXY"
                ))
            })?;
        Ok(HttpClient {
            inner,
            retry: RetryPolicy::DEFAULT,
        })
    }

    /// This client retrying provider calls under `policy` instead of [`RetryPolicy::DEFAULT`].
    #[must_use]
    pub fn with_retry(mut self, policy: RetryPolicy) -> HttpClient {
        self.retry = policy;
        self
    }

    pub fn retry(&self) -> RetryPolicy {
        self.retry
    }

    pub fn reqwest(&self) -> &reqwest::Client {
        &self.inner
    }

    /// Sends the request `build` makes to the provider, building it again for each retry the
    /// policy and `resend` allow. Any answer but 5xx or 429 is returned, for the caller to
    /// read; those, and transport failures, end as a [`Failure`] once the retries are spent.
    pub async fn send(
        &self,
        resend: Resend,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Answer, Failure> {
        let policy = self.retry;
        let started = Instant::now();
        let mut attempt = 1;
        let mut asked: Option<Duration> = None;
        loop {
            let left = policy.budget.saturating_sub(started.elapsed());
            let (failure, retriable) = match self
                .try_once(&build, policy.attempt_timeout.min(left))
                .await
            {
                Ok(answer) => return Ok(answer),
                Err(Trouble::Fatal(detail)) => return Err(Failure::Unreachable(detail)),
                Err(Trouble::NotSent(detail)) => (Failure::Unreachable(detail), true),
                Err(Trouble::Refused {
                    detail,
                    retry_after,
                }) => {
                    asked = retry_after;
                    (Failure::Unavailable(detail), true)
                }
                Err(Trouble::MaybeProcessed(detail)) => {
                    (Failure::Unavailable(detail), resend == Resend::Always)
                }
            };
            // A provider that says when to come back (429 or 503 with `Retry-After`, RFC 9110
            // §10.2.3) is not asked sooner; when that is past the budget, the call ends now
            // with the provider's own estimate rather than after pointless tries.
            let pause = policy.pause_before(attempt).max(asked.unwrap_or_default());
            if let Some(wait) = asked.take()
                && started.elapsed() + wait >= policy.budget
            {
                return Err(Failure::Unavailable(format!(
                    "{failure}; it asks to be tried again in {}",
                    readable(wait)
                )));
            }
            if !retriable
                || attempt >= policy.attempts
                || started.elapsed() + pause >= policy.budget
            {
                return Err(failure);
            }
            tracing::info!("the sign-in service: {failure}; trying again in {pause:?}");
            // The provider has just failed: an immediate retry would meet the same overload, and
            // no event says when it recovers, so a bounded backoff is the signal there is.
            tokio::time::sleep(pause).await;
            attempt += 1;
        }
    }

    async fn try_once(
        &self,
        build: &impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        timeout: Duration,
    ) -> Result<Answer, Trouble> {
        let request = build(&self.inner)
            .build()
            .map_err(|e| Trouble::Fatal(describe(&e)))?;
        let exchange = async {
            let response = self.inner.execute(request).await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await?.to_vec();
            Ok::<_, reqwest::Error>(Answer {
                status,
                headers,
                body,
            })
        };
        match tokio::time::timeout(timeout, exchange).await {
            Err(_) => Err(Trouble::MaybeProcessed(format!(
                "it did not answer within {}",
                readable(timeout)
            ))),
            Ok(Err(e)) if e.is_connect() => Err(Trouble::NotSent(describe(&e))),
            Ok(Err(e)) if e.is_builder() => Err(Trouble::Fatal(describe(&e))),
            Ok(Err(e)) => Err(Trouble::MaybeProcessed(describe(&e))),
            Ok(Ok(answer))
                if answer.status.is_server_error()
                    || answer.status == StatusCode::TOO_MANY_REQUESTS =>
            {
                Err(Trouble::Refused {
                    detail: format!("HTTP {}", answer.status.as_u16()),
                    retry_after: retry_after(&answer.headers),
                })
            }
            Ok(Ok(answer)) => Ok(answer),
        }
    }
}

/// What went wrong with one try.
enum Trouble {
    /// The request cannot be sent at all (a malformed URL): trying again cannot help.
    Fatal(String),
    /// No connection was made, so nothing reached the provider.
    NotSent(String),
    /// The provider answered that it did not serve the request (5xx, 429), perhaps saying when
    /// to come back.
    Refused {
        detail: String,
        retry_after: Option<Duration>,
    },
    /// Timed out or broke after the request may have reached the provider.
    MaybeProcessed(String),
}

/// `Retry-After` in delta-seconds. The HTTP-date form would need the wall clock this client is
/// not given; without a usable value the policy's own backoff applies.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

fn readable(duration: Duration) -> String {
    if duration >= Duration::from_secs(1) {
        format!("{} seconds", duration.as_secs())
    } else {
        format!("{} ms", duration.as_millis())
    }
}

/// Describes a transport failure without the request body (which may carry a secret).
pub fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "the request timed out".into()
    } else if error.is_connect() {
        "could not connect".into()
    } else {
        let mut text = error.to_string();
        if let Some(url) = error.url() {
            text = text.replace(url.as_str(), url.path());
        }
        text
    }
}

/// openidconnect's requests through this client are token requests (the code exchange), so
/// they are resent only when the provider cannot have processed them.
impl<'c> AsyncHttpClient<'c> for HttpClient {
    type Error = Failure;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Failure>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let url = parts.uri.to_string();
            let answer = self
                .send(Resend::IfUnprocessed, |http| {
                    http.request(parts.method.clone(), &url)
                        .headers(parts.headers.clone())
                        .body(body.clone())
                })
                .await?;
            let mut builder = openidconnect::http::Response::builder().status(answer.status);
            if let Some(h) = builder.headers_mut() {
                *h = answer.headers;
            }
            builder
                .body(answer.body)
                .map_err(|e| Failure::Unavailable(format!("an unusable answer: {e}")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_https_client_builds_on_the_system_tls_and_fails_cleanly() {
        let client = HttpClient::new().unwrap();
        // Nothing listens on port 1: a TLS client that was built reports a connection error.
        let error = client
            .reqwest()
            .get("https://127.0.0.1:1/")
            .send()
            .await
            .unwrap_err();
        assert_eq!(describe(&error), "could not connect");
    }

    #[test]
    fn pauses_double_up_to_the_cap() {
        let policy = RetryPolicy {
            first_pause: Duration::from_millis(250),
            max_pause: Duration::from_millis(800),
            ..RetryPolicy::DEFAULT
        };
        let pauses: Vec<_> = (1..=4)
            .map(|r| policy.pause_before(r).as_millis())
            .collect();
        assert_eq!(pauses, [250, 500, 800, 800]);
        assert_eq!(policy.pause_before(u32::MAX), Duration::from_millis(800));
    }
}
