//! Files in the real app window: Upload, Open, Save as… and Delete against the local stack.
//! WebDriver cannot drive the OS's dialogs, so the debug build's `KINVEX_E2E_PICK` and
//! `KINVEX_E2E_SAVE_AS` answer for them (see src-tauri/src/os.rs), and `KINVEX_E2E_OPENED`
//! records what Open hands to the default application instead of starting one.

use kinvex_devstack::{Config, Running, start};
use kinvex_e2e::hostile::Scratch;
use kinvex_e2e::{Session, required_env};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Every wait here ends by then.
const BOUND: Duration = Duration::from_secs(30);

async fn stack() -> Running {
    start(Config {
        any_loopback_port: true,
        ..Config::default()
    })
    .await
    .expect("stack starts")
}

fn settings(stack: &Running, extra: &[(&str, String)]) -> Vec<(String, String)> {
    let demo = &stack.accounts[0];
    let browser = format!(
        "{} browse --email {} --password {}",
        required_env("KINVEX_E2E_DEVSTACK"),
        demo.email,
        demo.password
    );
    [
        ("KINDE_ISSUER_URL", stack.issuer().to_string()),
        ("KINDE_CLIENT_ID", stack.state.config.client_id.clone()),
        ("KINDE_REDIRECT_URL", "http://127.0.0.1:0/callback".into()),
        ("CONVEX_URL", stack.api_url().to_string()),
        ("BROWSER", browser),
    ]
    .into_iter()
    .chain(extra.iter().cloned())
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The row of the file named `name` in the live list.
fn row(name: &str) -> String {
    format!("//*[@data-testid='files']/*[.//span[normalize-space()='{name}']]")
}

/// Waits until no element matches `xpath`.
async fn wait_gone(app: &Session, xpath: &str) {
    let deadline = Instant::now() + BOUND;
    // A row replaced while the query collects its matches reads as stale: still there.
    while !match app
        .client()
        .find_all(fantoccini::Locator::XPath(xpath))
        .await
    {
        Ok(found) => found.is_empty(),
        Err(e) if e.is_stale_element_reference() => false,
        Err(e) => panic!("query: {e:?}"),
    } {
        assert!(Instant::now() < deadline, "`{xpath}` still there");
        // WebDriver has no event for an element leaving; poll as its own waits do.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `path` holds a line.
async fn first_line(path: &Path) -> String {
    let deadline = Instant::now() + BOUND;
    loop {
        if let Some(line) = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| t.lines().next().map(str::to_string))
        {
            return line;
        }
        assert!(Instant::now() < deadline, "nothing was opened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn uploads_show_progress_and_rows_a_folder_is_refused_open_caches_privately_and_delete_confirms()
 {
    let stack = stack().await;
    let scratch = Scratch::new("transfers");
    let files = scratch.dir("files");
    let plan = files.join("Plan A.md");
    std::fs::write(&plan, "# Plan A\n".repeat(20_000)).expect("write");
    let notes = files.join("Plan B.txt");
    std::fs::write(&notes, "notes\n").expect("write");
    let folder = files.join("Photos");
    std::fs::create_dir(&folder).expect("folder");
    let picked = std::env::join_paths([&plan, &notes, &folder]).expect("paths");
    let opened = scratch.0.join("opened.log");
    let cache = scratch.0.join("cache");
    let saved = scratch.0.join("saved copy.md");
    let app = Session::desktop_with(&settings(
        &stack,
        &[
            ("KINVEX_E2E_PICK", picked.to_string_lossy().into_owned()),
            ("KINVEX_E2E_OPENED", opened.to_string_lossy().into_owned()),
            ("XDG_CACHE_HOME", cache.to_string_lossy().into_owned()),
            ("KINVEX_E2E_SAVE_AS", saved.to_string_lossy().into_owned()),
        ],
    ))
    .await;
    app.click("[data-testid=sign-in]").await;
    app.wait_for_text("files-count", "14 files").await;

    app.click("[data-testid=upload]").await;
    app.wait_for(&row("Plan A.md")).await;
    app.wait_for(&row("Plan B.txt")).await;
    app.wait_for_text("files-count", "16 files").await;
    // Both bars reached the end; the live region said so.
    for name in ["Plan A.md", "Plan B.txt"] {
        app.wait_for(&format!(
            "//*[@data-testid='transfer'][@data-state='done']/progress[@aria-label='Uploading {name}'][@value='100']"
        ))
        .await;
    }
    app.wait_for("//*[@data-testid='announcer'][starts-with(normalize-space(), 'Uploaded Plan')]")
        .await;
    // The folder is refused with the library's words, and stays until dismissed.
    app.wait_for(
        "//*[@data-testid='transfer'][@data-state='failed'][.//*[normalize-space()='Photos']]//*[@data-testid='transfer-status'][contains(., 'is a folder, not a file')]",
    )
    .await;
    app.screenshot("app-transfers").await;

    // Open: into the private cache, then to the default application.
    app.click("[data-testid=file-open][aria-label='Open Plan A.md']")
        .await;
    let path = PathBuf::from(first_line(&opened).await);
    assert!(path.starts_with(&cache), "{path:?} is in the app's cache");
    assert_eq!(path.file_name().and_then(|n| n.to_str()), Some("Plan A.md"));
    assert_eq!(
        std::fs::read(&path).expect("cached"),
        std::fs::read(&plan).expect("source")
    );
    let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().expect("folder")), 0o700);

    // Save as…: where the (stand-in) dialog chose, whole, with nothing else left beside it.
    app.click("[data-testid=file-save-as][aria-label='Save Plan A.md as…']")
        .await;
    // Written under a partial name and renamed whole, so its appearing is the download's end.
    let deadline = Instant::now() + BOUND;
    while !saved.exists() {
        assert!(Instant::now() < deadline, "nothing was saved");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        std::fs::read(&saved).expect("saved"),
        std::fs::read(&plan).expect("source")
    );

    // Delete asks first, naming the file, with the focus on Cancel; Delete removes the row.
    app.click("[data-testid=file-delete][aria-label='Delete Plan B.txt']")
        .await;
    app.wait_for_text("confirm-delete-name", "Plan B.txt").await;
    let focused = app
        .client()
        .active_element()
        .await
        .expect("focus")
        .attr("data-testid")
        .await
        .expect("attr");
    assert_eq!(focused.as_deref(), Some("confirm-delete-cancel"));
    app.click("[data-testid=confirm-delete-ok]").await;
    wait_gone(&app, &row("Plan B.txt")).await;
    app.wait_for_text("files-count", "15 files").await;
    app.wait_for_text("announcer", "Deleted Plan B.txt.").await;
    app.close().await;
}

/// What is in the stack's storage directory besides its URL key: blobs and uploads under way.
fn stored_files(stack: &Running) -> Vec<String> {
    let dir = stack.state.store.storage().blobs().dir().to_path_buf();
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("the storage directory")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name != ".url-key")
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn cancel_stops_an_upload_part_way_and_leaves_no_file_and_no_stored_bytes() {
    let stack = stack().await;
    let scratch = Scratch::new("transfers-cancel");
    let name = "Holiday video.mp4";
    let video = scratch.dir("files").join(name);
    // Far more than the sockets between the app and the stack buffer (a few MiB), so a held
    // upload is running and not done.
    std::fs::write(&video, vec![7u8; 16 * 1024 * 1024]).expect("write");
    let app = Session::desktop_with(&settings(
        &stack,
        &[("KINVEX_E2E_PICK", video.to_string_lossy().into_owned())],
    ))
    .await;
    app.click("[data-testid=sign-in]").await;
    app.wait_for_text("files-count", "14 files").await;
    let (blobs, stored) = (
        stack.state.store.storage().count().expect("count"),
        stored_files(&stack),
    );

    let hold = stack.hold_uploads();
    app.click("[data-testid=upload]").await;
    tokio::time::timeout(BOUND, hold.until_waiting(1))
        .await
        .expect("the upload reaches the stack");
    // The row shows bytes moving and the upload not done.
    let progress = format!("progress[@aria-label='Uploading {name}']");
    app.wait_for(&format!(
        "//*[@data-testid='transfer'][@data-state='running'][{progress}[@value > 0][@value < 100]]"
    ))
    .await;
    app.click(&format!(
        "[data-testid=transfer-cancel][aria-label='Cancel uploading {name}']"
    ))
    .await;
    app.wait_for(&format!(
        "//*[@data-testid='transfer'][@data-state='cancelled'][{progress}]//*[@data-testid='transfer-status'][normalize-space()='Cancelled']"
    ))
    .await;
    app.wait_for_text("announcer", &format!("Cancelled the upload of {name}."))
        .await;
    assert_eq!(
        stack.state.store.storage().count().expect("count"),
        blobs,
        "no blob stored"
    );

    // Released, the stack reads on, finds the connection gone and drops what it had.
    drop(hold);
    let deadline = Instant::now() + BOUND;
    while stored_files(&stack) != stored {
        assert!(
            Instant::now() < deadline,
            "the storage directory kept {:?}",
            stored_files(&stack)
        );
        // The stack's storage directory gives no event when a file leaves it.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        stack.state.store.storage().count().expect("count"),
        blobs,
        "no blob stored"
    );
    assert_eq!(
        app.text_of("[data-testid=files-count]").await.trim(),
        "14 files"
    );
    wait_gone(&app, &row(name)).await;

    // The app is still usable: the same file uploaded again is saved, once.
    app.click("[data-testid=upload]").await;
    app.wait_for(&format!(
        "//*[@data-testid='transfer'][@data-state='done'][{progress}[@value='100']]"
    ))
    .await;
    app.wait_for(&row(name)).await;
    app.wait_for_text("files-count", "15 files").await;
    assert_eq!(
        stack.state.store.storage().count().expect("count"),
        blobs + 1
    );
    let rows = app
        .client()
        .find_all(fantoccini::Locator::XPath(&row(name)))
        .await
        .expect("rows");
    assert_eq!(
        rows.len(),
        1,
        "only the upload that was not cancelled is listed"
    );
    app.close().await;
}
