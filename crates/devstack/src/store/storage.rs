//! Convex file storage: the `_storage` system table and the blobs it describes, and the `files`
//! writes that hang on a blob (save, remove, the unsaved-upload sweep).
//!
//! As on a deployment (get-convex/convex-backend crates/file_storage/src/core.rs,
//! `upload_file`), a blob gets two names: the `_storage` document's `_id`, which functions and
//! the upload's answer use, and a UUID, its key in the blob store, which `getUrl`'s URL carries
//! (`<deployment>/api/storage/<uuid>`). The document is what functions see through
//! `ctx.db.system.get` (crates/model/src/file_storage/virtual_table.rs): `_id`, `_creationTime`,
//! `sha256` (standard base64 of the digest, padded), `size` (a float) and `contentType` (`null`
//! when the upload had none).
//!
//! Blobs are files named by their UUID in the storage directory (0700; each file 0600). An
//! upload is written to a temp file in that directory and renamed into place inside the same
//! SQLite transaction that inserts its row, so a failed or abandoned upload leaves neither.

use super::{Result, Store};
use crate::random::document_id;
use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tokio::io::AsyncWriteExt;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS cx_storage (
    _id TEXT PRIMARY KEY,
    _creationTime REAL NOT NULL,
    uuid TEXT NOT NULL UNIQUE,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    contentType TEXT
);
CREATE INDEX IF NOT EXISTS cx_storage_by_creation ON cx_storage (_creationTime);
CREATE INDEX IF NOT EXISTS cx_files_by_storage ON cx_files (storageId);
";

/// Temp files of uploads in progress start with this; any left by a crash are removed at open.
const UPLOAD_PREFIX: &str = ".upload-";
/// The key upload URLs are MACed with, kept next to the blobs so URLs outlive a restart.
const KEY_FILE: &str = ".url-key";

/// A `_storage` document, as `ctx.db.system.get` returns it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageDoc {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(rename = "_creationTime")]
    pub creation_time: f64,
    pub content_type: Option<String>,
    pub sha256: String,
    pub size: f64,
    /// The blob's key: the last segment of its URL. Not part of the document.
    #[serde(skip)]
    pub uuid: String,
}

/// What an upload measured, for its `_storage` document.
#[derive(Clone, Debug)]
pub struct NewBlob {
    pub content_type: Option<String>,
    /// Standard base64 of the SHA-256 digest.
    pub sha256: String,
    pub size: u64,
}

/// Where the blobs live, and the secret of the upload URLs.
pub struct Blobs {
    dir: PathBuf,
    key: [u8; 32],
    /// When the unsaved-upload sweep last ran, on the stack's clock (ms).
    last_sweep: Mutex<Option<f64>>,
    /// Holds an in-memory stack's directory; dropping it removes the directory.
    _temp: Option<tempfile::TempDir>,
}

impl Blobs {
    /// The storage directory `dir` (created 0700), or a temp dir of its own for `None`.
    pub(super) fn open(dir: Option<&Path>) -> Result<Blobs> {
        let (dir, temp) = match dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)?;
                (dir.to_path_buf(), None)
            }
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("kinvex-devstack-storage-")
                    .tempdir()?;
                (temp.path().to_path_buf(), Some(temp))
            }
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        }
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with(UPLOAD_PREFIX)
            {
                std::fs::remove_file(entry.path())?;
            }
        }
        let key = load_or_create_key(&dir.join(KEY_FILE))?;
        Ok(Blobs {
            dir,
            key,
            last_sweep: Mutex::new(None),
            _temp: temp,
        })
    }

    /// The secret upload URLs are MACed with.
    pub fn url_key(&self) -> &[u8; 32] {
        &self.key
    }

    /// The file of the blob `uuid`.
    pub fn path(&self, uuid: &str) -> PathBuf {
        self.dir.join(uuid)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Removes the blob `uuid`'s file; one already gone is fine.
    fn remove(&self, uuid: &str) -> Result<()> {
        match std::fs::remove_file(self.path(uuid)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Whether a sweep run every `interval_ms` is due at `now_ms`; the first call only starts the
    /// schedule, as a newly deployed interval cron first runs one interval later.
    pub fn sweep_due(&self, now_ms: f64, interval_ms: f64) -> bool {
        let mut last = crate::lock(&self.last_sweep);
        match *last {
            Some(at) if now_ms - at < interval_ms => false,
            Some(_) => {
                *last = Some(now_ms);
                true
            }
            None => {
                *last = Some(now_ms);
                false
            }
        }
    }
}

fn load_or_create_key(path: &Path) -> Result<[u8; 32]> {
    if let Ok(bytes) = std::fs::read(path)
        && let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice())
    {
        return Ok(key);
    }
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    std::io::Write::write_all(&mut options.open(path)?, &key)?;
    Ok(key)
}

/// An upload being written: a temp file in the storage directory, removed when this is dropped
/// unless [`StorageStore::commit_upload`] moved it into place.
pub struct PendingBlob {
    temp: tempfile::NamedTempFile,
    writer: tokio::fs::File,
}

impl PendingBlob {
    pub async fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        self.writer.write_all(chunk).await
    }

    /// Flushes what was written to the disk.
    pub async fn finish(&mut self) -> std::io::Result<()> {
        self.writer.flush().await?;
        self.writer.sync_data().await
    }
}

