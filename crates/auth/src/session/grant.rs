//! What the token endpoint answered, turned into a session. Sign-in and refresh both end here,
//! so a session is built one way: what a renewal leaves out is kept from the session it renews.

use crate::error::AuthError;
use crate::id_token::Identity;
use crate::secret::Secret;
use crate::token_store::TokenSet;
use serde::Deserialize;

/// Lifetime assumed for an access token when the answer carries no `expires_in`.
const DEFAULT_LIFETIME: i64 = 3600;

/// A token endpoint's successful answer, its ID token already validated.
pub(crate) struct Grant {
    pub access_token: Secret<String>,
    /// The ID token and what it says, when the answer carried one.
    pub id_token: Option<(Secret<String>, Identity)>,
    pub refresh_token: Option<Secret<String>>,
    pub expires_in: Option<i64>,
}

/// What the app reads from its own access token, unverified: it is not the token's audience
/// (Convex verifies it), and it came straight from the token endpoint.
#[derive(Default, Deserialize)]
struct AccessClaims {
    exp: Option<i64>,
    /// Kinde's current organisation; the ID token's `org_codes` lists all of them.
    org_code: Option<String>,
}

impl AccessClaims {
    /// The claims of a JWT access token; none for an opaque one.
    fn of(token: &Secret<String>) -> AccessClaims {
        jsonwebtoken::dangerous::insecure_decode_claims(token.expose()).unwrap_or_default()
    }
}

impl Grant {
    /// When the access token expires: its own `exp`, since a provider that repeats a
    /// still-valid access token (Kinde may) can still answer the full `expires_in`; `now +
    /// expires_in` only for a token that is not a JWT or carries no `exp`.
    fn access_expires_at(&self, claims: &AccessClaims, now: i64) -> i64 {
        claims
            .exp
            .unwrap_or_else(|| now + self.expires_in.unwrap_or(DEFAULT_LIFETIME))
    }

    /// The session after a sign-in, which must carry a validated ID token.
    pub(crate) fn into_new_session(self, now: i64) -> Result<TokenSet, AuthError> {
        let claims = AccessClaims::of(&self.access_token);
        let access_expires_at = self.access_expires_at(&claims, now);
        let Some((id_token, identity)) = self.id_token else {
            return Err(AuthError::TokenExchange(
                "no ID token came back; KINDE_SCOPES must include openid".into(),
            ));
        };
        Ok(TokenSet {
            access_token: self.access_token,
            access_expires_at,
            id_token,
            id_expires_at: identity.expires_at,
            refresh_token: self.refresh_token,
            subject: identity.subject,
            email: identity.email,
            name: identity.name,
            organization: claims.org_code.or(identity.organization),
            id_token_on_refresh: None,
        })
    }

