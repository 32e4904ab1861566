//! Transfers against the in-process local stack, with no window: updates go to a channel, the
//! default application is a recorder, and a proxy between the transfer client and the stack
//! holds a transfer mid-way for Cancel to stop.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use kinvex_auth::SignInOptions;
use kinvex_auth::token_store::PlaintextFile;
use kinvex_clock::ManualClock;
use kinvex_convex::Client;
use kinvex_convex::storage::{system_random, transfer_client};
use kinvex_devstack::Running as Stack;
use kinvex_test_kit::browser::{HeadlessBrowser, sign_in_as};
use kinvex_test_kit::env::Settings;
use kinvex_test_kit::stack::{self, TokenFile};
use std::os::unix::fs::PermissionsExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};

const MIB: usize = 1024 * 1024;
/// Every wait in these tests ends by then.
const BOUND: Duration = Duration::from_secs(60);

struct Harness {
    stack: Stack,
    auth: Arc<Auth>,
    _tokens: TokenFile,
    transfers: Transfers,
    updates: mpsc::UnboundedReceiver<TransferUpdate>,
    opened: Arc<Mutex<Vec<PathBuf>>>,
    cache: tempfile::TempDir,
    dir: tempfile::TempDir,
}

/// Dana signed in to a fresh stack, and transfers reporting on `clock`.
async fn harness(clock: SharedClock) -> Harness {
    let stack = stack::start(None).await;
    let tokens = TokenFile::new("transfers");
    let auth = stack::auth(
        Settings::for_stack(&stack).config(),
        Box::new(PlaintextFile::new(tokens.to_path_buf())),
        Arc::new(HeadlessBrowser::new(sign_in_as(&stack.accounts[0]))),
    );
    stack::sign_in(&auth, &SignInOptions::default()).await;
    let (send, updates) = mpsc::unbounded_channel();
    let opened = Arc::new(Mutex::new(Vec::new()));
    let recorder = opened.clone();
    let cache = tempfile::tempdir().unwrap();
    let transfers = Transfers::new(
        Arc::new(move |update| {
            let _ = send.send(update);
        }),
        Arc::new(move |path: &Path| {
            recorder.lock().unwrap().push(path.to_path_buf());
            Ok(())
        }),
        clock,
        cache.path().join("opened"),
    );
    Harness {
        stack,
        auth: Arc::new(auth),
        _tokens: tokens,
        transfers,
        updates,
        opened,
        cache,
        dir: tempfile::tempdir().unwrap(),
    }
}

impl Harness {
    fn storage(&self, http: reqwest::Client) -> Storage {
        Storage::new(
            Client::for_auth(&self.auth).unwrap(),
            http,
            kinvex_clock::system(),
            system_random(),
        )
    }

    fn direct(&self) -> Storage {
        self.storage(transfer_client().unwrap())
    }

    /// The next update of transfer `id` for which `wanted` holds.
    async fn until(&mut self, id: u64, wanted: impl Fn(&TransferUpdate) -> bool) -> TransferUpdate {
        tokio::time::timeout(BOUND, async {
            loop {
                let update = self.updates.recv().await.expect("the sink is open");
                if update.id == id && wanted(&update) {
                    return update;
                }
            }
        })
        .await
        .expect("the transfer got there in time")
    }

    /// The update transfer `id` ended with.
    async fn ended(&mut self, id: u64) -> TransferUpdate {
        self.until(id, |u| u.state != State::Running).await
    }

    async fn listed(&self) -> Vec<FileEntry> {
        let client = Client::for_auth(&self.auth).unwrap();
        kinvex_convex::data::files(&client, &self.auth, None, 100)
            .await
            .unwrap()
            .files
    }

    /// The listed file of this name.
    async fn named(&self, name: &str) -> FileEntry {
        let listed = self.listed().await;
        listed.into_iter().find(|f| f.name == name).expect("listed")
    }

    fn blobs(&self) -> usize {
        self.stack.state.store.storage().count().unwrap()
    }

