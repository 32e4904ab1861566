//! `kinvex download ID|NAME [-o PATH] [--force]`: one of the person's files, written whole or
//! not at all. By default under its own name in the current folder; an existing file is replaced
//! only with `--force`.

use super::bar::{self, Bar};
use super::resolve::resolve;
use super::{Io, write_json};
use crate::cli::DownloadArgs;
use crate::error::CliError;
use crate::escape;
use crate::exit::Exit;
use crate::human::size;
use kinvex_auth::Auth;
use kinvex_convex::Client;
use kinvex_convex::storage::{Replace, Storage};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub async fn run(auth: &Arc<Auth>, args: &DownloadArgs, io: &mut Io<'_>) -> Result<Exit, CliError> {
    let client = Client::for_auth(auth)?;
    let storage = Storage::for_auth(auth)?;
    let file = resolve(&client, auth, &args.file).await?;
    let destination = destination(args.output.as_deref(), &file.name)?;
    if !args.force && std::fs::symlink_metadata(&destination).is_ok() {
        return Err(CliError::DestinationExists { path: destination });
    }
    let replace = if args.force {
        Replace::Allowed
    } else {
        Replace::Never
    };
    let bar = Bar::new(bar::wanted(args.json), &file.name, Some(file.size));
    let outcome = storage
        .download(auth, &file.id, &destination, replace, &mut |p| {
            bar.update(p)
        })
        .await;
    bar.clear();
    let downloaded = outcome?;
    if args.json {
        write_json(
            io.out,
            &json!({
                "id": file.id,
                "name": file.name,
                "path": downloaded.destination.to_string_lossy(),
                "size": downloaded.size,
            }),
        )?;
    } else {
        writeln!(
            io.out,
            "Downloaded {} ({}) to {}",
            escape::line(&file.name),
            size(downloaded.size),
            escape::line(&downloaded.destination.to_string_lossy())
        )?;
    }
    Ok(Exit::Success)
}

/// Where the file goes: `-o PATH` (into it, under the file's name, if it is a folder), else the
/// file's name in the current folder.
fn destination(output: Option<&Path>, name: &str) -> Result<PathBuf, CliError> {
    match output {
        Some(path) if path.is_dir() => Ok(path.join(local_name(name)?)),
        Some(path) => Ok(path.to_path_buf()),
        None => Ok(PathBuf::from(local_name(name)?)),
    }
}

/// The backend's name as one file name here: a path separator in it becomes `_`, so a name
/// can never reach outside the folder; a name that is only dots needs `-o`.
fn local_name(name: &str) -> Result<String, CliError> {
    let local: String = name
        .chars()
        .map(|c| {
            if matches!(c, '/' | '\\' | '\0') {
                '_'
            } else {
                c
            }
        })
        .collect();
    if local.trim_matches('.').is_empty() {
        return Err(CliError::NeedsOutput {
            name: name.to_string(),
        });
    }
    Ok(local)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_from_the_backend_never_leaves_the_folder() {
        assert_eq!(local_name("report.pdf").ok().as_deref(), Some("report.pdf"));
        assert_eq!(
            local_name("../../.bashrc").ok().as_deref(),
            Some(".._.._.bashrc")
        );
        assert_eq!(
            local_name("/etc/passwd").ok().as_deref(),
            Some("_etc_passwd")
        );
        assert_eq!(local_name("a\\b").ok().as_deref(), Some("a_b"));
        for dots in ["", ".", ".."] {
            assert_eq!(
                local_name(dots).err().map(|e| e.code()),
                Some("needs_output"),
                "{dots:?}"
            );
        }
    }

    #[test]
    fn the_destination_is_the_name_here_or_under_a_folder_given() {
        let dir = std::env::temp_dir();
        assert_eq!(
            destination(None, "a.txt").ok(),
            Some(PathBuf::from("a.txt"))
        );
        assert_eq!(
            destination(Some(&dir), "a/b.txt").ok(),
            Some(dir.join("a_b.txt"))
        );
        assert_eq!(
            destination(Some(Path::new("/nowhere/x.txt")), "a.txt").ok(),
            Some(PathBuf::from("/nowhere/x.txt"))
        );
    }
}
