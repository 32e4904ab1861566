//! Settings for one Kinde tenant and Convex deployment.
//!
//! Looked up in this order: the process environment, a `.env` file in the working directory
//! (development), then defaults compiled in from the build environment (installer builds for a
//! tenant). A missing or malformed value is an error that names the variable and shows an example.

use std::collections::HashMap;
use url::Url;

pub const DEFAULT_REDIRECT: &str = "http://127.0.0.1:53180/callback";
pub const DEFAULT_SCOPES: &str = "openid profile email offline";
/// The private-use URI scheme the installers register for the app (RFC 8252 §7.1: the app's
/// reverse domain name). `dev.kinvex.desktop:/callback` is the alternative to the loopback redirect.
pub const APP_SCHEME: &str = "dev.kinvex.desktop";

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("{var} is not set. Set it in the environment or in .env, for example: {var}={example}")]
    Missing {
        var: &'static str,
        example: &'static str,
    },
    #[error("{var} is not valid ({why}): `{value}`. For example: {var}={example}")]
    Malformed {
        var: &'static str,
        value: String,
        why: String,
        example: &'static str,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The tenant's issuer, without a trailing slash.
    pub issuer: Url,
    pub client_id: String,
    /// With an API audience the access token is what Convex gets; without, the ID token.
    pub audience: Option<String>,
    /// The loopback callback (port 0 means any free port, for providers that allow it), or the
    /// app's private-use scheme URL, which only the desktop app can receive.
    pub redirect: Url,
    /// Registered ports to try, in order, when the redirect's port is taken.
    pub fallback_ports: Vec<u16>,
    pub logout_redirect: Option<Url>,
    pub scopes: Vec<String>,
    pub convex_url: Option<Url>,
}

const ISSUER_EXAMPLE: &str = "https://yourbusiness.kinde.com";

/// Where a variable's value may come from, lowest priority last.
pub struct Sources {
    env: HashMap<String, String>,
    dotenv: HashMap<String, String>,
}

impl Sources {
    /// The real sources: process environment and `./.env`.
    pub fn system() -> Sources {
        let dotenv = dotenvy::from_path_iter(".env")
            .map(|lines| lines.filter_map(Result::ok).collect())
            .unwrap_or_default();
        Sources {
            env: std::env::vars().collect(),
            dotenv,
        }
    }

    /// Explicit values, for tests and for callers that carry their own settings.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Sources {
        let env = pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Sources {
            env,
            dotenv: HashMap::new(),
        }
    }

    /// An empty value counts as unset at every level, so `KINDE_AUDIENCE=` in the environment
    /// (or an unset CI variable at build time) neither hides a lower level nor reads as malformed.
    fn get(&self, var: &str) -> Option<String> {
        self.lookup(var).map(|(value, _)| value)
    }

    /// The value [`Config`] reads for `var`, trimmed but otherwise as written (before any check
    /// or normalisation), and the level it came from; `None` when no level sets it (a default
    /// applies, or nothing). `doctor` shows this, so a value from a forgotten `.env` is visible.
    pub fn lookup(&self, var: &str) -> Option<(String, Origin)> {
        fn given(value: &&str) -> bool {
            !value.trim().is_empty()
        }
        fn level<'m>(map: &'m HashMap<String, String>, var: &str) -> Option<&'m str> {
            map.get(var).map(String::as_str).filter(given)
        }
        level(&self.env, var)
            .map(|v| (v, Origin::Environment))
            .or_else(|| level(&self.dotenv, var).map(|v| (v, Origin::DotEnv)))
            .or_else(|| built_in(var).filter(given).map(|v| (v, Origin::BuiltIn)))
            .map(|(v, origin)| (v.trim().to_string(), origin))
    }
}

/// Every setting [`Config`] reads, in the order the help lists them.
pub const VARIABLES: [&str; 8] = [
    "KINDE_ISSUER_URL",
    "KINDE_CLIENT_ID",
    "KINDE_AUDIENCE",
    "KINDE_REDIRECT_URL",
    "KINDE_REDIRECT_FALLBACK_PORTS",
    "KINDE_LOGOUT_REDIRECT_URL",
    "KINDE_SCOPES",
    "CONVEX_URL",
];

