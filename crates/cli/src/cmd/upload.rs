//! `kinvex upload PATH…`: each file uploaded under its own name, one after another, each one's
//! outcome printed as it ends. A file that fails does not stop the others; the command then ends
//! with 1. Only a failure no other file could escape (not signed in, no deployment set) stops it.

use super::bar::{self, Bar};
use super::{Io, write_json};
use crate::cli::UploadArgs;
use crate::colour::error_prefix;
use crate::error::CliError;
use crate::escape;
use crate::exit::Exit;
use crate::human::size;
use kinvex_auth::Auth;
use kinvex_convex::ConvexError;
use kinvex_convex::storage::{Storage, Uploaded};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;

pub async fn run(auth: &Arc<Auth>, args: &UploadArgs, io: &mut Io<'_>) -> Result<Exit, CliError> {
    let storage = Storage::for_auth(auth)?;
    let show = bar::wanted(args.json);
    let mut uploaded = Vec::new();
    let mut failed = Vec::new();
    for path in &args.paths {
        let label = path
            .file_name()
            .map_or_else(|| path.to_string_lossy(), |n| n.to_string_lossy());
        let bar = Bar::new(show, &label, None);
        let outcome = storage.upload(auth, path, &mut |p| bar.update(p)).await;
        bar.clear();
        match outcome {
            Ok(file) => {
                if !args.json {
                    writeln!(
                        io.out,
                        "Uploaded {} ({}) as {}",
                        escape::line(&file.name),
                        size(file.size),
                        escape::line(&file.id)
                    )?;
                    io.out.flush()?;
                }
                uploaded.push(uploaded_json(path, &file));
            }
            Err(e @ (ConvexError::Auth(_) | ConvexError::NotConfigured)) => return Err(e.into()),
            Err(e) => {
                if !args.json {
                    writeln!(
                        io.err,
                        "{} {}: {} [{}]",
                        error_prefix(false),
                        escape::line(&path.to_string_lossy()),
                        escape::line(&e.to_string()),
                        e.code()
                    )?;
                }
                failed.push(json!({
                    "path": path.to_string_lossy(),
                    "code": e.code(),
                    "message": e.to_string(),
                }));
            }
        }
    }
    if args.json {
        write_json(io.out, &json!({ "uploaded": uploaded, "failed": failed }))?;
    }
    if failed.is_empty() {
        Ok(Exit::Success)
    } else {
        Err(CliError::UploadsFailed {
            failed: failed.len(),
            total: args.paths.len(),
        })
    }
}

/// `upload --json`: `{"uploaded": [{path, id, name, size, content_type}], "failed": [{path,
/// code, message}]}`, in the order given.
fn uploaded_json(path: &Path, file: &Uploaded) -> Value {
    json!({
        "path": path.to_string_lossy(),
        "id": file.id,
        "name": file.name,
        "size": file.size,
        "content_type": file.content_type,
    })
}
