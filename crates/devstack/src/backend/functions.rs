//! The public functions of the project's `convex/` directory, reimplemented over SQLite with the
//! same paths, arguments, results and errors. The owner of anything read is always the verified
//! identity's `subject`, never an argument.

use super::files;
use crate::State;
use crate::store::backend::{FileDoc, FileOrder, FilePosition, UserFields};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Query,
    Mutation,
    Action,
}

/// A function's failure: the text of the JS error it ended with, as
/// [`super::redaction`] puts it into `errorMessage`, and a `ConvexError`'s data.
#[derive(Debug)]
pub struct FunctionError {
    pub message: String,
    /// Present for `ConvexError`s only.
    pub data: Option<Value>,
}

impl FunctionError {
    /// An error the runtime raises itself (validation, a missing function): its bare text.
    pub(super) fn plain(message: impl Into<String>) -> FunctionError {
        FunctionError {
            message: message.into(),
            data: None,
        }
    }

    /// A `ConvexError` thrown with `{code, message}` data, which clients can switch on; its text
    /// is the data as JSON, as `new ConvexError(data)` makes it.
    pub(super) fn convex(code: &str, message: &str) -> FunctionError {
        let data = json!({ "code": code, "message": message });
        FunctionError {
            message: format!("Uncaught ConvexError: {data}"),
            data: Some(data),
        }
    }
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Query => "Query",
            Kind::Mutation => "Mutation",
            Kind::Action => "Action",
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
    (
        "files:generateUploadUrl",
        Kind::Mutation,
        files::generate_upload_url,
    ),
    ("files:save", Kind::Mutation, files::save),
    ("files:remove", Kind::Mutation, files::remove),
    ("files:url", Kind::Query, files::url),
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
    // `dir/file:fn`, `dir/file.js:fn` and `dir/file` (the default export) name one function.
    let (module, function) = path.split_once(':').unwrap_or((path, "default"));
    let module = module.strip_suffix(".js").unwrap_or(module);
    let path = format!("{module}:{function}");
    let Some((_, defined, handler)) = FUNCTIONS.iter().find(|(name, _, _)| *name == path) else {
        return Err(FunctionError::plain(format!(
            "Could not find public function for '{path}'."
        )));
    };
    if let Some(wanted) = kind
        && wanted != *defined
    {
        return Err(FunctionError::plain(format!(
            "Trying to execute {module}.js:{function} as {}, but it is defined as {}.",
            wanted.name(),
            defined.name()
        )));
    }
    let Value::Object(args) = args else {
        return Err(FunctionError::plain(
            "ArgumentValidationError: args must be an object",
        ));
    };
    // The project's hourly cron, on the stack's clock (see [`super::storage`]).
    super::storage::sweep_if_due(state).map_err(internal)?;
    handler(state, identity, args)
}

/// Convex's validator rejects fields it does not declare.
pub(super) fn only_fields(
    args: &Map<String, Value>,
    allowed: &[&str],
) -> Result<(), FunctionError> {
    match args.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(extra) => Err(FunctionError::plain(format!(
            "ArgumentValidationError: Object contains extra field `{extra}` that is not in the validator."
        ))),
        None => Ok(()),
    }
}

pub(super) fn subject(identity: Option<&Value>) -> Result<&str, FunctionError> {
    identity
        .and_then(|i| i["subject"].as_str())
        .ok_or_else(|| FunctionError::convex("UNAUTHENTICATED", "Sign in to continue."))
}

pub(super) fn internal(e: impl std::fmt::Display) -> FunctionError {
    FunctionError::plain(format!("Uncaught Error: {e}"))
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
    let text = |key: &str| {
        identity[key]
            .as_str()
            .filter(|t| !t.is_empty())
            .map(str::to_string)
    };
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
        .merge_user(subject, &fields, state.clock.unix_ms())
        .map_err(internal)?;
    Ok(Value::String(id))
}

/// A cursor is the last row's place in one order: the order's name, then the row's creation
/// time and size as the exact bits of their `f64`s (a float written as decimal text need not parse
/// back to the same value, and one ULP off would repeat or skip a row at a page boundary), its id,
/// and last its name, which may hold any character.
fn encode_cursor(order: FileOrder, at: &FilePosition) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{}|{:016x}|{:016x}|{}|{}",
        order_name(order),
        at.time.to_bits(),
        at.size.to_bits(),
        at.id,
        at.name
    ))
}

