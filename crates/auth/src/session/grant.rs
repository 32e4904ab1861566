//! What the token endpoint answered, turned into a session. Sign-in and refresh both end here,
//! so a session is built one way: what a renewal leaves out is kept from the session it renews.

use crate::error::AuthError;
use crate::id_token::Identity;
use crate::secret::Secret;
use crate::token_store::TokenSet;

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

impl Grant {
    /// The session after a sign-in, which must carry a validated ID token.
    pub(crate) fn into_new_session(self, now: i64) -> Result<TokenSet, AuthError> {
        let Some((id_token, identity)) = self.id_token else {
            return Err(AuthError::TokenExchange(
                "no ID token came back; KINDE_SCOPES must include openid".into(),
            ));
        };
        Ok(TokenSet {
            access_token: self.access_token,
            access_expires_at: now + self.expires_in.unwrap_or(DEFAULT_LIFETIME),
            id_token,
            id_expires_at: identity.expires_at,
            refresh_token: self.refresh_token,
            subject: identity.subject,
            email: identity.email,
            name: identity.name,
            organization: identity.organization,
        })
    }

    /// The session after renewing `previous`: a refresh token or ID token that did not come
    /// back, and any claim the new ID token leaves out, are kept from it.
    pub(crate) fn into_renewal_of(self, previous: &TokenSet, now: i64) -> TokenSet {
        let access_expires_at = now + self.expires_in.unwrap_or(DEFAULT_LIFETIME);
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
                organization: identity
                    .organization
                    .or_else(|| previous.organization.clone()),
            },
            None => TokenSet {
                access_token: self.access_token,
                access_expires_at,
                refresh_token,
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
