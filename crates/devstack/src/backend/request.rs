//! What a deployment checks of an API request before any function runs, with the statuses and
//! codes it answers (get-convex/convex-backend crates/common/src/http: the client-version
//! middleware and the `Json` extractor; crates/local_backend/src/authentication.rs: the
//! `Authorization` header). Each check fails with the response to send.

use super::Refusal;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use semver::Version;
use serde::de::DeserializeOwned;

/// Convex's public API accepts bodies up to 16 MiB (and a little room for the JSON around them).
pub const BODY_LIMIT: usize = (1 << 24) + 2000;

fn bad_request(code: &'static str, message: &str) -> Refusal {
    Refusal::new(StatusCode::BAD_REQUEST, code, message)
}

/// The `Convex-Client` header, `<name>-<semver>`: refused when it is not that shape, or when it
/// names an official client at a version Convex no longer supports (crates/common/
/// deprecation.json: npm 0.19.1 and older, Python 0.0.2, Rust 0.0.1). Missing is accepted.
pub fn client_version(headers: &HeaderMap) -> Result<(), Refusal> {
    let Some(value) = headers.get("convex-client").and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let parts: Vec<&str> = value.split('-').collect();
    if parts.len() < 2 {
        return Err(bad_request(
            "InvalidClientVersion",
            &format!(
                "Failed to parse client version string: '{value}'. Expected format is {{client_name}}-{{semver}}, e.g. my-esolang-client-0.0.1"
            ),
        ));
    }
    // The longest version that parses, read from the right.
    let (client, version) = (1..parts.len())
        .find_map(|n| {
            Version::parse(&parts[n..].join("-"))
                .ok()
                .map(|v| (parts[..n].join("-"), Some(v)))
        })
        .unwrap_or_else(|| (parts[0].to_string(), None));
    let client = client.to_ascii_lowercase();
    let (name, unsupported, upgrade) = match client.as_str() {
        "npm" | "npm-cli" | "actions" => (
            client.as_str(),
            Version::new(0, 19, 1),
            "Update your Convex npm version with `npx convex update` or `npm update`.",
        ),
        "python" | "python-convex" => (
            "python",
            Version::new(0, 0, 2),
            "Update your Convex python version with `pip install --upgrade convex`.",
        ),
        "rust" => (
            "rust",
            Version::new(0, 0, 1),
            "Update your Convex rust version with `cargo update -p convex` or by updating `Cargo.toml`.",
        ),
        _ => return Ok(()),
    };
    let shown = version
        .as_ref()
        .map_or_else(|| parts[1..].join("-"), Version::to_string);
    if version.is_none_or(|v| v <= unsupported) {
        return Err(bad_request(
            "ClientVersionUnsupported",
            &format!(
                "The Convex {name} package at version {shown} is no longer supported. {upgrade}"
            ),
        ));
    }
    Ok(())
}

/// The bearer token of `Authorization`, if the header is there. Any other scheme is refused,
/// never treated as anonymous; `Convex <key>` is a deploy key, and this backend has none.
pub fn bearer(headers: &HeaderMap) -> Result<Option<String>, Refusal> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let Ok(value) = value.to_str() else {
        return Err(bad_request(
            "HeaderParseFailure",
            "Failed to parse the Authorization header",
        ));
    };
    let Some(scheme) = value.get(..7) else {
        return Err(bad_request(
            "InvalidHeaderFailure",
            "Invalid authentication header",
        ));
    };
    if scheme.eq_ignore_ascii_case("convex ") {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "BadDeployKey",
            "The provided deploy key was invalid for this deployment. Double check that the environment this key was generated for matches the desired deployment.",
        ));
    }
    if value.len() <= 7 || !scheme.eq_ignore_ascii_case("bearer ") {
        return Err(bad_request("InvalidAdminKey", "Invalid admin key"));
    }
    Ok(Some(value[7..].trim().to_string()))
}

/// `application/json` or any `application/*+json`.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|m| {
            m.type_() == mime::APPLICATION
                && (m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON))
        })
}

/// The request's JSON body as `T`: a JSON content type, at most [`BODY_LIMIT`] bytes, and the
/// fields `T` requires; each failure a 400 `BadJsonBody` with axum's own words, as Convex's are.
pub async fn json<T: DeserializeOwned>(headers: &HeaderMap, body: Body) -> Result<T, Refusal> {
    let bad = |message: &str| bad_request("BadJsonBody", message);
    if !is_json(headers) {
        return Err(bad(
            "Expected request with `Content-Type: application/json`",
        ));
    }
    let bytes = axum::body::to_bytes(body, BODY_LIMIT)
        .await
        .map_err(|_| bad("Failed to buffer the request body: length limit exceeded"))?;
    axum::Json::<T>::from_bytes(&bytes)
        .map(|json| json.0)
        .map_err(|rejection| bad(&rejection.body_text()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(name: &'static str, value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn old_official_clients_and_shapeless_versions_are_refused() {
        for old in [
            "npm-0.19.0",
            "npm-0.19.1",
            "npm-cli-0.1.0",
            "python-0.0.2",
            "rust-0.0.1",
            "npm-banana",
        ] {
            let headers = with("convex-client", old);
            assert!(client_version(&headers).is_err(), "{old}");
        }
        for fine in [
            "npm-1.48.0",
            "npm-0.19.2",
            "python-convex-0.7.0",
            "kinvex-tests-0.1.0",
            "rust-0.10.4",
            "npm-1.2.3-alpha.1",
        ] {
            assert!(
                client_version(&with("convex-client", fine)).is_ok(),
                "{fine}"
            );
        }
        assert_eq!(
            client_version(&with("convex-client", "noversion"))
                .err()
                .map(|r| r.status.as_u16()),
            Some(400)
        );
    }

    #[test]
    fn only_bearer_tokens_are_tokens() {
        assert_eq!(
            bearer(&with("authorization", "Bearer abc")).ok(),
            Some(Some("abc".into()))
        );
        assert_eq!(
            bearer(&with("authorization", "bEaReR  abc ")).ok(),
            Some(Some("abc".into()))
        );
        assert_eq!(bearer(&HeaderMap::new()).ok(), Some(None));
        for refused in ["Basic dXNlcjpwYXNz", "Bearer ", "Token", "Convex key"] {
            assert!(
                bearer(&with("authorization", refused)).is_err(),
                "{refused}"
            );
        }
    }

    #[test]
    fn json_content_types_include_the_plus_json_family() {
        assert!(is_json(&with("content-type", "application/json")));
        assert!(is_json(&with(
            "content-type",
            "application/json; charset=utf-8"
        )));
        assert!(is_json(&with(
            "content-type",
            "application/vnd.convex+json"
        )));
        assert!(!is_json(&with("content-type", "text/json")));
        assert!(!is_json(&with("content-type", "application/jsonx")));
        assert!(!is_json(&HeaderMap::new()));
    }
}
