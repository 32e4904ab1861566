//! The settings that point the app, the CLI or the library at a local stack, as the environment
//! pairs each of them reads. The stack itself says what they are ([`Running::settings`]); this
//! adds what tests want on top of that, so no test spells out the keys again.

use kinvex_auth::Config;
use kinvex_auth::config::Sources;
use kinvex_devstack::Running;

/// A loopback redirect on whatever port is free when a sign-in starts: tests run side by side,
/// so none may pin the registered port (the stack accepts any loopback port, RFC 8252 §7.3).
pub const ANY_PORT_REDIRECT: &str = "http://127.0.0.1:0/callback";

/// Environment pairs, in the order they were set; setting a key again replaces its value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settings {
    pairs: Vec<(String, String)>,
}

impl Settings {
    /// `stack`'s issuer, client and backend, signing in through a loopback redirect on any port.
    pub fn for_stack(stack: &Running) -> Settings {
        let settings = stack
            .settings(false)
            .into_iter()
            .fold(Settings::default(), |settings, (key, value)| {
                settings.with(key, value)
            });
        settings.with("KINDE_REDIRECT_URL", ANY_PORT_REDIRECT)
    }

    /// These settings with `key` set to `value`.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Settings {
        let value = value.into();
        match self.pairs.iter_mut().find(|(k, _)| k == key) {
            Some((_, old)) => *old = value,
            None => self.pairs.push((key.to_string(), value)),
        }
        self
    }

    /// The value set for `key`, if any.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The pairs, for a child process's environment.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// The pairs as owned values, as `kinvex_e2e::Session::desktop_with` takes them.
    pub fn into_pairs(self) -> Vec<(String, String)> {
        self.pairs
    }

    /// The pairs as the library's settings sources, with nothing read from the process or `.env`.
    pub fn sources(&self) -> Sources {
        Sources::from_pairs(self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// The library's configuration from these settings; panics (failing the test) if they are
    /// not a valid one.
    pub fn config(&self) -> Config {
        Config::from_sources(&self.sources())
            .unwrap_or_else(|e| panic!("the test's settings are not a valid configuration: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::Settings;

    #[test]
    fn a_key_set_again_keeps_its_place_and_takes_the_new_value() {
        let settings = Settings::default()
            .with("A", "1")
            .with("B", "2")
            .with("A", "3");
        assert_eq!(
            settings.pairs(),
            [("A".into(), "3".into()), ("B".into(), "2".into())]
        );
        assert_eq!(settings.get("A"), Some("3"));
        assert_eq!(settings.get("C"), None);
    }
}