/// The place a cursor names, or `None` when it is not one of ours or is for another order:
/// both fail as the real backend fails a cursor from a different query.
fn decode_cursor(order: FileOrder, cursor: &str) -> Option<FilePosition> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let mut parts = text.splitn(5, '|');
    if parts.next()? != order_name(order) {
        return None;
    }
    let bits = |part: Option<&str>| u64::from_str_radix(part?, 16).ok().map(f64::from_bits);
    let time = bits(parts.next())?;
    let size = bits(parts.next())?;
    let id = parts.next()?.to_string();
    let name = parts.next()?.to_string();
    Some(FilePosition {
        name,
        size,
        time,
        id,
    })
}

/// `files:list`'s `order` values, as convex/functions/files.ts names them.
const ORDERS: &[(&str, FileOrder)] = &[
    ("newest", FileOrder::Newest),
    ("oldest", FileOrder::Oldest),
    ("name", FileOrder::Name),
    ("size", FileOrder::Size),
];

fn order_name(order: FileOrder) -> &'static str {
    ORDERS
        .iter()
        .find(|(_, o)| *o == order)
        .map_or("newest", |(name, _)| name)
}

/// `order: v.optional(v.union(v.literal("newest"), …))`, newest when absent.
fn order_arg(args: &Map<String, Value>) -> Result<FileOrder, FunctionError> {
    match args.get("order") {
        None => Ok(FileOrder::Newest),
        Some(value) => ORDERS
            .iter()
            .find(|(name, _)| value.as_str() == Some(name))
            .map(|(_, order)| *order)
            .ok_or_else(|| {
                FunctionError::plain(format!(
                    "ArgumentValidationError: Value does not match validator.\nPath: .order\nValue: {value}\nValidator: v.union(v.literal(\"newest\"), v.literal(\"oldest\"), v.literal(\"name\"), v.literal(\"size\"))"
                ))
            }),
    }
}

/// `search: v.optional(v.string())`, as the text a name must contain, lowercased (`None`: no
/// filter). The real function lowercases with JavaScript's `toLowerCase`, which applies Unicode's
/// full default mapping as Rust's `to_lowercase` does.
fn search_arg(args: &Map<String, Value>) -> Result<Option<String>, FunctionError> {
    match args.get("search") {
        None => Ok(None),
        Some(Value::String(text)) => {
            let needle = text.trim().to_lowercase();
            Ok((!needle.is_empty()).then_some(needle))
        }
        Some(value) => Err(FunctionError::plain(format!(
            "ArgumentValidationError: Value does not match validator.\nPath: .search\nValue: {value}\nValidator: v.string()"
        ))),
    }
}

/// The caller's files in `order`, one page at a time: `{page, isDone, continueCursor}`. A
/// `search` filters each page after the walk read it, as the real function does, so a page may
/// be short, even empty, while `isDone` is false.
fn files_list(
    state: &State,
    identity: Option<&Value>,
    args: &Map<String, Value>,
) -> Result<Value, FunctionError> {
    only_fields(args, &["paginationOpts", "order", "search"])?;
    let owner = subject(identity)?;
    let options = args
        .get("paginationOpts")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            FunctionError::plain(
                "ArgumentValidationError: Object is missing the required field `paginationOpts`.",
            )
        })?;
    validate_pagination(options)?;
    let order = order_arg(args)?;
    let search = search_arg(args)?;
    let count = options
        .get("numItems")
        .and_then(Value::as_f64)
        .filter(|n| n.fract() == 0.0 && *n >= 1.0 && *n <= MAX_PAGE as f64)
        .ok_or_else(|| {
            FunctionError::plain(format!(
                "Uncaught Error: paginationOpts.numItems must be a whole number from 1 to {MAX_PAGE}"
            ))
        })? as usize;
    let cursor_at = |field: &str| {
        match options.get(field) {
        Some(Value::String(c)) => decode_cursor(order, c).map(Some).ok_or_else(|| {
            FunctionError::plain(
                "Uncaught Error: InvalidCursor: Tried to run a query starting from a cursor, but it looks like this cursor is from a different query.",
            )
        }),
        _ => Ok(None),
    }
    };
    let after = cursor_at("cursor")?;
    let (mut page, is_done, continue_cursor) = match cursor_at("endCursor")? {
        Some(end) => {
            let page = files_between(state, owner, order, after, &end, count)?;
            (page, false, encode_cursor(order, &end))
        }
        None => {
            let mut page = state
                .store
                .backend()
                .files_page(owner, order, after.as_ref(), count + 1)
                .map_err(internal)?;
            let is_done = page.len() <= count;
            page.truncate(count);
            let continue_cursor = match page.last().map(FilePosition::from).or(after) {
                Some(last) => encode_cursor(order, &last),
                None => String::new(),
            };
            (page, is_done, continue_cursor)
        }
    };
    if let Some(needle) = search {
        page.retain(|file| file.name.to_lowercase().contains(&needle));
    }
    // A page this small is never split: Convex recommends a split only past thousands of rows.
    Ok(json!({
        "page": page,
        "isDone": is_done,
        "continueCursor": continue_cursor,
        "splitCursor": null,
        "pageStatus": null,
    }))
}

