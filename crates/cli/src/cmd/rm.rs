//! `kinvex rm ID|NAME`: deletes one of the person's files and its bytes.

use super::resolve::resolve;
use super::{Io, write_json};
use crate::cli::RmArgs;
use crate::error::CliError;
use crate::escape;
use crate::exit::Exit;
use kinvex_auth::Auth;
use kinvex_convex::Client;
use kinvex_convex::storage::Storage;
use serde_json::json;
use std::sync::Arc;

pub async fn run(auth: &Arc<Auth>, args: &RmArgs, io: &mut Io<'_>) -> Result<Exit, CliError> {
    let client = Client::for_auth(auth)?;
    let file = resolve(&client, auth, &args.file).await?;
    Storage::for_auth(auth)?.remove(auth, &file.id).await?;
    if args.json {
        write_json(
            io.out,
            &json!({ "id": file.id, "name": file.name, "removed": true }),
        )?;
    } else {
        writeln!(
            io.out,
            "Removed {} ({})",
            escape::line(&file.name),
            escape::line(&file.id)
        )?;
    }
    Ok(Exit::Success)
}