/// What `files:save` found.
#[derive(Clone, Debug, PartialEq)]
pub enum Saved {
    /// The new `files` document's `_id`.
    File(String),
    /// No `_storage` document has that id.
    NoBlob,
    /// A file already refers to that blob.
    AlreadySaved,
}

/// The storage view of the store.
#[derive(Clone, Copy)]
pub struct StorageStore<'a> {
    store: &'a Store,
}

fn doc_from(row: &rusqlite::Row<'_>) -> rusqlite::Result<StorageDoc> {
    Ok(StorageDoc {
        id: row.get(0)?,
        creation_time: row.get(1)?,
        uuid: row.get(2)?,
        sha256: row.get(3)?,
        size: row.get::<_, i64>(4)? as f64,
        content_type: row.get(5)?,
    })
}

const DOC_COLUMNS: &str = "_id, _creationTime, uuid, sha256, size, contentType";

impl<'a> StorageStore<'a> {
    pub(super) fn new(store: &'a Store) -> StorageStore<'a> {
        StorageStore { store }
    }

    pub fn blobs(&self) -> &'a Blobs {
        &self.store.blobs
    }

    /// A temp file in the storage directory for an upload's bytes.
    pub fn begin_upload(&self) -> Result<PendingBlob> {
        let temp = tempfile::Builder::new()
            .prefix(UPLOAD_PREFIX)
            .tempfile_in(&self.store.blobs.dir)?;
        let writer = tokio::fs::File::from_std(temp.as_file().try_clone()?);
        Ok(PendingBlob { temp, writer })
    }

