//! What the access token says the person may do in the organisation signed in to: Kinde's
//! `org_code`, `org_name`, `permissions`, `roles` and `feature_flags`. They decide what a front
//! end offers, so they are read only from a token whose signature (the provider's published
//! keys, RS256 only), issuer, expiry and authorised party have been checked; the app is not the
//! token's audience (the API is), so `aud` is left to the API.
//!
//! A claim of an unexpected shape never fails the read: it is left out, and a flag of a type
//! this code does not know is kept as JSON.

use crate::discovery::Provider;
use crate::error::AuthError;
use crate::http::HttpClient;
use crate::id_token::LEEWAY;
use openidconnect::core::{
    CoreGenderClaim, CoreIdTokenVerifier, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
};
use openidconnect::{
    ClaimsVerificationError, ClientId, IssuerUrl, Nonce, SignatureVerificationError,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::SystemTime;

/// The person's standing in the organisation the session is signed in to.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Access {
    pub org_code: Option<String>,
    /// Kinde adds it when the tenant's token customization asks for it.
    pub org_name: Option<String>,
    pub permissions: Vec<String>,
    /// Kinde adds them when the tenant's token customization asks for them.
    pub roles: Vec<Role>,
    pub feature_flags: BTreeMap<String, FlagValue>,
}

impl Access {
    pub fn has_permission(&self, key: &str) -> bool {
        self.permissions.iter().any(|p| p == key)
    }

    pub fn has_role(&self, key: &str) -> bool {
        self.roles.iter().any(|r| r.key == key)
    }
}

/// A role as Kinde's access token carries it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Role {
    #[serde(default)]
    pub id: String,
    pub key: String,
    #[serde(default)]
    pub name: String,
}

/// A feature flag's value, by Kinde's type letter: `b`, `s`, `i`; anything else (`j`, a type
/// added later, or a value that does not match its letter) is kept as JSON.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum FlagValue {
    Bool(bool),
    String(String),
    Integer(i64),
    Json(Value),
}

impl FlagValue {
    /// One entry of `feature_flags`: `{"t": type, "v": value}`.
    fn of(entry: Value) -> FlagValue {
        let Value::Object(mut fields) = entry else {
            return FlagValue::Json(entry);
        };
        let value = fields.remove("v").unwrap_or(Value::Null);
        match (fields.get("t").and_then(Value::as_str), value) {
            (Some("b"), Value::Bool(b)) => FlagValue::Bool(b),
            (Some("s"), Value::String(s)) => FlagValue::String(s),
            (Some("i"), Value::Number(n)) => match n.as_i64() {
                Some(i) => FlagValue::Integer(i),
                None => FlagValue::Json(Value::Number(n)),
            },
            (_, other) => FlagValue::Json(other),
        }
    }
}

/// Kinde's access-token claims, each read as any JSON so that no shape fails the token.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct KindeAccessClaims {
    #[serde(default)]
    org_code: Value,
    #[serde(default)]
    org_name: Value,
    #[serde(default)]
    permissions: Value,
    #[serde(default)]
    roles: Value,
    #[serde(default)]
    feature_flags: Value,
    /// Only access tokens carry `scp`: an ID token passed off as one lacks it.
    #[serde(default)]
    scp: Option<Value>,
}

impl openidconnect::AdditionalClaims for KindeAccessClaims {}

impl KindeAccessClaims {
    fn into_access(self) -> Access {
        let text = |value: Value| match value {
            Value::String(s) => Some(s),
            _ => None,
        };
        let list = |value: Value| match value {
            Value::Array(items) => items,
            _ => Vec::new(),
        };
        Access {
            org_code: text(self.org_code),
            org_name: text(self.org_name),
            permissions: list(self.permissions)
                .into_iter()
                .filter_map(text)
                .collect(),
            roles: list(self.roles)
                .into_iter()
                .filter_map(|r| serde_json::from_value(r).ok())
                .collect(),
            feature_flags: match self.feature_flags {
                Value::Object(flags) => flags
                    .into_iter()
                    .map(|(key, entry)| (key, FlagValue::of(entry)))
                    .collect(),
                _ => BTreeMap::new(),
            },
        }
    }
}

/// The access token's fields and signature are those of any JWT the provider signs; the ID
/// token's verifier checks them (signature, algorithm, issuer, expiry, issue time) with the
/// audience and nonce checks, which belong to ID tokens, turned off.
type KindeAccessToken = openidconnect::IdToken<
    KindeAccessClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// Checks `token` at `now` and reads what it grants. The keys are fetched again once if it is
/// signed with one the cached set lacks (a rotation).
pub async fn validate(
    provider: &Provider,
    http: &HttpClient,
    client_id: &str,
    token: &str,
    now: SystemTime,
) -> Result<Access, AuthError> {
    match check(provider, client_id, token, now) {
        Err(Failure::UnknownKey) => {
            provider.refresh_keys(http).await?;
            check(provider, client_id, token, now).map_err(Failure::into_error)
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
            Failure::UnknownKey => AuthError::AccessToken(
                "it is signed with a key the provider does not publish".into(),
            ),
            Failure::Invalid(why) => AuthError::AccessToken(why),
        }
    }
}

