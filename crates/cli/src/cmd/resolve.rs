//! Which of the person's files `ID|NAME` means: the one with that id, else the one with that
//! name; several with the name is an error listing them, never a guess.

use crate::error::CliError;
use crate::human::date;
use kinvex_auth::Auth;
use kinvex_convex::Client;
use kinvex_convex::data::{FileEntry, files};

/// The backend's largest page.
const PAGE: u32 = 200;

/// Reads all the person's files, page by page, and picks the one `query` means.
pub async fn resolve(client: &Client, auth: &Auth, query: &str) -> Result<FileEntry, CliError> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = files(client, auth, cursor.as_deref(), PAGE).await?;
        all.extend(page.files);
        cursor = page.cursor;
        if page.is_done || cursor.is_none() {
            break;
        }
    }
    pick(all, query)
}

pub fn pick(all: Vec<FileEntry>, query: &str) -> Result<FileEntry, CliError> {
    if let Some(file) = all.iter().find(|f| f.id == query) {
        return Ok(file.clone());
    }
    let mut named: Vec<FileEntry> = all.into_iter().filter(|f| f.name == query).collect();
    match named.len() {
        0 => Err(CliError::NoSuchFile {
            query: query.to_string(),
        }),
        1 => Ok(named.remove(0)),
        _ => Err(CliError::AmbiguousName {
            name: query.to_string(),
            files: named
                .iter()
                .map(|f| (f.id.clone(), date(f.created)))
                .collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(id: &str, name: &str, created: f64) -> FileEntry {
        FileEntry {
            id: id.into(),
            name: name.into(),
            content_type: "text/plain".into(),
            size: 1,
            created,
        }
    }

    #[test]
    fn an_id_wins_then_a_unique_name_and_several_names_are_listed() {
        let all = vec![
            file("id1", "a.txt", 1_709_251_200_000.0),
            file("id2", "a.txt", 1_709_337_600_000.0),
            file("id3", "id1", 0.0),
            file("id4", "b.txt", 0.0),
        ];
        assert_eq!(
            pick(all.clone(), "id1").map(|f| f.id).ok().as_deref(),
            Some("id1")
        );
        assert_eq!(
            pick(all.clone(), "b.txt").map(|f| f.id).ok().as_deref(),
            Some("id4")
        );
        match pick(all.clone(), "a.txt") {
            Err(CliError::AmbiguousName { files, .. }) => assert_eq!(
                files,
                [
                    ("id1".to_string(), "2024-03-01".to_string()),
                    ("id2".to_string(), "2024-03-02".to_string())
                ]
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            pick(all, "c.txt").err().map(|e| e.code()),
            Some("no_such_file")
        );
    }
}
