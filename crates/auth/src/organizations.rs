//! The person's organisations: every one they belong to, from the ID token's `org_codes`
//! (Kinde lists them all), with names where the provider gives them (the ID token's
//! `organizations` claim, which Kinde's "Organizations" ID-token customisation adds, and the
//! access token's `org_name` for the current one), and which one the session is signed in to
//! (the access token's `org_code`). Switching and creating are sign-ins
//! ([`crate::SignInOptions::org_code`], [`crate::SignInOptions::create_org`]).

use crate::access::Access;
use crate::error::AuthError;
use crate::session::Auth;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One of the person's organisations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Organization {
    /// Kinde's code, what `org_code` takes (`org_` and hex digits).
    pub code: String,
    /// `None` when the provider names it nowhere the app can read.
    pub name: Option<String>,
    /// Whether the session is signed in to it.
    pub current: bool,
}

/// What the ID token says about organisations. Any other shape is left out, never a failure:
/// the list is for showing, and a switch asks the provider, which has the last word.
#[derive(Default, Deserialize)]
struct IdClaims {
    #[serde(default)]
    org_codes: Value,
    #[serde(default)]
    organizations: Value,
}

/// The organisations in `id_claims` (an ID token's payload) in the order `org_codes` lists
/// them, each named from its `organizations` entry or, for the current one, from `access`; the
/// one `access` names is marked current, and added if the ID token does not list it.
pub fn from_claims(id_claims: &Value, access: &Access) -> Vec<Organization> {
    let claims: IdClaims = serde_json::from_value(id_claims.clone()).unwrap_or_default();
    let names: Vec<(String, String)> = match claims.organizations {
        Value::Array(entries) => entries
            .into_iter()
            .filter_map(|entry| {
                let id = entry.get("id")?.as_str()?.to_string();
                let name = entry.get("name")?.as_str()?.to_string();
                Some((id, name))
            })
            .collect(),
        _ => Vec::new(),
    };
    let mut codes: Vec<String> = match claims.org_codes {
        Value::Array(codes) => codes
            .into_iter()
            .filter_map(|c| c.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    if let Some(current) = &access.org_code
        && !codes.contains(current)
    {
        codes.push(current.clone());
    }
    let mut listed: Vec<Organization> = Vec::with_capacity(codes.len());
    for code in codes {
        if listed.iter().any(|o| o.code == code) {
            continue;
        }
        let current = access.org_code.as_deref() == Some(code.as_str());
        let name = names
            .iter()
            .find(|(id, _)| *id == code)
            .map(|(_, name)| name.clone())
            .or_else(|| access.org_name.clone().filter(|_| current));
        listed.push(Organization {
            code,
            name,
            current,
        });
    }
    listed
}

impl Auth {
    /// The person's organisations, the current one marked, renewing the session first when
    /// due. The current one comes from the access token, read once its signature, issuer and
    /// expiry are checked ([`Auth::access`]); the list from the session's ID token, which was
    /// validated in full when it was received and is read here as stored (it may have expired
    /// since: it still says whom the person belonged to when it was issued).
    pub async fn organizations(&self) -> Result<Vec<Organization>, AuthError> {
        let access = self.access().await?;
        let tokens = self.fresh_tokens().await?;
        let id_claims: Value =
            jsonwebtoken::dangerous::insecure_decode_claims(tokens.id_token.expose())
                .unwrap_or(Value::Null);
        Ok(from_claims(&id_claims, &access))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn access(code: Option<&str>, name: Option<&str>) -> Access {
        Access {
            org_code: code.map(str::to_string),
            org_name: name.map(str::to_string),
            ..Access::default()
        }
    }

    fn org(code: &str, name: Option<&str>, current: bool) -> Organization {
        Organization {
            code: code.into(),
            name: name.map(str::to_string),
            current,
        }
    }

    #[test]
    fn every_organisation_listed_named_and_the_current_one_marked() {
        let claims = json!({
            "org_codes": ["org_a", "org_b", "org_c"],
            "organizations": [{ "id": "org_b", "name": "Bravo" }, { "id": "org_a", "name": "Alpha" }],
        });
        assert_eq!(
            from_claims(&claims, &access(Some("org_c"), Some("Charlie"))),
            [
                org("org_a", Some("Alpha"), false),
                org("org_b", Some("Bravo"), false),
                org("org_c", Some("Charlie"), true),
            ]
        );
    }

    #[test]
    fn without_names_only_the_current_one_is_named_and_it_is_never_missing() {
        let claims = json!({ "org_codes": ["org_a"] });
        assert_eq!(
            from_claims(&claims, &access(Some("org_new"), Some("New"))),
            [org("org_a", None, false), org("org_new", Some("New"), true)]
        );
        assert_eq!(from_claims(&json!({}), &access(None, None)), []);
    }

    #[test]
    fn odd_shapes_are_left_out_and_repeats_listed_once() {
        let claims = json!({
            "org_codes": ["org_a", 7, null, "org_a"],
            "organizations": [{ "id": "org_a" }, "org_a", { "id": 1, "name": "x" }],
        });
        assert_eq!(
            from_claims(&claims, &access(None, Some("ignored: no code"))),
            [org("org_a", None, false)]
        );
        assert_eq!(
            from_claims(&json!("not an object"), &access(Some("org_x"), None)),
            [org("org_x", None, true)]
        );
    }
}
