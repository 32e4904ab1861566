//! Verifies a caller's JWT the way a Convex deployment checks an OIDC provider from
//! `auth.config.ts`: pick the provider by the token's `iss` and `aud`, discover keys from the
//! token's own issuer (whose document must name that issuer exactly), accept RS256 or EdDSA only,
//! reject several audiences, and check `exp` with no leeway, by the stack's clock.

use crate::{lock, validity};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey};
use kinvex_clock::SharedClock;
use serde_json::{Map, Value};
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

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AuthError {
    #[error(
        "No auth provider found matching the given token. Check that your JWT's issuer and audience match one of your configured providers: {0}"
    )]
    NoProvider(String),
    #[error(
        "Could not verify OIDC token claim. Check that the token signature is valid and the token hasn't expired. ({0})"
    )]
    Invalid(String),
}

impl AuthError {
    /// The stable `code` of the 401 body.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::NoProvider(_) => "NoAuthProvider",
            AuthError::Invalid(_) => "InvalidAuthHeader",
        }
    }
}

/// How long fetched discovery documents and key sets are trusted before refetching. Measured in
/// real time (`Instant`), not by the stack's clock: it bounds network staleness, and a test that
/// moves the clock past a token's expiry should not also make the backend refetch keys through
/// the provider (whose injected faults would count that request).
const KEY_CACHE: Duration = Duration::from_secs(300);

/// `exp` may be this many seconds past; Convex allows none.
const LEEWAY_SECONDS: u64 = 0;

pub struct Verifier {
    providers: Vec<Provider>,
    clock: SharedClock,
    keys: Mutex<HashMap<String, (JwkSet, Instant)>>,
}

