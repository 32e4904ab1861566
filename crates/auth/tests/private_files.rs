//! The opted-in plaintext token file and the private directories kinvex keeps files in, against
//! another local user: links planted where kinvex writes, directories made by someone else or
//! opened to others, and the shared temporary directory when there is no home.
#![cfg(unix)]

use kinvex_auth::private_dir::{self, PrivateDir};
use kinvex_auth::token_store::{PlaintextFile, SecretStore};
use std::ffi::OsStr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

const SECRET: &str = "refresh-token-of-the-victim";

/// A directory of the test's own (standing in for the shared temporary directory), removed when
/// dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        static MADE: AtomicUsize = AtomicUsize::new(0);
        let n = MADE.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "kinvex-private-test-{}-{n}-{tag}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir(&path).expect("scratch directory");
        Scratch(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .expect("exists")
        .permissions()
        .mode()
        & 0o7777
}

/// A file the attacker can read, planted before the victim's first write.
fn readable_by_all(path: &Path) {
    std::fs::write(path, "").expect("the attacker's file");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666)).expect("chmod");
}

#[test]
fn the_token_file_is_0600_in_a_0700_directory() {
    let scratch = Scratch::new("modes");
    let path = scratch.0.join("kinvex/tokens.json");
    let file = PlaintextFile::new(path.clone());
    file.set("session", SECRET).expect("write");
    assert_eq!(mode(&scratch.0.join("kinvex")), 0o700);
    assert_eq!(mode(&path), 0o600);
    assert_eq!(file.get("session").expect("read").as_deref(), Some(SECRET));
    let names: Vec<_> = std::fs::read_dir(scratch.0.join("kinvex"))
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["tokens.json"], "no temporary file left behind");
}

