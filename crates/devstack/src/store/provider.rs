//! The identity provider's tables: users with their password hashes, authorization codes,
//! refresh tokens (grouped in rotation families), browser sessions, and the tenant's
//! organisations with each person's roles and permissions in them and the feature flags.

use super::{Result, Store, StoreError};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    -- The person's organisations, space-separated, their default first. One column, named as
    -- when it held a single code, so stores written before keep working.
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
CREATE TABLE IF NOT EXISTS idp_family_access_tokens (
    family TEXT PRIMARY KEY,
    access_token TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS idp_sessions (
    session_hash BLOB PRIMARY KEY,
    user_id TEXT NOT NULL,
    auth_time INTEGER NOT NULL
);
-- Added after the tables above: a store written before has none of these, and gets them empty
-- (a code without a row is named by its code; a person without a membership row has no roles).
CREATE TABLE IF NOT EXISTS idp_organizations (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
-- Roles are defined once for the tenant, as on Kinde, and given to people per organisation.
CREATE TABLE IF NOT EXISTS idp_roles (
    key TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    name TEXT NOT NULL
);
-- Which organisations a person is in stays in idp_users.org_code; this holds what they may do
-- in each: role keys and permission keys, as JSON arrays.
CREATE TABLE IF NOT EXISTS idp_memberships (
    user_id TEXT NOT NULL,
    org_code TEXT NOT NULL,
    roles_json TEXT NOT NULL,
    permissions_json TEXT NOT NULL,
    PRIMARY KEY (user_id, org_code)
);
-- Feature flags: the tenant's defaults (org_code '') and each organisation's overrides.
CREATE TABLE IF NOT EXISTS idp_feature_flags (
    org_code TEXT NOT NULL,
    key TEXT NOT NULL,
    flag_type TEXT NOT NULL,
    value_json TEXT NOT NULL,
    PRIMARY KEY (org_code, key)
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
    /// The organisations the person belongs to, their default first; never empty, as on Kinde,
    /// where everyone is at least in the business's default organisation.
    pub organizations: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The business's default organisation, which Kinde puts everyone in whom no other
/// organisation claims (docs.kinde.com/build/organizations/allow-user-signup-org/).
pub const DEFAULT_ORG: &str = "org_kinvex_default";

impl User {
    /// The organisation a sign-in lands in when it names none.
    pub fn default_org(&self) -> &str {
        self.organizations
            .first()
            .map_or(DEFAULT_ORG, String::as_str)
    }

    pub fn is_member(&self, org_code: &str) -> bool {
        self.organizations.iter().any(|o| o == org_code)
    }

    pub fn name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name)
            .trim()
            .to_string()
    }
}

/// One of the tenant's organisations.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Organization {
    pub code: String,
    pub name: String,
}

/// A role as Kinde's access token carries it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Role {
    pub id: String,
    pub key: String,
    pub name: String,
}

/// What a person may do in one organisation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Membership {
    pub roles: Vec<Role>,
    pub permissions: Vec<String>,
}

/// A feature flag as Kinde's access token carries it: `t` is `b`, `s`, `i` or `j` (boolean,
/// string, integer, JSON) and `v` the value.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Flag {
    pub t: String,
    pub v: serde_json::Value,
}

impl Flag {
    /// A flag whose value is of its type; `None` for an unknown type or a mismatched value.
    pub fn new(t: &str, v: serde_json::Value) -> Option<Flag> {
        let fits = match t {
            "b" => v.is_boolean(),
            "s" => v.is_string(),
            "i" => v.is_i64(),
            "j" => true,
            _ => false,
        };
        fits.then(|| Flag { t: t.into(), v })
    }
}

/// Whether a write replaces what is there or only fills a gap (seeding keeps what an admin set).
#[derive(Clone, Copy, PartialEq)]
pub enum Write {
    Replace,
    IfAbsent,
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
        organizations: organizations_from(row.get(6)?),
        created_at: row.get(7)?,
        updated_at: row.get(8)?,
    })
}

/// The stored list, with the default organisation for a person stored without one.
fn organizations_from(column: Option<String>) -> Vec<String> {
    let organizations: Vec<String> = column
        .as_deref()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if organizations.is_empty() {
        vec![DEFAULT_ORG.to_string()]
    } else {
        organizations
    }
}

