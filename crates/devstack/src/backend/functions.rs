//! The public functions of the project's `convex/` directory, reimplemented over SQLite with the
//! same paths, arguments, results and errors. The owner of anything read is always the verified
//! identity's `subject`, never an argument.

use crate::State;
use crate::store::backend::UserFields;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Query,
    Mutation,
    Action,
}

/// A function's failure as the HTTP API reports it.
#[derive(Debug)]
pub struct FunctionError {
    pub message: String,
    /// Present for `ConvexError`s only.
    pub data: Option<Value>,
}

impl FunctionError {
    fn plain(message: impl Into<String>) -> FunctionError {
        FunctionError {
            message: message.into(),
            data: None,
        }
    }

    /// A `ConvexError` with `{code, message}` data, which clients can switch on.
    fn convex(code: &str, message: &str) -> FunctionError {
        FunctionError {
            message: message.into(),
            data: Some(json!({ "code": code, "message": message })),
        }
    }
}

type Handler = fn(&State, Option<&Value>, &Map<String, Value>) -> Result<Value, FunctionError>;

/// Public functions by path. Internal ones (the webhook's upsert and delete) are not listed,
/// so calling them over the API fails as it does on Convex.
const FUNCTIONS: &[(&str, Kind, Handler)] = &[
    ("users:current", Kind::Query, users_current),
    ("users:store", Kind::Mutation, users_store),
    ("files:list", Kind::Query, files_list),
];

/// Most rows one page may ask for.
pub const MAX_PAGE: u64 = 1000;

pub fn run(
    state: &State,
    kind: Option<Kind>,
    path: &str,
    identity: Option<&Value>,
    args: &Value,
) -> Result<Value, FunctionError> {
    let path = path
        .strip_suffix(".js")
        .unwrap_or(path)
        .replace(".js:", ":");
    let found = FUNCTIONS
        .iter()
        .find(|(name, k, _)| *name == path && kind.is_none_or(|wanted| wanted == *k));
    let Some((_, _, handler)) = found else {
        return Err(FunctionError::plain(format!(
            "Could not find public function for '{path}'. Did you forget to run `npx convex dev` or `npx convex deploy`?"
        )));
    };
    let Value::Object(args) = args else {
        return Err(FunctionError::plain(
            "ArgumentValidationError: args must be an object",
        ));
    };
    handler(state, identity, args)
}

/// Convex's validator rejects fields it does not declare.
fn only_fields(args: &Map<String, Value>, allowed: &[&str]) -> Result<(), FunctionError> {
    match args.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(extra) => Err(FunctionError::plain(format!(
            "ArgumentValidationError: Object contains extra field `{extra}` that is not in the validator."
        ))),
        None => Ok(()),
    }
}

fn subject(identity: Option<&Value>) -> Result<&str, FunctionError> {
    identity
        .and_then(|i| i["subject"].as_str())
        .ok_or_else(|| FunctionError::convex("UNAUTHENTICATED", "Sign in to continue."))
}

fn internal(e: impl std::fmt::Display) -> FunctionError {
    FunctionError::plain(format!("Server Error: {e}"))
}

/// The caller's user document, or `null` before the webhook or `users:store` created it.
fn users_current(
    state: &State,
    identity: Option<&Value>,
    args: &Map<String, Value>,
) -> Result<Value, FunctionError> {
    only_fields(args, &[])?;
    let subject = subject(identity)?;
    let user = state.store.backend().user(subject).map_err(internal)?;
    serde_json::to_value(user).map_err(internal)
}

/// Creates or refreshes the caller's user document from the identity; returns its `_id`.
fn users_store(
    state: &State,
    identity: Option<&Value>,
    args: &Map<String, Value>,
) -> Result<Value, FunctionError> {
    only_fields(args, &[])?;
    let subject = subject(identity)?;
    let identity = identity.unwrap_or(&Value::Null);
    let text = |key: &str| identity[key].as_str().map(str::to_string);
    let fields = UserFields {
        email: text("email").unwrap_or_default(),
        first_name: text("givenName"),
        last_name: text("familyName"),
        picture_url: text("pictureUrl"),
        phone: text("phoneNumber"),
    };
    let id = state
        .store
        .backend()
        .upsert_user(subject, &fields, state.clock.unix_ms())
        .map_err(internal)?;
    Ok(Value::String(id))
}

/// A cursor is the last row's position: its creation time as the exact bits of the `f64` (a
/// float written as decimal text need not parse back to the same value, and one ULP off would
/// repeat or skip a row at a page boundary) and its id.
fn encode_cursor(time: f64, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{:016x}:{id}", time.to_bits()))
}

fn decode_cursor(cursor: &str) -> Option<(f64, String)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let (bits, id) = text.split_once(':')?;
    Some((
        f64::from_bits(u64::from_str_radix(bits, 16).ok()?),
        id.to_string(),
    ))
}

/// The caller's files, newest first, one page at a time: `{page, isDone, continueCursor}`.
fn files_list(
    state: &State,
    identity: Option<&Value>,
    args: &Map<String, Value>,
) -> Result<Value, FunctionError> {
    only_fields(args, &["paginationOpts"])?;
    let owner = subject(identity)?;
    let options = args
        .get("paginationOpts")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            FunctionError::plain(
                "ArgumentValidationError: Object is missing the required field `paginationOpts`.",
            )
        })?;
    let count = options
        .get("numItems")
        .and_then(Value::as_f64)
        .filter(|n| n.fract() == 0.0 && *n >= 1.0 && *n <= MAX_PAGE as f64)
        .ok_or_else(|| {
            FunctionError::plain(format!(
                "paginationOpts.numItems must be a whole number from 1 to {MAX_PAGE}"
            ))
        })? as usize;
    let after = match options.get("cursor") {
        None | Some(Value::Null) => None,
        Some(Value::String(c)) => Some(
            decode_cursor(c)
                .ok_or_else(|| FunctionError::plain("InvalidCursor: the cursor is not valid"))?,
        ),
        Some(_) => {
            return Err(FunctionError::plain(
                "ArgumentValidationError: cursor must be a string or null",
            ));
        }
    };
    let mut page = state
        .store
        .backend()
        .files_page(owner, after.clone(), count + 1)
        .map_err(internal)?;
    let is_done = page.len() <= count;
    page.truncate(count);
    let continue_cursor = match page.last() {
        Some(last) => encode_cursor(last.creation_time, &last.id),
        None => after.map_or_else(String::new, |(time, id)| encode_cursor(time, &id)),
    };
    Ok(json!({ "page": page, "isDone": is_done, "continueCursor": continue_cursor }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_keep_the_exact_time() {
        for time in [1_764_316_800_123.456_7, 0.1 + 0.2, f64::MAX, 1e-300] {
            assert_eq!(
                decode_cursor(&encode_cursor(time, "abc")),
                Some((time, "abc".into()))
            );
        }
        assert_eq!(decode_cursor("not a cursor"), None);
    }
}