/// Which level of [`Sources`] a setting's value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The process environment.
    Environment,
    /// `.env` in the working directory.
    DotEnv,
    /// Compiled in when this build was made for a tenant.
    BuiltIn,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Origin::Environment => "the environment",
            Origin::DotEnv => ".env in the working directory",
            Origin::BuiltIn => "built into this build",
        })
    }
}

/// Values baked in when an installer is built for a tenant (`KINDE_ISSUER_URL=… cargo build`).
fn built_in(var: &str) -> Option<&'static str> {
    match var {
        "KINDE_ISSUER_URL" => option_env!("KINDE_ISSUER_URL"),
        "KINDE_CLIENT_ID" => option_env!("KINDE_CLIENT_ID"),
        "KINDE_AUDIENCE" => option_env!("KINDE_AUDIENCE"),
        "KINDE_REDIRECT_URL" => option_env!("KINDE_REDIRECT_URL"),
        "KINDE_REDIRECT_FALLBACK_PORTS" => option_env!("KINDE_REDIRECT_FALLBACK_PORTS"),
        "KINDE_LOGOUT_REDIRECT_URL" => option_env!("KINDE_LOGOUT_REDIRECT_URL"),
        "KINDE_SCOPES" => option_env!("KINDE_SCOPES"),
        "CONVEX_URL" => option_env!("CONVEX_URL"),
        _ => None,
    }
}

fn malformed(
    var: &'static str,
    value: &str,
    why: impl Into<String>,
    example: &'static str,
) -> ConfigError {
    ConfigError::Malformed {
        var,
        value: value.to_string(),
        why: why.into(),
        example,
    }
}

fn http_url(var: &'static str, value: &str, example: &'static str) -> Result<Url, ConfigError> {
    let url = Url::parse(value).map_err(|e| malformed(var, value, e.to_string(), example))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(malformed(var, value, "it must be an http(s) URL", example));
    }
    Ok(url)
}

/// A desktop callback is http on a loopback address with an explicit port (RFC 8252 §7.3), or the
/// app's own private-use scheme (§7.1), which is the only scheme the installers register.
fn check_redirect(redirect: &Url, text: &str) -> Result<(), ConfigError> {
    const REDIRECT_EXAMPLE: &str = DEFAULT_REDIRECT;
    let why = match redirect.scheme() {
        "http" if !is_loopback(redirect) => {
            "a desktop callback must be http on 127.0.0.1 or [::1] (RFC 8252)"
        }
        "http" if redirect.port().is_none() => "it needs an explicit port (0 for any)",
        "http" => return Ok(()),
        APP_SCHEME if redirect.host_str().is_none_or(str::is_empty) && redirect.path() != "/" => {
            return Ok(());
        }
        APP_SCHEME => {
            "write the app's scheme with one slash and a path: dev.kinvex.desktop:/callback"
        }
        _ => {
            "use http on 127.0.0.1 with a port, or the app's registered scheme dev.kinvex.desktop:/callback"
        }
    };
    Err(malformed("KINDE_REDIRECT_URL", text, why, REDIRECT_EXAMPLE))
}

impl Config {
    pub fn from_system() -> Result<Config, ConfigError> {
        Config::from_sources(&Sources::system())
    }

