//! Which requests are addressed to the callback listener at all. A web page whose own name its
//! DNS server re-points at 127.0.0.1 (DNS rebinding) reaches the port, but its requests still
//! carry that name in `Host`; only the redirect URI's own host and port, compared exactly, are
//! taken, so such a request is refused before it can touch the sign-in.

use axum::http::{HeaderMap, Uri, header};
use url::Url;

/// Why a request was refused as not addressed to the listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Misaddressed {
    /// No `Host`, several, or one that is not text: not a request a browser sends.
    Unnamed,
    /// Addressed to another name or port than the redirect URI's.
    Elsewhere,
}

/// The host and port the redirect URI names, as a browser writes them in `Host`.
#[derive(Debug)]
pub(super) struct Authority {
    /// `host:port`, lower case (an IPv6 host keeps its brackets).
    with_port: String,
    /// The bare host, also accepted when the port is the scheme's default (a browser then omits it).
    bare: Option<String>,
}

impl Authority {
    pub(super) fn of(redirect: &Url) -> Authority {
        let host = redirect.host_str().unwrap_or_default().to_ascii_lowercase();
        let port = redirect.port_or_known_default().unwrap_or_default();
        let bare = (redirect.port().is_none()).then(|| host.clone());
        Authority {
            with_port: format!("{host}:{port}"),
            bare,
        }
    }

    /// Whether the request names this authority: in its single `Host`, and in its target too
    /// when the target is in absolute form (RFC 9112 §3.2.2 makes that one the authority).
    pub(super) fn admits(&self, headers: &HeaderMap, uri: &Uri) -> Result<(), Misaddressed> {
        let mut hosts = headers.get_all(header::HOST).iter();
        let host = match (hosts.next(), hosts.next()) {
            (Some(host), None) => host.to_str().map_err(|_| Misaddressed::Unnamed)?,
            _ => return Err(Misaddressed::Unnamed),
        };
        let target = uri.authority().map(|a| a.as_str());
        // An absolute target must also name the redirect's scheme: the listener serves only http.
        let scheme = uri
            .scheme_str()
            .is_none_or(|s| s.eq_ignore_ascii_case("http"));
        if self.names(host) && target.is_none_or(|t| self.names(t)) && scheme {
            Ok(())
        } else {
            Err(Misaddressed::Elsewhere)
        }
    }

    fn names(&self, value: &str) -> bool {
        value.eq_ignore_ascii_case(&self.with_port)
            || self
                .bare
                .as_deref()
                .is_some_and(|bare| value.eq_ignore_ascii_case(bare))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn request(hosts: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for host in hosts {
            headers.append(header::HOST, HeaderValue::from_str(host).unwrap());
        }
        headers
    }

    fn check(redirect: &str, hosts: &[&str], target: &str) -> Result<(), Misaddressed> {
        let authority = Authority::of(&Url::parse(redirect).unwrap());
        authority.admits(&request(hosts), &target.parse().unwrap())
    }

    #[test]
    fn the_redirects_own_host_and_port_are_admitted() {
        let ipv4 = "http://127.0.0.1:53180/callback";
        assert_eq!(check(ipv4, &["127.0.0.1:53180"], "/callback"), Ok(()));
        assert_eq!(
            check(
                ipv4,
                &["127.0.0.1:53180"],
                "http://127.0.0.1:53180/callback"
            ),
            Ok(())
        );
        let ipv6 = "http://[::1]:53180/callback";
        assert_eq!(check(ipv6, &["[::1]:53180"], "/callback"), Ok(()));
        let named = "http://LocalHost:53180/callback";
        assert_eq!(check(named, &["localhost:53180"], "/callback"), Ok(()));
        assert_eq!(check(named, &["LOCALHOST:53180"], "/callback"), Ok(()));
        let default_port = "http://127.0.0.1/callback";
        assert_eq!(check(default_port, &["127.0.0.1"], "/callback"), Ok(()));
        assert_eq!(check(default_port, &["127.0.0.1:80"], "/callback"), Ok(()));
    }

    #[test]
    fn dns_rebinding_and_other_hosts_are_refused() {
        let redirect = "http://127.0.0.1:53180/callback";
        for host in [
            "evil.example:53180",
            "evil.example",
            "localhost:53180",
            "127.0.0.1",
            "127.0.0.1:53181",
            "127.0.0.1:053180",
            "127.0.0.1.:53180",
            "user@127.0.0.1:53180",
            "127.0.0.1:53180 ",
            "[::1]:53180",
        ] {
            assert_eq!(
                check(redirect, &[host], "/callback"),
                Err(Misaddressed::Elsewhere),
                "{host}"
            );
        }
        assert_eq!(
            check(
                redirect,
                &["127.0.0.1:53180"],
                "http://evil.example:53180/callback"
            ),
            Err(Misaddressed::Elsewhere),
            "an absolute target names the authority"
        );
        assert_eq!(
            check(
                redirect,
                &["127.0.0.1:53180"],
                "htwp://127.0.0.1:53180/callback"
            ),
            Err(Misaddressed::Elsewhere),
            "an absolute target names the scheme too"
        );
    }

    #[test]
    fn a_missing_or_repeated_host_is_refused() {
        let redirect = "http://127.0.0.1:53180/callback";
        assert_eq!(
            check(redirect, &[], "/callback"),
            Err(Misaddressed::Unnamed)
        );
        assert_eq!(
            check(redirect, &["127.0.0.1:53180", "evil.example"], "/callback"),
            Err(Misaddressed::Unnamed)
        );
        let mut opaque = HeaderMap::new();
        opaque.insert(
            header::HOST,
            HeaderValue::from_bytes(b"127.0.0.1:53180\xff").unwrap(),
        );
        let authority = Authority::of(&Url::parse(redirect).unwrap());
        assert_eq!(
            authority.admits(&opaque, &"/callback".parse().unwrap()),
            Err(Misaddressed::Unnamed)
        );
    }
}