    fn file(&self, name: &str, size: usize) -> PathBuf {
        let path = self.dir.path().join(name);
        let bytes: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// An HTTP proxy in front of the stack that stops forwarding (keeping the connection open) once
/// `up` bytes went to the stack or `down` bytes came back, and says so on the returned signal.
async fn holding(
    stack: &Stack,
    up: Option<u64>,
    down: Option<u64>,
) -> (reqwest::Client, Arc<Notify>) {
    let target: std::net::SocketAddr = stack
        .api_url()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let held = Arc::new(Notify::new());
    let signal = held.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let held = signal.clone();
            tokio::spawn(async move {
                let server = TcpStream::connect(target).await.unwrap();
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::join!(
                    pipe(client_read, server_write, up, held.clone()),
                    pipe(server_read, client_write, down, held),
                );
            });
        }
    });
    let http = reqwest::Client::builder()
        .proxy(reqwest::Proxy::http(format!("http://{address}")).unwrap())
        .build()
        .unwrap();
    (http, held)
}

/// Copies `from` to `to`; after `limit` bytes, holds the connection open and signals `held`.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    limit: Option<u64>,
    held: Arc<Notify>,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    let mut moved = 0u64;
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n as u64,
        };
        let allowed = limit.map_or(n, |l| (l - moved).min(n));
        if to.write_all(&buffer[..allowed as usize]).await.is_err() {
            return;
        }
        moved += allowed;
        if limit == Some(moved) {
            held.notify_one();
            std::future::pending::<()>().await;
        }
    }
}

