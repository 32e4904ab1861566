//! The macOS Keychain and Windows' Credential Manager through `keyring`, one entry per key.

use crate::token_store::{CHUNK, Fault};

/// Windows refuses blobs over 2,560 bytes; the macOS Keychain has no such limit, but one
/// format for both keeps the code that is not tested here to one path.
pub const LARGEST_VALUE: usize = CHUNK;

fn entry(service: &str, key: &str) -> Result<keyring::Entry, Fault> {
    keyring::Entry::new(service, key).map_err(fault)
}

fn fault(error: keyring::Error) -> Fault {
    match error {
        keyring::Error::NoStorageAccess(e) => Fault::Refused(e.to_string()),
        keyring::Error::PlatformFailure(e) => Fault::Unavailable(e.to_string()),
        other => Fault::Refused(other.to_string()),
    }
}

pub fn get(service: &str, key: &str) -> Result<Option<String>, Fault> {
    let entry = entry(service, key)?;
    match entry.get_password() {
        Ok(value) => Ok(Some(value)),
        Err(keyring::Error::NoEntry) => Ok(None),
        // Present but not text: treated as damaged data by the caller.
        Err(keyring::Error::BadEncoding(_)) => Ok(Some(String::new())),
        Err(e) => Err(fault(e)),
    }
}

pub fn set(service: &str, key: &str, value: &str) -> Result<(), Fault> {
    let entry = entry(service, key)?;
    entry.set_password(value).map_err(fault)
}

pub fn delete(service: &str, key: &str) -> Result<(), Fault> {
    let entry = entry(service, key)?;
    match entry.delete_credential() {
        Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(fault(e)),
    }
}
