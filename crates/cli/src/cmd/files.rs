//! `kinvex files`: the person's files from the backend, newest first, as a table or JSON.

use super::{Io, write_json};
use crate::cli::FilesArgs;
use crate::error::CliError;
use crate::escape;
use crate::exit::Exit;
use crate::human::{date, size};
use kinvex_auth::Auth;
use kinvex_convex::data::{FileEntry, FilePage, files};
use kinvex_convex::{Client, ConvexError};
use serde_json::{Value, json};
use std::io::Write;

/// The backend's largest page.
const PAGE: usize = 200;

pub async fn run(auth: &Auth, args: &FilesArgs, io: &mut Io<'_>) -> Result<Exit, CliError> {
    let client = Client::for_auth(auth)?;
    let (shown, more) = first(args.limit, async |cursor: Option<String>, size: u32| {
        files(&client, auth, cursor.as_deref(), size).await
    })
    .await?;
    if args.json {
        write_json(io.out, &to_json(&shown))?;
    } else {
        table(io.out, &shown, more)?;
    }
    Ok(Exit::Success)
}

/// Up to `limit` files, page by page, and whether there are more.
async fn first(
    limit: usize,
    mut page: impl AsyncFnMut(Option<String>, u32) -> Result<FilePage, ConvexError>,
) -> Result<(Vec<FileEntry>, bool), ConvexError> {
    let mut shown = Vec::new();
    let mut cursor = None;
    while shown.len() < limit {
        let size = (limit - shown.len()).min(PAGE) as u32;
        let next = page(cursor.take(), size).await?;
        shown.extend(next.files);
        if next.is_done {
            return Ok((shown, false));
        }
        cursor = next.cursor;
    }
    Ok((shown, true))
}

fn table(out: &mut dyn Write, shown: &[FileEntry], more: bool) -> std::io::Result<()> {
    if shown.is_empty() {
        return writeln!(out, "You have no files yet.");
    }
    let names: Vec<String> = shown
        .iter()
        .map(|f| escape::line(&f.name).into_owned())
        .collect();
    let kinds: Vec<String> = shown
        .iter()
        .map(|f| escape::line(&f.content_type).into_owned())
        .collect();
    let widest = |column: &[String], most: usize| {
        column
            .iter()
            .map(|s| s.chars().count())
            .max()
            .unwrap_or(4)
            .clamp(4, most)
    };
    let (width, type_width) = (widest(&names, 48), widest(&kinds, 32));
    writeln!(
        out,
        "{:<width$}  {:<type_width$}  {:>9}  CREATED",
        "NAME", "TYPE", "SIZE"
    )?;
    for ((file, name), kind) in shown.iter().zip(names).zip(kinds) {
        let name = if name.chars().count() > width {
            name.chars().take(width - 1).collect::<String>() + "…"
        } else {
            name
        };
        let kind: String = kind.chars().take(type_width).collect();
        writeln!(
            out,
            "{name:<width$}  {kind:<type_width$}  {:>9}  {}",
            size(file.size),
            date(file.created)
        )?;
    }
    if more {
        writeln!(
            out,
            "(first {} shown; use --limit to see more)",
            shown.len()
        )
    } else {
        writeln!(out, "({} files)", shown.len())
    }
}

/// `files --json`: an array, newest first, of `{id, name, content_type, size, created}`;
/// `size` in bytes, `created` in milliseconds since the epoch.
fn to_json(shown: &[FileEntry]) -> Value {
    shown
        .iter()
        .map(|f| {
            json!({
                "id": f.id,
                "name": f.name,
                "content_type": f.content_type,
                "size": f.size,
                "created": f.created,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(n: usize) -> FileEntry {
        FileEntry {
            id: format!("f{n}"),
            name: format!("report-{n}.pdf"),
            content_type: "application/pdf".into(),
            size: 482_113,
            created: 1_709_251_200_000.0,
        }
    }

    /// A backend holding `total` files, recording the page sizes asked for.
    async fn listed(total: usize, limit: usize) -> (Vec<FileEntry>, bool, Vec<u32>) {
        let mut asked = Vec::new();
        let (shown, more) = first(limit, async |cursor: Option<String>, size: u32| {
            asked.push(size);
            let start: usize = cursor.map_or(0, |c| c.parse().expect("cursor"));
            let end = (start + size as usize).min(total);
            Ok(FilePage {
                files: (start..end).map(file).collect(),
                is_done: end == total,
                cursor: Some(end.to_string()),
            })
        })
        .await
        .expect("listed");
        (shown, more, asked)
    }

    #[tokio::test]
    async fn pages_are_fetched_until_the_limit_or_the_end() {
        let (shown, more, asked) = listed(14, 5).await;
        assert_eq!((shown.len(), more, asked), (5, true, vec![5]));
        let (shown, more, asked) = listed(14, 100).await;
        assert_eq!((shown.len(), more, asked), (14, false, vec![100]));
        let (shown, more, asked) = listed(450, 450).await;
        assert_eq!((shown.len(), more), (450, false));
        assert_eq!(asked, vec![200, 200, 50]);
        assert_eq!(shown[449].id, "f449");
        let (shown, more, _) = listed(0, 50).await;
        assert_eq!((shown.len(), more), (0, false));
    }

    fn shown(files: &[FileEntry], more: bool) -> String {
        let mut out = Vec::new();
        table(&mut out, files, more).expect("written");
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn a_table_with_a_footer() {
        let files = [file(1), file(2)];
        assert_eq!(
            shown(&files, false),
            "NAME          TYPE                  SIZE  CREATED\n\
             report-1.pdf  application/pdf   470.8 KB  2024-03-01\n\
             report-2.pdf  application/pdf   470.8 KB  2024-03-01\n\
             (2 files)\n"
        );
        assert!(shown(&files, true).ends_with("(first 2 shown; use --limit to see more)\n"));
        assert_eq!(shown(&[], false), "You have no files yet.\n");
    }

    #[test]
    fn long_names_are_cut_to_the_column() {
        let mut long = file(1);
        long.name = "x".repeat(60);
        let out = shown(&[long], false);
        let row = out.lines().nth(1).expect("row");
        assert!(row.starts_with(&format!("{}…  ", "x".repeat(47))), "{row}");
    }

    #[test]
    fn names_from_the_backend_cannot_fake_rows() {
        let mut hostile = file(1);
        hostile.name = "a.txt\nreport-9.pdf  application/pdf".into();
        hostile.content_type = "text/plain\u{1b}[8m".into();
        let out = shown(&[hostile], false);
        assert_eq!(out.lines().count(), 3, "header, one row, footer: {out}");
        assert!(!out.contains('\u{1b}'), "{out}");
        assert!(out.contains("a.txt\\nreport-9.pdf"), "{out}");
    }

    #[test]
    fn json_is_an_array_of_files() {
        assert_eq!(
            to_json(&[file(1)]),
            json!([{
                "id": "f1",
                "name": "report-1.pdf",
                "content_type": "application/pdf",
                "size": 482_113,
                "created": 1_709_251_200_000.0,
            }])
        );
        assert_eq!(to_json(&[]), json!([]));
    }
}
