//! The backend's documents, in the shapes Convex returns them: users (kept in step with Kinde by
//! webhooks and `users:store`), files, and the webhook events already applied. Every write ticks
//! the store's commit clock ([`super::commits`]) before the lock is released, so the live-query
//! sockets re-run their queries after any change, whoever made it.

use super::{Result, Store};
use rusqlite::types::Value as SqlValue;
use rusqlite::{OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};

pub(super) const SCHEMA: &str = "
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
CREATE INDEX IF NOT EXISTS cx_files_by_owner_name ON cx_files (owner, name, _creationTime, _id);
CREATE INDEX IF NOT EXISTS cx_files_by_owner_size ON cx_files (owner, size DESC, _creationTime DESC, _id DESC);
CREATE TABLE IF NOT EXISTS cx_webhook_events (
    event_id TEXT PRIMARY KEY,
    received_at REAL NOT NULL
);
";

/// A `users` document. Convex omits optional fields that are unset rather than storing null.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackendUser {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(rename = "_creationTime")]
    pub creation_time: f64,
    pub kinde_id: String,
    pub email: String,
    pub updated_at: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// The fields of a user document other than ids and times: what a webhook or `users:store`
/// writes.
#[derive(Clone, Debug, Default)]
pub struct UserFields {
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub picture_url: Option<String>,
    pub phone: Option<String>,
}

/// What a Kinde webhook event does to the user documents.
#[derive(Clone, Debug)]
pub enum UserChange<'e> {
    /// `user.created` and `user.updated`.
    Upsert {
        kinde_id: &'e str,
        fields: UserFields,
    },
    /// `user.deleted`.
    Delete { kinde_id: &'e str },
}

/// A `files` document: a file's metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileDoc {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(rename = "_creationTime")]
    pub creation_time: f64,
    pub owner: String,
    pub name: String,
    pub content_type: String,
    /// A `v.number()`, so a float: Convex writes it as `482113.0`, never `482113`.
    pub size: f64,
    pub storage_id: String,
}

/// The orders `files:list` walks a person's files in, each the index the real function reads
/// (convex/functions/schema.ts); ties fall to `_creationTime`, then `_id`, as in any Convex index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileOrder {
    /// `by_owner`, descending.
    Newest,
    /// `by_owner`, ascending.
    Oldest,
    /// `by_owner_name`, ascending: A to Z by the name's bytes.
    Name,
    /// `by_owner_size`, descending: largest first.
    Size,
}

impl FileOrder {
    /// Whether `a` comes before `b` (or is it) in this order's walk.
    pub fn not_after(self, a: &FilePosition, b: &FilePosition) -> bool {
        let time_id = |x: &FilePosition, y: &FilePosition| {
            x.time.total_cmp(&y.time).then_with(|| x.id.cmp(&y.id))
        };
        let ordering = match self {
            FileOrder::Newest => time_id(b, a),
            FileOrder::Oldest => time_id(a, b),
            FileOrder::Name => a.name.cmp(&b.name).then_with(|| time_id(a, b)),
            FileOrder::Size => b.size.total_cmp(&a.size).then_with(|| time_id(b, a)),
        };
        ordering.is_le()
    }
}

/// A file's place in any order: its sort keys, creation time and id.
#[derive(Clone, Debug, PartialEq)]
pub struct FilePosition {
    pub name: String,
    pub size: f64,
    pub time: f64,
    pub id: String,
}

impl From<&FileDoc> for FilePosition {
    fn from(file: &FileDoc) -> FilePosition {
        FilePosition {
            name: file.name.clone(),
            size: file.size,
            time: file.creation_time,
            id: file.id.clone(),
        }
    }
}

/// A file to insert; the store assigns its ids.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NewFile {
    pub owner: String,
    pub name: String,
    pub content_type: String,
    pub size: i64,
}

/// The backend's view of the store.
#[derive(Clone, Copy)]
pub struct BackendStore<'a> {
    store: &'a Store,
}

fn user_from(row: &rusqlite::Row<'_>) -> rusqlite::Result<BackendUser> {
    Ok(BackendUser {
        id: row.get(0)?,
        creation_time: row.get(1)?,
        kinde_id: row.get(2)?,
        email: row.get(3)?,
        first_name: row.get(4)?,
        last_name: row.get(5)?,
        picture_url: row.get(6)?,
        phone: row.get(7)?,
        updated_at: row.get(8)?,
    })
}