#[test]
fn a_symlink_planted_at_the_temporary_path_does_not_receive_the_tokens() {
    let scratch = Scratch::new("temp-link");
    let dir = scratch.0.join("kinvex");
    std::fs::create_dir(&dir).expect("dir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let stolen = scratch.0.join("stolen");
    readable_by_all(&stolen);
    // Where a writer that derives its temporary file from the final name would put it.
    for name in ["tokens.tmp", "tokens.json.tmp", ".tokens.json.tmp"] {
        std::os::unix::fs::symlink(&stolen, dir.join(name)).expect("plant");
    }

    let file = PlaintextFile::new(dir.join("tokens.json"));
    let _ = file.set("session", SECRET);
    assert_eq!(
        std::fs::read_to_string(&stolen).expect("stolen"),
        "",
        "the tokens went through the link"
    );
}

#[test]
fn a_new_private_file_is_never_created_through_a_planted_link() {
    let scratch = Scratch::new("create-link");
    let dir = PrivateDir::open(&scratch.0.join("kinvex")).expect("dir");
    let stolen = scratch.0.join("stolen");
    readable_by_all(&stolen);
    std::os::unix::fs::symlink(&stolen, dir.path().join("new")).expect("plant");
    let error = dir.create_new("new").expect_err("created through the link");
    assert!(error.to_string().contains("symbolic link"), "{error}");
    assert_eq!(mode(&stolen), 0o666, "the target is untouched");
    assert_eq!(std::fs::read_to_string(&stolen).expect("stolen"), "");
}

#[test]
fn a_symlink_planted_at_the_token_file_is_not_followed() {
    let scratch = Scratch::new("final-link");
    let dir = scratch.0.join("kinvex");
    std::fs::create_dir(&dir).expect("dir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let planted = scratch.0.join("planted.json");
    std::fs::write(&planted, r#"{"session":"the attacker's session"}"#).expect("planted");
    let path = dir.join("tokens.json");
    std::os::unix::fs::symlink(&planted, &path).expect("plant");

    let file = PlaintextFile::new(path.clone());
    let read = file.get("session");
    assert!(
        !matches!(read, Ok(Some(_))),
        "a session was read through the link: {read:?}"
    );
    let _ = file.set("session", SECRET);
    assert_eq!(
        std::fs::read_to_string(&planted).expect("planted"),
        r#"{"session":"the attacker's session"}"#,
        "the link's target was written"
    );
}

#[test]
fn a_token_directory_others_can_write_to_is_refused_with_its_path() {
    let scratch = Scratch::new("open-dir");
    let dir = scratch.0.join("kinvex");
    std::fs::create_dir(&dir).expect("dir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let file = PlaintextFile::new(dir.join("tokens.json"));
    let error = file
        .set("session", SECRET)
        .expect_err("written to a shared directory");
    let message = format!("{error:?}");
    assert!(message.contains(&dir.display().to_string()), "{message}");
    assert!(!dir.join("tokens.json").exists());
    let refused = PrivateDir::open(&dir).expect_err("refused");
    let message = refused.to_string();
    assert_eq!(refused.code(), "unsafe_path");
    assert!(message.contains("any user can change"), "{message}");
    assert!(message.contains("remove it"), "{message}");
}

#[test]
fn a_directory_of_another_user_is_refused_with_its_path() {
    let scratch = Scratch::new("foreign");
    let me = std::fs::metadata(&scratch.0).expect("scratch").uid();
    // As root, make one of someone else's; otherwise the root directory is one.
    let theirs = if me == 0 {
        let dir = scratch.0.join("kinvex-1000");
        std::fs::create_dir(&dir).expect("dir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).expect("chown");
        dir
    } else {
        PathBuf::from("/")
    };
    let error = PrivateDir::open(&theirs).expect_err("another user's directory was used");
    let message = error.to_string();
    assert!(message.contains(&theirs.display().to_string()), "{message}");
    assert!(message.contains("belongs to user"), "{message}");
}

#[test]
fn a_symlinked_directory_is_refused() {
    let scratch = Scratch::new("dir-link");
    let elsewhere = scratch.0.join("elsewhere");
    std::fs::create_dir(&elsewhere).expect("dir");
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let dir = scratch.0.join("kinvex");
    std::os::unix::fs::symlink(&elsewhere, &dir).expect("plant");
    let file = PlaintextFile::new(dir.join("tokens.json"));
    assert!(file.set("session", SECRET).is_err());
    assert!(
        !elsewhere.join("tokens.json").exists(),
        "written through the link"
    );
}

#[test]
fn a_directory_an_older_kinvex_left_open_to_reading_is_tightened_and_its_file_too() {
    // 0755 under a umask of 022, 0775 under 002 (user private groups).
    for left in [0o755, 0o775] {
        let scratch = Scratch::new("upgrade");
        let dir = scratch.0.join("kinvex");
        std::fs::create_dir(&dir).expect("dir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(left)).expect("chmod");
        let path = dir.join("tokens.json");
        std::fs::write(&path, r#"{"session":"kept"}"#).expect("old file");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");

        let file = PlaintextFile::new(path.clone());
        assert_eq!(file.get("session").expect("read").as_deref(), Some("kept"));
        assert_eq!(mode(&dir), 0o700, "left {left:o}");
        assert_eq!(mode(&path), 0o600, "left {left:o}");
    }
}

#[test]
fn a_directory_in_a_parent_anyone_may_rename_it_from_is_refused() {
    let scratch = Scratch::new("open-parent");
    let shared = scratch.0.join("shared");
    std::fs::create_dir(&shared).expect("dir");
    // Writable by all without the sticky bit that /tmp has.
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let error = PrivateDir::open(&shared.join("kinvex")).expect_err("refused");
    let message = error.to_string();
    assert!(message.contains("another user can replace it"), "{message}");
    assert!(message.contains(&shared.display().to_string()), "{message}");
}

#[test]
fn a_hard_link_planted_at_the_token_file_is_refused() {
    let scratch = Scratch::new("hard-link");
    let dir = PrivateDir::open(&scratch.0.join("kinvex")).expect("dir");
    let elsewhere = scratch.0.join("elsewhere.json");
    std::fs::write(&elsewhere, r#"{"session":"planted"}"#).expect("file");
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    std::fs::hard_link(&elsewhere, dir.path().join("tokens.json")).expect("plant");
    let file = PlaintextFile::new(dir.path().join("tokens.json"));
    let read = file.get("session");
    assert!(
        !matches!(read, Ok(Some(_))),
        "read through a hard link: {read:?}"
    );
}

#[test]
fn without_home_or_data_home_the_token_file_goes_to_a_per_user_dir_not_a_shared_one() {
    let temp = Path::new("/tmp");
    let none = kinvex_auth::plaintext_path_in(None, None, temp, "1000");
    assert_eq!(none, Path::new("/tmp/kinvex-1000/tokens.json"));
    assert_ne!(none, Path::new("/tmp/kinvex/tokens.json"));
    assert_ne!(
        none,
        kinvex_auth::plaintext_path_in(None, None, temp, "1001"),
        "two users, two directories"
    );
    let relative = Some(OsStr::new("relative/dir"));
    assert_eq!(
        kinvex_auth::plaintext_path_in(relative, Some(OsStr::new("")), temp, "1000"),
        none,
        "relative and empty values are ignored"
    );
    assert_eq!(
        kinvex_auth::plaintext_path_in(None, Some(OsStr::new("/home/d")), temp, "1000"),
        Path::new("/home/d/.local/share/kinvex/tokens.json")
    );
    assert_eq!(
        kinvex_auth::plaintext_path_in(
            Some(OsStr::new("/data")),
            Some(OsStr::new("/home/d")),
            temp,
            "1000"
        ),
        Path::new("/data/kinvex/tokens.json")
    );
}

#[test]
fn the_per_user_fallback_is_created_private_and_a_planted_one_is_refused() {
    let shared = Scratch::new("shared-temp");
    std::fs::set_permissions(&shared.0, std::fs::Permissions::from_mode(0o1777)).expect("chmod");
    let user = private_dir::current_user();
    let path = kinvex_auth::plaintext_path_in(None, None, &shared.0, &user);
    PlaintextFile::new(path.clone())
        .set("session", SECRET)
        .expect("write");
    let dir = path.parent().expect("dir");
    assert_eq!(mode(dir), 0o700);
    assert_eq!(mode(&path), 0o600);

    // Another user got there first with a directory everyone may write to.
    let planted = kinvex_auth::plaintext_path_in(None, None, &shared.0, "planted");
    let planted_dir = planted.parent().expect("dir");
    std::fs::create_dir(planted_dir).expect("planted dir");
    std::fs::set_permissions(planted_dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    assert!(
        PlaintextFile::new(planted.clone())
            .set("session", SECRET)
            .is_err()
    );
    assert!(!planted.exists());
}
