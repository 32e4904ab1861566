//! A token's `exp` judged by the stack's clock. jsonwebtoken compares it with the system's time,
//! so the stack's verifiers turn that check off and call [`check_exp`] with
//! [`crate::State::clock`]'s time instead, failing with jsonwebtoken's own error so the messages
//! clients see read as before.

use jsonwebtoken::errors::{Error, ErrorKind};
use serde_json::Value;

/// A [`jsonwebtoken::Validation`] for `alg` that checks signature and claims but leaves time to
/// [`check_exp`].
pub fn untimed(alg: jsonwebtoken::Algorithm) -> jsonwebtoken::Validation {
    let mut validation = jsonwebtoken::Validation::new(alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation
}

/// Fails with `ExpiredSignature` when `exp` is more than `leeway` seconds before `now`, as
/// jsonwebtoken would; a missing or non-numeric `exp` fails as it would too.
pub fn check_exp(claims: &Value, now: i64, leeway: u64) -> Result<(), Error> {
    let exp = match claims.get("exp") {
        None | Some(Value::Null) => {
            return Err(ErrorKind::MissingRequiredClaim("exp".into()).into());
        }
        Some(value) => numeric(value).ok_or(ErrorKind::InvalidClaimFormat("exp".into()))?,
    };
    let now = u64::try_from(now).unwrap_or(0);
    if exp < now.saturating_sub(leeway) {
        return Err(ErrorKind::ExpiredSignature.into());
    }
    Ok(())
}

/// A NumericDate as jsonwebtoken reads one: a non-negative integer, or a float rounded.
fn numeric(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0 && *f < u64::MAX as f64)
            .map(|f| f.round() as u64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn exp_in_the_past_beyond_the_leeway_is_expired() {
        let expired = |claims: Value, now, leeway| {
            check_exp(&claims, now, leeway).map_err(|e| e.kind().clone())
        };
        assert_eq!(expired(json!({ "exp": 100 }), 100, 0), Ok(()));
        assert_eq!(
            expired(json!({ "exp": 99 }), 100, 0),
            Err(ErrorKind::ExpiredSignature)
        );
        assert_eq!(expired(json!({ "exp": 95 }), 100, 5), Ok(()));
        assert_eq!(expired(json!({ "exp": 99.6 }), 100, 0), Ok(()));
        assert_eq!(
            expired(json!({ "exp": "soon" }), 100, 0),
            Err(ErrorKind::InvalidClaimFormat("exp".into()))
        );
        assert_eq!(
            expired(json!({}), 100, 0),
            Err(ErrorKind::MissingRequiredClaim("exp".into()))
        );
    }

    #[test]
    fn the_error_reads_as_jsonwebtokens() {
        let error = check_exp(&json!({ "exp": 1 }), 100, 0).err();
        assert_eq!(
            error.map(|e| e.to_string()).as_deref(),
            Some("ExpiredSignature")
        );
    }
}
