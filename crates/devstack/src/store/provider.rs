//! The identity provider's tables: users with their password hashes, authorization codes,
//! refresh tokens (grouped in rotation families) and browser sessions.

use super::{Result, Store, StoreError};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS idp_users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_salt BLOB NOT NULL,
    password_hash BLOB NOT NULL,
    given_name TEXT NOT NULL,
    family_name TEXT NOT NULL,
    phone TEXT,
    picture TEXT,
    org_code TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS idp_codes (
    code_hash BLOB PRIMARY KEY,
    grant_json TEXT NOT NULL,
    used INTEGER NOT NULL DEFAULT 0,
    family TEXT
);
CREATE TABLE IF NOT EXISTS idp_refresh_tokens (
    token_hash BLOB PRIMARY KEY,
    family TEXT NOT NULL,
    user_id TEXT NOT NULL,
    grant_json TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    rotated_at INTEGER,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS idp_refresh_by_family ON idp_refresh_tokens (family);
CREATE INDEX IF NOT EXISTS idp_refresh_by_user ON idp_refresh_tokens (user_id);
CREATE TABLE IF NOT EXISTS idp_sessions (
    session_hash BLOB PRIMARY KEY,
    user_id TEXT NOT NULL,
    auth_time INTEGER NOT NULL
);
";

/// A person known to the identity provider.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct User {
    pub id: String,
    pub email: String,
    pub given_name: String,
    pub family_name: String,
    pub phone: Option<String>,
    pub picture: Option<String>,
    pub org_code: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl User {
    pub fn name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name)
            .trim()
            .to_string()
    }
}

/// A user with the salt and hash their password is checked against.
pub struct Credentials {
    pub user: User,
    pub salt: Vec<u8>,
    pub hash: Vec<u8>,
}

/// What a code or a refresh token stands for.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Grant {
    pub user_id: String,
    pub client_id: String,
    pub scope: String,
    pub audience: Vec<String>,
    pub org_code: Option<String>,
    pub auth_time: i64,
}

/// An authorization code's binding: client, redirect URI and PKCE challenge.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CodeGrant {
    pub grant: Grant,
    pub redirect_uri: String,
    pub challenge: String,
    pub nonce: Option<String>,
    pub expires_at: i64,
}

pub enum CodeLookup {
    Fresh(CodeGrant),
    /// Seen before: the spec asks us to revoke what the first exchange issued.
    Reused {
        family: Option<String>,
    },
    Missing,
}

/// A stored refresh token (by its hash) and where it stands.
pub struct RefreshToken {
    pub family: String,
    pub grant: Grant,
    pub expires_at: i64,
    pub rotated_at: Option<i64>,
    pub revoked: bool,
}

/// A signed-in browser: whose it is and when they signed in.
pub struct BrowserSession {
    pub user_id: String,
    pub auth_time: i64,
}

/// The provider's view of the store.
#[derive(Clone, Copy)]
pub struct ProviderStore<'a> {
    store: &'a Store,
}

const USER_COLUMNS: &str =
    "id, email, given_name, family_name, phone, picture, org_code, created_at, updated_at";

fn user_from(row: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        email: row.get(1)?,
        given_name: row.get(2)?,
        family_name: row.get(3)?,
        phone: row.get(4)?,
        picture: row.get(5)?,
        org_code: row.get(6)?,
        created_at: row.get(7)?,
        updated_at: row.get(8)?,
    })
}

