//! File storage through the app's client against the local stack over real HTTP: a round trip
//! with its progress, paths refused before any request, connections cut mid-transfer (by a proxy
//! between the client and the stack), a full disk (a 1 MiB tmpfs), a file deleted on another
//! device, another person's file, an expired upload URL, a refused name and the memory a 64 MiB
//! transfer takes. Each failure leaves nothing half-done: no file record, no stray bytes on disk.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use kinvex_auth::token_store::PlaintextFile;
use kinvex_auth::{Auth, SignInOptions};
use kinvex_clock::ManualClock;
use kinvex_convex::data::files;
use kinvex_convex::storage::{Limits, Progress, Replace, Storage, system_random, transfer_client};
use kinvex_convex::{Client, ConvexError};
use kinvex_devstack::{Config, Running};
use kinvex_test_kit::browser::{HeadlessBrowser, sign_in_as};
use kinvex_test_kit::env::Settings;
use kinvex_test_kit::stack::{self, TokenFile};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const MIB: usize = 1024 * 1024;

/// One person signed in to a stack, with the stack's clock.
struct Person {
    auth: Auth,
    _tokens: TokenFile,
}

async fn start(clock: &ManualClock, limit: Option<u64>) -> Running {
    stack::start_with(Config {
        storage_upload_limit: limit,
        ..stack::config(Some(clock))
    })
    .await
}

async fn person(stack: &Running, clock: &ManualClock, account: usize) -> Person {
    let tokens = TokenFile::new(&format!("storage-{account}"));
    let auth = stack::auth(
        Settings::for_stack(stack).config(),
        Box::new(PlaintextFile::new(tokens.to_path_buf())),
        Arc::new(HeadlessBrowser::new(sign_in_as(&stack.accounts[account]))),
    )
    .with_clock(clock.shared());
    stack::sign_in(&auth, &SignInOptions::default()).await;
    Person {
        auth,
        _tokens: tokens,
    }
}

fn storage(person: &Person, clock: &ManualClock, http: reqwest::Client) -> Storage {
    Storage::new(
        Client::for_auth(&person.auth).unwrap(),
        http,
        clock.shared(),
        system_random(),
    )
}

fn direct(person: &Person, clock: &ManualClock) -> Storage {
    storage(person, clock, transfer_client().unwrap())
}

/// Records every report, for asserting on afterwards.
#[derive(Clone, Default)]
struct Reports(Arc<Mutex<Vec<Progress>>>);

impl Reports {
    fn sink(&self) -> impl FnMut(Progress) + Send + use<> {
        let seen = self.0.clone();
        move |p| seen.lock().unwrap().push(p)
    }

    fn all(&self) -> Vec<Progress> {
        self.0.lock().unwrap().clone()
    }
}

/// Reports start at 0, never go back, and end at `total`.
fn assert_monotonic_to(reports: &[Progress], total: u64) {
    assert!(reports.len() >= 2, "{reports:?}");
    assert_eq!(reports[0].done, 0, "{reports:?}");
    assert!(
        reports.windows(2).all(|w| w[0].done <= w[1].done),
        "{reports:?}"
    );
    let last = reports.last().unwrap();
    assert_eq!((last.done, last.total), (total, Some(total)), "{reports:?}");
}

/// A file of `size` bytes, written a mebibyte at a time, in a patterned way no two offsets share
/// a block of.
fn file_of(dir: &Path, name: &str, size: usize) -> PathBuf {
    let path = dir.join(name);
    let mut file = std::fs::File::create(&path).unwrap();
    let mut written = 0;
    let mut block = vec![0u8; MIB];
    while written < size {
        let n = (size - written).min(MIB);
        for (i, byte) in block[..n].iter_mut().enumerate() {
            *byte = ((written + i) as u64)
                .wrapping_mul(2_654_435_761)
                .to_le_bytes()[1];
        }
        file.write_all(&block[..n]).unwrap();
        written += n;
    }
    path
}

