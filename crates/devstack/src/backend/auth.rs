//! Verifies a caller's JWT the way a Convex deployment checks an OIDC provider from
//! `auth.config.ts` (get-convex/convex-backend crates/authentication/src/lib.rs,
//! `validate_id_token`): pick the provider by the token's `iss` and `aud`, discover keys from the
//! token's own issuer (whose document must name that issuer exactly) through a cache that obeys
//! `Cache-Control` and is not refetched for an unknown `kid`, accept RS256 or EdDSA only, refuse
//! audiences other than the provider's, and check `exp` with no leeway, by the stack's clock.
//! Each failure carries the status and code Convex answers with.

use super::identity;
use super::key_cache::{Fetched, KeyCache};
use crate::lock;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};
use kinvex_clock::SharedClock;
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One entry of `auth.config.ts`: `{ domain, applicationID }`.
#[derive(Clone, Debug)]
pub struct Provider {
    pub domain: String,
    pub application_id: String,
}

/// The providers the project's `convex/auth.config.ts` declares: Kinde's access token for the
/// `convex` API audience, or its ID token whose audience is the client id.
pub fn providers(issuer: &str, client_id: &str) -> Vec<Provider> {
    vec![
        Provider {
            domain: issuer.into(),
            application_id: crate::CONVEX_AUDIENCE.into(),
        },
        Provider {
            domain: issuer.into(),
            application_id: client_id.into(),
        },
    ]
}

const UNVERIFIED: &str = "Could not verify OIDC token claim. Check that the token signature is valid and the token hasn't expired.";

#[derive(Clone, Debug, thiserror::Error, PartialEq)]
pub enum AuthError {
    /// The token is not a JWT with the claims an OIDC token has (401 `InvalidAuthHeader`).
    #[error("{0}")]
    Malformed(&'static str),
    /// No provider of `auth.config.ts` has the token's issuer and audience (401
    /// `NoAuthProvider`); the message lists them outside production.
    #[error("{0}")]
    NoProvider(String),
    /// The token's issuer could not be discovered (`AuthProviderDiscoveryFailed`, 400 unless
    /// the provider's own status maps to another).
    #[error("{message}")]
    Discovery { status: u16, message: String },
    /// Signature, algorithm, audience or expiry failed (401 `Unauthenticated`).
    #[error("{UNVERIFIED}")]
    Unverified,
}

impl AuthError {
    /// The stable `code` of the error body.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Malformed(_) => "InvalidAuthHeader",
            AuthError::NoProvider(_) => "NoAuthProvider",
            AuthError::Discovery { .. } => "AuthProviderDiscoveryFailed",
            AuthError::Unverified => "Unauthenticated",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            AuthError::Discovery { status, .. } => *status,
            _ => 401,
        }
    }
}

/// `exp` may be this many seconds past; Convex allows none.
const LEEWAY_SECONDS: i64 = 0;

/// How long a webhook's key set is trusted before refetching. Real time, like the `jose` cache of
/// `convex/functions/webhook.ts` that this mirrors.
const WEBHOOK_KEY_CACHE: Duration = Duration::from_secs(300);

pub struct Verifier {
    providers: Vec<Provider>,
    clock: SharedClock,
    cache: KeyCache,
    webhook_keys: Mutex<HashMap<String, (JwkSet, Instant)>>,
}

/// Trailing slashes are ignored and a scheme-less domain means `https://`.
fn normalise(domain: &str) -> String {
    let trimmed = domain.trim_end_matches('/');
    if trimmed.starts_with("https://") || trimmed.starts_with("http://") {
        trimmed.to_string()
    } else {
        format!("https://{trimmed}")
    }
}

