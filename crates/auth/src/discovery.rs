//! OIDC discovery for the tenant and its signing keys.
//!
//! The document's `issuer` must equal the configured issuer (a trailing slash in configuration is
//! tolerated, not in the document). Keys are cached; a token signed with an unknown `kid` makes
//! [`Provider::refresh_keys`] fetch them once more, as after a key rotation. Both requests are
//! retried under the client's [`RetryPolicy`](crate::http::RetryPolicy): a provider answering
//! 5xx or not in time ends as `provider_unavailable`, while an answer that is there but wrong
//! (404, not JSON, another issuer) is a `discovery` error pointing at `KINDE_ISSUER_URL`.

use crate::error::AuthError;
use crate::http::{HttpClient, Resend};
use openidconnect::core::{CoreJsonWebKeySet, CoreProviderMetadata};
use std::sync::RwLock;
use url::Url;

/// What the app knows about the tenant.
pub struct Provider {
    pub issuer: String,
    metadata: CoreProviderMetadata,
    keys: RwLock<CoreJsonWebKeySet>,
    /// Kinde's `/logout`, from `end_session_endpoint`.
    pub end_session: Option<Url>,
    /// RFC 7009 revocation, from `revocation_endpoint`.
    pub revocation: Option<Url>,
}

impl Provider {
    pub async fn discover(http: &HttpClient, issuer: &Url) -> Result<Provider, AuthError> {
        let issuer = issuer.as_str().trim_end_matches('/').to_string();
        let url = format!("{issuer}/.well-known/openid-configuration");
        let wrong = |detail: String| AuthError::Discovery {
            url: url.clone(),
            detail,
        };

        let answer = http
            .send(Resend::Always, |client| client.get(&url))
            .await
            .map_err(|failure| failure.at(&url))?;
        if !answer.status.is_success() {
            return Err(wrong(format!("HTTP {}", answer.status)));
        }
        let bytes = answer.body;
        let metadata: CoreProviderMetadata = serde_json::from_slice(&bytes)
            .map_err(|e| wrong(format!("not an OpenID configuration: {e}")))?;
        if metadata.issuer().as_str() != issuer {
            return Err(wrong(format!(
                "its issuer is `{}`, not `{issuer}`; set KINDE_ISSUER_URL to exactly the tenant's issuer",
                metadata.issuer().as_str()
            )));
        }
        let extra: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let endpoint = |key: &str| extra[key].as_str().and_then(|u| Url::parse(u).ok());
        let keys = fetch_keys(http, &metadata).await?;
        Ok(Provider {
            end_session: endpoint("end_session_endpoint"),
            revocation: endpoint("revocation_endpoint"),
            issuer,
            metadata,
            keys: RwLock::new(keys),
        })
    }

    /// Metadata with the current key set, for building a client.
    pub fn metadata(&self) -> CoreProviderMetadata {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner()).clone();
        self.metadata.clone().set_jwks(keys)
    }

    pub fn token_endpoint(&self) -> Option<&openidconnect::TokenUrl> {
        self.metadata.token_endpoint()
    }

    /// Fetches the key set again (after a token named a `kid` the cached set lacks).
    pub async fn refresh_keys(&self, http: &HttpClient) -> Result<(), AuthError> {
        let keys = fetch_keys(http, &self.metadata).await?;
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = keys;
        Ok(())
    }
}

async fn fetch_keys(
    http: &HttpClient,
    metadata: &CoreProviderMetadata,
) -> Result<CoreJsonWebKeySet, AuthError> {
    let url = metadata.jwks_uri().url().to_string();
    let answer = http
        .send(Resend::Always, |client| client.get(&url))
        .await
        .map_err(|failure| failure.at(&url))?;
    if !answer.status.is_success() {
        return Err(AuthError::Discovery {
            url,
            detail: format!("HTTP {}", answer.status),
        });
    }
    serde_json::from_slice::<CoreJsonWebKeySet>(&answer.body).map_err(|e| AuthError::Discovery {
        url,
        detail: format!("not a JWKS: {e}"),
    })
}
