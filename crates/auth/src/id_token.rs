//! Full ID-token validation (OIDC Core §3.1.3.7): signature with the provider's keys (RS256
//! only, so `none` and HS* are refused), `iss`, `aud` containing the client id and no untrusted
//! audience, `azp` (required with several audiences), `exp` with a small leeway, `iat` within
//! bounds, `nonce`, and a `sub` that names someone.

use crate::discovery::Provider;
use crate::error::AuthError;
use crate::http::HttpClient;
use openidconnect::core::{
    CoreGenderClaim, CoreIdTokenVerifier, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
};
use openidconnect::{
    ClaimsVerificationError, ClientId, IssuerUrl, Nonce, SignatureVerificationError,
};
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use std::time::{Duration, SystemTime};

/// Clock difference tolerated on `exp` and a future `iat`.
pub const LEEWAY: Duration = Duration::from_secs(60);
/// An ID token issued longer ago than this is refused even if not expired.
pub const MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// What the app keeps from a validated ID token.
#[derive(Clone, Debug, PartialEq)]
pub struct Identity {
    pub subject: String,
    pub email: Option<String>,
    pub name: Option<String>,
    /// The organisation signed in to. Kinde's ID token lists all of the person's organisations
    /// (`org_codes`), so it names the current one only when there is just one; the access
    /// token's `org_code` names it always, and the session prefers that.
    pub organization: Option<String>,
    pub expires_at: i64,
}

/// Kinde's claims beyond the standard ones that the app shows.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct KindeClaims {
    #[serde(default)]
    org_codes: Vec<String>,
}

impl openidconnect::AdditionalClaims for KindeClaims {}

type KindeIdToken = openidconnect::IdToken<
    KindeClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// Seconds since the Unix epoch.
pub use kinvex_clock::unix;

/// Validates `token` at time `now`. `nonce` is the one sent with the request, or `None` for a
/// token from a refresh (which carries the original nonce or none).
pub async fn validate(
    provider: &Provider,
    http: &HttpClient,
    client_id: &str,
    token: &str,
    nonce: Option<&Nonce>,
    now: SystemTime,
) -> Result<Identity, AuthError> {
    match check(provider, client_id, token, nonce, now) {
        Err(Failure::UnknownKey) => {
            provider.refresh_keys(http).await?;
            check(provider, client_id, token, nonce, now).map_err(Failure::into_error)
        }
        other => other.map_err(Failure::into_error),
    }
}

enum Failure {
    UnknownKey,
    Invalid(String),
}

impl Failure {
    fn into_error(self) -> AuthError {
        match self {
            Failure::UnknownKey => {
                AuthError::IdToken("it is signed with a key the provider does not publish".into())
            }
            Failure::Invalid(why) => AuthError::IdToken(why),
        }
    }
}

fn check(
    provider: &Provider,
    client_id: &str,
    token: &str,
    nonce: Option<&Nonce>,
    now: SystemTime,
) -> Result<Identity, Failure> {
    let parsed =
        KindeIdToken::from_str(token).map_err(|e| Failure::Invalid(format!("malformed: {e}")))?;
    let metadata = provider.metadata();
    let issuer =
        IssuerUrl::new(provider.issuer.clone()).map_err(|e| Failure::Invalid(e.to_string()))?;
    let now_dt: chrono::DateTime<chrono::Utc> = now.into();
    let verifier = CoreIdTokenVerifier::new_public_client(
        ClientId::new(client_id.into()),
        issuer,
        metadata.jwks().clone(),
    )
    .set_allowed_algs([CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256])
    .set_time_fn(move || now_dt - chrono::Duration::from_std(LEEWAY).unwrap_or_default())
    .set_issue_time_verifier_fn(move |iat| {
        let iat: SystemTime = iat.into();
        if iat > now + LEEWAY {
            Err("it was issued in the future".into())
        } else if iat + MAX_AGE < now {
            Err("it was issued too long ago".into())
        } else {
            Ok(())
        }
    });
    let claims = match nonce {
        Some(nonce) => parsed.claims(&verifier, nonce),
        // A refreshed ID token is checked for everything but a nonce, which only a fresh
        // authorization request has.
        None => parsed.claims(&verifier, |_: Option<&Nonce>| Ok(())),
    };
    let claims = claims.map_err(|e| match e {
        ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey,
        ) => Failure::UnknownKey,
        other => Failure::Invalid(other.to_string()),
    })?;
    // openidconnect leaves `azp` unchecked. OIDC Core §3.1.3.7 items 4 and 5 (SHOULDs, kept
    // here as MUSTs): a present `azp` must be our client id, and with several audiences it must
    // be present, since only it then says the token was issued to this client and not to one
    // of the others, which could pass it on. Kinde always sends `azp`.
    match claims.authorized_party() {
        Some(azp) if azp.as_str() != client_id => {
            return Err(Failure::Invalid(format!(
                "it was issued to another client (azp `{}`)",
                azp.as_str()
            )));
        }
        None if claims.audiences().len() > 1 => {
            return Err(Failure::Invalid(
                "it has several audiences but no azp naming the client it was issued to".into(),
            ));
        }
        _ => {}
    }
    check_subject(claims.subject().as_str()).map_err(Failure::Invalid)?;
    Ok(Identity {
        subject: claims.subject().as_str().to_string(),
        email: claims.email().map(|e| e.as_str().to_string()),
        name: claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_string()),
        organization: only(&claims.additional_claims().org_codes),
        expires_at: claims.expiration().timestamp(),
    })
}

/// The one organisation listed, if there is exactly one.
fn only(org_codes: &[String]) -> Option<String> {
    match org_codes {
        [one] => Some(one.clone()),
        _ => None,
    }
}

/// The longest `sub` OIDC Core §2 allows.
const MAX_SUBJECT: usize = 255;

/// `sub` is the key the session, the keychain and the backend's user rest on: an empty one
/// would make everyone without a subject the same person. OIDC Core §2: it is never empty and
/// at most 255 ASCII characters; control characters would only reach logs and screens.
fn check_subject(subject: &str) -> Result<(), String> {
    if subject.trim().is_empty() {
        Err("it names no person (its `sub` is empty)".into())
    } else if subject.len() > MAX_SUBJECT {
        Err(format!("its `sub` is longer than {MAX_SUBJECT} characters"))
    } else if subject.chars().any(char::is_control) {
        Err("its `sub` contains control characters".into())
    } else {
        Ok(())
    }
}