fn audiences(claims: &Value) -> Vec<String> {
    match &claims["aud"] {
        Value::String(one) => vec![one.clone()],
        Value::Array(many) => many
            .iter()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

impl Verifier {
    pub fn new(providers: Vec<Provider>, clock: SharedClock) -> Verifier {
        Verifier {
            providers,
            cache: KeyCache::new(clock.clone()),
            clock,
            webhook_keys: Mutex::new(HashMap::new()),
        }
    }

    /// Verifies `token` and returns the identity functions see. `production` redacts the list
    /// of providers from the "no provider" message, as production deployments do.
    pub async fn verify(
        &self,
        http: &reqwest::Client,
        token: &str,
        production: bool,
    ) -> Result<Value, AuthError> {
        let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(token)
            .map_err(|_| {
                AuthError::Malformed(
                    "Could not parse JWT payload. Check that the token is a valid JWT format with three base64-encoded parts separated by dots.",
                )
            })?;
        let Some(issuer) = claims["iss"].as_str().map(str::to_string) else {
            return Err(AuthError::Malformed(
                "Missing issuer claim ('iss') in JWT payload. The JWT must include an 'iss' claim that matches one of your configured auth providers.",
            ));
        };
        let audience = audiences(&claims);
        let provider = self
            .providers
            .iter()
            .find(|p| {
                normalise(&p.domain) == normalise(&issuer) && audience.contains(&p.application_id)
            })
            .ok_or_else(|| AuthError::NoProvider(self.no_provider(production)))?;

        let keys = self.discover(http, &issuer).await?;

        let not_oidc = AuthError::Malformed(
            "Could not parse as OIDC ID token. Token might not be an OIDC-compliant JWT.",
        );
        let header = match jsonwebtoken::decode_header(token) {
            Ok(header) => header,
            // A JOSE header with an algorithm this verifier has no use for (`none`, say) parses
            // as an ID token's and fails verification; anything else is not a token at all.
            Err(_) if names_an_algorithm(token) => return Err(AuthError::Unverified),
            Err(_) => return Err(not_oidc),
        };
        let has = |claim: &str, ok: fn(&Value) -> bool| claims.get(claim).is_some_and(ok);
        if !(has("sub", Value::is_string)
            && has("exp", Value::is_number)
            && has("iat", Value::is_number)
            && !audience.is_empty())
        {
            return Err(not_oidc);
        }
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::EdDSA) {
            return Err(AuthError::Unverified);
        }
        // An audience besides the provider's is "untrusted"; the same one twice is not another.
        if audience.iter().any(|a| *a != provider.application_id) {
            return Err(AuthError::Unverified);
        }
        let jwk = signing_key(&keys, header.kid.as_deref(), header.alg)?;
        let key = DecodingKey::from_jwk(jwk).map_err(|_| AuthError::Unverified)?;
        let mut validation = crate::validity::untimed(header.alg);
        validation.validate_aud = false;
        validation.set_issuer(&[&issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let verified = jsonwebtoken::decode::<Value>(token, &key, &validation)
            .map_err(|_| AuthError::Unverified)?;
        let expires = verified.claims["exp"].as_f64().unwrap_or(0.0);
        if (self.clock.unix() - LEEWAY_SECONDS) as f64 >= expires {
            return Err(AuthError::Unverified);
        }
        match &verified.claims {
            Value::Object(claims) => Ok(identity::of(claims)),
            _ => Err(AuthError::Unverified),
        }
    }

    fn no_provider(&self, production: bool) -> String {
        if production {
            return "No auth provider found matching the given token".into();
        }
        if self.providers.is_empty() {
            return "No auth provider found matching the given token (no providers configured). Check convex/auth.config.ts.".into();
        }
        let listed = self
            .providers
            .iter()
            .map(|p| format!("OIDC(domain={}, app_id={})", p.domain, p.application_id))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "No auth provider found matching the given token. Check that your JWT's issuer and audience match one of your configured providers: [{listed}]"
        )
    }

    /// OpenID Connect discovery from the token's own `issuer`, as the `openidconnect` crate does
    /// it for Convex: the document at `issuer` joined with `.well-known/openid-configuration`,
    /// which must be JSON and name exactly that issuer, then its `jwks_uri`.
    async fn discover(&self, http: &reqwest::Client, issuer: &str) -> Result<JwkSet, AuthError> {
        let failed = |status: u16, detail: Option<String>| AuthError::Discovery {
            status,
            message: match detail {
                Some(detail) => format!("Auth provider discovery of {issuer} failed: {detail}"),
                None => format!("Auth provider discovery of {issuer} failed"),
            },
        };
        let separator = if issuer.ends_with('/') { "" } else { "/" };
        let url = format!("{issuer}{separator}.well-known/openid-configuration");
        let document = self.fetch(http, &url, &["application/json"]).await;
        let document: Value = match document {
            Ok(body) => serde_json::from_slice(&body).map_err(|_| failed(400, None))?,
            Err(Some(fetched)) => return Err(failed_with(&fetched, &failed)),
            Err(None) => return Err(failed(400, None)),
        };
        let required = [
            "authorization_endpoint",
            "jwks_uri",
            "response_types_supported",
            "subject_types_supported",
            "id_token_signing_alg_values_supported",
        ];
        if document["issuer"].as_str() != Some(issuer)
            || required.iter().any(|field| document[*field].is_null())
        {
            return Err(failed(400, None));
        }
        let jwks_uri = document["jwks_uri"].as_str().unwrap_or_default();
        let keys = self
            .fetch(
                http,
                jwks_uri,
                &["application/json", "application/jwk-set+json"],
            )
            .await;
        match keys {
            Ok(body) => serde_json::from_slice(&body).map_err(|_| failed(400, None)),
            Err(Some(fetched)) => Err(failed_with(&fetched, &failed)),
            Err(None) => Err(failed(400, None)),
        }
    }

    /// The body at `url` when it is a 200 of one of `types`; otherwise the response that was not
    /// (`None` when there was none).
    async fn fetch(
        &self,
        http: &reqwest::Client,
        url: &str,
        types: &[&str],
    ) -> Result<Vec<u8>, Option<Fetched>> {
        let fetched = self.cache.get(http, url).await.map_err(|_| None)?;
        let typed = fetched
            .content_type
            .as_deref()
            .and_then(|t| t.parse::<mime::Mime>().ok())
            .is_some_and(|t| types.iter().any(|want| t.essence_str() == *want));
        if fetched.status == StatusCode::OK && typed {
            Ok(fetched.body)
        } else {
            Err(Some(fetched))
        }
    }
}

/// A discovery failure for a response that was not a JSON 200: the provider's status decides
/// Convex's (`ErrorMetadata::from_http_status_code`: specific 4xx kept, other 4xx 400, 5xx 503).
fn failed_with(fetched: &Fetched, failed: &impl Fn(u16, Option<String>) -> AuthError) -> AuthError {
    let status = fetched.status;
    if status == StatusCode::OK {
        return failed(400, None);
    }
    let mapped = match status.as_u16() {
        401 | 403 | 404 | 429 | 425 | 421 => status.as_u16(),
        _ if status.is_client_error() => 400,
        _ if status.is_server_error() => 503,
        _ => 400,
    };
    let body = String::from_utf8_lossy(&fetched.body);
    failed(mapped, Some(format!("{status} {body}")))
}

/// Whether the token's first part is a JSON object with an `alg`.
fn names_an_algorithm(token: &str) -> bool {
    let header = token.split('.').next().unwrap_or_default();
    URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .is_some_and(|header| header["alg"].is_string())
}

/// The key that signed a token: the one named by `kid`, or, for a token without one, the only
/// key of the set that fits its algorithm.
fn signing_key<'k>(
    keys: &'k JwkSet,
    kid: Option<&str>,
    alg: Algorithm,
) -> Result<&'k Jwk, AuthError> {
    if let Some(kid) = kid {
        return keys.find(kid).ok_or(AuthError::Unverified);
    }
    let fits = |jwk: &&Jwk| {
        let kind_fits = match alg {
            Algorithm::RS256 => matches!(
                jwk.algorithm,
                jsonwebtoken::jwk::AlgorithmParameters::RSA(_)
            ),
            _ => matches!(
                jwk.algorithm,
                jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(_)
            ),
        };
        let alg_fits = jwk
            .common
            .key_algorithm
            .is_none_or(|a| format!("{a:?}") == format!("{alg:?}"));
        kind_fits && alg_fits
    };
    let mut candidates = keys.keys.iter().filter(fits);
    match (candidates.next(), candidates.next()) {
        (Some(only), None) => Ok(only),
        _ => Err(AuthError::Unverified),
    }
}