/// Whether two files hold the same bytes, compared a mebibyte at a time.
fn same_bytes(a: &Path, b: &Path) -> bool {
    use std::io::Read;
    let (mut a, mut b) = (
        std::fs::File::open(a).unwrap(),
        std::fs::File::open(b).unwrap(),
    );
    let (mut x, mut y) = (vec![0u8; MIB], vec![0u8; MIB]);
    loop {
        let n = a.read(&mut x).unwrap();
        let mut m = 0;
        while m < n {
            let got = b.read(&mut y[m..n]).unwrap();
            if got == 0 {
                return false;
            }
            m += got;
        }
        if n == 0 {
            return b.read(&mut y).unwrap() == 0;
        }
        if x[..n] != y[..n] {
            return false;
        }
    }
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

async fn listed(stack_client: &Client, person: &Person) -> Vec<kinvex_convex::data::FileEntry> {
    files(stack_client, &person.auth, None, 200)
        .await
        .unwrap()
        .files
}

fn blobs(stack: &Running) -> usize {
    stack.state.store.storage().count().unwrap()
}

fn requests(stack: &Running) -> u64 {
    stack.state.stats.backend_calls.load(Ordering::SeqCst)
}

/// What the proxy does to a connection.
#[derive(Clone, Copy)]
enum Cut {
    /// Closes it once this many bytes have gone from the client to the stack.
    Up(u64),
    /// Closes it once this many bytes have come back from the stack.
    Down(u64),
    /// Stops forwarding anything once this many bytes have gone up, keeping it open.
    HoldUp(u64),
}

/// Copies `from` to `to` until `limit` bytes have moved; then, with `hold`, waits forever.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    limit: Option<u64>,
    hold: bool,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    let mut moved = 0u64;
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let allowed = limit.map_or(n as u64, |l| (l - moved).min(n as u64));
        if to.write_all(&buffer[..allowed as usize]).await.is_err() {
            return;
        }
        moved += allowed;
        if limit == Some(moved) {
            if hold {
                std::future::pending::<()>().await;
            }
            return;
        }
    }
}

/// An HTTP proxy in front of the stack (reqwest sends it absolute-form requests, which the
/// stack serves as it would direct ones) doing `cut` to each connection; the transfer client
/// that goes through it.
async fn proxied(stack: &Running, cut: Cut) -> reqwest::Client {
    let target: std::net::SocketAddr = stack
        .api_url()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(target).await else {
                    return;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                let (up, down, hold) = match cut {
                    Cut::Up(n) => (Some(n), None, false),
                    Cut::Down(n) => (None, Some(n), false),
                    Cut::HoldUp(n) => (Some(n), None, true),
                };
                tokio::select! {
                    _ = pipe(client_read, server_write, up, hold) => {}
                    _ = pipe(server_read, client_write, down, false) => {}
                }
            });
        }
    });
    reqwest::Client::builder()
        .proxy(reqwest::Proxy::http(format!("http://{address}")).unwrap())
        .build()
        .unwrap()
}

#[tokio::test]
async fn an_uploaded_file_is_listed_and_downloads_byte_for_byte_with_progress_to_its_size() {
    let clock = ManualClock::new();
    let stack = start(&clock, None).await;
    let dana = person(&stack, &clock, 0).await;
    let store = direct(&dana, &clock);
    let client = Client::for_auth(&dana.auth).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let source = file_of(dir.path(), "quarterly report.pdf", 3 * MIB + 17);

    let reports = Reports::default();
    let uploaded = store
        .upload(&dana.auth, &source, &mut reports.sink())
        .await
        .unwrap();
    assert_eq!(uploaded.name, "quarterly report.pdf");
    assert_eq!(uploaded.content_type, "application/pdf");
    assert_eq!(uploaded.size, (3 * MIB + 17) as u64);
    assert_monotonic_to(&reports.all(), uploaded.size);

    let listed = listed(&client, &dana).await;
    let entry = listed.iter().find(|f| f.id == uploaded.id).expect("listed");
    assert_eq!(
        (entry.name.as_str(), entry.size, entry.content_type.as_str()),
        ("quarterly report.pdf", uploaded.size, "application/pdf")
    );

    let reports = Reports::default();
    let destination = dir.path().join("copy.pdf");
    let downloaded = store
        .download(
            &dana.auth,
            &uploaded.id,
            &destination,
            Replace::Never,
            &mut reports.sink(),
        )
        .await
        .unwrap();
    assert_eq!(downloaded.size, uploaded.size);
    assert!(same_bytes(&source, &destination), "the bytes came back");
    assert_monotonic_to(&reports.all(), uploaded.size);
    assert_eq!(
        names_in(dir.path()),
        ["copy.pdf", "quarterly report.pdf"],
        "no partial file left"
    );

    // Not replaced unless asked; replaced when asked.
    std::fs::write(&destination, b"mine").unwrap();
    let error = store
        .download(
            &dana.auth,
            &uploaded.id,
            &destination,
            Replace::Never,
            &mut |_| {},
        )
        .await
        .unwrap_err();
    assert_eq!(error.code(), "destination_exists");
    assert_eq!(std::fs::read(&destination).unwrap(), b"mine");
    store
        .download(
            &dana.auth,
            &uploaded.id,
            &destination,
            Replace::Allowed,
            &mut |_| {},
        )
        .await
        .unwrap();
    assert!(same_bytes(&source, &destination));
}

