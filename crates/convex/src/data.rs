//! The app's data from Convex: the person's profile and files, as plain values a UI or the
//! CLI can show. Nothing here carries a token.

use crate::{Client, ConvexError, Kind};
use kinvex_auth::Auth;
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
    let identity = auth.identity().await?;
    let given_name = text(&record, "firstName");
    let family_name = text(&record, "lastName");
    let joined = [given_name.clone(), family_name.clone()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    Ok(Profile {
        kinde_id: identity.subject,
        name: identity.name.or((!joined.is_empty()).then_some(joined)),
        given_name,
        family_name,
        email: text(&record, "email").or(identity.email),
        phone: text(&record, "phone"),
        picture_url: text(&record, "pictureUrl"),
        organization: identity.organization,
        member_since: record["_creationTime"].as_f64(),
    })
}

/// One page of the caller's files, newest first.
pub async fn files(
    client: &Client,
    auth: &Auth,
    cursor: Option<&str>,
    page_size: u32,
) -> Result<FilePage, ConvexError> {
    let args = json!({ "paginationOpts": { "numItems": page_size, "cursor": cursor } });
    let value = client
        .call_as(auth, Kind::Query, "files:list", &args)
        .await?;
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
    Ok(FilePage {
        files,
        is_done,
        cursor: if is_done {
            None
        } else {
            text(&value, "continueCursor")
        },
    })
}