fn organizations_column(user: &User) -> String {
    user.organizations.join(" ")
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
                user.picture, organizations_column(user), user.created_at, user.updated_at
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
                organizations_column(user),
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

    /// Remembers the access token last issued to a refresh-token family, for a provider that
    /// answers a refresh with the same access token while it is valid (as Kinde may).
    pub fn remember_access_token(&self, family: &str, token: &str, expires_at: i64) -> Result<()> {
        self.store.conn().execute(
            "INSERT INTO idp_family_access_tokens (family, access_token, expires_at)
             VALUES (?1, ?2, ?3)
             ON CONFLICT (family) DO UPDATE SET access_token = ?2, expires_at = ?3",
            params![family, token, expires_at],
        )?;
        Ok(())
    }

    /// The access token last issued to `family` and when it expires.
    pub fn last_access_token(&self, family: &str) -> Result<Option<(String, i64)>> {
        Ok(self
            .store
            .conn()
            .query_row(
                "SELECT access_token, expires_at FROM idp_family_access_tokens WHERE family = ?1",
                [family],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    // ---- organisations, roles, memberships, feature flags ----

    /// Adds an organisation; `false` if its code is taken (then nothing changes).
    pub fn insert_organization(&self, org: &Organization, now: i64) -> Result<bool> {
        let added = self.store.conn().execute(
            "INSERT OR IGNORE INTO idp_organizations (code, name, created_at) VALUES (?1, ?2, ?3)",
            params![org.code, org.name, now],
        )?;
        Ok(added == 1)
    }

    pub fn organization(&self, code: &str) -> Result<Option<Organization>> {
        Ok(self
            .store
            .conn()
            .query_row(
                "SELECT code, name FROM idp_organizations WHERE code = ?1",
                [code],
                |r| {
                    Ok(Organization {
                        code: r.get(0)?,
                        name: r.get(1)?,
                    })
                },
            )
            .optional()?)
    }

    /// The organisation's name; its code for one the store has no row for (a code an admin
    /// gave someone without creating it, or one from a store written before names were kept).
    pub fn organization_name(&self, code: &str) -> Result<String> {
        Ok(self
            .organization(code)?
            .map_or_else(|| code.to_string(), |o| o.name))
    }

    /// Sets `user_id`'s roles (key and name; a new key gets an id, a known one keeps its id and
    /// takes the name) and permissions in `org_code`. With [`Write::IfAbsent`] an existing
    /// membership is left as it is.
    pub fn set_membership(
        &self,
        user_id: &str,
        org_code: &str,
        roles: &[(String, String)],
        permissions: &[String],
        write: Write,
    ) -> Result<()> {
        let mut conn = self.store.conn();
        let tx = conn.transaction()?;
        let exists = tx
            .query_row(
                "SELECT 1 FROM idp_memberships WHERE user_id = ?1 AND org_code = ?2",
                [user_id, org_code],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if exists && write == Write::IfAbsent {
            return Ok(());
        }
        for (key, name) in roles {
            tx.execute(
                "INSERT INTO idp_roles (key, id, name) VALUES (?1, ?2, ?3)
                 ON CONFLICT (key) DO UPDATE SET name = ?3",
                params![key, crate::random::hex(16), name],
            )?;
        }
        let keys: Vec<&String> = roles.iter().map(|(key, _)| key).collect();
        tx.execute(
            "INSERT INTO idp_memberships (user_id, org_code, roles_json, permissions_json)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (user_id, org_code) DO UPDATE SET roles_json = ?3, permissions_json = ?4",
            params![
                user_id,
                org_code,
                serde_json::to_string(&keys)?,
                serde_json::to_string(permissions)?
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// What `user_id` may do in `org_code`: nothing when no membership row says otherwise.
    pub fn membership(&self, user_id: &str, org_code: &str) -> Result<Membership> {
        let conn = self.store.conn();
        let row: Option<(String, String)> = conn
            .query_row(
                "SELECT roles_json, permissions_json FROM idp_memberships
                 WHERE user_id = ?1 AND org_code = ?2",
                [user_id, org_code],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((roles_json, permissions_json)) = row else {
            return Ok(Membership::default());
        };
        let keys: Vec<String> = serde_json::from_str(&roles_json)?;
        let mut roles = Vec::with_capacity(keys.len());
        for key in keys {
            let role = conn
                .query_row(
                    "SELECT id, key, name FROM idp_roles WHERE key = ?1",
                    [&key],
                    |r| {
                        Ok(Role {
                            id: r.get(0)?,
                            key: r.get(1)?,
                            name: r.get(2)?,
                        })
                    },
                )
                .optional()?;
            roles.extend(role);
        }
        Ok(Membership {
            roles,
            permissions: serde_json::from_str(&permissions_json)?,
        })
    }

    /// Sets flag `key` for `org_code`, or the tenant's default with `None`.
    pub fn set_flag(
        &self,
        org_code: Option<&str>,
        key: &str,
        flag: &Flag,
        write: Write,
    ) -> Result<()> {
        let verb = match write {
            Write::Replace => "INSERT OR REPLACE",
            Write::IfAbsent => "INSERT OR IGNORE",
        };
        self.store.conn().execute(
            &format!(
                "{verb} INTO idp_feature_flags (org_code, key, flag_type, value_json)
                 VALUES (?1, ?2, ?3, ?4)"
            ),
            params![
                org_code.unwrap_or_default(),
                key,
                flag.t,
                serde_json::to_string(&flag.v)?
            ],
        )?;
        Ok(())
    }

    /// Removes `org_code`'s override of `key` (or the tenant's default); `false` if none.
    pub fn remove_flag(&self, org_code: Option<&str>, key: &str) -> Result<bool> {
        let removed = self.store.conn().execute(
            "DELETE FROM idp_feature_flags WHERE org_code = ?1 AND key = ?2",
            params![org_code.unwrap_or_default(), key],
        )?;
        Ok(removed == 1)
    }

    /// The flags in force in `org_code`: the tenant's defaults, overridden by the organisation's.
    pub fn feature_flags(&self, org_code: &str) -> Result<BTreeMap<String, Flag>> {
        let conn = self.store.conn();
        let mut statement = conn.prepare(
            "SELECT key, flag_type, value_json FROM idp_feature_flags
             WHERE org_code = '' OR org_code = ?1
             ORDER BY org_code = ?1",
        )?;
        let rows = statement.query_map([org_code], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        let mut flags = BTreeMap::new();
        for row in rows {
            let (key, t, value) = row?;
            flags.insert(
                key,
                Flag {
                    t,
                    v: serde_json::from_str(&value)?,
                },
            );
        }
        Ok(flags)
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_store_written_before_organisations_had_tables_opens_and_gets_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("devstack.sqlite3");
        // The provider's tables as they were before these were added.
        let before = SCHEMA.split("-- Added after").next().unwrap();
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch(before)
            .unwrap();
        let store = Store::open(Some(&path), kinvex_clock::system()).unwrap();
        let provider = store.provider();
        assert_eq!(
            provider.membership("kp_old", "org_a").unwrap(),
            Membership::default()
        );
        assert_eq!(provider.organization_name("org_a").unwrap(), "org_a");
        provider
            .set_membership(
                "kp_old",
                "org_a",
                &[("admin".into(), "Admin".into())],
                &["read:files".into()],
                Write::Replace,
            )
            .unwrap();
        let flag = Flag::new("b", serde_json::json!(true)).unwrap();
        provider
            .set_flag(None, "beta", &flag, Write::Replace)
            .unwrap();
        let off = Flag::new("b", serde_json::json!(false)).unwrap();
        provider
            .set_flag(Some("org_a"), "beta", &off, Write::IfAbsent)
            .unwrap();
        provider
            .set_flag(Some("org_a"), "beta", &flag, Write::IfAbsent)
            .unwrap();
        assert_eq!(
            provider.feature_flags("org_a").unwrap()["beta"],
            off,
            "override, kept"
        );
        assert_eq!(
            provider.feature_flags("org_b").unwrap()["beta"],
            flag,
            "default"
        );
        let membership = provider.membership("kp_old", "org_a").unwrap();
        assert_eq!(membership.roles[0].key, "admin");
        assert_eq!(membership.permissions, ["read:files"]);
        assert!(Flag::new("i", serde_json::json!("many")).is_none());
    }

    #[test]
    fn a_person_stored_without_organisations_is_in_the_default_one() {
        let store = Store::open(None, kinvex_clock::system()).unwrap();
        // As a store written before organisations were kept holds someone.
        store
            .conn()
            .execute(
                "INSERT INTO idp_users (id, email, password_salt, password_hash, given_name,
                                        family_name, org_code, created_at, updated_at)
                 VALUES ('kp_old', 'old@example.com', x'00', x'00', 'Old', '', NULL, 0, 0)",
                [],
            )
            .unwrap();
        let user = store.provider().user("kp_old").unwrap().unwrap();
        assert_eq!(user.organizations, [DEFAULT_ORG]);
        assert_eq!(user.default_org(), DEFAULT_ORG);

        let mut user = user;
        user.organizations = vec!["org_a".into(), "org_b".into()];
        store.provider().update_user(&user).unwrap();
        let user = store.provider().user("kp_old").unwrap().unwrap();
        assert_eq!(user.organizations, ["org_a", "org_b"], "kept in order");
        assert!(user.is_member("org_b") && !user.is_member("org_c"));
    }
}