/// A page with both ends fixed (`paginationOpts.endCursor`): every file after `after` up to and
/// including the position `end`, however many that is now; the page continues at `end`. This
/// is how Convex's reactive pagination keeps a live page from losing or repeating rows when files
/// are added or removed before its end (convex-js src/server/pagination.ts, `endCursor`).
fn files_between(
    state: &State,
    owner: &str,
    order: FileOrder,
    mut after: Option<FilePosition>,
    end: &FilePosition,
    chunk: usize,
) -> Result<Vec<FileDoc>, FunctionError> {
    let mut page = Vec::new();
    loop {
        let rows = state
            .store
            .backend()
            .files_page(owner, order, after.as_ref(), chunk + 1)
            .map_err(internal)?;
        let exhausted = rows.len() <= chunk;
        let mut passed_end = false;
        for row in rows {
            let at = FilePosition::from(&row);
            if !order.not_after(&at, end) {
                passed_end = true;
                break;
            }
            after = Some(at);
            page.push(row);
        }
        if passed_end || exhausted {
            break;
        }
    }
    Ok(page)
}

/// `paginationOptsValidator`: `numItems` a number and `cursor` a string or null, both required;
/// `endCursor`, `id`, `maximumRowsRead` and `maximumBytesRead` optional; nothing else.
fn validate_pagination(options: &Map<String, Value>) -> Result<(), FunctionError> {
    const OPTIONAL: &[&str] = &["endCursor", "id", "maximumRowsRead", "maximumBytesRead"];
    let invalid = |why: String| {
        FunctionError::plain(format!(
            "ArgumentValidationError: {why}\nPath: .paginationOpts"
        ))
    };
    for field in ["numItems", "cursor"] {
        if !options.contains_key(field) {
            return Err(invalid(format!(
                "Object is missing the required field `{field}`. Consider wrapping the field validator in `v.optional(...)` if this is expected."
            )));
        }
    }
    if let Some(extra) = options
        .keys()
        .find(|k| !matches!(k.as_str(), "numItems" | "cursor") && !OPTIONAL.contains(&k.as_str()))
    {
        return Err(invalid(format!(
            "Object contains extra field `{extra}` that is not in the validator."
        )));
    }
    let number = |v: &Value| v.is_number();
    let text_or_null = |v: &Value| v.is_string() || v.is_null();
    let fits = number(&options["numItems"])
        && text_or_null(&options["cursor"])
        && options.get("endCursor").is_none_or(text_or_null)
        && ["id", "maximumRowsRead", "maximumBytesRead"]
            .iter()
            .all(|f| options.get(*f).is_none_or(number));
    if fits {
        Ok(())
    } else {
        Err(invalid("Value does not match validator.".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_keep_the_exact_place_and_belong_to_one_order() {
        for time in [1_764_316_800_123.456_7, 0.1 + 0.2, f64::MAX, 1e-300] {
            let at = FilePosition {
                name: "a|b:c.txt".into(),
                size: 0.1 + 0.2,
                time,
                id: "abc".into(),
            };
            let cursor = encode_cursor(FileOrder::Name, &at);
            assert_eq!(decode_cursor(FileOrder::Name, &cursor), Some(at));
            assert_eq!(decode_cursor(FileOrder::Size, &cursor), None);
        }
        assert_eq!(decode_cursor(FileOrder::Newest, "not a cursor"), None);
    }
}
