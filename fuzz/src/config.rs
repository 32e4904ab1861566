//! Configuration parsing: a `.env` file's text, read the way dotenvy reads `./.env`, into
//! [`Config::from_sources`]. An accepted configuration must keep the rules that protect a
//! sign-in: an https issuer (http only on a loopback address) without query or fragment, a
//! loopback or app-scheme redirect, `openid` in the scopes, no port 0 among the fallbacks.

use kinvex_auth::config::{APP_SCHEME, Config, Sources};
use std::io::Cursor;

pub fn target(data: &[u8]) {
    let pairs: Vec<(String, String)> = dotenvy::from_read_iter(Cursor::new(data))
        .filter_map(Result::ok)
        .collect();
    let sources = Sources::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    match Config::from_sources(&sources) {
        Ok(config) => {
            if let Err(broken) = rules(&config) {
                panic!("a configuration breaking a rule was accepted ({broken}): {pairs:?}");
            }
        }
        // Every refusal must render (it is what the person reads).
        Err(error) => assert!(!error.to_string().is_empty()),
    }
}

fn loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    }
}

fn rules(config: &Config) -> Result<(), &'static str> {
    let issuer = &config.issuer;
    match issuer.scheme() {
        "https" => {}
        "http" if loopback(issuer) => {}
        _ => return Err("the issuer is not https"),
    }
    if issuer.host_str().is_none_or(str::is_empty) {
        return Err("the issuer has no host");
    }
    if issuer.query().is_some() || issuer.fragment().is_some() {
        return Err("the issuer has a query or fragment");
    }
    if config.client_id.trim().is_empty() {
        return Err("the client id is empty");
    }
    let redirect = &config.redirect;
    match redirect.scheme() {
        "http" if loopback(redirect) && redirect.port().is_some() => {}
        APP_SCHEME if redirect.host_str().is_none_or(str::is_empty) => {}
        _ => return Err("the redirect is neither loopback http with a port nor the app's scheme"),
    }
    if !config.scopes.iter().any(|s| s == "openid") {
        return Err("the scopes lack openid");
    }
    if config.fallback_ports.contains(&0) {
        return Err("a fallback port is 0");
    }
    for url in [&config.logout_redirect, &config.convex_url]
        .into_iter()
        .flatten()
    {
        if !matches!(url.scheme(), "http" | "https") {
            return Err("a URL setting is not http(s)");
        }
    }
    Ok(())
}
