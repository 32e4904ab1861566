//! The OS keychain as a [`SecretStore`]: the Secret Service on Linux (over one D-Bus
//! connection kept for the process, see [`secret_service`]), the macOS Keychain and Windows'
//! Credential Manager through `keyring`.

use crate::token_store::{Fault, Location, SecretStore};

#[cfg(target_os = "linux")]
mod secret_service;
#[cfg(target_os = "linux")]
use secret_service as os;

#[cfg(not(target_os = "linux"))]
mod native;
#[cfg(not(target_os = "linux"))]
use native as os;

/// The keychain entries of one service name: each key is one entry.
pub struct Keychain {
    service: String,
}

impl Keychain {
    pub fn new(service: &str) -> Keychain {
        Keychain {
            service: service.to_string(),
        }
    }
}

impl SecretStore for Keychain {
    fn get(&self, key: &str) -> Result<Option<String>, Fault> {
        os::get(&self.service, key)
    }

    fn set(&self, key: &str, value: &str) -> Result<(), Fault> {
        os::set(&self.service, key, value)
    }

    fn delete(&self, key: &str) -> Result<(), Fault> {
        os::delete(&self.service, key)
    }

    fn largest_value(&self) -> usize {
        os::LARGEST_VALUE
    }

    fn location(&self) -> Location {
        Location::Keychain
    }
}
