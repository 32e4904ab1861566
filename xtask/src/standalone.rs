//! The project stands on its own: nothing it ships or documents points into a folder that a
//! person who clones it does not have.

#[cfg(test)]
mod tests {
    use std::process::Command;

    #[test]
    fn no_tracked_file_cites_a_folder_outside_the_repository() {
        let root = crate::root();
        let listed = Command::new("git")
            .args(["ls-files", "-z"])
            .current_dir(&root)
            .output()
            .expect("git runs");
        assert!(listed.status.success(), "git ls-files failed");
        let files: Vec<&[u8]> = listed
            .stdout
            .split(|b| *b == 0)
            .filter(|f| !f.is_empty())
            .collect();
        assert!(files.len() > 50, "only {} tracked files", files.len());
        let mut citing = Vec::new();
        for file in files {
            let path = root.join(String::from_utf8_lossy(file).as_ref());
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            // Spelled in pieces so that this file does not match itself.
            let notes = ["shared", "/reference"].concat();
            let beside = ["..", "/shared"].concat();
            if text.contains(&notes) || text.contains(&beside) {
                citing.push(path.display().to_string());
            }
        }
        assert!(
            citing.is_empty(),
            "files citing a folder beside the repository: {citing:?}"
        );
    }
}
