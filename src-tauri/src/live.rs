//! The signed-in session's live data: one Convex socket per session ([`kinvex_convex::live`]),
//! whose connection state, profile and watched pages of files go to the window as events. The
//! token stays inside the library; only profile and file data and connection states leave.
//!
//! Pages follow Convex's reactive pagination (convex-js `usePaginatedQuery`): each page the
//! window loads is its own subscription from its start cursor, with its end fixed
//! (`paginationOpts.endCursor`) once that is known, so a file added or removed inside a page
//! grows or shrinks that page instead of shifting rows into (or out of) the next one. The end
//! is learnt from a first look over HTTP, so each page costs one subscription; when that look
//! fails (the backend is down), the page subscribes open-ended, waits for the socket, and is
//! bounded as soon as its first value says more files follow.

use crate::error::DesktopError;
use crate::picture::Pictures;
use crate::shown::Shown;
use crate::view::{self, Connection, FilePage, FilePageUpdate, LiveUpdate as Update, ProfileView};
use kinvex_auth::Auth;
use kinvex_convex::live::Live;
use kinvex_convex::{Client, Kind, data};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};
use tauri::async_runtime::JoinHandle;
use tauri::{AppHandle, Emitter, Runtime};
use tokio::sync::oneshot;

/// The live socket of one signed-in person and everything it forwards.
pub struct LiveSession {
    /// Whose session this is: a different person signing in gets a new socket.
    pub subject: String,
    live: Live,
    /// For each page's first look.
    http: Option<Client>,
    auth: Arc<Auth>,
    /// The connection and profile forwarders.
    forwarders: Vec<JoinHandle<()>>,
    pages: Mutex<Pages>,
    /// Every file a page sent the window, for Open, Save as… and Delete to find by id.
    shown: Arc<Shown>,
}

/// The watched pages by the window's number for them.
#[derive(Default)]
struct Pages {
    /// Pages numbered below this were let go; a late request for one is not started.
    floor: u64,
    watching: HashMap<u64, JoinHandle<()>>,
}

impl LiveSession {
    /// Connects in the background and starts forwarding the connection state and the profile.
    pub fn start<R: Runtime>(
        app: &AppHandle<R>,
        auth: &Arc<Auth>,
        http: Option<Client>,
        deployment: &url::Url,
        subject: String,
        shown: Arc<Shown>,
        pictures: Arc<Pictures>,
    ) -> LiveSession {
        let live = Live::connect(auth.clone(), deployment);
        let forwarders = vec![
            tauri::async_runtime::spawn(forward_connection(app.clone(), live.connection())),
            tauri::async_runtime::spawn(forward_profile(
                app.clone(),
                live.clone(),
                auth.clone(),
                pictures,
            )),
        ];
        LiveSession {
            subject,
            live,
            http,
            auth: auth.clone(),
            forwarders,
            pages: Mutex::new(Pages::default()),
            shown,
        }
    }

    pub fn connection(&self) -> Connection {
        self.live.connection().borrow().clone()
    }

    /// Subscribes to page `page` of the files from `cursor` and answers with its first value;
    /// later values arrive as [`view::FILE_PAGE_EVENT`]s until [`LiveSession::unwatch_pages`].
    pub async fn watch_page<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        page: u64,
        cursor: Option<String>,
        page_size: u32,
        query: FileQuery,
    ) -> Result<FilePage, DesktopError> {
        let (first, answer) = oneshot::channel();
        {
            let mut pages = lock(&self.pages);
            if page < pages.floor {
                return Err(DesktopError::Released);
            }
            let look = self.http.clone().map(|http| (http, self.auth.clone()));
            let page_of = Page {
                number: page,
                cursor,
                size: page_size,
                query,
            };
            let shown = self.shown.clone();
            let task = watch(app.clone(), self.live.clone(), look, page_of, first, shown);
            if let Some(old) = pages
                .watching
                .insert(page, tauri::async_runtime::spawn(task))
            {
                old.abort();
            }
        }
        answer.await.map_err(|_| DesktopError::Released)?
    }

    /// Lets go of every page numbered below `before` (the window starts its list over).
    pub fn unwatch_pages(&self, before: u64) {
        let mut pages = lock(&self.pages);
        pages.floor = pages.floor.max(before);
        pages.watching.retain(|page, task| {
            let keep = *page >= before;
            if !keep {
                task.abort();
            }
            keep
        });
    }

    /// Stops every forwarder and closes the socket.
    pub async fn close(&self) {
        self.unwatch_pages(u64::MAX);
        for forwarder in &self.forwarders {
            forwarder.abort();
        }
        self.live.close().await;
    }
}

/// Emits the connection state now and on each change.
async fn forward_connection<R: Runtime>(
    app: AppHandle<R>,
    mut changes: tokio::sync::watch::Receiver<Connection>,
) {
    loop {
        let state = changes.borrow_and_update().clone();
        let _ = app.emit(view::CONNECTION_EVENT, state);
        if changes.changed().await.is_err() {
            return;
        }
    }
}