impl<'a> ProviderStore<'a> {
    pub(super) fn new(store: &'a Store) -> ProviderStore<'a> {
        ProviderStore { store }
    }

    // ---- users ----

    pub fn create_user(&self, user: &User, salt: &[u8], hash: &[u8]) -> Result<()> {
        let result = self.store.conn().execute(
            "INSERT INTO idp_users (id, email, password_salt, password_hash, given_name, family_name,
                                    phone, picture, org_code, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                user.id, user.email, salt, hash, user.given_name, user.family_name, user.phone,
                user.picture, user.org_code, user.created_at, user.updated_at
            ],
        );
        match result {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(StoreError::EmailTaken)
            }
            other => other.map(drop).map_err(Into::into),
        }
    }

    pub fn user(&self, id: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM idp_users WHERE id = ?1");
        Ok(self
            .store
            .conn()
            .query_row(&sql, [id], user_from)
            .optional()?)
    }

    /// The user with this email and their password salt and hash.
    pub fn credentials(&self, email: &str) -> Result<Option<Credentials>> {
        let sql = format!(
            "SELECT {USER_COLUMNS}, password_salt, password_hash FROM idp_users WHERE email = ?1"
        );
        Ok(self
            .store
            .conn()
            .query_row(&sql, [email], |row| {
                Ok(Credentials {
                    user: user_from(row)?,
                    salt: row.get(9)?,
                    hash: row.get(10)?,
                })
            })
            .optional()?)
    }

    pub fn update_user(&self, user: &User) -> Result<bool> {
        let changed = self.store.conn().execute(
            "UPDATE idp_users SET email = ?2, given_name = ?3, family_name = ?4, phone = ?5,
                    picture = ?6, org_code = ?7, updated_at = ?8 WHERE id = ?1",
            params![
                user.id,
                user.email,
                user.given_name,
                user.family_name,
                user.phone,
                user.picture,
                user.org_code,
                user.updated_at
            ],
        )?;
        Ok(changed == 1)
    }

    /// Deletes the user with their sessions and refresh tokens.
    pub fn delete_user(&self, id: &str) -> Result<bool> {
        let mut conn = self.store.conn();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM idp_sessions WHERE user_id = ?1", [id])?;
        tx.execute(
            "UPDATE idp_refresh_tokens SET revoked = 1 WHERE user_id = ?1",
            [id],
        )?;
        let deleted = tx.execute("DELETE FROM idp_users WHERE id = ?1", [id])?;
        tx.commit()?;
        Ok(deleted == 1)
    }

    // ---- authorization codes ----

    pub fn insert_code(&self, code_hash: &[u8], grant: &CodeGrant) -> Result<()> {
        self.store.conn().execute(
            "INSERT INTO idp_codes (code_hash, grant_json) VALUES (?1, ?2)",
            params![code_hash, serde_json::to_string(grant)?],
        )?;
        Ok(())
    }

    /// Marks the code used and returns what it was bound to, once.
    pub fn take_code(&self, code_hash: &[u8]) -> Result<CodeLookup> {
        let mut conn = self.store.conn();
        let tx = conn.transaction()?;
        let row: Option<(String, bool, Option<String>)> = tx
            .query_row(
                "SELECT grant_json, used, family FROM idp_codes WHERE code_hash = ?1",
                [code_hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let lookup = match row {
            None => CodeLookup::Missing,
            Some((_, true, family)) => CodeLookup::Reused { family },
            Some((json, false, _)) => {
                tx.execute(
                    "UPDATE idp_codes SET used = 1 WHERE code_hash = ?1",
                    [code_hash],
                )?;
                CodeLookup::Fresh(serde_json::from_str(&json)?)
            }
        };
        tx.commit()?;
        Ok(lookup)
    }

    /// Remembers which refresh-token family a code's exchange started, for reuse detection.
    pub fn link_code_family(&self, code_hash: &[u8], family: &str) -> Result<()> {
        self.store.conn().execute(
            "UPDATE idp_codes SET family = ?2 WHERE code_hash = ?1",
            params![code_hash, family],
        )?;
        Ok(())
    }

    // ---- refresh tokens ----

    pub fn insert_refresh_token(
        &self,
        token_hash: &[u8],
        family: &str,
        grant: &Grant,
        expires_at: i64,
    ) -> Result<()> {
        self.store.conn().execute(
            "INSERT INTO idp_refresh_tokens (token_hash, family, user_id, grant_json, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                token_hash,
                family,
                grant.user_id,
                serde_json::to_string(grant)?,
                expires_at
            ],
        )?;
        Ok(())
    }

    pub fn refresh_token(&self, token_hash: &[u8]) -> Result<Option<RefreshToken>> {
        let row: Option<(String, String, i64, Option<i64>, bool)> = self
            .store
            .conn()
            .query_row(
                "SELECT family, grant_json, expires_at, rotated_at, revoked
                 FROM idp_refresh_tokens WHERE token_hash = ?1",
                [token_hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        row.map(|(family, json, expires_at, rotated_at, revoked)| {
            Ok(RefreshToken {
                family,
                grant: serde_json::from_str(&json)?,
                expires_at,
                rotated_at,
                revoked,
            })
        })
        .transpose()
    }

    /// Records the first rotation of a token; later rotations keep the first time.
    pub fn mark_rotated(&self, token_hash: &[u8], at: i64) -> Result<()> {
        self.store.conn().execute(
            "UPDATE idp_refresh_tokens SET rotated_at = COALESCE(rotated_at, ?2) WHERE token_hash = ?1",
            params![token_hash, at],
        )?;
        Ok(())
    }

    pub fn revoke_family(&self, family: &str) -> Result<usize> {
        Ok(self.store.conn().execute(
            "UPDATE idp_refresh_tokens SET revoked = 1 WHERE family = ?1",
            [family],
        )?)
    }

    pub fn revoke_user_tokens(&self, user_id: &str) -> Result<usize> {
        Ok(self.store.conn().execute(
            "UPDATE idp_refresh_tokens SET revoked = 1 WHERE user_id = ?1",
            [user_id],
        )?)
    }

    // ---- browser sessions ----

    pub fn insert_session(&self, session_hash: &[u8], user_id: &str, auth_time: i64) -> Result<()> {
        self.store.conn().execute(
            "INSERT INTO idp_sessions (session_hash, user_id, auth_time) VALUES (?1, ?2, ?3)",
            params![session_hash, user_id, auth_time],
        )?;
        Ok(())
    }

    pub fn session(&self, session_hash: &[u8]) -> Result<Option<BrowserSession>> {
        Ok(self
            .store
            .conn()
            .query_row(
                "SELECT user_id, auth_time FROM idp_sessions WHERE session_hash = ?1",
                [session_hash],
                |r| {
                    Ok(BrowserSession {
                        user_id: r.get(0)?,
                        auth_time: r.get(1)?,
                    })
                },
            )
            .optional()?)
    }

    pub fn end_session(&self, session_hash: &[u8]) -> Result<()> {
        self.store.conn().execute(
            "DELETE FROM idp_sessions WHERE session_hash = ?1",
            [session_hash],
        )?;
        Ok(())
    }
}