impl Verifier {
    /// The key `kid` from the JWKS at `url` (for webhooks, which carry no issuer to discover
    /// from); cached, with one refetch when the `kid` is unknown, as `jose`'s remote key set in
    /// `convex/functions/webhook.ts` does.
    pub async fn key_from(
        &self,
        http: &reqwest::Client,
        url: &str,
        kid: &str,
    ) -> Result<DecodingKey, String> {
        let cached = lock(&self.webhook_keys)
            .get(url)
            .filter(|(_, at)| at.elapsed() < WEBHOOK_KEY_CACHE)
            .and_then(|(set, _)| set.find(kid).cloned());
        let jwk = match cached {
            Some(jwk) => jwk,
            None => {
                let set = fetch_jwks(http, url).await?;
                let found = set.find(kid).cloned();
                lock(&self.webhook_keys).insert(url.to_string(), (set, Instant::now()));
                found.ok_or_else(|| format!("no key with kid {kid} in {url}"))?
            }
        };
        DecodingKey::from_jwk(&jwk).map_err(|e| format!("unusable key {kid}: {e}"))
    }
}

/// Fetches a JWKS document.
pub async fn fetch_jwks(http: &reqwest::Client, url: &str) -> Result<JwkSet, String> {
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|e| format!("key set fetch failed: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("key set at {url} answered {}", response.status()));
    }
    response
        .json()
        .await
        .map_err(|e| format!("key set is not a JWKS: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_match_with_or_without_slash_and_scheme() {
        assert_eq!(normalise("https://x.kinde.com/"), "https://x.kinde.com");
        assert_eq!(normalise("x.kinde.com"), "https://x.kinde.com");
        assert_eq!(normalise("http://127.0.0.1:1"), "http://127.0.0.1:1");
    }

    #[test]
    fn a_5xx_at_discovery_is_a_503_and_other_4xx_a_400() {
        let failed = |status, detail: Option<String>| AuthError::Discovery {
            status,
            message: detail.unwrap_or_default(),
        };
        let at = |status: u16| Fetched {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
            content_type: None,
            body: b"down".to_vec(),
        };
        assert_eq!(failed_with(&at(502), &failed).status(), 503);
        assert_eq!(failed_with(&at(404), &failed).status(), 404);
        assert_eq!(failed_with(&at(418), &failed).status(), 400);
        assert_eq!(failed_with(&at(200), &failed).status(), 400);
    }
}