    /// The session after renewing `previous`: a refresh token or ID token that did not come
    /// back, and any claim the new ID token leaves out, are kept from it. Whether an ID token
    /// came back is recorded, for `doctor` and for deciding when the next renewal is due.
    pub(crate) fn into_renewal_of(self, previous: &TokenSet, now: i64) -> TokenSet {
        let claims = AccessClaims::of(&self.access_token);
        let access_expires_at = self.access_expires_at(&claims, now);
        let refresh_token = self
            .refresh_token
            .or_else(|| previous.refresh_token.clone());
        match self.id_token {
            Some((id_token, identity)) => TokenSet {
                access_token: self.access_token,
                access_expires_at,
                id_token,
                id_expires_at: identity.expires_at,
                refresh_token,
                subject: previous.subject.clone(),
                email: identity.email.or_else(|| previous.email.clone()),
                name: identity.name.or_else(|| previous.name.clone()),
                organization: claims
                    .org_code
                    .or(identity.organization)
                    .or_else(|| previous.organization.clone()),
                id_token_on_refresh: Some(true),
            },
            None => TokenSet {
                access_token: self.access_token,
                access_expires_at,
                refresh_token,
                organization: claims.org_code.or_else(|| previous.organization.clone()),
                id_token_on_refresh: Some(false),
                ..previous.clone()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(email: Option<&str>) -> Identity {
        Identity {
            subject: "kp_1".into(),
            email: email.map(str::to_string),
            name: Some("Ada".into()),
            organization: Some("org_a".into()),
            expires_at: 5000,
        }
    }

    fn grant(id: Option<Identity>, refresh: Option<&str>) -> Grant {
        Grant {
            access_token: Secret::new("access-2".into()),
            id_token: id.map(|i| (Secret::new("id-2".into()), i)),
            refresh_token: refresh.map(|r| Secret::new(r.into())),
            expires_in: Some(600),
        }
    }

    fn first() -> TokenSet {
        let mut g = grant(Some(identity(Some("a@x"))), Some("refresh-1"));
        g.id_token = g.id_token.map(|(_, i)| (Secret::new("id-1".into()), i));
        g.into_new_session(1000).expect("has an ID token")
    }

    #[test]
    fn a_sign_in_takes_everything_from_the_answer() {
        let tokens = first();
        assert_eq!(tokens.access_expires_at, 1600);
        assert_eq!(tokens.id_expires_at, 5000);
        assert_eq!(tokens.email.as_deref(), Some("a@x"));
        assert_eq!(
            tokens.refresh_token.as_ref().map(|t| t.expose().as_str()),
            Some("refresh-1")
        );
    }

    /// A JWT access token with these claims (signed with a throwaway key: only read here).
    fn jwt(claims: serde_json::Value) -> Secret<String> {
        let key = jsonwebtoken::EncodingKey::from_secret(b"test");
        Secret::new(jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap())
    }

    #[test]
    fn the_access_expiry_is_the_tokens_own_exp_whatever_expires_in_says() {
        let mut g = grant(Some(identity(None)), None);
        // A repeated token: 30 s left, though the answer says the whole 600.
        g.access_token = jwt(serde_json::json!({ "exp": 1030, "org_code": "org_b" }));
        let tokens = g.into_new_session(1000).unwrap();
        assert_eq!(tokens.access_expires_at, 1030);
        assert_eq!(
            tokens.organization.as_deref(),
            Some("org_b"),
            "the current organisation is the access token's"
        );

        let mut g = grant(None, None);
        g.access_token = jwt(serde_json::json!({ "exp": 2100 }));
        assert_eq!(g.into_renewal_of(&first(), 2000).access_expires_at, 2100);

        let mut g = grant(None, None);
        g.access_token = jwt(serde_json::json!({ "sub": "kp_1" }));
        assert_eq!(
            g.into_renewal_of(&first(), 2000).access_expires_at,
            2600,
            "no exp: now + expires_in"
        );
    }

    #[test]
    fn a_renewal_records_whether_an_id_token_came_back() {
        assert_eq!(first().id_token_on_refresh, None);
        let with = grant(Some(identity(None)), None).into_renewal_of(&first(), 2000);
        assert_eq!(with.id_token_on_refresh, Some(true));
        let without = grant(None, None).into_renewal_of(&with, 2000);
        assert_eq!(without.id_token_on_refresh, Some(false));
        assert_eq!(without.organization.as_deref(), Some("org_a"), "kept");
    }

    #[test]
    fn a_sign_in_without_an_id_token_is_refused() {
        let error = grant(None, None).into_new_session(1000).unwrap_err();
        assert_eq!(error.code(), "token_exchange");
    }

    #[test]
    fn a_renewal_keeps_what_the_answer_left_out() {
        let renewed = grant(Some(identity(None)), None).into_renewal_of(&first(), 2000);
        assert_eq!(renewed.access_token.expose(), "access-2");
        assert_eq!(renewed.id_token.expose(), "id-2");
        assert_eq!(renewed.access_expires_at, 2600);
        assert_eq!(renewed.email.as_deref(), Some("a@x"), "claim kept");
        assert_eq!(
            renewed.refresh_token.as_ref().map(|t| t.expose().as_str()),
            Some("refresh-1"),
            "no rotation: the old refresh token stays"
        );

        let without_id = grant(None, Some("refresh-2")).into_renewal_of(&first(), 2000);
        assert_eq!(without_id.id_token.expose(), "id-1");
        assert_eq!(without_id.id_expires_at, 5000);
        assert_eq!(
            without_id
                .refresh_token
                .as_ref()
                .map(|t| t.expose().as_str()),
            Some("refresh-2")
        );
    }
}