/// Gives up this thread's filesystem identity (not the process's) while alive, so root meets
/// file permissions as anyone else does.
#[cfg(target_os = "linux")]
struct Nobody(nix::unistd::Uid);

#[cfg(target_os = "linux")]
impl Nobody {
    fn become_() -> Nobody {
        Nobody(nix::unistd::setfsuid(nix::unistd::Uid::from_raw(65534)))
    }
}

#[cfg(target_os = "linux")]
impl Drop for Nobody {
    fn drop(&mut self) {
        nix::unistd::setfsuid(self.0);
    }
}

#[tokio::test]
async fn a_folder_an_unreadable_a_missing_an_empty_or_an_oversized_path_is_refused_before_any_request()
 {
    let clock = ManualClock::new();
    let stack = start(&clock, None).await;
    let dana = person(&stack, &clock, 0).await;
    let store = direct(&dana, &clock).with_limits(Limits {
        upload: Some(1000),
        ..Limits::default()
    });
    let dir = tempfile::tempdir().unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let folder = dir.path().join("photos");
    std::fs::create_dir(&folder).unwrap();
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, b"").unwrap();
    let large = file_of(dir.path(), "large.bin", 1001);
    let secret = file_of(dir.path(), "secret.txt", 10);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).unwrap();
    }
    let (before, stored) = (requests(&stack), blobs(&stack));

    let refused = async |path: &Path| {
        store
            .upload(&dana.auth, path, &mut |_| {})
            .await
            .unwrap_err()
    };
    let cases = [
        (folder.clone(), "not_a_file", "is a folder"),
        (
            dir.path().join("nowhere.txt"),
            "no_such_path",
            "does not exist",
        ),
        (empty.clone(), "empty_file", "is empty"),
        (large.clone(), "file_too_large", "1000 bytes"),
    ];
    for (path, code, words) in cases {
        let error = refused(&path).await;
        assert_eq!(error.code(), code, "{path:?}: {error}");
        assert!(error.to_string().contains(words), "{error}");
    }
    {
        // The check runs on this thread (a `stat` and an `open`), which now reads as nobody.
        #[cfg(target_os = "linux")]
        let _nobody = Nobody::become_();
        let error = refused(&secret).await;
        assert_eq!(error.code(), "unreadable_file", "{error}");
        assert!(error.to_string().contains("permission denied"), "{error}");
    }
    assert_eq!(requests(&stack), before, "no request for any of them");
    assert_eq!(blobs(&stack), stored);
}

#[tokio::test]
async fn a_file_over_the_backends_limit_is_refused_as_too_large_and_nothing_is_saved() {
    let clock = ManualClock::new();
    let stack = start(&clock, Some(64 * 1024)).await;
    let dana = person(&stack, &clock, 0).await;
    let client = Client::for_auth(&dana.auth).unwrap();
    let before = listed(&client, &dana).await.len();
    let dir = tempfile::tempdir().unwrap();
    let large = file_of(dir.path(), "large.bin", 200 * 1024);
    let error = direct(&dana, &clock)
        .upload(&dana.auth, &large, &mut |_| {})
        .await
        .unwrap_err();
    assert_eq!(error.code(), "file_too_large", "{error}");
    assert!(
        error.to_string().contains("Upload a smaller file"),
        "{error}"
    );
    assert_eq!(listed(&client, &dana).await.len(), before);
    assert_eq!(blobs(&stack), 0);
}