/// Trailing slashes are ignored and a scheme-less domain means `https://`.
fn normalise(domain: &str) -> String {
    let trimmed = domain.trim_end_matches('/');
    if trimmed.contains("://") {
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
            clock,
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// Verifies `token` and returns the identity functions see.
    pub async fn verify(&self, http: &reqwest::Client, token: &str) -> Result<Value, AuthError> {
        let invalid = |why: &str| AuthError::Invalid(why.to_string());
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| invalid(&format!("malformed token: {e}")))?;
        let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(token)
            .map_err(|e| invalid(&format!("malformed claims: {e}")))?;
        let issuer = claims["iss"]
            .as_str()
            .ok_or_else(|| invalid("the token has no iss"))?
            .to_string();
        let audience = audiences(&claims);
        let provider = self
            .providers
            .iter()
            .find(|p| {
                normalise(&p.domain) == normalise(&issuer) && audience.contains(&p.application_id)
            })
            .ok_or_else(|| AuthError::NoProvider(self.describe()))?;
        if audience.len() > 1 {
            return Err(invalid(
                "tokens with more than one audience are not supported for OIDC providers",
            ));
        }
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::EdDSA) {
            return Err(invalid(&format!(
                "algorithm {:?} is not accepted (RS256 or EdDSA)",
                header.alg
            )));
        }
        let kid = header
            .kid
            .clone()
            .ok_or_else(|| invalid("the token has no kid"))?;
        let key = self.key(http, &issuer, &kid).await?;

        let mut validation = validity::untimed(header.alg);
        validation.set_issuer(&[&issuer]);
        validation.set_audience(&[&provider.application_id]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let verified = jsonwebtoken::decode::<Value>(token, &key, &validation)
            .map_err(|e| invalid(&e.to_string()))?;
        validity::check_exp(&verified.claims, self.clock.unix(), LEEWAY_SECONDS)
            .map_err(|e| invalid(&e.to_string()))?;
        if !verified.claims["iat"].is_number() {
            return Err(invalid("the token has no iat"));
        }
        Ok(identity(verified.claims))
    }

    fn describe(&self) -> String {
        self.providers
            .iter()
            .map(|p| format!("OIDC(domain={}, app_id={})", p.domain, p.application_id))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The key `kid` of `issuer`, from cache or discovery; an unknown `kid` refetches once.
    async fn key(
        &self,
        http: &reqwest::Client,
        issuer: &str,
        kid: &str,
    ) -> Result<DecodingKey, AuthError> {
        let cached = lock(&self.keys)
            .get(issuer)
            .filter(|(_, at)| at.elapsed() < KEY_CACHE)
            .and_then(|(set, _)| set.find(kid).cloned());
        let jwk = match cached {
            Some(jwk) => jwk,
            None => {
                let set = discover(http, issuer).await?;
                let found = set.find(kid).cloned();
                lock(&self.keys).insert(issuer.to_string(), (set, Instant::now()));
                found.ok_or_else(|| {
                    AuthError::Invalid(format!("no key with kid {kid} at the issuer"))
                })?
            }
        };
        DecodingKey::from_jwk(&jwk)
            .map_err(|e| AuthError::Invalid(format!("unusable key {kid}: {e}")))
    }
}

impl Verifier {
    /// The key `kid` from the JWKS at `url` (for webhooks, which carry no issuer to discover
    /// from); cached, with one refetch when the `kid` is unknown.
    pub async fn key_from(
        &self,
        http: &reqwest::Client,
        url: &str,
        kid: &str,
    ) -> Result<DecodingKey, String> {
        let cache_key = format!("jwks {url}");
        let cached = lock(&self.keys)
            .get(&cache_key)
            .filter(|(_, at)| at.elapsed() < KEY_CACHE)
            .and_then(|(set, _)| set.find(kid).cloned());
        let jwk = match cached {
            Some(jwk) => jwk,
            None => {
                let set = fetch_jwks(http, url).await?;
                let found = set.find(kid).cloned();
                lock(&self.keys).insert(cache_key, (set, Instant::now()));
                found.ok_or_else(|| format!("no key with kid {kid} in {url}"))?
            }
        };
        DecodingKey::from_jwk(&jwk).map_err(|e| format!("unusable key {kid}: {e}"))
    }
}

/// Fetches the issuer's discovery document and then its key set.
async fn discover(http: &reqwest::Client, issuer: &str) -> Result<JwkSet, AuthError> {
    let invalid = |why: String| AuthError::Invalid(why);
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let response = http
        .get(&url)
        .send()
        .await
        .map_err(|e| invalid(format!("discovery failed: {e}")))?;
    let is_json = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !response.status().is_success() || !is_json {
        return Err(invalid(format!(
            "discovery at {url} answered {}",
            response.status()
        )));
    }
    let document: Value = response
        .json()
        .await
        .map_err(|e| invalid(format!("discovery is not JSON: {e}")))?;
    if document["issuer"].as_str() != Some(issuer) {
        return Err(invalid(format!(
            "the discovery document's issuer is not exactly {issuer}"
        )));
    }
    let jwks_uri = document["jwks_uri"]
        .as_str()
        .ok_or_else(|| invalid("discovery has no jwks_uri".into()))?;
    fetch_jwks(http, jwks_uri).await.map_err(invalid)
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

/// Maps verified claims to `ctx.auth.getUserIdentity()`'s shape.
fn identity(claims: Value) -> Value {
    let Value::Object(claims) = claims else {
        return Value::Null;
    };
    let mut identity = Map::new();
    let iss = claims
        .get("iss")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default();
    identity.insert(
        "tokenIdentifier".into(),
        Value::String(format!("{iss}|{sub}")),
    );
    identity.insert("subject".into(), Value::String(sub.into()));
    identity.insert("issuer".into(), Value::String(iss.into()));
    let renamed = [
        ("name", "name"),
        ("given_name", "givenName"),
        ("family_name", "familyName"),
        ("nickname", "nickname"),
        ("preferred_username", "preferredUsername"),
        ("picture", "pictureUrl"),
        ("email", "email"),
        ("email_verified", "emailVerified"),
        ("phone_number", "phoneNumber"),
        ("phone_number_verified", "phoneNumberVerified"),
        ("updated_at", "updatedAt"),
    ];
    for (key, value) in claims {
        if matches!(key.as_str(), "iss" | "sub") {
            continue;
        }
        match renamed.iter().find(|(claim, _)| *claim == key) {
            Some((_, field)) => identity.insert((*field).into(), value),
            None => identity.insert(key, value),
        };
    }
    Value::Object(identity)
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
    fn identity_has_convex_field_names() {
        let id = identity(serde_json::json!({
            "iss": "https://t.kinde.com", "sub": "kp_1", "given_name": "Ada", "picture": "p", "org_code": "org_1"
        }));
        assert_eq!(id["tokenIdentifier"], "https://t.kinde.com|kp_1");
        assert_eq!(id["givenName"], "Ada");
        assert_eq!(id["pictureUrl"], "p");
        assert_eq!(id["org_code"], "org_1");
    }
}
