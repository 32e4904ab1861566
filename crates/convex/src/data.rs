//! The app's data from Convex: the person's profile and files, as plain values a UI or the
//! CLI can show. Nothing here carries a token.

use crate::{Client, ConvexError, Kind};
use kinvex_auth::Auth;
use kinvex_auth::id_token::Identity;
use serde::Serialize;
use serde_json::{Value, json};

/// The Convex `users` record merged with the ID token's claims.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Profile {
    pub kinde_id: String,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub picture_url: Option<String>,
    /// The Kinde organisation signed in to.
    pub organization: Option<String>,
    /// When the backend first stored this person (ms since the epoch).
    pub member_since: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FileEntry {
    pub id: String,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    /// Milliseconds since the epoch.
    pub created: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FilePage {
    pub files: Vec<FileEntry>,
    pub is_done: bool,
    /// Pass back to get the next page.
    pub cursor: Option<String>,
}

fn text(value: &Value, key: &str) -> Option<String> {
    value[key]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The caller's profile. When the backend has no record yet (the webhook has not arrived), the
/// `users:store` mutation creates it from the token, once.
pub async fn profile(client: &Client, auth: &Auth) -> Result<Profile, ConvexError> {
    let mut record = client
        .call_as(auth, Kind::Query, "users:current", &json!({}))
        .await?;
    if record.is_null() {
        client
            .call_as(auth, Kind::Mutation, "users:store", &json!({}))
            .await?;
        record = client
            .call_as(auth, Kind::Query, "users:current", &json!({}))
            .await?;
    }
    // Who signed in, as the session holds it: the calls above already renewed it if needed.
    Ok(profile_of(&record, auth.identity().await?))
}

/// The profile from a `users:current` value (HTTP or live) and who signed in. A null record (no
/// webhook yet, `users:store` not run) gives what the sign-in knows.
pub fn profile_of(record: &Value, identity: Identity) -> Profile {
    let given_name = text(record, "firstName");
    let family_name = text(record, "lastName");
    let joined = [given_name.clone(), family_name.clone()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    Profile {
        kinde_id: identity.subject,
        // The record first: webhooks keep it current, while the token's name is the sign-in's.
        name: (!joined.is_empty()).then_some(joined).or(identity.name),
        given_name,
        family_name,
        email: text(record, "email").or(identity.email),
        phone: text(record, "phone"),
        picture_url: text(record, "pictureUrl"),
        organization: identity.organization,
        member_since: record["_creationTime"].as_f64(),
    }
}

/// The orders `files:list` offers (`ORDERS` in convex/functions/files.ts).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    /// Newest first: the backend's default.
    #[default]
    Newest,
    Oldest,
    /// A to Z by the name's UTF-8 bytes, as Convex indexes compare strings.
    Name,
    /// Largest first.
    Size,
}

impl Order {
    /// The name `files:list` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Order::Newest => "newest",
            Order::Oldest => "oldest",
            Order::Name => "name",
            Order::Size => "size",
        }
    }
}

/// Which of the caller's files a listing shows, in what order: `files:list`'s `order` and
/// `search` (a case-insensitive substring of the name). A cursor belongs to one query.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileQuery {
    pub order: Order,
    pub search: Option<String>,
}

impl FileQuery {
    /// The search, when there is one: the backend ignores one that is only spaces.
    pub fn search(&self) -> Option<&str> {
        self.search.as_deref().filter(|s| !s.trim().is_empty())
    }

    /// `files:list`'s arguments for a page of `page_size` from `cursor`. The defaults (newest
    /// first, no search) are left out, so a deployment whose `files:list` predates them answers.
    pub fn args(&self, cursor: Option<&str>, page_size: u32) -> Value {
        let mut args = json!({ "paginationOpts": { "numItems": page_size, "cursor": cursor } });
        if self.order != Order::Newest {
            args["order"] = self.order.as_str().into();
        }
        if let Some(search) = self.search() {
            args["search"] = search.into();
        }
        args
    }
}