/// Emits the profile on each change of the person's `users` record. A person the backend has
/// no record of yet (the webhook has not arrived) is stored once, as the HTTP path does; the
/// subscription then sees the new record. Each profile goes out at once, with initials until
/// its picture has been fetched, which then follows as a second emission.
async fn forward_profile<R: Runtime>(
    app: AppHandle<R>,
    live: Live,
    auth: Arc<Auth>,
    pictures: Arc<Pictures>,
) {
    let mut records = match live.subscribe("users:current", json!({})).await {
        Ok(records) => records,
        Err(e) => {
            let _ = app.emit(view::PROFILE_EVENT, Update::<ProfileView>::of(Err(e)));
            return;
        }
    };
    let mut stored = false;
    while let Some(record) = records.next().await {
        let profile = match record {
            Ok(Value::Null) if !stored => {
                stored = true;
                match live.mutation("users:store", json!({})).await {
                    Ok(_) => continue,
                    Err(e) => Err(DesktopError::from(e)),
                }
            }
            Ok(record) => match auth.identity().await {
                Ok(identity) => {
                    let profile = data::profile_of(&record, identity);
                    Ok(crate::state::show_profile(&app, &pictures, &auth, profile))
                }
                Err(e) => Err(e.into()),
            },
            Err(e) => Err(e.into()),
        };
        let _ = app.emit(view::PROFILE_EVENT, Update::of(profile));
    }
}

/// Which page to watch: the window's number for it, where it starts, and how many files it
/// holds before its end is fixed.
struct Page {
    number: u64,
    cursor: Option<String>,
    size: u32,
    query: FileQuery,
}

/// How the window's list is sorted and filtered: `files:list`'s `order` and `search`, passed on
/// as they are (the backend validates them). Every page of one list has the same query, since a
/// cursor belongs to one order; the window starts its list over when either changes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FileQuery {
    pub order: Option<String>,
    pub search: Option<String>,
}

impl FileQuery {
    /// `files:list`'s arguments for a page with these `paginationOpts`.
    fn args(&self, options: Value) -> Value {
        let mut args = json!({ "paginationOpts": options });
        if let Some(order) = &self.order {
            args["order"] = order.as_str().into();
        }
        if let Some(search) = self.search.as_deref().filter(|s| !s.trim().is_empty()) {
            args["search"] = search.into();
        }
        args
    }
}

/// One watched page: answers `first` with its first value, then emits each change. Its end
/// comes from a first look over HTTP (`look`) when that works; otherwise the subscription runs
/// from the cursor for `size` files and, as soon as a value says more files follow, is made
/// again with that value's end fixed.
async fn watch<R: Runtime>(
    app: AppHandle<R>,
    live: Live,
    look: Option<(Client, Arc<Auth>)>,
    Page {
        number: page,
        cursor,
        size: page_size,
        query,
    }: Page,
    first: oneshot::Sender<Result<FilePage, DesktopError>>,
    shown: Arc<Shown>,
) {
    let args = |end: Option<&str>| {
        let mut options = json!({ "numItems": page_size, "cursor": cursor });
        if let Some(end) = end {
            options["endCursor"] = end.into();
        }
        query.args(options)
    };
    // The first answer goes back to the command, later ones out as events; `true` for the first.
    let mut first = Some(first);
    // Each event carries when its value was received, stamped as the subscription yields it.
    let mut answer = |result: Result<FilePage, DesktopError>, received_ms: f64| {
        if let Ok(files) = &result {
            shown.record(files);
        }
        match first.take() {
            Some(first) => {
                let _ = first.send(result);
                true
            }
            None => {
                let update = FilePageUpdate {
                    page,
                    received_ms,
                    update: Update::of(result),
                };
                let _ = app.emit(view::FILE_PAGE_EVENT, update);
                false
            }
        }
    };
    let looked = match &look {
        Some((http, auth)) => http
            .call_as(auth, Kind::Query, "files:list", &args(None))
            .await
            .ok()
            .map(|value| data::page_of(&value)),
        None => None,
    };
    let end = looked
        .as_ref()
        .and_then(|seen| seen.cursor.clone().filter(|_| !seen.is_done));
    let mut last: Option<FilePage> = None;
    if let Some(seen) = looked {
        last = Some(seen.clone());
        answer(Ok(seen), received_now());
    }
    let mut bounded = end.is_some();
    let mut values = match live.subscribe("files:list", args(end.as_deref())).await {
        Ok(values) => values,
        Err(e) => {
            answer(Err(e.into()), received_now());
            return;
        }
    };
    while let Some(value) = values.next().await {
        let received_ms = received_now();
        let value = match value {
            Ok(value) => value,
            Err(e) => {
                // A page that never loaded is the window's to retry; a loaded one may recover.
                if answer(Err(e.into()), received_ms) {
                    return;
                }
                last = None;
                continue;
            }
        };
        let files = data::page_of(&value);
        if !bounded && let Some(end) = files.cursor.as_deref().filter(|_| !files.is_done) {
            match live.subscribe("files:list", args(Some(end))).await {
                Ok(fixed) => {
                    values = fixed;
                    bounded = true;
                }
                Err(e) => {
                    if answer(Err(e.into()), received_now()) {
                        return;
                    }
                    continue;
                }
            }
        }
        if last.as_ref() != Some(&files) {
            last = Some(files.clone());
            answer(Ok(files), received_ms);
        }
    }
}

/// Now as milliseconds since the epoch, from the wall clock: the page compares it with its own
/// `performance.timeOrigin`, which is wall-clock time too, so no injected clock belongs here.
fn received_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// A poisoned lock only means a panic elsewhere; the value inside is still usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
