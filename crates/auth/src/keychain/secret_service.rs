//! The Secret Service (gnome-keyring, KWallet, KeePassXC) over one D-Bus connection and one
//! encrypted session kept for the whole process.
//!
//! `keyring` opens a new connection and negotiates a new Diffie-Hellman session for every call
//! (two for a write), and a sign-in makes a dozen calls: most of `kinvex login`'s own time went
//! there. Here the first call connects and later calls reuse it; a call that fails on a kept
//! connection (the daemon restarted, the session is gone) is made once more on a new one.
//!
//! Items are the ones `keyring` 3 reads and writes (attributes `service`, `username`,
//! `target` = `default` and `application`, in the default collection), so entries written by
//! earlier versions of Kinvex are found, and tools that list them show the same fields.

use crate::token_store::{Fault, LARGE_VALUE};
use dbus_secret_service::{EncryptionType, Error, Item, SecretService};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// The Secret Service has no small limit: a session or the accounts index is one entry.
pub const LARGEST_VALUE: usize = LARGE_VALUE;

/// The process's connection, made on first use; `None` until then and after it failed.
static CONNECTION: Mutex<Option<SecretService>> = Mutex::new(None);

/// libdbus's name for a call whose own timeout (2 s) ran out.
const NO_REPLY: &str = "org.freedesktop.DBus.Error.NoReply";

pub fn get(service: &str, key: &str) -> Result<Option<String>, Fault> {
    with_connection(|ss| {
        let Some(item) = unique(ss, service, key)? else {
            return Ok(None);
        };
        // Present but not text: treated as damaged data by the caller.
        Ok(Some(
            String::from_utf8(item.get_secret()?).unwrap_or_default(),
        ))
    })
}

pub fn set(service: &str, key: &str, value: &str) -> Result<(), Fault> {
    with_connection(|ss| {
        if let Some(item) = unique(ss, service, key)? {
            return item.set_secret(value.as_bytes(), "text/plain");
        }
        let collection = ss.get_default_collection()?;
        collection.ensure_unlocked()?;
        collection.create_item(
            &format!("{key}@{service}:default"),
            attributes(service, key, true),
            value.as_bytes(),
            true,
            "text/plain",
        )?;
        Ok(())
    })
}

pub fn delete(service: &str, key: &str) -> Result<(), Fault> {
    with_connection(|ss| {
        let found = ss.search_items(attributes(service, key, false))?;
        for item in &found.locked {
            item.unlock()?;
        }
        for item in found.unlocked.iter().chain(&found.locked) {
            item.delete()?;
        }
        Ok(())
    })
}

fn attributes<'a>(service: &'a str, key: &'a str, creating: bool) -> HashMap<&'a str, &'a str> {
    let mut attributes = HashMap::from([
        ("service", service),
        ("username", key),
        ("target", "default"),
    ]);
    if creating {
        attributes.insert("application", "rust-keyring");
    }
    attributes
}

/// The one item of `key`, unlocked (a locked keyring asks the person, or refuses), if any; two
/// or more (another tool wrote one too) is a refusal, as `keyring` makes it, rather than a
/// guess which is ours.
fn unique<'a>(ss: &'a SecretService, service: &str, key: &str) -> Result<Option<Item<'a>>, Error> {
    let found = ss.search_items(attributes(service, key, false))?;
    let locked = found.locked.len();
    let mut items = found.unlocked.into_iter().chain(found.locked);
    match (items.next(), items.next()) {
        (None, _) => Ok(None),
        (Some(item), None) => {
            if locked > 0 {
                item.unlock()?;
            }
            Ok(Some(item))
        }
        (Some(_), Some(_)) => Err(Error::Path(format!(
            "several keychain items are named {key} for {service}; remove all but one"
        ))),
    }
}

/// Runs `call` on the process's connection, connecting first when there is none, trying again
/// while the service is only slow and once on a new connection after any other D-Bus failure.
fn with_connection<T>(call: impl Fn(&SecretService) -> Result<T, Error>) -> Result<T, Fault> {
    let mut connection = CONNECTION.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(ss) = connection.as_ref() {
        match patiently(busy, || call(ss)) {
            Err(e) if stale(&e) => *connection = None,
            other => return other.map_err(fault),
        }
    }
    let ss = SecretService::connect(EncryptionType::Dh)
        .map_err(|e| Fault::Unavailable(e.to_string()))?;
    let result = patiently(busy, || call(&ss));
    *connection = Some(ss);
    result.map_err(fault)
}

fn busy(error: &Error) -> bool {
    matches!(error, Error::Dbus(e) if e.name() == Some(NO_REPLY))
}

/// A failure of the connection or session rather than an answer about the item.
fn stale(error: &Error) -> bool {
    matches!(error, Error::Dbus(_) | Error::Crypto(_)) && !busy(error)
}

fn fault(error: Error) -> Fault {
    match error {
        Error::Locked | Error::NoResult | Error::Prompt | Error::Path(_) => {
            Fault::Refused(error.to_string())
        }
        _ => Fault::Unavailable(error.to_string()),
    }
}

/// Tries a call again, at most [`BUSY_TRIES`] times in all, while the service is only slow
/// (`busy`): its client gives each D-Bus call 2 s, and a keyring busy with other programs'
/// calls can take longer without anything being wrong. Every call here is idempotent (a read,
/// a whole-value write, a delete), so another try cannot do anything twice. The caller's
/// keychain bound still limits the whole.
fn patiently<T, E>(
    busy: impl Fn(&E) -> bool,
    mut call: impl FnMut() -> Result<T, E>,
) -> Result<T, E> {
    let mut tries = 1;
    loop {
        match call() {
            Err(e) if tries < BUSY_TRIES && busy(&e) => tries += 1,
            other => return other,
        }
    }
}

const BUSY_TRIES: u32 = 3;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_service_is_asked_again_and_a_failure_is_not() {
        let no_reply = || Error::Dbus(dbus::Error::new_custom(NO_REPLY, "Did not receive a reply"));
        let mut calls = 0;
        let answered = patiently(busy, || {
            calls += 1;
            if calls < 3 { Err(no_reply()) } else { Ok(7) }
        });
        assert_eq!((answered.ok(), calls), (Some(7), 3));
        let mut calls = 0;
        let given_up = patiently(busy, || -> Result<(), Error> {
            calls += 1;
            Err(no_reply())
        });
        assert!(given_up.is_err());
        assert_eq!(calls, BUSY_TRIES, "bounded");
        let mut calls = 0;
        let refused = patiently(busy, || -> Result<(), Error> {
            calls += 1;
            Err(Error::Locked)
        });
        assert!(refused.is_err());
        assert_eq!(calls, 1, "a refusal is final");
    }

    #[test]
    fn only_a_broken_connection_is_made_again_and_refusals_say_so() {
        let gone = Error::Dbus(dbus::Error::new_custom(
            "org.freedesktop.DBus.Error.ServiceUnknown",
            "The name is not activatable",
        ));
        assert!(stale(&gone));
        assert!(!stale(&Error::Dbus(dbus::Error::new_custom(
            NO_REPLY, "slow"
        ))));
        assert!(!stale(&Error::Locked));
        assert!(!stale(&Error::Prompt));
        assert!(matches!(fault(Error::Locked), Fault::Refused(_)));
        assert!(matches!(fault(Error::Prompt), Fault::Refused(_)));
        assert!(matches!(fault(gone), Fault::Unavailable(_)));
    }
}
