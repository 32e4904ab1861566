//! Proportional set size (PSS) of a process tree, from `/proc`: shared pages are split between
//! the processes sharing them, so the sum over the app and its WebKit processes is what the app
//! costs the machine.

use crate::processes::app_tree;

/// Sum of PSS over every descendant of `root` that is not a WebDriver process, in MiB.
#[cfg(test)]
fn tree_pss_mib(root: u32) -> Result<f64, String> {
    Ok(tree_pss_by_process(root)?.iter().map(|(_, mib)| mib).sum())
}

/// PSS per process (by name, in MiB) over every descendant of `root` but the WebDriver ones.
pub fn tree_pss_by_process(root: u32) -> Result<Vec<(String, f64)>, String> {
    let sizes: Vec<(String, f64)> = app_tree(root)?
        .into_iter()
        .filter_map(|(pid, name)| {
            let kib = pss_kib(pid);
            (kib > 0).then(|| (name, kib as f64 / 1024.0))
        })
        .collect();
    if sizes.is_empty() {
        return Err(format!("no app process found under {root}"));
    }
    Ok(sizes)
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
        // The test runner starts this binary's other tests alongside, and pages shared with
        // them lower this process's PSS between the two reads: allow for that.
        assert!(tree * 1024.0 >= own as f64 * 0.5, "{tree} MiB, {own} KiB");
    }
}