    pub fn from_sources(sources: &Sources) -> Result<Config, ConfigError> {
        let required = |var: &'static str, example: &'static str| {
            sources
                .get(var)
                .ok_or(ConfigError::Missing { var, example })
        };

        let issuer_text = required("KINDE_ISSUER_URL", ISSUER_EXAMPLE)?;
        // Tolerate a trailing slash: Kinde's issuer has none, and discovery must match it.
        let issuer = http_url(
            "KINDE_ISSUER_URL",
            issuer_text.trim_end_matches('/'),
            ISSUER_EXAMPLE,
        )?;
        if issuer.scheme() != "https" && !is_loopback(&issuer) {
            return Err(malformed(
                "KINDE_ISSUER_URL",
                &issuer_text,
                "it must use https (http only on 127.0.0.1)",
                ISSUER_EXAMPLE,
            ));
        }
        if issuer.query().is_some() || issuer.fragment().is_some() {
            return Err(malformed(
                "KINDE_ISSUER_URL",
                &issuer_text,
                "it must not have a query or fragment",
                ISSUER_EXAMPLE,
            ));
        }

        let client_id = required("KINDE_CLIENT_ID", "your-kinde-client-id")?;

        const REDIRECT_EXAMPLE: &str = DEFAULT_REDIRECT;
        let redirect_text = sources
            .get("KINDE_REDIRECT_URL")
            .unwrap_or_else(|| DEFAULT_REDIRECT.into());
        let redirect = Url::parse(&redirect_text).map_err(|e| {
            malformed(
                "KINDE_REDIRECT_URL",
                &redirect_text,
                e.to_string(),
                REDIRECT_EXAMPLE,
            )
        })?;
        check_redirect(&redirect, &redirect_text)?;

        let fallback_ports = match sources.get("KINDE_REDIRECT_FALLBACK_PORTS") {
            None => Vec::new(),
            Some(text) => text
                .split(',')
                .map(|p| p.trim().parse::<u16>().ok().filter(|p| *p != 0))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    malformed(
                        "KINDE_REDIRECT_FALLBACK_PORTS",
                        &text,
                        "a comma-separated list of ports",
                        "53181,53182",
                    )
                })?,
        };

        const LOGOUT_EXAMPLE: &str = "https://example.com/signed-out";
        let logout_redirect = sources
            .get("KINDE_LOGOUT_REDIRECT_URL")
            .map(|v| http_url("KINDE_LOGOUT_REDIRECT_URL", &v, LOGOUT_EXAMPLE))
            .transpose()?;

        let scopes_text = sources
            .get("KINDE_SCOPES")
            .unwrap_or_else(|| DEFAULT_SCOPES.into());
        let scopes: Vec<String> = scopes_text.split_whitespace().map(str::to_string).collect();
        if !scopes.iter().any(|s| s == "openid") {
            return Err(malformed(
                "KINDE_SCOPES",
                &scopes_text,
                "it must include openid",
                DEFAULT_SCOPES,
            ));
        }
        if scopes.iter().any(|s| s == "offline_access") && !scopes.iter().any(|s| s == "offline") {
            return Err(malformed(
                "KINDE_SCOPES",
                &scopes_text,
                "Kinde issues refresh tokens for `offline`, not `offline_access`",
                DEFAULT_SCOPES,
            ));
        }

        const CONVEX_EXAMPLE: &str = "https://happy-animal-123.convex.cloud";
        let convex_url = sources
            .get("CONVEX_URL")
            .map(|v| http_url("CONVEX_URL", &v, CONVEX_EXAMPLE))
            .transpose()?;

        Ok(Config {
            issuer,
            client_id,
            audience: sources.get("KINDE_AUDIENCE"),
            redirect,
            fallback_ports,
            logout_redirect,
            scopes,
            convex_url,
        })
    }

    /// Whether the callback arrives at a loopback listener (rather than through the app's scheme).
    pub fn redirect_is_loopback(&self) -> bool {
        self.redirect.scheme() == "http"
    }

    /// The issuer as written in tokens: no trailing slash.
    pub fn issuer_str(&self) -> &str {
        self.issuer.as_str().trim_end_matches('/')
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_sources(&Sources::from_pairs(pairs.iter().copied()))
    }

    const BASE: [(&str, &str); 2] = [
        ("KINDE_ISSUER_URL", "https://acme.kinde.com/"),
        ("KINDE_CLIENT_ID", "abc123"),
    ];

    #[test]
    fn defaults_and_trailing_slash() {
        let c = config(&BASE).unwrap();
        assert_eq!(c.issuer_str(), "https://acme.kinde.com");
        assert_eq!(c.redirect.as_str(), DEFAULT_REDIRECT);
        assert_eq!(c.scopes, ["openid", "profile", "email", "offline"]);
        assert_eq!(c.audience, None);
    }

    #[test]
    fn missing_values_name_the_variable_and_an_example() {
        let error = config(&[("KINDE_CLIENT_ID", "abc")]).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("KINDE_ISSUER_URL")
                && message.contains("https://yourbusiness.kinde.com"),
            "{message}"
        );
        let error = config(&[("KINDE_ISSUER_URL", "https://a.kinde.com")]).unwrap_err();
        assert!(matches!(
            error,
            ConfigError::Missing {
                var: "KINDE_CLIENT_ID",
                ..
            }
        ));
    }

    #[test]
    fn malformed_values_are_explained() {
        let cases = [
            ("KINDE_ISSUER_URL", "acme.kinde.com"),
            ("KINDE_ISSUER_URL", "http://acme.kinde.com"),
            ("KINDE_REDIRECT_URL", "http://localhost:53180/callback"),
            ("KINDE_REDIRECT_URL", "https://127.0.0.1:53180/callback"),
            ("KINDE_REDIRECT_URL", "http://127.0.0.1/callback"),
            ("KINDE_REDIRECT_URL", "myapp:/callback"),
            ("KINDE_REDIRECT_URL", "dev.kinvex.desktop://callback"),
            ("KINDE_REDIRECT_URL", "dev.kinvex.desktop:/"),
            ("KINDE_REDIRECT_FALLBACK_PORTS", "53181,x"),
            ("KINDE_SCOPES", "profile email"),
            ("KINDE_SCOPES", "openid offline_access"),
            ("CONVEX_URL", "not a url"),
        ];
        for (var, value) in cases {
            let mut pairs = BASE.to_vec();
            pairs.retain(|(k, _)| *k != var);
            pairs.push((var, value));
            match config(&pairs) {
                Err(ConfigError::Malformed { var: named, .. }) => assert_eq!(named, var),
                other => panic!("{var}={value} gave {other:?}"),
            }
        }
    }

    #[test]
    fn optional_values_are_read() {
        let mut pairs = BASE.to_vec();
        pairs.extend([
            ("KINDE_AUDIENCE", "convex"),
            ("KINDE_REDIRECT_URL", "http://127.0.0.1:0/callback"),
            ("KINDE_REDIRECT_FALLBACK_PORTS", "53181, 53182"),
            ("CONVEX_URL", "https://happy-animal-123.convex.cloud"),
        ]);
        let c = config(&pairs).unwrap();
        assert_eq!(c.audience.as_deref(), Some("convex"));
        assert_eq!(c.redirect.port(), Some(0));
        assert_eq!(c.fallback_ports, [53181, 53182]);
        assert!(c.convex_url.is_some());
    }

    #[test]
    fn the_apps_own_scheme_is_an_alternative_redirect() {
        let mut pairs = BASE.to_vec();
        pairs.push(("KINDE_REDIRECT_URL", "dev.kinvex.desktop:/callback"));
        let c = config(&pairs).unwrap();
        assert!(!c.redirect_is_loopback());
        assert_eq!(c.redirect.as_str(), "dev.kinvex.desktop:/callback");
        assert!(config(&BASE).unwrap().redirect_is_loopback());
    }

    #[test]
    fn an_empty_value_is_unset_and_hides_nothing_below_it() {
        let mut sources = Sources::from_pairs(
            BASE.iter()
                .copied()
                .chain([("KINDE_AUDIENCE", "  "), ("CONVEX_URL", "")]),
        );
        sources.dotenv.insert(
            "CONVEX_URL".into(),
            "https://from-dotenv.convex.cloud".into(),
        );
        let c = Config::from_sources(&sources).unwrap();
        assert_eq!(c.audience, None);
        assert_eq!(
            c.convex_url.map(String::from).as_deref(),
            Some("https://from-dotenv.convex.cloud/")
        );
    }

    #[test]
    fn lookup_says_which_level_gave_the_value_as_written() {
        let mut sources = Sources::from_pairs(BASE.iter().copied().chain([("KINDE_AUDIENCE", "")]));
        sources
            .dotenv
            .insert("KINDE_AUDIENCE".into(), " convex ".into());
        sources
            .dotenv
            .insert("KINDE_CLIENT_ID".into(), "hidden".into());
        assert_eq!(
            sources.lookup("KINDE_ISSUER_URL"),
            Some(("https://acme.kinde.com/".into(), Origin::Environment)),
            "the trailing slash the configuration drops is still shown"
        );
        assert_eq!(
            sources.lookup("KINDE_CLIENT_ID"),
            Some(("abc123".into(), Origin::Environment))
        );
        assert_eq!(
            sources.lookup("KINDE_AUDIENCE"),
            Some(("convex".into(), Origin::DotEnv))
        );
        assert_eq!(
            sources.lookup("KINDE_SCOPES").map(|(_, o)| o),
            built_in("KINDE_SCOPES").map(|_| Origin::BuiltIn)
        );
    }
}