impl<'a> BackendStore<'a> {
    pub(super) fn new(store: &'a Store) -> BackendStore<'a> {
        BackendStore { store }
    }

    /// The user document for the Kinde user `kinde_id`.
    pub fn user(&self, kinde_id: &str) -> Result<Option<BackendUser>> {
        Ok(self
            .store
            .conn()
            .query_row(
                "SELECT _id, _creationTime, kindeId, email, firstName, lastName, pictureUrl, phone,
                        updatedAt FROM cx_users WHERE kindeId = ?1",
                [kinde_id],
                user_from,
            )
            .optional()?)
    }

    /// Inserts or updates the user document for `kinde_id`; returns its `_id`.
    pub fn upsert_user(&self, kinde_id: &str, fields: &UserFields, now_ms: f64) -> Result<String> {
        let mut conn = self.store.conn();
        let tx = conn.transaction()?;
        let id = upsert_in(&tx, kinde_id, fields, now_ms)?;
        tx.commit()?;
        self.store.commits.commit();
        Ok(id)
    }

    /// `users:store`: creates the document, or fills in only what `fields` says (an empty email
    /// or a `None` leaves the stored value), so a token without names keeps the webhook's copy.
    pub fn merge_user(&self, kinde_id: &str, fields: &UserFields, now_ms: f64) -> Result<String> {
        let mut conn = self.store.conn();
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
                let email = Some(fields.email.as_str()).filter(|e| !e.is_empty());
                tx.execute(
                    "UPDATE cx_users SET email = COALESCE(?2, email),
                            firstName = COALESCE(?3, firstName), lastName = COALESCE(?4, lastName),
                            pictureUrl = COALESCE(?5, pictureUrl), phone = COALESCE(?6, phone),
                            updatedAt = ?7 WHERE _id = ?1",
                    params![
                        id,
                        email,
                        fields.first_name,
                        fields.last_name,
                        fields.picture_url,
                        fields.phone,
                        now_ms
                    ],
                )?;
                id
            }
            None => upsert_in(&tx, kinde_id, fields, now_ms)?,
        };
        tx.commit()?;
        self.store.commits.commit();
        Ok(id)
    }

    pub fn delete_user(&self, kinde_id: &str) -> Result<bool> {
        let conn = self.store.conn();
        let deleted = conn.execute("DELETE FROM cx_users WHERE kindeId = ?1", [kinde_id])? == 1;
        self.store.commits.commit();
        Ok(deleted)
    }

    /// Inserts a file created at `created_ms`; returns its `_id`.
    pub fn insert_file(&self, file: &NewFile, created_ms: f64) -> Result<String> {
        let id = crate::random::document_id();
        let conn = self.store.conn();
        conn.execute(
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
        self.store.commits.commit();
        Ok(id)
    }

    /// Up to `limit` of `owner`'s files in `order`, those after `after` (from the start when
    /// `None`): the walk `files:list` makes over the index its order names.
    pub fn files_page(
        &self,
        owner: &str,
        order: FileOrder,
        after: Option<&FilePosition>,
        limit: usize,
    ) -> Result<Vec<FileDoc>> {
        let conn = self.store.conn();
        let sql = match order {
            FileOrder::Newest => {
                "WHERE owner = ?1 AND (?2 IS NULL OR _creationTime < ?4 OR (_creationTime = ?4 AND _id < ?5))
                 ORDER BY _creationTime DESC, _id DESC"
            }
            FileOrder::Oldest => {
                "WHERE owner = ?1 AND (?2 IS NULL OR _creationTime > ?4 OR (_creationTime = ?4 AND _id > ?5))
                 ORDER BY _creationTime ASC, _id ASC"
            }
            // SQLite's default BINARY collation compares UTF-8 bytes, as Convex indexes do.
            FileOrder::Name => {
                "WHERE owner = ?1 AND (?2 IS NULL OR name > ?2 OR (name = ?2 AND
                     (_creationTime > ?4 OR (_creationTime = ?4 AND _id > ?5))))
                 ORDER BY name ASC, _creationTime ASC, _id ASC"
            }
            FileOrder::Size => {
                "WHERE owner = ?1 AND (?2 IS NULL OR size < ?3 OR (size = ?3 AND
                     (_creationTime < ?4 OR (_creationTime = ?4 AND _id < ?5))))
                 ORDER BY size DESC, _creationTime DESC, _id DESC"
            }
        };
        let mut statement = conn.prepare_cached(&format!(
            "SELECT _id, _creationTime, owner, name, contentType, size, storageId FROM cx_files
             {sql} LIMIT ?6"
        ))?;
        let at = |f: fn(&FilePosition) -> SqlValue| after.map(f);
        let rows = statement.query_map(
            params![
                owner,
                at(|p| SqlValue::Text(p.name.clone())),
                at(|p| SqlValue::Real(p.size)),
                at(|p| SqlValue::Real(p.time)),
                at(|p| SqlValue::Text(p.id.clone())),
                limit as i64
            ],
            |row| {
                Ok(FileDoc {
                    id: row.get(0)?,
                    creation_time: row.get(1)?,
                    owner: row.get(2)?,
                    name: row.get(3)?,
                    content_type: row.get(4)?,
                    size: row.get(5)?,
                    storage_id: row.get(6)?,
                })
            },
        )?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Applies Kinde's webhook event `event_id` once: the check for its id, `change` and the
    /// record of the id are one transaction (as `users:applyKindeEvent` is one mutation), so
    /// an event that fails to apply leaves its id unrecorded and the provider's retry applies
    /// it. `false` when the event had already been applied (a retry after success).
    pub fn apply_webhook_event(
        &self,
        event_id: &str,
        change: &UserChange<'_>,
        now_ms: f64,
    ) -> Result<bool> {
        let mut conn = self.store.conn();
        let tx = conn.transaction()?;
        let seen = tx
            .query_row(
                "SELECT 1 FROM cx_webhook_events WHERE event_id = ?1",
                [event_id],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if seen {
            return Ok(false);
        }
        match change {
            UserChange::Upsert { kinde_id, fields } => {
                upsert_in(&tx, kinde_id, fields, now_ms)?;
            }
            UserChange::Delete { kinde_id } => {
                tx.execute("DELETE FROM cx_users WHERE kindeId = ?1", [kinde_id])?;
            }
        }
        tx.execute(
            "INSERT INTO cx_webhook_events (event_id, received_at) VALUES (?1, ?2)",
            params![event_id, now_ms],
        )?;
        tx.commit()?;
        self.store.commits.commit();
        Ok(true)
    }
}

