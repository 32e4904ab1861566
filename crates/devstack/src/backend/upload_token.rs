//! The token of an upload URL (`<deployment>/api/storage/upload?token=…`). A deployment's is an
//! encrypted record of when it was issued and for which component (get-convex/convex-backend
//! crates/keybroker/src/broker.rs, `issue_store_file_authorization` and
//! `check_store_file_authorization`); it is good for an hour from issue, judged in whole seconds
//! (crates/local_backend/src/storage.rs, `STORE_FILE_AUTHORIZATION_VALIDITY`). This one carries
//! the issue time under an HMAC-SHA256 with the storage area's key: as opaque to a client, and as
//! unforgeable.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::Duration;

/// How long an upload URL is good for.
pub const VALIDITY: Duration = Duration::from_secs(3600);

const VERSION: u8 = 1;
const PAYLOAD: usize = 9;

/// Why a token was refused, with Convex's codes.
#[derive(Debug, PartialEq)]
pub enum TokenError {
    /// `StorageTokenInvalid`: not a token this deployment issued.
    Invalid,
    /// `StorageTokenExpired`: issued an hour or more ago.
    Expired,
}

fn mac(key: &[u8; 32], payload: &[u8]) -> Hmac<Sha256> {
    // An HMAC takes a key of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(payload);
    mac
}

/// A token issued at `issued_s` (Unix seconds).
pub fn issue(key: &[u8; 32], issued_s: u64) -> String {
    let mut payload = vec![VERSION];
    payload.extend_from_slice(&issued_s.to_be_bytes());
    let tag = mac(key, &payload).finalize().into_bytes();
    payload.extend_from_slice(&tag);
    URL_SAFE_NO_PAD.encode(payload)
}

/// Checks `token` at `now_s`: the MAC first, then the hour, as Convex checks them.
pub fn check(key: &[u8; 32], token: &str, now_s: u64) -> Result<(), TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| TokenError::Invalid)?;
    if bytes.len() <= PAYLOAD || bytes[0] != VERSION {
        return Err(TokenError::Invalid);
    }
    let (payload, tag) = bytes.split_at(PAYLOAD);
    mac(key, payload)
        .verify_slice(tag)
        .map_err(|_| TokenError::Invalid)?;
    let mut issued = [0u8; 8];
    issued.copy_from_slice(&payload[1..]);
    let issued_s = u64::from_be_bytes(issued);
    if issued_s.saturating_add(VALIDITY.as_secs()) <= now_s {
        return Err(TokenError::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_good_for_one_hour_to_the_second() {
        let key = [7u8; 32];
        let token = issue(&key, 1_000);
        assert_eq!(check(&key, &token, 1_000), Ok(()));
        assert_eq!(check(&key, &token, 4_599), Ok(()));
        assert_eq!(check(&key, &token, 4_600), Err(TokenError::Expired));
    }

    #[test]
    fn a_token_of_another_key_or_altered_is_invalid() {
        let token = issue(&[7u8; 32], 1_000);
        assert_eq!(check(&[8u8; 32], &token, 1_000), Err(TokenError::Invalid));
        let mut altered = token.into_bytes();
        altered[3] ^= 1;
        let altered = String::from_utf8(altered).unwrap_or_default();
        assert_eq!(check(&[7u8; 32], &altered, 1_000), Err(TokenError::Invalid));
        assert_eq!(check(&[7u8; 32], "", 1_000), Err(TokenError::Invalid));
        assert_eq!(
            check(&[7u8; 32], "not base64!", 1_000),
            Err(TokenError::Invalid)
        );
    }
}