#[tokio::test]
async fn an_upload_whose_connection_drops_midway_saves_nothing() {
    let clock = ManualClock::new();
    let stack = start(&clock, None).await;
    let dana = person(&stack, &clock, 0).await;
    let client = Client::for_auth(&dana.auth).unwrap();
    let before = listed(&client, &dana).await.len();
    let dir = tempfile::tempdir().unwrap();
    let source = file_of(dir.path(), "video.mp4", 4 * MIB);

    let store = storage(&dana, &clock, proxied(&stack, Cut::Up(MIB as u64)).await);
    let error = store
        .upload(&dana.auth, &source, &mut |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConvexError::UploadInterrupted { .. }),
        "{error:?}"
    );
    let words = error.to_string();
    assert!(
        words.contains("nothing was saved") && words.contains("cleans up"),
        "{words}"
    );
    assert!(
        !words.contains("token="),
        "the upload URL's token is not repeated: {words}"
    );
    assert_eq!(listed(&client, &dana).await.len(), before, "no file record");
    assert_eq!(blobs(&stack), 0, "no blob");
}

/// A reader that gives `good` bytes, then fails, like a disk that went away.
struct FailsHalfway {
    good: usize,
}

impl tokio::io::AsyncRead for FailsHalfway {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.good == 0 {
            return std::task::Poll::Ready(Err(std::io::Error::other("the disk went away")));
        }
        let n = self.good.min(buf.remaining()).min(64 * 1024);
        buf.put_slice(&vec![7u8; n]);
        self.good -= n;
        std::task::Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn a_body_that_fails_halfway_is_reported_as_unreadable_and_saves_nothing() {
    let clock = ManualClock::new();
    let stack = start(&clock, None).await;
    let dana = person(&stack, &clock, 0).await;
    let client = Client::for_auth(&dana.auth).unwrap();
    let before = listed(&client, &dana).await.len();
    let error = direct(&dana, &clock)
        .upload_from(
            &dana.auth,
            "half.bin",
            "application/octet-stream",
            4 * MIB as u64,
            || Ok(FailsHalfway { good: 2 * MIB }),
            &mut |_| {},
        )
        .await
        .unwrap_err();
    assert_eq!(error.code(), "unreadable_file", "{error}");
    assert!(error.to_string().contains("the disk went away"), "{error}");
    assert_eq!(listed(&client, &dana).await.len(), before);
    assert_eq!(blobs(&stack), 0);
}

#[tokio::test]
async fn an_upload_that_stops_moving_gives_up_after_the_stall_limit() {
    let clock = ManualClock::new();
    let stack = start(&clock, None).await;
    let dana = person(&stack, &clock, 0).await;
    let dir = tempfile::tempdir().unwrap();
    let source = file_of(dir.path(), "big.bin", 32 * MIB);
    let store = storage(
        &dana,
        &clock,
        proxied(&stack, Cut::HoldUp(MIB as u64)).await,
    )
    .with_limits(Limits {
        stall: Duration::from_millis(500),
        upload: None,
    });
    let error = tokio::time::timeout(
        Duration::from_secs(20),
        store.upload(&dana.auth, &source, &mut |_| {}),
    )
    .await
    .expect("gave up within the bound")
    .unwrap_err();
    assert_eq!(error.code(), "transfer_stalled", "{error}");
    assert_eq!(blobs(&stack), 0);
}

#[tokio::test]
async fn a_download_whose_connection_drops_leaves_neither_a_partial_file_nor_the_destination() {
    let clock = ManualClock::new();
    let stack = start(&clock, None).await;
    let dana = person(&stack, &clock, 0).await;
    let dir = tempfile::tempdir().unwrap();
    let source = file_of(dir.path(), "data.bin", 4 * MIB);
    let uploaded = direct(&dana, &clock)
        .upload(&dana.auth, &source, &mut |_| {})
        .await
        .unwrap();

    let into = tempfile::tempdir().unwrap();
    let destination = into.path().join("data.bin");
    let store = storage(&dana, &clock, proxied(&stack, Cut::Down(MIB as u64)).await);
    let error = store
        .download(
            &dana.auth,
            &uploaded.id,
            &destination,
            Replace::Never,
            &mut |_| {},
        )
        .await
        .unwrap_err();
    assert_eq!(error.code(), "download_interrupted", "{error}");
    assert!(
        error.to_string().contains("partial download was removed"),
        "{error}"
    );
    assert!(
        names_in(into.path()).is_empty(),
        "{:?}",
        names_in(into.path())
    );
}

/// A 1 MiB tmpfs, unmounted when dropped.
struct SmallDisk(tempfile::TempDir);

impl SmallDisk {
    fn mount() -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("mount runs");
        assert!(
            status.success(),
            "mounting a 1 MiB tmpfs failed ({status}): these tests run as root (cargo xtask test)"
        );
        SmallDisk(dir)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.0.path())
            .status();
    }
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_disk_that_fills_during_a_download_is_reported_and_the_partial_file_removed() {
    let clock = ManualClock::new();
    let stack = start(&clock, None).await;
    let dana = person(&stack, &clock, 0).await;
    let dir = tempfile::tempdir().unwrap();
    let source = file_of(dir.path(), "big.bin", 3 * MIB);
    let store = direct(&dana, &clock);
    let uploaded = store
        .upload(&dana.auth, &source, &mut |_| {})
        .await
        .unwrap();

    let disk = SmallDisk::mount();
    let destination = disk.0.path().join("big.bin");
    let error = store
        .download(
            &dana.auth,
            &uploaded.id,
            &destination,
            Replace::Never,
            &mut |_| {},
        )
        .await
        .unwrap_err();
    assert_eq!(error.code(), "disk_full", "{error}");
    assert!(error.to_string().contains("Free some space"), "{error}");
    assert!(
        names_in(disk.0.path()).is_empty(),
        "{:?}",
        names_in(disk.0.path())
    );
}

