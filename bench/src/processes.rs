//! The processes a window is made of, from `/proc`: the app and every descendant (WebKit's web
//! and network processes), without the WebDriver processes that launched it.

use std::collections::HashMap;

/// Processes that belong to the test rig rather than to the app.
const DRIVERS: &[&str] = &["tauri-driver", "WebKitWebDriver"];

/// Every descendant of `root` (and `root`) that is not a WebDriver process: pid and name.
pub fn app_tree(root: u32) -> Result<Vec<(u32, String)>, String> {
    let parents = parents()?;
    let mut tree = vec![root];
    let mut index = 0;
    while index < tree.len() {
        let parent = tree[index];
        tree.extend(
            parents
                .iter()
                .filter(|(_, p)| **p == parent)
                .map(|(pid, _)| *pid),
        );
        index += 1;
    }
    Ok(tree
        .into_iter()
        .filter_map(|pid| {
            let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            let name = name.trim().to_string();
            // `comm` is cut to 15 bytes.
            let driver = DRIVERS
                .iter()
                .any(|d| name.starts_with(&d[..d.len().min(15)]));
            (!driver).then_some((pid, name))
        })
        .collect())
}

/// The fields of `/proc/<pid>/stat` after the parenthesised name (which may hold spaces):
/// the first is the state (field 3 of proc(5)).
pub fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    Some(after_name.split_whitespace().map(str::to_string).collect())
}

/// Each process's parent (field 4 of `/proc/<pid>/stat`).
fn parents() -> Result<HashMap<u32, u32>, String> {
    let mut parents = HashMap::new();
    let entries = std::fs::read_dir("/proc").map_err(|e| format!("/proc: {e}"))?;
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some(ppid) = stat_fields(pid)
            .and_then(|fields| fields.get(1).cloned())
            .and_then(|p| p.parse().ok())
        {
            parents.insert(pid, ppid);
        }
    }
    Ok(parents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_holds_its_root_and_its_children_by_name() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let tree = app_tree(std::process::id()).unwrap();
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(tree[0].0, std::process::id());
        assert!(
            tree.iter()
                .any(|(pid, name)| *pid == child.id() && name == "sleep"),
            "{tree:?}"
        );
    }
}
