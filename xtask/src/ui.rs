//! The web view's unit tests: the pure parts of `ui/` (formatting, the list's windowing, the
//! IPC names, the benchmark's marks) under Node's built-in test runner, with no npm packages.

use crate::{root, run};
use std::path::PathBuf;
use std::process::Command;

/// Runs every `tests/ui/*.test.js` with `node --test`. They live outside `ui/`, which the app
/// embeds whole, so no test ships in the binary; the root `package.json` makes them modules.
pub fn test() -> Result<(), String> {
    let dir = root().join("tests/ui");
    let listing = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = listing
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.to_string_lossy().ends_with(".test.js"))
        .collect();
    // A run that found nothing to test must not pass.
    if files.is_empty() {
        return Err(format!("no *.test.js files in {}", dir.display()));
    }
    files.sort();
    // The files by name rather than the directory: Node 22's runner reads its arguments as
    // globs, where a bare directory matches no test file.
    let mut node = Command::new("node");
    node.arg("--test")
        .args(&files)
        .current_dir(root())
        .env("NO_COLOR", "1");
    run(node, "testing the web view's modules (node --test)")
}