#[tokio::test]
async fn a_file_deleted_on_another_device_before_its_download_is_gone_and_nothing_is_written() {
    let clock = ManualClock::new();
    let stack = start(&clock, None).await;
    let laptop = person(&stack, &clock, 0).await;
    let phone = person(&stack, &clock, 0).await;
    let dir = tempfile::tempdir().unwrap();
    let source = file_of(dir.path(), "notes.txt", 1000);
    let uploaded = direct(&laptop, &clock)
        .upload(&laptop.auth, &source, &mut |_| {})
        .await
        .unwrap();
    let client = Client::for_auth(&laptop.auth).unwrap();
    assert!(
        listed(&client, &laptop)
            .await
            .iter()
            .any(|f| f.id == uploaded.id)
    );

    direct(&phone, &clock)
        .remove(&phone.auth, &uploaded.id)
        .await
        .unwrap();
    assert_eq!(blobs(&stack), 0, "its bytes went with it");

    let into = tempfile::tempdir().unwrap();
    let destination = into.path().join("notes.txt");
    let error = direct(&laptop, &clock)
        .download(
            &laptop.auth,
            &uploaded.id,
            &destination,
            Replace::Never,
            &mut |_| {},
        )
        .await
        .unwrap_err();
    assert_eq!(error.code(), "file_gone", "{error}");
    assert!(
        error.to_string().contains("deleted on another device"),
        "{error}"
    );
    assert!(names_in(into.path()).is_empty());

    // Deleted between asking for its URL and fetching it: the GET's 404.
    let again = direct(&laptop, &clock)
        .upload(&laptop.auth, &source, &mut |_| {})
        .await
        .unwrap();
    let url = direct(&laptop, &clock)
        .url(&laptop.auth, &again.id)
        .await
        .unwrap();
    direct(&phone, &clock)
        .remove(&phone.auth, &again.id)
        .await
        .unwrap();
    let error = direct(&laptop, &clock)
        .download_from(&url, &destination, Replace::Never, &mut |_| {})
        .await
        .unwrap_err();
    assert_eq!(error.code(), "file_gone", "{error}");
    assert!(names_in(into.path()).is_empty());
}

