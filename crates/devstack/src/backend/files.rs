//! The file functions of `convex/functions/files.ts` that touch file storage:
//! `generateUploadUrl`, `save`, `remove` and `url`, with the same arguments, results and
//! `ConvexError` codes. Who may save a blob: whoever holds its storage id, which only the upload's
//! answer reveals (see convex/README.md, "Who may save a blob").

use super::functions::{FunctionError, internal, only_fields, subject};
use super::storage;
use crate::State;
use crate::store::storage::Saved;
use serde_json::{Map, Value};

/// Most characters (Unicode scalar values) a file name may have once trimmed.
pub const MAX_NAME_CHARS: usize = 255;

/// Convex document ids here: 32 characters of the id alphabet.
fn is_document_id(text: &str) -> bool {
    text.len() == 32
        && text
            .bytes()
            .all(|b| b"0123456789abcdefghjkmnpqrstvwxyz".contains(&b))
}

/// The argument `field`, a `v.id(table)`.
fn id_arg<'a>(
    args: &'a Map<String, Value>,
    field: &str,
    table: &str,
) -> Result<&'a str, FunctionError> {
    match args.get(field) {
        None => Err(FunctionError::plain(format!(
            "ArgumentValidationError: Object is missing the required field `{field}`. Consider wrapping the field validator in `v.optional(...)` if this is expected."
        ))),
        Some(Value::String(id)) if is_document_id(id) => Ok(id),
        Some(other) => Err(FunctionError::plain(format!(
            "ArgumentValidationError: Value does not match validator.\nPath: .{field}\nValue: {other}\nValidator: v.id(\"{table}\")"
        ))),
    }
}

fn string_arg<'a>(args: &'a Map<String, Value>, field: &str) -> Result<&'a str, FunctionError> {
    match args.get(field) {
        None => Err(FunctionError::plain(format!(
            "ArgumentValidationError: Object is missing the required field `{field}`. Consider wrapping the field validator in `v.optional(...)` if this is expected."
        ))),
        Some(Value::String(text)) => Ok(text),
        Some(other) => Err(FunctionError::plain(format!(
            "ArgumentValidationError: Value does not match validator.\nPath: .{field}\nValue: {other}\nValidator: v.string()"
        ))),
    }
}

/// Characters that reorder how text is shown (Unicode's bidirectional formatting characters):
/// in a file name they make `exe.txt` look like `txt.exe`.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A file name as `files:save` keeps it: no control or bidirectional formatting characters,
/// trimmed as JavaScript's `String.prototype.trim` trims, not empty, at most
/// [`MAX_NAME_CHARS`]. HTML is only text. The same rules as `validName` in files.ts.
pub fn valid_name(name: &str) -> Result<&str, FunctionError> {
    let invalid = |message: &str| FunctionError::convex("INVALID_NAME", message);
    if name.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        return Err(invalid(
            "A file name cannot contain control characters or text-direction characters. Rename the file and try again.",
        ));
    }
    let trimmed = name.trim_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}');
    if trimmed.is_empty() {
        return Err(invalid(
            "A file name cannot be empty. Give the file a name and try again.",
        ));
    }
    if trimmed.chars().count() > MAX_NAME_CHARS {
        return Err(invalid(&format!(
            "A file name can be at most {MAX_NAME_CHARS} characters. Shorten it and try again."
        )));
    }
    Ok(trimmed)
}

/// A URL the caller POSTs one file's bytes to, good for an hour.
pub fn generate_upload_url(
    state: &State,
    identity: Option<&Value>,
    args: &Map<String, Value>,
) -> Result<Value, FunctionError> {
    only_fields(args, &[])?;
    subject(identity)?;
    Ok(Value::String(storage::upload_url(state)))
}

/// Records an uploaded blob as the caller's file; returns its `_id`.
pub fn save(
    state: &State,
    identity: Option<&Value>,
    args: &Map<String, Value>,
) -> Result<Value, FunctionError> {
    only_fields(args, &["storageId", "name"])?;
    let storage_id = id_arg(args, "storageId", "_storage")?;
    let name = string_arg(args, "name")?;
    let owner = subject(identity)?;
    let name = valid_name(name)?;
    let saved = state
        .store
        .storage()
        .save_file(owner, name, storage_id, state.clock.unix_ms())
        .map_err(internal)?;
    match saved {
        Saved::File(id) => Ok(Value::String(id)),
        Saved::NoBlob => Err(FunctionError::convex(
            "NOT_FOUND",
            "That upload does not exist. Upload the file again.",
        )),
        Saved::AlreadySaved => Err(FunctionError::convex(
            "ALREADY_SAVED",
            "That upload is already saved as a file. Upload the file again to save another copy.",
        )),
    }
}

fn no_such_file() -> FunctionError {
    FunctionError::convex("NOT_FOUND", "No such file.")
}

/// Deletes one of the caller's files and its blob; another person's reads as not found.
pub fn remove(
    state: &State,
    identity: Option<&Value>,
    args: &Map<String, Value>,
) -> Result<Value, FunctionError> {
    only_fields(args, &["id"])?;
    let id = id_arg(args, "id", "files")?;
    let owner = subject(identity)?;
    let removed = state
        .store
        .storage()
        .remove_file(owner, id)
        .map_err(internal)?;
    if removed {
        Ok(Value::Null)
    } else {
        Err(no_such_file())
    }
}

/// The URL of one of the caller's files (`ctx.storage.getUrl`), or `null` when its blob is gone;
/// another person's file reads as not found.
pub fn url(
    state: &State,
    identity: Option<&Value>,
    args: &Map<String, Value>,
) -> Result<Value, FunctionError> {
    only_fields(args, &["id"])?;
    let id = id_arg(args, "id", "files")?;
    let owner = subject(identity)?;
    match state
        .store
        .storage()
        .file_blob(owner, id)
        .map_err(internal)?
    {
        None => Err(no_such_file()),
        Some(None) => Ok(Value::Null),
        Some(Some(blob)) => Ok(Value::String(storage::blob_url(state, &blob.uuid))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(result: Result<&str, FunctionError>) -> Option<String> {
        result
            .err()
            .and_then(|e| e.data)
            .map(|d| d["code"].to_string())
    }

    #[test]
    fn names_are_trimmed_and_html_is_only_text() {
        assert_eq!(valid_name("  notes.txt\u{FEFF} ").ok(), Some("notes.txt"));
        assert_eq!(
            valid_name("<b>bold</b>.html").ok(),
            Some("<b>bold</b>.html")
        );
        assert_eq!(valid_name(&"é".repeat(255)).ok().map(str::len), Some(510));
    }

    #[test]
    fn empty_long_control_and_direction_names_are_refused() {
        for bad in [
            String::new(),
            "   ".into(),
            "a".repeat(256),
            "a".repeat(1000),
            "tab\there".into(),
            "nul\u{0}".into(),
            "next\u{85}line".into(),
            "evil\u{202E}txt.exe".into(),
            "iso\u{2067}late".into(),
        ] {
            assert_eq!(
                code(valid_name(&bad)).as_deref(),
                Some("\"INVALID_NAME\""),
                "{bad:?}"
            );
        }
    }
}
