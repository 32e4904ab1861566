//! The backend's fetches of discovery documents and key sets, kept as a Convex deployment keeps
//! them: through an HTTP cache that obeys the provider's `Cache-Control` (get-convex/
//! convex-backend crates/http_client, a shared cache in its default mode). A response is reused
//! while it is fresh and fetched again only once it is not; nothing else refetches it, so a token
//! whose `kid` the cached key set lacks fails until the set expires.
//!
//! Freshness is measured on the stack's clock ([`crate::Config::clock`]): how long a rotated key
//! goes unaccepted is something a client can see, so a test moves past the cache's expiry by
//! moving the clock, as it moves past a token's. A test that moves the clock past the key cache's
//! lifetime makes the next verification fetch again, as a real deployment would.

use crate::lock;
use kinvex_clock::SharedClock;
use reqwest::StatusCode;
use reqwest::header::{AGE, CACHE_CONTROL, CONTENT_TYPE, HeaderMap};
use std::collections::HashMap;
use std::sync::Mutex;

/// A fetched response, as much of it as the verifier reads.
#[derive(Clone, Debug)]
pub struct Fetched {
    pub status: StatusCode,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

pub struct KeyCache {
    clock: SharedClock,
    /// By URL: the response and the stack-clock time (ms) until which it is fresh.
    entries: Mutex<HashMap<String, (Fetched, f64)>>,
}

impl KeyCache {
    pub fn new(clock: SharedClock) -> KeyCache {
        KeyCache {
            clock,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// `GET url`, from the cache while the stored response is fresh.
    pub async fn get(&self, http: &reqwest::Client, url: &str) -> Result<Fetched, reqwest::Error> {
        let now = self.clock.unix_ms();
        if let Some((fetched, _)) = lock(&self.entries)
            .get(url)
            .filter(|(_, until)| now < *until)
        {
            return Ok(fetched.clone());
        }
        let response = http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await?;
        let status = response.status();
        let lifetime = freshness_seconds(response.headers());
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response.bytes().await?.to_vec();
        let fetched = Fetched {
            status,
            content_type,
            body,
        };
        let mut entries = lock(&self.entries);
        match lifetime.filter(|s| *s > 0 && status == StatusCode::OK) {
            Some(seconds) => {
                entries.insert(
                    url.to_string(),
                    (fetched.clone(), now + seconds as f64 * 1000.0),
                );
            }
            None => {
                entries.remove(url);
            }
        }
        Ok(fetched)
    }
}

/// How many more seconds a response stays fresh in a shared cache (RFC 9111 §4.2.1, §5.2.2):
/// `s-maxage`, else `max-age`, less its `Age`; `None` when it may not be stored or reused
/// without revalidation (`no-store`, `no-cache`, `private`, or no explicit lifetime; the
/// providers Convex talks to give one).
fn freshness_seconds(headers: &HeaderMap) -> Option<u64> {
    let mut max_age = None;
    let mut s_maxage = None;
    for value in headers.get_all(CACHE_CONTROL) {
        let Ok(value) = value.to_str() else {
            return None;
        };
        for directive in value.split(',') {
            let (name, argument) = match directive.split_once('=') {
                Some((name, argument)) => (name.trim(), Some(argument.trim().trim_matches('"'))),
                None => (directive.trim(), None),
            };
            let seconds = || argument.and_then(|a| a.parse::<u64>().ok());
            match name.to_ascii_lowercase().as_str() {
                "no-store" | "no-cache" | "private" => return None,
                "max-age" => max_age = seconds(),
                "s-maxage" => s_maxage = seconds(),
                _ => {}
            }
        }
    }
    let age = headers
        .get(AGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    s_maxage
        .or(max_age)
        .map(|lifetime| lifetime.saturating_sub(age))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn lifetime(cache_control: &[&str], age: Option<&str>) -> Option<u64> {
        let mut headers = HeaderMap::new();
        for value in cache_control {
            headers.append(
                CACHE_CONTROL,
                HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static("")),
            );
        }
        if let Some(age) = age {
            headers.insert(
                AGE,
                HeaderValue::from_str(age).unwrap_or_else(|_| HeaderValue::from_static("")),
            );
        }
        freshness_seconds(&headers)
    }

    #[test]
    fn a_response_is_fresh_for_its_max_age_less_its_age() {
        assert_eq!(lifetime(&["public, max-age=3600"], None), Some(3600));
        assert_eq!(lifetime(&["max-age=3600"], Some("600")), Some(3000));
        assert_eq!(lifetime(&["max-age=60"], Some("600")), Some(0));
        assert_eq!(lifetime(&["max-age=60, s-maxage=120"], None), Some(120));
        assert_eq!(lifetime(&["Max-Age=\"30\""], None), Some(30));
    }

    #[test]
    fn no_store_no_cache_private_and_no_lifetime_are_not_reused() {
        assert_eq!(lifetime(&["no-store"], None), None);
        assert_eq!(lifetime(&["max-age=3600, no-cache"], None), None);
        assert_eq!(lifetime(&["private, max-age=3600"], None), None);
        assert_eq!(lifetime(&["public"], None), None);
        assert_eq!(lifetime(&[], None), None);
    }
}