    /// Moves a finished upload into place and inserts its `_storage` document, in one
    /// transaction: if either fails, neither the file nor the row is left.
    pub fn commit_upload(
        &self,
        blob: PendingBlob,
        new: &NewBlob,
        now_ms: f64,
    ) -> Result<StorageDoc> {
        let doc = StorageDoc {
            id: document_id(),
            creation_time: now_ms,
            content_type: new.content_type.clone(),
            sha256: new.sha256.clone(),
            size: new.size as f64,
            uuid: uuid::Uuid::new_v4().to_string(),
        };
        let path = self.store.blobs.path(&doc.uuid);
        let mut conn = self.store.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO cx_storage (_id, _creationTime, uuid, sha256, size, contentType)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                doc.id,
                doc.creation_time,
                doc.uuid,
                doc.sha256,
                new.size as i64,
                doc.content_type
            ],
        )?;
        drop(blob.writer);
        blob.temp.persist(&path).map_err(|e| e.error)?;
        if let Err(e) = tx.commit() {
            let _ = std::fs::remove_file(&path);
            return Err(e.into());
        }
        self.store.commits.commit();
        Ok(doc)
    }

    /// The `_storage` document `id`.
    pub fn get(&self, id: &str) -> Result<Option<StorageDoc>> {
        let conn = self.store.conn();
        Ok(conn
            .query_row(
                &format!("SELECT {DOC_COLUMNS} FROM cx_storage WHERE _id = ?1"),
                [id],
                doc_from,
            )
            .optional()?)
    }

    /// How many `_storage` documents there are.
    pub fn count(&self) -> Result<usize> {
        let conn = self.store.conn();
        let n: i64 = conn.query_row("SELECT COUNT(*) FROM cx_storage", [], |r| r.get(0))?;
        Ok(n as usize)
    }

    /// The `_storage` document whose blob is `uuid`.
    pub fn by_uuid(&self, uuid: &str) -> Result<Option<StorageDoc>> {
        let conn = self.store.conn();
        Ok(conn
            .query_row(
                &format!("SELECT {DOC_COLUMNS} FROM cx_storage WHERE uuid = ?1"),
                [uuid],
                doc_from,
            )
            .optional()?)
    }

    /// `ctx.storage.delete`: the document and its blob. `false` if there was none.
    pub fn delete(&self, id: &str) -> Result<bool> {
        let mut conn = self.store.conn();
        let tx = conn.transaction()?;
        let deleted = delete_in(&tx, id)?;
        tx.commit()?;
        let Some(uuid) = deleted else {
            return Ok(false);
        };
        self.store.commits.commit();
        self.store.blobs.remove(&uuid)?;
        Ok(true)
    }

    /// `files:save`: a `files` document for `owner` over the blob `storage_id`, if the blob
    /// exists and no file refers to it yet; the check and the insert are one transaction.
    pub fn save_file(
        &self,
        owner: &str,
        name: &str,
        storage_id: &str,
        now_ms: f64,
    ) -> Result<Saved> {
        let mut conn = self.store.conn();
        let tx = conn.transaction()?;
        let blob = tx
            .query_row(
                &format!("SELECT {DOC_COLUMNS} FROM cx_storage WHERE _id = ?1"),
                [storage_id],
                doc_from,
            )
            .optional()?;
        let Some(blob) = blob else {
            return Ok(Saved::NoBlob);
        };
        let taken = tx
            .query_row(
                "SELECT 1 FROM cx_files WHERE storageId = ?1 LIMIT 1",
                [storage_id],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if taken {
            return Ok(Saved::AlreadySaved);
        }
        let id = document_id();
        tx.execute(
            "INSERT INTO cx_files (_id, _creationTime, owner, name, contentType, size, storageId)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                id,
                now_ms,
                owner,
                name,
                blob.content_type
                    .as_deref()
                    .unwrap_or("application/octet-stream"),
                blob.size as i64,
                storage_id
            ],
        )?;
        tx.commit()?;
        self.store.commits.commit();
        Ok(Saved::File(id))
    }

    /// The blob of `owner`'s file `file_id`: `None` when there is no such file of theirs,
    /// `Some(None)` when the file's blob is gone.
    pub fn file_blob(&self, owner: &str, file_id: &str) -> Result<Option<Option<StorageDoc>>> {
        let conn = self.store.conn();
        let storage_id: Option<String> = conn
            .query_row(
                "SELECT storageId FROM cx_files WHERE _id = ?1 AND owner = ?2",
                [file_id, owner],
                |r| r.get(0),
            )
            .optional()?;
        let Some(storage_id) = storage_id else {
            return Ok(None);
        };
        Ok(Some(
            conn.query_row(
                &format!("SELECT {DOC_COLUMNS} FROM cx_storage WHERE _id = ?1"),
                [storage_id],
                doc_from,
            )
            .optional()?,
        ))
    }

    /// `files:remove`: `owner`'s file `file_id` and its blob, in one transaction. `false` when
    /// `owner` has no such file.
    pub fn remove_file(&self, owner: &str, file_id: &str) -> Result<bool> {
        let mut conn = self.store.conn();
        let tx = conn.transaction()?;
        let storage_id: Option<String> = tx
            .query_row(
                "SELECT storageId FROM cx_files WHERE _id = ?1 AND owner = ?2",
                [file_id, owner],
                |r| r.get(0),
            )
            .optional()?;
        let Some(storage_id) = storage_id else {
            return Ok(false);
        };
        tx.execute("DELETE FROM cx_files WHERE _id = ?1", [file_id])?;
        let blob = delete_in(&tx, &storage_id)?;
        tx.commit()?;
        self.store.commits.commit();
        if let Some(uuid) = blob {
            self.store.blobs.remove(&uuid)?;
        }
        Ok(true)
    }

    /// `files:cleanUnsaved`: deletes every blob created before `before_ms` that no file refers
    /// to; returns how many.
    pub fn sweep_unsaved(&self, before_ms: f64) -> Result<usize> {
        let mut conn = self.store.conn();
        let tx = conn.transaction()?;
        let ids: Vec<String> = {
            let mut statement = tx.prepare(
                "SELECT _id FROM cx_storage s WHERE _creationTime < ?1
                 AND NOT EXISTS (SELECT 1 FROM cx_files f WHERE f.storageId = s._id)",
            )?;
            let rows = statement.query_map([before_ms], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut uuids = Vec::with_capacity(ids.len());
        for id in &ids {
            uuids.extend(delete_in(&tx, id)?);
        }
        tx.commit()?;
        if !ids.is_empty() {
            self.store.commits.commit();
        }
        for uuid in &uuids {
            self.store.blobs.remove(uuid)?;
        }
        Ok(ids.len())
    }
}

/// Deletes the `_storage` document `id` inside `tx`; returns its blob's UUID, whose file the
/// caller removes once the transaction has committed (a row never outlives its file's removal).
fn delete_in(tx: &Transaction<'_>, id: &str) -> Result<Option<String>> {
    let uuid: Option<String> = tx
        .query_row("SELECT uuid FROM cx_storage WHERE _id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()?;
    if uuid.is_some() {
        tx.execute("DELETE FROM cx_storage WHERE _id = ?1", [id])?;
    }
    Ok(uuid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_storage_document_has_convex_fields_and_a_null_content_type() {
        let doc = StorageDoc {
            id: "s1".into(),
            creation_time: 2.0,
            content_type: None,
            sha256: "abc=".into(),
            size: 3.0,
            uuid: "u".into(),
        };
        assert_eq!(
            serde_json::to_value(&doc).ok(),
            Some(serde_json::json!({
                "_id": "s1", "_creationTime": 2.0, "contentType": null, "sha256": "abc=",
                "size": 3.0
            }))
        );
    }
}
