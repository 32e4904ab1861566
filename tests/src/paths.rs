//! Where tests find the repository's files and leave theirs.

use crate::required_env;
use std::path::{Path, PathBuf};

/// The repository root, for files tests read (the wire-check script, contract cases).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_path_buf()
}

/// The directory for screenshots and other files a run leaves for people to look at.
pub(crate) fn artifacts() -> PathBuf {
    let dir = PathBuf::from(required_env("KINVEX_E2E_ARTIFACTS"));
    std::fs::create_dir_all(&dir).expect("create the artifacts directory");
    dir
}
