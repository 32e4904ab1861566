//! The HTTP client every back-channel request goes through: no redirects (RFC 9700 §4.11; a
//! token endpoint that redirects must not be followed), bounded time, and one seam tests can use.

use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct HttpClient {
    inner: reqwest::Client,
}

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
        Ok(HttpClient { inner })
    }

    pub fn reqwest(&self) -> &reqwest::Client {
        &self.inner
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

impl<'c> AsyncHttpClient<'c> for HttpClient {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let url = parts.uri.to_string();
            let response = self
                .inner
                .request(parts.method, &url)
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(|e| HttpError(describe(&e)))?;
            let status = response.status();
            let headers = response.headers().clone();
            let bytes = response
                .bytes()
                .await
                .map_err(|e| HttpError(describe(&e)))?;
            let mut builder = openidconnect::http::Response::builder().status(status);
            if let Some(h) = builder.headers_mut() {
                *h = headers;
            }
            builder
                .body(bytes.to_vec())
                .map_err(|e| HttpError(e.to_string()))
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
}