/// Inserts or updates the user document for `kinde_id` inside `tx`; returns its `_id`.
fn upsert_in(
    tx: &Transaction<'_>,
    kinde_id: &str,
    fields: &UserFields,
    now_ms: f64,
) -> Result<String> {
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
                params![
                    id,
                    fields.email,
                    fields.first_name,
                    fields.last_name,
                    fields.picture_url,
                    fields.phone,
                    now_ms
                ],
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
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_document_leaves_out_unset_fields_as_convex_does() {
        let user = BackendUser {
            id: "id1".into(),
            creation_time: 1.5,
            kinde_id: "kp_1".into(),
            email: "a@example.com".into(),
            updated_at: 2.5,
            first_name: Some("Ada".into()),
            last_name: None,
            picture_url: None,
            phone: None,
        };
        assert_eq!(
            serde_json::to_value(&user).ok(),
            Some(serde_json::json!({
                "_id": "id1", "_creationTime": 1.5, "kindeId": "kp_1", "email": "a@example.com",
                "updatedAt": 2.5, "firstName": "Ada"
            }))
        );
    }

    #[test]
    fn a_file_document_has_convex_field_names_and_a_float_size() {
        let file = FileDoc {
            id: "f1".into(),
            creation_time: 3.0,
            owner: "kp_1".into(),
            name: "a.txt".into(),
            content_type: "text/plain".into(),
            size: 7.0,
            storage_id: "s1".into(),
        };
        assert_eq!(
            serde_json::to_value(&file).ok(),
            Some(serde_json::json!({
                "_id": "f1", "_creationTime": 3.0, "owner": "kp_1", "name": "a.txt",
                "contentType": "text/plain", "size": 7.0, "storageId": "s1"
            }))
        );
    }
}
