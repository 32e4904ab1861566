//! A Convex client over plain HTTP: `query`, `mutation` and `action` in Convex's wire format,
//! with errors that keep a function's own failure (`errorMessage`, `errorData`), a rejected
//! sign-in and a transport failure apart. Calls made as the signed-in person renew the session
//! once and retry once when Convex answers 401.

pub mod data;

use kinvex_auth::{Auth, AuthError, Secret};
use serde_json::{Value, json};
use std::time::Duration;
use url::Url;

/// Sent as `Convex-Client`, which Convex wants as `<name>-<semver>`.
const CLIENT_NAME: &str = concat!("kinvex-", env!("CARGO_PKG_VERSION"));

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Query,
    Mutation,
    Action,
}

impl Kind {
    fn endpoint(self) -> &'static str {
        match self {
            Kind::Query => "api/query",
            Kind::Mutation => "api/mutation",
            Kind::Action => "api/action",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConvexError {
    /// The function ran and threw; `data` is the `ConvexError` payload, if any.
    #[error("{message}")]
    Function {
        message: String,
        data: Option<Value>,
    },
    #[error("The backend did not accept your sign-in ({code}): {message}")]
    Unauthenticated { code: String, message: String },
    #[error("The backend answered HTTP {status} ({code}): {message}")]
    Http {
        status: u16,
        code: String,
        message: String,
    },
    #[error("Cannot reach the backend at {url}: {detail}. Check your connection and try again.")]
    Transport { url: String, detail: String },
    #[error(
        "CONVEX_URL is not set. Set it to your deployment, for example: CONVEX_URL=https://happy-animal-123.convex.cloud"
    )]
    NotConfigured,
    #[error(transparent)]
    Auth(#[from] AuthError),
}

impl ConvexError {
    /// A stable identifier for this kind of failure.
    pub fn code(&self) -> &'static str {
        match self {
            ConvexError::Function { .. } => "function_error",
            ConvexError::Unauthenticated { .. } => "unauthenticated",
            ConvexError::Http { .. } => "backend_error",
            ConvexError::Transport { .. } => "backend_unreachable",
            ConvexError::NotConfigured => "config",
            ConvexError::Auth(e) => e.code(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    url: Url,
}

impl Client {
    /// Fails only if the environment's proxy settings or the TLS backend are unusable.
    pub fn new(url: Url) -> Result<Client, ConvexError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| ConvexError::Transport {
                url: url.to_string(),
                detail: format!("cannot set up HTTPS ({e})"),
            })?;
        Ok(Client { http, url })
    }

    /// The client for the deployment in the sign-in configuration. It shares the sign-in
    /// core's HTTP client (same rules: no redirects, bounded time): one connection pool, and
    /// the TLS set-up (loading the system's certificates) is paid once.
    pub fn for_auth(auth: &Auth) -> Result<Client, ConvexError> {
        Ok(Client {
            http: auth.http().reqwest().clone(),
            url: auth
                .config
                .convex_url
                .clone()
                .ok_or(ConvexError::NotConfigured)?,
        })
    }

    /// One call, as `token`'s owner or anonymously.
    pub async fn call(
        &self,
        kind: Kind,
        path: &str,
        args: &Value,
        token: Option<&Secret<String>>,
    ) -> Result<Value, ConvexError> {
        let url = self
            .url
            .join(kind.endpoint())
            .map_err(|e| ConvexError::Transport {
                url: self.url.to_string(),
                detail: e.to_string(),
            })?;
        let mut request = self
            .http
            .post(url.clone())
            .header("Convex-Client", CLIENT_NAME)
            .json(&json!({ "path": path, "args": args, "format": "json" }));
        if let Some(token) = token {
            request = request.bearer_auth(token.expose());
        }
        let transport = |e: reqwest::Error| ConvexError::Transport {
            url: self.url.to_string(),
            detail: kinvex_auth::http::describe(&e),
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return match body["status"].as_str() {
                Some("success") => Ok(body["value"].clone()),
                Some("error") => Err(ConvexError::Function {
                    message: body["errorMessage"]
                        .as_str()
                        .unwrap_or("the function failed")
                        .to_string(),
                    data: body.get("errorData").cloned(),
                }),
                _ => Err(ConvexError::Http {
                    status: status.as_u16(),
                    code: "BadResponse".into(),
                    message: "not a Convex response".into(),
                }),
            };
        }
        let code = body["code"].as_str().unwrap_or("").to_string();
        let message = body["message"].as_str().unwrap_or("").to_string();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            Err(ConvexError::Unauthenticated { code, message })
        } else {
            Err(ConvexError::Http {
                status: status.as_u16(),
                code,
                message,
            })
        }
    }

    /// A call as the signed-in person. A 401 renews the session once and retries once.
    pub async fn call_as(
        &self,
        auth: &Auth,
        kind: Kind,
        path: &str,
        args: &Value,
    ) -> Result<Value, ConvexError> {
        let token = auth.bearer().await?;
        match self.call(kind, path, args, Some(&token)).await {
            Err(ConvexError::Unauthenticated { .. }) => {
                let renewed = auth.bearer_after_rejection(&token).await?;
                self.call(kind, path, args, Some(&renewed)).await
            }
            other => other,
        }
    }
}
