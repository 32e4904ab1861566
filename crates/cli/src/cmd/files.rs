//! `kinvex files`: the person's files from the backend, newest first or in the `--sort` order,
//! all of them or those whose name contains the `--search` text, as a table or JSON.

use super::watch::{Watch, separator};
use super::{Io, write_json};
use crate::cli::FilesArgs;
use crate::error::CliError;
use crate::escape;
use crate::exit::Exit;
use crate::human::{date, size};
use kinvex_auth::Auth;
use kinvex_convex::data::{FileEntry, FilePage, FileQuery, files_by, page_of};
use kinvex_convex::{Client, ConvexError};
use serde_json::{Value, json};
use std::io::Write;
use std::sync::Arc;

/// The backend's largest page.
const PAGE: usize = 200;

pub async fn run(auth: &Arc<Auth>, args: &FilesArgs, io: &mut Io<'_>) -> Result<Exit, CliError> {
    if args.watch {
        return watch(auth, args, io, super::interrupted()).await;
    }
    let client = Client::for_auth(auth)?;
    let query = query_of(args);
    let filtered = query.search().is_some();
    let (shown, more) = first(
        args.limit,
        filtered,
        async |cursor: Option<String>, size: u32| {
            files_by(&client, auth, &query, cursor.as_deref(), size).await
        },
    )
    .await?;
    if args.json {
        write_json(io.out, &to_json(&shown))?;
    } else {
        table(io.out, &shown, more, query.search())?;
    }
    Ok(Exit::Success)
}

fn query_of(args: &FilesArgs) -> FileQuery {
    FileQuery {
        order: args.sort.into(),
        search: args.search.clone(),
    }
}

/// `files --watch`: the first page (up to `--limit`, at most a backend page) each time it
/// changes, until `stop`. With `--search`, the matches among a whole backend page, up to
/// `--limit` of them. With `--json`, one `{"files": [...], "isDone": bool}` a line.
async fn watch(
    auth: &Arc<Auth>,
    args: &FilesArgs,
    io: &mut Io<'_>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<Exit, CliError> {
    let query = query_of(args);
    let size = if query.search().is_some() {
        PAGE
    } else {
        args.limit.min(PAGE)
    };
    let first_page = query.args(None, size as u32);
    let mut watch = Watch::start(auth, "files:list", first_page, stop).await?;
    let clock = auth.clock();
    while let Some(value) = watch.next(io.err).await? {
        let mut page = page_of(&value);
        if page.files.len() > args.limit {
            page.files.truncate(args.limit);
            page.is_done = false;
        }
        if args.json {
            let line = json!({ "files": to_json(&page.files), "isDone": page.is_done });
            writeln!(io.out, "{}", escape::json(&line.to_string()))?;
        } else {
            writeln!(io.out, "{}", separator(clock.unix_ms() as i64))?;
            table(io.out, &page.files, !page.is_done, query.search())?;
        }
        io.out.flush()?;
    }
    Ok(Exit::Success)
}

/// Up to `limit` files, page by page, and whether there are more. `filtered` (a search) asks
/// for whole backend pages: each holds only its matches, so asking for what is missing would
/// take a round trip per few files.
async fn first(
    limit: usize,
    filtered: bool,
    mut page: impl AsyncFnMut(Option<String>, u32) -> Result<FilePage, ConvexError>,
) -> Result<(Vec<FileEntry>, bool), ConvexError> {
    let mut shown = Vec::new();
    let mut cursor = None;
    loop {
        let size = if filtered {
            PAGE
        } else {
            (limit - shown.len()).min(PAGE)
        };
        let next = page(cursor.take(), size as u32).await?;
        shown.extend(next.files);
        if shown.len() > limit {
            shown.truncate(limit);
            return Ok((shown, true));
        }
        if next.is_done || next.cursor.is_none() {
            return Ok((shown, false));
        }
        if shown.len() == limit {
            return Ok((shown, true));
        }
        cursor = next.cursor;
    }
}

/// The files as a table; `search` is what they were found with, for saying that none were.
fn table(
    out: &mut dyn Write,
    shown: &[FileEntry],
    more: bool,
    search: Option<&str>,
) -> std::io::Result<()> {
    match (shown.is_empty(), search, more) {
        (false, ..) => {}
        (true, None, _) => return writeln!(out, "You have no files yet."),
        (true, Some(text), false) => {
            return writeln!(out, "No files match \"{}\".", escape::line(text));
        }
        (true, Some(text), true) => {
            return writeln!(
                out,
                "No files match \"{}\" on the first page; without --watch, every file is searched.",
                escape::line(text)
            );
        }
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
    } else if shown.len() == 1 {
        writeln!(out, "(1 file)")
    } else {
        writeln!(out, "({} files)", shown.len())
    }
}

/// `files --json`: an array, in the `--sort` order, of `{id, name, content_type, size, created}`;
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

    /// A backend holding `total` files, recording the page sizes asked for; with `every`, a
    /// search that matches every `every`th file.
    async fn searched(
        total: usize,
        limit: usize,
        every: Option<usize>,
    ) -> (Vec<FileEntry>, bool, Vec<u32>) {
        let mut asked = Vec::new();
        let (shown, more) = first(
            limit,
            every.is_some(),
            async |cursor: Option<String>, size: u32| {
                asked.push(size);
                let start: usize = cursor.map_or(0, |c| c.parse().expect("cursor"));
                let end = (start + size as usize).min(total);
                Ok(FilePage {
                    files: (start..end)
                        .filter(|n| every.is_none_or(|e| n % e == 0))
                        .map(file)
                        .collect(),
                    is_done: end == total,
                    cursor: Some(end.to_string()),
                })
            },
        )
        .await
        .expect("listed");
        (shown, more, asked)
    }

    async fn listed(total: usize, limit: usize) -> (Vec<FileEntry>, bool, Vec<u32>) {
        searched(total, limit, None).await
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

    #[tokio::test]
    async fn a_search_reads_whole_pages_and_stops_at_the_limit() {
        // One match in a hundred: whole pages, not a page per missing file.
        let (shown, more, asked) = searched(1000, 3, Some(100)).await;
        assert_eq!((shown.len(), more), (3, true));
        assert_eq!(asked, vec![200, 200]);
        assert_eq!(shown[2].id, "f200");
        let (shown, more, asked) = searched(450, 50, Some(100)).await;
        assert_eq!((shown.len(), more, asked), (5, false, vec![200, 200, 200]));
        // A page with more matches than the limit is cut to it, and says there are more.
        let (shown, more, _) = searched(450, 2, Some(1)).await;
        assert_eq!((shown.len(), more), (2, true));
        let (shown, more, _) = searched(450, 50, Some(1000)).await;
        assert_eq!((shown.len(), more), (1, false));
    }

    fn shown(files: &[FileEntry], more: bool) -> String {
        shown_for(files, more, None)
    }

    fn shown_for(files: &[FileEntry], more: bool, search: Option<&str>) -> String {
        let mut out = Vec::new();
        table(&mut out, files, more, search).expect("written");
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn a_search_that_finds_nothing_says_so() {
        assert_eq!(
            shown_for(&[], false, Some("holiday")),
            "No files match \"holiday\".\n"
        );
        assert_eq!(
            shown_for(&[], false, Some("evil\u{1b}[2J")),
            "No files match \"evil\\x1b[2J\".\n"
        );
        assert!(
            shown_for(&[], true, Some("x")).contains("without --watch, every file is searched"),
        );
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