#[tokio::test]
async fn an_upload_ends_done_and_opens_from_a_private_cache_that_is_reused_while_whole() {
    let mut h = harness(kinvex_clock::system()).await;
    let source = h.file("Plan 2027.md", 70_000);
    let ids = h
        .transfers
        .upload(&h.direct(), &h.auth, vec![source.clone()]);
    let done = h.ended(ids[0]).await;
    assert_eq!(done.state, State::Done, "{done:?}");
    assert_eq!(
        (done.kind, done.name.as_str(), done.done, done.total),
        (Direction::Upload, "Plan 2027.md", 70_000, Some(70_000))
    );
    let file = h.named("Plan 2027.md").await;
    assert!(h.transfers.running().is_empty());

    let id = h.transfers.open(&h.direct(), &h.auth, &file).unwrap();
    let opened = h.ended(id).await;
    assert_eq!(opened.state, State::Done, "{opened:?}");
    assert!(!opened.from_cache, "downloaded: {opened:?}");
    let cached = h
        .cache
        .path()
        .join("opened")
        .join(&file.id)
        .join("Plan 2027.md");
    assert_eq!(*h.opened.lock().unwrap(), std::slice::from_ref(&cached));
    assert_eq!(
        std::fs::read(&cached).unwrap(),
        std::fs::read(&source).unwrap()
    );
    assert_eq!(mode(&cached), 0o600, "only this user may read it");
    assert_eq!(mode(&h.cache.path().join("opened")), 0o700);
    assert_eq!(mode(cached.parent().unwrap()), 0o700);

    // The copy in the cache is whole: opened again with no download, even with the file gone,
    // and every update, the first too, says it came from the cache.
    h.direct().remove(&h.auth, &file.id).await.unwrap();
    let id = h.transfers.open(&h.direct(), &h.auth, &file).unwrap();
    let first = h.until(id, |_| true).await;
    assert_eq!(first.state, State::Running);
    assert!(first.from_cache, "{first:?}");
    let reopened = h.ended(id).await;
    assert_eq!(reopened.state, State::Done);
    assert!(reopened.from_cache, "{reopened:?}");
    assert_eq!(h.opened.lock().unwrap().len(), 2);

    // A copy cut short is downloaded again; gone, that fails and opens nothing.
    std::fs::write(&cached, b"short").unwrap();
    let id = h.transfers.open(&h.direct(), &h.auth, &file).unwrap();
    let failed = h.ended(id).await;
    assert_eq!(failed.state, State::Failed);
    assert!(!failed.from_cache, "it had to download: {failed:?}");
    assert_eq!(failed.error.map(|e| e.code), Some("file_gone"));
    assert_eq!(h.opened.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_dropped_folder_is_refused_as_not_a_file_while_the_file_beside_it_uploads() {
    let mut h = harness(kinvex_clock::system()).await;
    let folder = h.dir.path().join("Photos");
    std::fs::create_dir(&folder).unwrap();
    let file = h.file("notes.txt", 10);
    let ids = h.transfers.upload(&h.direct(), &h.auth, vec![folder, file]);
    assert_eq!(ids.len(), 2, "each path is its own transfer");
    let refused = h.ended(ids[0]).await;
    assert_eq!(refused.state, State::Failed);
    assert_eq!(refused.name, "Photos");
    let error = refused.error.expect("says why");
    assert_eq!(error.code, "not_a_file");
    assert_eq!(
        error.message,
        "Photos is a folder, not a file; nothing was uploaded. To upload what is in it, open it and choose its files."
    );
    assert_eq!(h.ended(ids[1]).await.state, State::Done);
    let names: Vec<String> = h.listed().await.into_iter().map(|f| f.name).collect();
    assert_eq!(names.iter().filter(|n| *n == "notes.txt").count(), 1);
    assert!(!names.iter().any(|n| n == "Photos"), "{names:?}");
}

#[tokio::test]
async fn cancelling_an_upload_leaves_no_file_and_no_stored_bytes() {
    let mut h = harness(kinvex_clock::system()).await;
    let (files, blobs) = (h.listed().await.len(), h.blobs());
    let (http, held) = holding(&h.stack, Some(MIB as u64), None).await;
    let source = h.file("big.bin", 32 * MIB);
    let ids = h.transfers.upload(&h.storage(http), &h.auth, vec![source]);
    tokio::time::timeout(BOUND, held.notified()).await.unwrap();

    assert!(h.transfers.cancel(ids[0]).await, "it was running");
    let cancelled = h.ended(ids[0]).await;
    assert_eq!(cancelled.state, State::Cancelled);
    assert!(h.transfers.running().is_empty());
    assert!(!h.transfers.cancel(ids[0]).await, "nothing left to cancel");
    assert_eq!(h.listed().await.len(), files, "no file saved");
    assert_eq!(h.blobs(), blobs, "no bytes kept");
}

#[tokio::test]
async fn cancelling_a_download_removes_its_partial_file() {
    let mut h = harness(kinvex_clock::system()).await;
    let source = h.file("video.mp4", 8 * MIB);
    let uploaded = h
        .direct()
        .upload(&h.auth, &source, &mut |_| {})
        .await
        .unwrap();
    let file = h.named("video.mp4").await;
    assert_eq!(file.id, uploaded.id);
    let (http, held) = holding(&h.stack, None, Some(MIB as u64)).await;
    let saved = tempfile::tempdir().unwrap();
    let id = h.transfers.save_as(
        &h.storage(http),
        &h.auth,
        &file,
        saved.path().join("copy.mp4"),
    );
    tokio::time::timeout(BOUND, held.notified()).await.unwrap();
    // The library says nothing between its first report and a later one, so the partial file's
    // appearing is watched for on disk.
    tokio::time::timeout(BOUND, async {
        while std::fs::read_dir(saved.path()).unwrap().next().is_none() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the partial file appears");

    assert!(h.transfers.cancel(id).await);
    assert_eq!(h.ended(id).await.state, State::Cancelled);
    assert_eq!(
        std::fs::read_dir(saved.path()).unwrap().count(),
        0,
        "no partial file left"
    );
}

#[tokio::test]
async fn progress_reaches_the_window_at_most_every_100_ms_with_the_first_and_the_last() {
    let clock = ManualClock::new();
    let mut h = harness(clock.shared()).await;
    let first = TransferUpdate {
        id: 7,
        kind: Direction::Upload,
        name: "big.bin".into(),
        done: 0,
        total: Some(1000),
        bytes_per_second: None,
        seconds_left: None,
        state: State::Running,
        from_cache: false,
        error: None,
    };
    lock(&h.transfers.running).insert(
        7,
        Running {
            task: None,
            last: first.clone(),
            committed: false,
        },
    );
    let mut report = h.transfers.reporter(first);
    for step in 0..=10 {
        report(Progress {
            done: step * 100,
            total: Some(1000),
            bytes_per_second: Some(1000.0),
        });
        clock.advance(Duration::from_millis(30));
    }
    let mut sent = Vec::new();
    while let Ok(update) = h.updates.try_recv() {
        sent.push(update);
    }
    let done: Vec<u64> = sent.iter().map(|u| u.done).collect();
    assert_eq!(
        done,
        [0, 400, 800, 1000],
        "one every 100 ms of the clock, and the last"
    );
    assert_eq!(sent[1].seconds_left, Some(0.6));
    assert!(
        !h.transfers.cancel(7).await,
        "an upload whose bytes are all sent is being saved: Cancel no longer applies"
    );
}
