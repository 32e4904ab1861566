//! What `ctx.auth.getUserIdentity()` returns for a verified OIDC token, mapped from its claims as
//! get-convex/convex-backend crates/keybroker/src/broker.rs (`UserIdentity::from_token`) maps
//! them: the standard OIDC claims become camelCase fields (`picture` → `pictureUrl`, `zoneinfo` →
//! `timezone`, `updated_at` → `updatedAt` as RFC 3339 text...), null or missing ones are left out,
//! the ID token's own housekeeping (`aud`, `iat`, `exp`, `azp`, `auth_time`, `nonce`, `acr`,
//! `amr`, `at_hash`, `c_hash`, `jti`, `nbf`, `fva`) is dropped, and every other claim is kept
//! under its own name.

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Standard claims that are text, and the field each becomes.
const TEXT: &[(&str, &str)] = &[
    ("name", "name"),
    ("given_name", "givenName"),
    ("family_name", "familyName"),
    ("nickname", "nickname"),
    ("preferred_username", "preferredUsername"),
    ("profile", "profileUrl"),
    ("picture", "pictureUrl"),
    ("website", "websiteUrl"),
    ("email", "email"),
    ("gender", "gender"),
    ("birthdate", "birthday"),
    ("zoneinfo", "timezone"),
    ("locale", "language"),
    ("phone_number", "phoneNumber"),
];

/// Standard claims that are booleans, and the field each becomes.
const FLAGS: &[(&str, &str)] = &[
    ("email_verified", "emailVerified"),
    ("phone_number_verified", "phoneNumberVerified"),
];

/// Claims that never reach the identity.
const DROPPED: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "at_hash",
    "c_hash",
    "jti",
    "nbf",
    "fva",
    "address",
    "updated_at",
];

/// The identity of a verified token's `claims`.
pub fn of(claims: &Map<String, Value>) -> Value {
    let text = |claim: &str| claims.get(claim).and_then(Value::as_str);
    let issuer = text("iss").unwrap_or_default();
    let subject = text("sub").unwrap_or_default();
    let mut identity = Map::new();
    identity.insert(
        "tokenIdentifier".into(),
        Value::String(format!("{issuer}|{subject}")),
    );
    identity.insert("subject".into(), subject.into());
    identity.insert("issuer".into(), issuer.into());
    for (claim, field) in TEXT {
        if let Some(value) = text(claim) {
            identity.insert((*field).into(), value.into());
        }
    }
    for (claim, field) in FLAGS {
        if let Some(value) = claims.get(*claim).and_then(Value::as_bool) {
            identity.insert((*field).into(), value.into());
        }
    }
    // Only the formatted form of the address claim (OIDC Core §5.1.1) is kept.
    if let Some(address) = claims
        .get("address")
        .and_then(|a| a.get("formatted"))
        .and_then(Value::as_str)
    {
        identity.insert("address".into(), address.into());
    }
    if let Some(updated) = claims
        .get("updated_at")
        .and_then(Value::as_f64)
        .and_then(rfc3339)
    {
        identity.insert("updatedAt".into(), updated.into());
    }
    let standard = |key: &str| {
        DROPPED.contains(&key)
            || TEXT.iter().any(|(claim, _)| *claim == key)
            || FLAGS.iter().any(|(claim, _)| *claim == key)
    };
    for (key, value) in claims {
        if !standard(key) {
            identity.insert(key.clone(), value.clone());
        }
    }
    Value::Object(identity)
}

/// Seconds since the epoch as chrono's `to_rfc3339` writes them for UTC: `+00:00`, and a
/// fraction only when there is one.
fn rfc3339(seconds: f64) -> Option<String> {
    let nanos = (seconds * 1e9).round() as i128;
    let at = OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()?;
    let whole = at.replace_nanosecond(0).ok()?.format(&Rfc3339).ok()?;
    let whole = whole.strip_suffix('Z')?;
    let fraction = match at.nanosecond() {
        0 => String::new(),
        n if n % 1_000_000 == 0 => format!(".{:03}", n / 1_000_000),
        n if n % 1_000 == 0 => format!(".{:06}", n / 1_000),
        n => format!(".{n:09}"),
    };
    Some(format!("{whole}{fraction}+00:00"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn identity(claims: Value) -> Value {
        of(claims.as_object().unwrap_or(&Map::new()))
    }

    #[test]
    fn standard_claims_get_convex_field_names() {
        let id = identity(json!({
            "iss": "https://t.kinde.com", "sub": "kp_1", "given_name": "Ada", "family_name": "L",
            "picture": "https://p", "profile": "https://pr", "website": "https://w",
            "birthdate": "1815-12-10", "zoneinfo": "Europe/London", "locale": "en-GB",
            "gender": "female", "phone_number": "+44", "phone_number_verified": false,
            "email": "a@x", "email_verified": true, "preferred_username": "ada",
            "address": { "formatted": "1 St James's Sq", "country": "UK" }
        }));
        assert_eq!(
            id,
            json!({
                "tokenIdentifier": "https://t.kinde.com|kp_1", "subject": "kp_1",
                "issuer": "https://t.kinde.com", "givenName": "Ada", "familyName": "L",
                "pictureUrl": "https://p", "profileUrl": "https://pr", "websiteUrl": "https://w",
                "birthday": "1815-12-10", "timezone": "Europe/London", "language": "en-GB",
                "gender": "female", "phoneNumber": "+44", "phoneNumberVerified": false,
                "email": "a@x", "emailVerified": true, "preferredUsername": "ada",
                "address": "1 St James's Sq"
            })
        );
    }

    #[test]
    fn housekeeping_claims_are_dropped_and_others_kept() {
        let id = identity(json!({
            "iss": "i", "sub": "s", "aud": ["c"], "iat": 1, "exp": 2, "azp": "c",
            "auth_time": 1, "nonce": "n", "at_hash": "h", "jti": "j", "nbf": 1,
            "org_code": "org_1", "org_codes": ["org_1", "org_2"], "feature_flags": null
        }));
        assert_eq!(
            id,
            json!({
                "tokenIdentifier": "i|s", "subject": "s", "issuer": "i",
                "org_code": "org_1", "org_codes": ["org_1", "org_2"], "feature_flags": null
            })
        );
    }

    #[test]
    fn null_names_are_left_out() {
        let id = identity(
            json!({ "iss": "i", "sub": "s", "name": null, "given_name": null, "email": null }),
        );
        assert_eq!(
            id,
            json!({ "tokenIdentifier": "i|s", "subject": "s", "issuer": "i" })
        );
    }

    #[test]
    fn updated_at_seconds_become_rfc3339_text() {
        let id = identity(json!({ "iss": "i", "sub": "s", "updated_at": 1_764_316_800 }));
        assert_eq!(id["updatedAt"], "2025-11-28T08:00:00+00:00");
        let id = identity(json!({ "iss": "i", "sub": "s", "updated_at": 1_764_316_800.5 }));
        assert_eq!(id["updatedAt"], "2025-11-28T08:00:00.500+00:00");
    }
}
