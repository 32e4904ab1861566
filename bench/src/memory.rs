//! Proportional set size (PSS) of a process tree, from `/proc`: shared pages are split between
//! the processes sharing them, so the sum over the app and its WebKit processes is what the app
//! costs the machine.

use std::collections::HashMap;

/// Processes that belong to the test rig rather than to the app.
const DRIVERS: &[&str] = &["tauri-driver", "WebKitWebDriver"];

/// Sum of PSS over every descendant of `root` that is not a WebDriver process, in MiB.
#[cfg(test)]
fn tree_pss_mib(root: u32) -> Result<f64, String> {
    Ok(tree_pss_by_process(root)?.iter().map(|(_, mib)| mib).sum())
}

/// PSS per process (by name, in MiB) over every descendant of `root` but the WebDriver ones.
pub fn tree_pss_by_process(root: u32) -> Result<Vec<(String, f64)>, String> {
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
    let mut sizes = Vec::new();
    for pid in tree {
        let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let name = name.trim();
        if DRIVERS
            .iter()
            .any(|d| name.starts_with(&d[..d.len().min(15)]))
        {
            continue;
        }
        let kib = pss_kib(pid);
        if kib > 0 {
            sizes.push((name.to_string(), kib as f64 / 1024.0));
        }
    }
    if sizes.is_empty() {
        return Err(format!("no app process found under {root}"));
    }
    Ok(sizes)
}

/// Each process's parent, from `/proc/<pid>/stat` (the field after the parenthesised name).
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
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some(after_name) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        if let Some(ppid) = after_name
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
        {
            parents.insert(pid, ppid);
        }
    }
    Ok(parents)
}

/// A process that exited meanwhile counts as zero.
fn pss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("Pss:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_size() {
        let own = pss_kib(std::process::id());
        assert!(own > 100, "{own} KiB");
        let tree = tree_pss_mib(std::process::id()).unwrap();
        assert!(tree * 1024.0 >= own as f64);
    }
}