fn check(
    provider: &Provider,
    client_id: &str,
    token: &str,
    now: SystemTime,
) -> Result<Access, Failure> {
    let parsed = KindeAccessToken::from_str(token)
        // The parser's own message may quote the token's text: it is left out.
        .map_err(|_| Failure::Invalid("it is not a well-formed JWT".into()))?;
    let issuer =
        IssuerUrl::new(provider.issuer.clone()).map_err(|e| Failure::Invalid(e.to_string()))?;
    let now_dt: chrono::DateTime<chrono::Utc> = now.into();
    let verifier = CoreIdTokenVerifier::new_public_client(
        ClientId::new(client_id.into()),
        issuer,
        provider.metadata().jwks().clone(),
    )
    .require_audience_match(false)
    .set_allowed_algs([CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256])
    .set_time_fn(move || now_dt - chrono::Duration::from_std(LEEWAY).unwrap_or_default())
    .set_issue_time_verifier_fn(move |iat| {
        if SystemTime::from(iat) > now + LEEWAY {
            Err("it was issued in the future".into())
        } else {
            Ok(())
        }
    });
    let claims = parsed
        .claims(&verifier, |_: Option<&Nonce>| Ok(()))
        .map_err(|e| match e {
            ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            ) => Failure::UnknownKey,
            other => Failure::Invalid(other.to_string()),
        })?;
    if let Some(azp) = claims.authorized_party()
        && azp.as_str() != client_id
    {
        return Err(Failure::Invalid(format!(
            "it was issued to another client (azp `{}`)",
            azp.as_str()
        )));
    }
    let kinde = claims.additional_claims().clone();
    if kinde.scp.is_none() {
        return Err(Failure::Invalid(
            "it has no `scp`, so it is no access token".into(),
        ));
    }
    Ok(kinde.into_access())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(claims: Value) -> Access {
        serde_json::from_value::<KindeAccessClaims>(claims)
            .expect("any JSON object reads")
            .into_access()
    }

    #[test]
    fn kindes_claims_become_typed() {
        let access = read(json!({
            "org_code": "org_1a2b3c4d5e6",
            "org_name": "Northwind Studio",
            "permissions": ["read:files", "delete:files"],
            "roles": [{ "id": "r1", "key": "admin", "name": "Admin" }],
            "feature_flags": {
                "beta": { "t": "b", "v": true },
                "theme": { "t": "s", "v": "dark" },
                "limit": { "t": "i", "v": 100 },
                "retention": { "t": "j", "v": { "days": 30 } },
            },
        }));
        assert_eq!(access.org_code.as_deref(), Some("org_1a2b3c4d5e6"));
        assert_eq!(access.org_name.as_deref(), Some("Northwind Studio"));
        assert!(access.has_permission("delete:files") && !access.has_permission("write:files"));
        assert!(access.has_role("admin"));
        assert_eq!(access.roles[0].name, "Admin");
        let flags = &access.feature_flags;
        assert_eq!(flags["beta"], FlagValue::Bool(true));
        assert_eq!(flags["theme"], FlagValue::String("dark".into()));
        assert_eq!(flags["limit"], FlagValue::Integer(100));
        assert_eq!(flags["retention"], FlagValue::Json(json!({ "days": 30 })));
    }

    #[test]
    fn unknown_or_mismatched_flags_are_kept_as_json_and_odd_claims_left_out() {
        let access = read(json!({
            "org_code": 42,
            "permissions": ["read:files", 7, null],
            "roles": [{ "key": "admin" }, "admin", { "name": "no key" }],
            "feature_flags": {
                "future": { "t": "x", "v": [1, 2] },
                "liar": { "t": "b", "v": "yes" },
                "huge": { "t": "i", "v": 1e300 },
                "bare": "on",
                "empty": {},
            },
        }));
        assert_eq!(access.org_code, None);
        assert_eq!(access.permissions, ["read:files"]);
        assert_eq!(
            access.roles,
            [Role {
                key: "admin".into(),
                ..Role::default()
            }]
        );
        let flags = &access.feature_flags;
        assert_eq!(flags["future"], FlagValue::Json(json!([1, 2])));
        assert_eq!(flags["liar"], FlagValue::Json(json!("yes")));
        assert_eq!(flags["huge"], FlagValue::Json(json!(1e300)));
        assert_eq!(flags["bare"], FlagValue::Json(json!("on")));
        assert_eq!(flags["empty"], FlagValue::Json(Value::Null));

        let nothing = read(json!({ "feature_flags": [], "roles": {}, "permissions": "all" }));
        assert_eq!(nothing, Access::default());
    }

    #[test]
    fn flags_serialise_as_their_plain_values() {
        let flags = [
            FlagValue::Bool(false),
            FlagValue::String("s".into()),
            FlagValue::Integer(-3),
            FlagValue::Json(json!({ "a": 1 })),
        ];
        assert_eq!(
            serde_json::to_value(flags).unwrap(),
            json!([false, "s", -3, { "a": 1 }])
        );
    }
}