#[tokio::test]
async fn removing_or_downloading_another_persons_file_is_not_found_and_keeps_it() {
    let clock = ManualClock::new();
    let stack = start(&clock, None).await;
    let dana = person(&stack, &clock, 0).await;
    let alex = person(&stack, &clock, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let source = file_of(dir.path(), "alex.txt", 100);
    let theirs = direct(&alex, &clock)
        .upload(&alex.auth, &source, &mut |_| {})
        .await
        .unwrap();

    let error = direct(&dana, &clock)
        .remove(&dana.auth, &theirs.id)
        .await
        .unwrap_err();
    assert_eq!(error.code(), "no_such_file", "{error}");
    let error = direct(&dana, &clock)
        .url(&dana.auth, &theirs.id)
        .await
        .unwrap_err();
    assert_eq!(error.code(), "file_gone", "{error}");

    let alex_client = Client::for_auth(&alex.auth).unwrap();
    assert!(
        listed(&alex_client, &alex)
            .await
            .iter()
            .any(|f| f.id == theirs.id),
        "still Alex's"
    );
    assert_eq!(blobs(&stack), 1);
}

#[tokio::test]
async fn an_expired_upload_url_is_replaced_once_and_a_second_expiry_is_refused() {
    let clock = ManualClock::new();
    let stack = start(&clock, None).await;
    let dana = person(&stack, &clock, 0).await;
    let client = Client::for_auth(&dana.auth).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let source = file_of(dir.path(), "late.txt", 5000);
    let store = direct(&dana, &clock);

    // The hour passes between the URL being made and the bytes being sent, once.
    let mut passed = false;
    let first = clock.clone();
    let uploaded = store
        .upload(&dana.auth, &source, &mut |p: Progress| {
            if p.done == 0 && !std::mem::replace(&mut passed, true) {
                first.advance(Duration::from_secs(3600));
            }
        })
        .await
        .unwrap();
    assert!(
        listed(&client, &dana)
            .await
            .iter()
            .any(|f| f.id == uploaded.id)
    );

    // And again for the fresh URL.
    let every = clock.clone();
    let stored = blobs(&stack);
    let error = store
        .upload(&dana.auth, &source, &mut |p: Progress| {
            if p.done == 0 {
                every.advance(Duration::from_secs(3600));
            }
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), "upload_url_expired", "{error}");
    assert_eq!(blobs(&stack), stored, "nothing stored");
}

#[tokio::test]
async fn a_name_the_backend_would_refuse_is_refused_before_any_request_saying_what_to_do() {
    let clock = ManualClock::new();
    let stack = start(&clock, None).await;
    let dana = person(&stack, &clock, 0).await;
    let client = Client::for_auth(&dana.auth).unwrap();
    let files_before = listed(&client, &dana).await.len();
    let dir = tempfile::tempdir().unwrap();
    let source = file_of(dir.path(), "invoice\u{202E}fdp.exe", 100);
    let store = direct(&dana, &clock);
    let (before, stored) = (requests(&stack), blobs(&stack));

    let error = store
        .upload(&dana.auth, &source, &mut |_| {})
        .await
        .unwrap_err();
    assert_eq!(error.code(), "invalid_name", "{error}");
    assert!(
        error.to_string().contains("text-direction")
            && error.to_string().contains("nothing was uploaded")
            && error.to_string().contains("Rename the file"),
        "{error}"
    );
    let long = "a".repeat(256);
    for (name, words) in [
        (long.as_str(), "Shorten it"),
        (" \u{FEFF} ", "Give the file a name"),
    ] {
        let error = store
            .upload_from(
                &dana.auth,
                name,
                "text/plain",
                100,
                || Ok(tokio::io::empty()),
                &mut |_| {},
            )
            .await
            .unwrap_err();
        assert_eq!(error.code(), "invalid_name", "{error}");
        assert!(error.to_string().contains(words), "{error}");
    }
    assert_eq!(
        requests(&stack),
        before,
        "no upload URL asked for, no byte sent"
    );
    assert_eq!(blobs(&stack), stored);
    assert_eq!(listed(&client, &dana).await.len(), files_before);
}

/// This process's resident memory, or its peak since [`reset_peak`], in bytes.
fn memory(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field}"));
    let kib: u64 = line
        .trim_start_matches(field)
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kib * 1024
}

/// Starts measuring the peak (VmHWM) from now (proc(5), /proc/pid/clear_refs).
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_64_mib_upload_and_download_raise_the_processs_memory_by_under_32_mib() {
    let clock = ManualClock::new();
    let stack = start(&clock, None).await;
    let dana = person(&stack, &clock, 0).await;
    let store = direct(&dana, &clock);
    let dir = tempfile::tempdir().unwrap();
    let source = file_of(dir.path(), "big.bin", 64 * MIB);
    let destination = dir.path().join("back.bin");

    let before = memory("VmRSS:");
    reset_peak();
    let uploaded = store
        .upload(&dana.auth, &source, &mut |_| {})
        .await
        .unwrap();
    let after_upload = memory("VmHWM:");
    reset_peak();
    store
        .download(
            &dana.auth,
            &uploaded.id,
            &destination,
            Replace::Never,
            &mut |_| {},
        )
        .await
        .unwrap();
    let after_download = memory("VmHWM:");
    let limit = 32 * MIB as u64;
    for (what, peak) in [("upload", after_upload), ("download", after_download)] {
        let rise = peak.saturating_sub(before);
        assert!(
            rise < limit,
            "{what}: memory rose by {} MiB",
            rise / MIB as u64
        );
    }
    assert!(same_bytes(&source, &destination));
}