/// One page of the caller's files, newest first.
pub async fn files(
    client: &Client,
    auth: &Auth,
    cursor: Option<&str>,
    page_size: u32,
) -> Result<FilePage, ConvexError> {
    files_by(client, auth, &FileQuery::default(), cursor, page_size).await
}

/// One page of the caller's files in `query`'s order, only those its search matches. With a
/// search, a page can hold fewer than `page_size` files, even none, while more follow: the
/// backend filters each page after reading it.
pub async fn files_by(
    client: &Client,
    auth: &Auth,
    query: &FileQuery,
    cursor: Option<&str>,
    page_size: u32,
) -> Result<FilePage, ConvexError> {
    let value = client
        .call_as(
            auth,
            Kind::Query,
            "files:list",
            &query.args(cursor, page_size),
        )
        .await?;
    Ok(page_of(&value))
}

/// A `files:list` page as Convex returns it (HTTP or live). Sizes and times are `v.number()`s,
/// which Convex writes as floats (`482113.0`); the integer form is read too.
pub fn page_of(value: &Value) -> FilePage {
    let files = value["page"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| FileEntry {
            id: text(f, "_id").unwrap_or_default(),
            name: text(f, "name").unwrap_or_default(),
            content_type: text(f, "contentType")
                .unwrap_or_else(|| "application/octet-stream".into()),
            size: f["size"].as_f64().map_or(0, |s| s.max(0.0) as u64),
            created: f["_creationTime"].as_f64().unwrap_or(0.0),
        })
        .collect();
    let is_done = value["isDone"].as_bool().unwrap_or(true);
    FilePage {
        files,
        is_done,
        cursor: if is_done {
            None
        } else {
            text(value, "continueCursor")
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_records_name_wins_over_the_sign_ins_so_a_webhooks_change_shows() {
        let identity = Identity {
            subject: "kp_1".into(),
            email: Some("dana@example.com".into()),
            name: Some("Dana Demo".into()),
            organization: None,
            expires_at: 0,
        };
        let renamed = json!({ "firstName": "Dana", "lastName": "Renamed" });
        assert_eq!(
            profile_of(&renamed, identity.clone()).name.as_deref(),
            Some("Dana Renamed")
        );
        assert_eq!(
            profile_of(&Value::Null, identity).name.as_deref(),
            Some("Dana Demo"),
            "without a record, the sign-in's name"
        );
    }

    #[test]
    fn a_query_sends_only_what_differs_from_the_default() {
        let page = json!({ "numItems": 5, "cursor": "c1" });
        assert_eq!(
            FileQuery::default().args(Some("c1"), 5),
            json!({ "paginationOpts": page })
        );
        let query = FileQuery {
            order: Order::Size,
            search: Some("Report".into()),
        };
        assert_eq!(
            query.args(Some("c1"), 5),
            json!({ "paginationOpts": page, "order": "size", "search": "Report" })
        );
        let blank = FileQuery {
            order: Order::Name,
            search: Some("   ".into()),
        };
        assert_eq!(
            blank.args(None, 5),
            json!({ "paginationOpts": { "numItems": 5, "cursor": null }, "order": "name" })
        );
    }

    #[test]
    fn a_page_with_float_sizes_and_times_reads_as_whole_bytes() {
        let body = r#"{"page":[{"_id":"f1","_creationTime":1764316800123.5,"name":"a.pdf",
            "contentType":"application/pdf","size":482113.0,"owner":"kp_1","storageId":"s1"}],
            "isDone":false,"continueCursor":"c1","splitCursor":null,"pageStatus":null}"#;
        let value: Value = serde_json::from_str(body).unwrap_or_default();
        let page = page_of(&value);
        assert_eq!(page.files.len(), 1);
        assert_eq!(page.files[0].size, 482_113);
        assert_eq!(page.files[0].created, 1_764_316_800_123.5);
        assert_eq!(page.cursor.as_deref(), Some("c1"));
    }
}
