//! The files the window has been shown, by id: what Open, Save as… and Delete act on. The window
//! passes only a file's id; the name a download is saved under and the size a cached copy is
//! checked against are the ones Rust itself showed, never something the web view says.

use kinvex_convex::data::{FileEntry, FilePage};
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Default)]
pub struct Shown {
    files: Mutex<HashMap<String, FileEntry>>,
}

impl Shown {
    /// Remembers every file of a page sent to the window.
    pub fn record(&self, page: &FilePage) {
        let mut files = lock(&self.files);
        for file in &page.files {
            files.insert(file.id.clone(), file.clone());
        }
    }

    /// The file with this id as the window was shown it.
    pub fn get(&self, id: &str) -> Option<FileEntry> {
        lock(&self.files).get(id).cloned()
    }

    /// Forgets everything: someone else signs in.
    pub fn clear(&self) {
        lock(&self.files).clear();
    }
}

/// A poisoned lock only means a panic elsewhere; the value inside is still usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_known_once_a_page_showing_it_was_recorded() {
        let shown = Shown::default();
        let file = FileEntry {
            id: "k1".into(),
            name: "Roadmap.md".into(),
            content_type: "text/markdown".into(),
            size: 12,
            created: 1.0,
        };
        assert!(shown.get("k1").is_none());
        shown.record(&FilePage {
            files: vec![file.clone()],
            is_done: true,
            cursor: None,
        });
        assert_eq!(shown.get("k1"), Some(file));
        shown.clear();
        assert!(shown.get("k1").is_none());
    }
}
