//! SQLite storage for both services. The provider's tables (`idp_*`) and the backend's documents
//! (`cx_*`) share a file but never a row: the backend learns about users only from webhooks and
//! the `users:store` mutation, as a real deployment does.
//!
//! Secrets (passwords, codes, refresh tokens, browser sessions) are stored as SHA-256 hashes.

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("stored data is corrupt: {0}")]
    Corrupt(#[from] serde_json::Error),
    #[error("cannot write the local stack's files: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T> = std::result::Result<T, StoreError>;

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

pub struct RefreshRow {
    pub family: String,
    pub grant: Grant,
    pub expires_at: i64,
    pub rotated_at: Option<i64>,
    pub revoked: bool,
}

/// A file's metadata as the backend stores it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NewFile {
    pub owner: String,
    pub name: String,
    pub content_type: String,
    pub size: i64,
}

pub struct Store {
    conn: Mutex<Connection>,
}

/// A user with their password salt and hash.
pub type Credentials = (User, Vec<u8>, Vec<u8>);

const SCHEMA: &str = "
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
CREATE TABLE IF NOT EXISTS cx_users (
    _id TEXT PRIMARY KEY,
    _creationTime REAL NOT NULL,
    kindeId TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL,
    firstName TEXT,
    lastName TEXT,
    pictureUrl TEXT,
    phone TEXT,
    updatedAt REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS cx_files (
    _id TEXT PRIMARY KEY,
    _creationTime REAL NOT NULL,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    contentType TEXT NOT NULL,
    size INTEGER NOT NULL,
    storageId TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cx_files_by_owner ON cx_files (owner, _creationTime DESC, _id DESC);
CREATE TABLE IF NOT EXISTS cx_webhook_events (
    event_id TEXT PRIMARY KEY,
    received_at REAL NOT NULL
);
";

impl Store {
    /// Opens (and creates or migrates) the database at `path`; `None` keeps it in memory.
    pub fn open(path: Option<&Path>) -> Result<Store> {
        let conn = match path {
            Some(path) => Connection::open(path)?,
            None => Connection::open_in_memory()?,
        };
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (each call is one statement or
        // one transaction), so a poisoned lock is safe to reuse.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    // ---- identity provider: users ----

    pub fn create_user(&self, user: &User, salt: &[u8], hash: &[u8]) -> Result<()> {
        let result = self.conn().execute(
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

    pub fn user(&self, id: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {} FROM idp_users WHERE id = ?1", Self::USER_COLUMNS);
        Ok(self
            .conn()
            .query_row(&sql, [id], Self::user_from)
            .optional()?)
    }

    /// The user with this email and their password salt and hash.
    pub fn credentials(&self, email: &str) -> Result<Option<Credentials>> {
        let sql = format!(
            "SELECT {}, password_salt, password_hash FROM idp_users WHERE email = ?1",
            Self::USER_COLUMNS
        );
        Ok(self
            .conn()
            .query_row(&sql, [email], |row| {
                Ok((Self::user_from(row)?, row.get(9)?, row.get(10)?))
            })
            .optional()?)
    }

    pub fn update_user(&self, user: &User) -> Result<bool> {
        let changed = self.conn().execute(
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
        let mut conn = self.conn();
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

    // ---- identity provider: codes ----

    pub fn insert_code(&self, code_hash: &[u8], grant: &CodeGrant) -> Result<()> {
        self.conn().execute(
            "INSERT INTO idp_codes (code_hash, grant_json) VALUES (?1, ?2)",
            params![code_hash, serde_json::to_string(grant)?],
        )?;
        Ok(())
    }

    /// Marks the code used and returns what it was bound to, once.
    pub fn take_code(&self, code_hash: &[u8]) -> Result<CodeLookup> {
        let mut conn = self.conn();
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
        self.conn().execute(
            "UPDATE idp_codes SET family = ?2 WHERE code_hash = ?1",
            params![code_hash, family],
        )?;
        Ok(())
    }

    // ---- identity provider: refresh tokens ----

    pub fn insert_refresh(
        &self,
        token_hash: &[u8],
        family: &str,
        grant: &Grant,
        expires_at: i64,
    ) -> Result<()> {
        self.conn().execute(
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

    pub fn refresh(&self, token_hash: &[u8]) -> Result<Option<RefreshRow>> {
        let row: Option<(String, String, i64, Option<i64>, bool)> = self
            .conn()
            .query_row(
                "SELECT family, grant_json, expires_at, rotated_at, revoked
                 FROM idp_refresh_tokens WHERE token_hash = ?1",
                [token_hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        row.map(|(family, json, expires_at, rotated_at, revoked)| {
            Ok(RefreshRow {
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
        self.conn().execute(
            "UPDATE idp_refresh_tokens SET rotated_at = COALESCE(rotated_at, ?2) WHERE token_hash = ?1",
            params![token_hash, at],
        )?;
        Ok(())
    }

    pub fn revoke_family(&self, family: &str) -> Result<usize> {
        Ok(self.conn().execute(
            "UPDATE idp_refresh_tokens SET revoked = 1 WHERE family = ?1",
            [family],
        )?)
    }

    pub fn revoke_user_tokens(&self, user_id: &str) -> Result<usize> {
        Ok(self.conn().execute(
            "UPDATE idp_refresh_tokens SET revoked = 1 WHERE user_id = ?1",
            [user_id],
        )?)
    }

    // ---- identity provider: browser sessions ----

    pub fn insert_session(&self, session_hash: &[u8], user_id: &str, auth_time: i64) -> Result<()> {
        self.conn().execute(
            "INSERT INTO idp_sessions (session_hash, user_id, auth_time) VALUES (?1, ?2, ?3)",
            params![session_hash, user_id, auth_time],
        )?;
        Ok(())
    }

    pub fn session(&self, session_hash: &[u8]) -> Result<Option<(String, i64)>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT user_id, auth_time FROM idp_sessions WHERE session_hash = ?1",
                [session_hash],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    pub fn end_session(&self, session_hash: &[u8]) -> Result<()> {
        self.conn().execute(
            "DELETE FROM idp_sessions WHERE session_hash = ?1",
            [session_hash],
        )?;
        Ok(())
    }

    // ---- backend documents ----

    fn user_doc(row: &rusqlite::Row<'_>) -> rusqlite::Result<Value> {
        let mut doc = json!({
            "_id": row.get::<_, String>(0)?,
            "_creationTime": row.get::<_, f64>(1)?,
            "kindeId": row.get::<_, String>(2)?,
            "email": row.get::<_, String>(3)?,
            "updatedAt": row.get::<_, f64>(8)?,
        });
        // Convex omits optional fields that are unset rather than storing null.
        for (i, key) in [
            (4, "firstName"),
            (5, "lastName"),
            (6, "pictureUrl"),
            (7, "phone"),
        ] {
            if let Some(value) = row.get::<_, Option<String>>(i)? {
                doc[key] = Value::String(value);
            }
        }
        Ok(doc)
    }

    pub fn cx_user(&self, kinde_id: &str) -> Result<Option<Value>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT _id, _creationTime, kindeId, email, firstName, lastName, pictureUrl, phone,
                        updatedAt FROM cx_users WHERE kindeId = ?1",
                [kinde_id],
                Self::user_doc,
            )
            .optional()?)
    }

    /// Inserts or updates the user document for `kinde_id`; returns its `_id`.
    pub fn cx_upsert_user(
        &self,
        kinde_id: &str,
        fields: &CxUserFields,
        now_ms: f64,
    ) -> Result<String> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let existing: Option<String> = tx
            .query_row(
                "SELECT _id FROM cx_users WHERE kindeId = ?1",
                [kinde_id],
                |r| r.get(0),
            )
            .optional()?;
        let id = match existing {
            Some(id) => {
                tx.execute(
                    "UPDATE cx_users SET email = ?2, firstName = ?3, lastName = ?4, pictureUrl = ?5,
                            phone = ?6, updatedAt = ?7 WHERE _id = ?1",
                    params![id, fields.email, fields.first_name, fields.last_name, fields.picture_url, fields.phone, now_ms],
                )?;
                id
            }
            None => {
                let id = crate::random::document_id();
                tx.execute(
                    "INSERT INTO cx_users (_id, _creationTime, kindeId, email, firstName, lastName,
                                           pictureUrl, phone, updatedAt)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?2)",
                    params![
                        id,
                        now_ms,
                        kinde_id,
                        fields.email,
                        fields.first_name,
                        fields.last_name,
                        fields.picture_url,
                        fields.phone
                    ],
                )?;
                id
            }
        };
        tx.commit()?;
        Ok(id)
    }

    pub fn cx_delete_user(&self, kinde_id: &str) -> Result<bool> {
        Ok(self
            .conn()
            .execute("DELETE FROM cx_users WHERE kindeId = ?1", [kinde_id])?
            == 1)
    }

    pub fn cx_insert_file(&self, file: &NewFile, created_ms: f64) -> Result<String> {
        let id = crate::random::document_id();
        self.conn().execute(
            "INSERT INTO cx_files (_id, _creationTime, owner, name, contentType, size, storageId)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                id,
                created_ms,
                file.owner,
                file.name,
                file.content_type,
                file.size,
                crate::random::document_id()
            ],
        )?;
        Ok(id)
    }

    /// One page of `owner`'s files, newest first, strictly after `after` (creation time, id).
    pub fn cx_files_page(
        &self,
        owner: &str,
        after: Option<(f64, String)>,
        limit: usize,
    ) -> Result<Vec<Value>> {
        let conn = self.conn();
        let (time, id) = after.unwrap_or((f64::INFINITY, String::new()));
        let mut statement = conn.prepare_cached(
            "SELECT _id, _creationTime, owner, name, contentType, size, storageId FROM cx_files
             WHERE owner = ?1 AND (_creationTime < ?2 OR (_creationTime = ?2 AND _id < ?3))
             ORDER BY _creationTime DESC, _id DESC LIMIT ?4",
        )?;
        let rows = statement.query_map(params![owner, time, id, limit as i64], |row| {
            Ok(json!({
                "_id": row.get::<_, String>(0)?,
                "_creationTime": row.get::<_, f64>(1)?,
                "owner": row.get::<_, String>(2)?,
                "name": row.get::<_, String>(3)?,
                "contentType": row.get::<_, String>(4)?,
                "size": row.get::<_, i64>(5)?,
                "storageId": row.get::<_, String>(6)?,
            }))
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Records a webhook event; `false` when it was already processed.
    pub fn cx_first_delivery(&self, event_id: &str, now_ms: f64) -> Result<bool> {
        Ok(self.conn().execute(
            "INSERT OR IGNORE INTO cx_webhook_events (event_id, received_at) VALUES (?1, ?2)",
            params![event_id, now_ms],
        )? == 1)
    }
}

/// The fields of a backend user document other than ids and times.
#[derive(Clone, Debug, Default)]
pub struct CxUserFields {
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub picture_url: Option<String>,
    pub phone: Option<String>,
}
