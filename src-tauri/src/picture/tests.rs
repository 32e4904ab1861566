//! The fetcher against a real HTTP/1.1 server on loopback that answers each path as a test
//! says: a raw socket, so a test can announce a length it never sends, stop half-way, or never
//! answer, and see whether the client closed the connection.
//!
//! One file over 500 lines because every test here stands on that one server.

use super::*;
use kinvex_convex::data::Profile;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};

/// A 1×1 PNG, the smallest real one.
const PIXEL_PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

fn pixel_png() -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(PIXEL_PNG)
        .expect("valid base64")
}

/// A PNG signature and header claiming `width`×`height`, with no pixels: all a decoder bomb
/// needs to be refused before anything is decoded.
fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    bytes.extend_from_slice(&width.to_be_bytes());
    bytes.extend_from_slice(&height.to_be_bytes());
    bytes.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    bytes
}

#[derive(Clone)]
enum Reply {
    /// 200 with this type and body, `Content-Length` set.
    Body(&'static str, Vec<u8>),
    /// 200 announcing this `Content-Length`, then nothing until the client closes.
    Announce(u64),
    /// 200 without a length (the body ends at close): sends these bytes, then holds the rest
    /// of a 2 MiB body until the client closes.
    Stall(Vec<u8>),
    /// Reads the request and never answers.
    Silent,
    /// 302 to this location.
    Redirect(String),
    /// `Body` once `gate` is notified.
    Gated(Vec<u8>, Arc<Notify>),
}

/// The server's address, the paths it was asked for, and a message per connection the client
/// closed while the server still had something to send.
struct Server {
    base: String,
    requests: Arc<Mutex<Vec<String>>>,
    closed_early: mpsc::UnboundedReceiver<String>,
}

impl Server {
    async fn start(routes: Vec<(&'static str, Reply)>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let routes: Arc<HashMap<String, Reply>> = Arc::new(
            routes
                .into_iter()
                .map(|(p, r)| (p.to_string(), r))
                .collect(),
        );
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (closed, closed_early) = mpsc::unbounded_channel();
        let log = requests.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (routes, log, closed) = (routes.clone(), log.clone(), closed.clone());
                tokio::spawn(async move { answer(socket, &routes, &log, &closed).await });
            }
        });
        Server {
            base,
            requests,
            closed_early,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn requests(&self) -> Vec<String> {
        lock(&self.requests).clone()
    }
}

async fn answer(
    mut socket: TcpStream,
    routes: &HashMap<String, Reply>,
    log: &Mutex<Vec<String>>,
    closed: &mpsc::UnboundedSender<String>,
) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&head);
    let path = text.split(' ').nth(1).unwrap_or("").to_string();
    lock(log).push(path.clone());
    let ok = |extra: &str| format!("HTTP/1.1 200 OK\r\nConnection: close\r\n{extra}\r\n");
    let hold = |mut socket: TcpStream, closed: mpsc::UnboundedSender<String>, path: String| async move {
        // The client closing (EOF or reset) is the signal; nothing else is ever read.
        let _ = socket.read(&mut [0u8; 16]).await;
        let _ = closed.send(path);
    };
    match routes.get(&path).cloned() {
        Some(Reply::Body(content_type, body)) => {
            let head = ok(&format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                body.len()
            ));
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(&body).await;
        }
        Some(Reply::Gated(body, gate)) => {
            gate.notified().await;
            let head = ok(&format!(
                "Content-Type: image/png\r\nContent-Length: {}\r\n",
                body.len()
            ));
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(&body).await;
        }
        Some(Reply::Announce(length)) => {
            let head = ok(&format!(
                "Content-Type: image/png\r\nContent-Length: {length}\r\n"
            ));
            let _ = socket.write_all(head.as_bytes()).await;
            hold(socket, closed.clone(), path).await;
        }
        Some(Reply::Stall(first)) => {
            let _ = socket
                .write_all(ok("Content-Type: image/png\r\n").as_bytes())
                .await;
            let _ = socket.write_all(&first).await;
            hold(socket, closed.clone(), path).await;
        }
        Some(Reply::Silent) => hold(socket, closed.clone(), path).await,
        Some(Reply::Redirect(location)) => {
            let head = format!(
                "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = socket.write_all(head.as_bytes()).await;
        }
        None => {
            let _ = socket
                .write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await;
        }
    }
}

/// The app's own client: no redirects, its timeouts.
fn app_client() -> reqwest::Client {
    kinvex_auth::http::HttpClient::new()
        .expect("the app's HTTP client")
        .reqwest()
        .clone()
}

fn quick() -> Limits {
    Limits {
        time: Duration::from_millis(500),
        ..Limits::default()
    }
}

#[tokio::test]
async fn picture_a_good_png_comes_back_as_a_data_url_of_its_bytes() {
    let server = Server::start(vec![("/me.png", Reply::Body("image/png", pixel_png()))]).await;
    let data = fetch(&app_client(), &server.url("/me.png"), &quick())
        .await
        .expect("a PNG is shown");
    assert_eq!(data, format!("data:image/png;base64,{PIXEL_PNG}"));
}

#[tokio::test]
async fn picture_svg_and_other_types_are_refused_by_their_bytes_not_their_content_type() {
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
    let server = Server::start(vec![
        ("/me.svg", Reply::Body("image/svg+xml", svg.to_vec())),
        (
            "/lying.png",
            Reply::Body("image/png", b"<html>not a png</html>".to_vec()),
        ),
        (
            "/unlabelled",
            Reply::Body("application/octet-stream", pixel_png()),
        ),
    ])
    .await;
    let http = app_client();
    for path in ["/me.svg", "/lying.png"] {
        let refused = fetch(&http, &server.url(path), &quick()).await;
        assert_eq!(refused, Err(PictureError::NotAnImage), "{path}");
        assert_eq!(PictureError::NotAnImage.code(), "picture_not_an_image");
    }
    let unlabelled = fetch(&http, &server.url("/unlabelled"), &quick()).await;
    assert!(unlabelled.is_ok_and(|d| d.starts_with("data:image/png;base64,")));
}

#[tokio::test]
async fn picture_a_body_over_the_limit_is_refused_without_reading_the_rest() {
    // 2 MiB in all: the server sends a little over 1 MiB and waits. A client that kept reading
    // would wait with it and time out; one that stops closes the connection.
    let first = vec![0u8; 1024 * 1024 + 64 * 1024];
    let mut server = Server::start(vec![("/big.png", Reply::Stall(first))]).await;
    let started = std::time::Instant::now();
    let refused = fetch(&app_client(), &server.url("/big.png"), &Limits::default()).await;
    assert_eq!(refused, Err(PictureError::TooLarge { limit: 1024 * 1024 }));
    assert_eq!(
        server.closed_early.recv().await.as_deref(),
        Some("/big.png"),
        "the client closed the connection with the rest of the body unsent"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn picture_a_content_length_over_the_limit_is_refused_before_any_body() {
    let mut server = Server::start(vec![("/huge.png", Reply::Announce(2 * 1024 * 1024))]).await;
    let refused = fetch(&app_client(), &server.url("/huge.png"), &Limits::default()).await;
    let error = refused.expect_err("refused");
    assert_eq!(error.code(), "picture_too_large", "{error}");
    assert_eq!(
        server.closed_early.recv().await.as_deref(),
        Some("/huge.png")
    );
}

#[tokio::test]
async fn picture_a_header_claiming_huge_dimensions_is_refused() {
    let server = Server::start(vec![
        (
            "/bomb.png",
            Reply::Body("image/png", png_header(100_000, 100_000)),
        ),
        ("/wide.png", Reply::Body("image/png", png_header(4097, 1))),
        (
            "/edge.png",
            Reply::Body("image/png", png_header(4096, 4096)),
        ),
    ])
    .await;
    let http = app_client();
    assert_eq!(
        fetch(&http, &server.url("/bomb.png"), &quick()).await,
        Err(PictureError::Dimensions {
            width: 100_000,
            height: 100_000
        })
    );
    let wide = fetch(&http, &server.url("/wide.png"), &quick()).await;
    assert_eq!(wide.map_err(|e| e.code()), Err("picture_dimensions"));
    assert!(
        fetch(&http, &server.url("/edge.png"), &quick())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn picture_urls_that_are_not_https_or_loopback_are_refused_without_a_request() {
    // Every request this client makes goes to the test server, so any would be counted.
    let server = Server::start(vec![]).await;
    let proxied = reqwest::Client::builder()
        .proxy(reqwest::Proxy::all(&server.base).expect("proxy"))
        .build()
        .expect("client");
    for url in [
        "http://example.com/me.png",
        "http://192.168.1.10/me.png",
        "ftp://example.com/me.png",
        "file:///etc/passwd",
        "data:image/png;base64,AAAA",
        "javascript:alert(1)",
        "not a url",
    ] {
        let refused = fetch(&proxied, url, &quick()).await;
        assert_eq!(
            refused.map_err(|e| e.code()),
            Err("picture_refused"),
            "{url}"
        );
    }
    assert_eq!(server.requests(), Vec::<String>::new());
    for url in [
        "http://127.0.0.1:1/a.png",
        "http://[::1]:1/a.png",
        "http://localhost:1/a.png",
        "https://example.com/a.png",
    ] {
        assert_eq!(allowed(&Url::parse(url).expect("url")), Ok(()), "{url}");
    }
}

#[tokio::test]
async fn picture_redirects_are_followed_only_to_urls_that_are_allowed() {
    let server = Server::start(vec![
        ("/moved.png", Reply::Redirect("/me.png".into())),
        ("/me.png", Reply::Body("image/png", pixel_png())),
        (
            "/away.png",
            Reply::Redirect("http://example.com/me.png".into()),
        ),
        ("/loop.png", Reply::Redirect("/loop.png".into())),
    ])
    .await;
    let http = app_client();
    assert!(
        fetch(&http, &server.url("/moved.png"), &quick())
            .await
            .is_ok()
    );
    let away = fetch(&http, &server.url("/away.png"), &quick()).await;
    assert_eq!(away.map_err(|e| e.code()), Err("picture_refused"));
    let looping = fetch(&http, &server.url("/loop.png"), &quick()).await;
    assert_eq!(looping.map_err(|e| e.code()), Err("picture_refused"));
    assert_eq!(
        server
            .requests()
            .iter()
            .filter(|p| *p == "/loop.png")
            .count(),
        4,
        "the first request and three redirects"
    );
}

#[tokio::test]
async fn picture_a_server_that_never_answers_times_out_in_bounded_time() {
    let server = Server::start(vec![("/slow.png", Reply::Silent)]).await;
    let started = std::time::Instant::now();
    let refused = fetch(&app_client(), &server.url("/slow.png"), &quick()).await;
    assert_eq!(refused.map_err(|e| e.code()), Err("picture_timeout"));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(Limits::default().time, Duration::from_secs(10));
}

#[tokio::test]
async fn picture_outcomes_are_kept_for_the_session_failures_included() {
    let server = Server::start(vec![
        ("/me.png", Reply::Body("image/png", pixel_png())),
        ("/me.svg", Reply::Body("image/svg+xml", b"<svg/>".to_vec())),
    ])
    .await;
    let (http, pictures) = (app_client(), Pictures::new(quick()));
    for _ in 0..3 {
        assert!(pictures.get(&http, &server.url("/me.png")).await.is_ok());
        let svg = pictures.get(&http, &server.url("/me.svg")).await;
        assert_eq!(svg, Err(PictureError::NotAnImage));
    }
    assert_eq!(server.requests(), ["/me.png", "/me.svg"], "one fetch each");
    pictures.clear();
    assert!(pictures.get(&http, &server.url("/me.png")).await.is_ok());
    assert_eq!(server.requests().len(), 3, "a new session fetches again");
}

fn dana(name: &str, picture_url: Option<String>) -> Profile {
    Profile {
        kinde_id: "kp_1".into(),
        name: Some(name.into()),
        picture_url,
        ..Profile::default()
    }
}

#[tokio::test]
async fn picture_the_profile_is_shown_at_once_and_its_picture_follows_with_the_latest_profile() {
    let gate = Arc::new(Notify::new());
    let server = Server::start(vec![("/me.png", Reply::Gated(pixel_png(), gate.clone()))]).await;
    let (http, pictures) = (app_client(), Arc::new(Pictures::new(quick())));
    let url = server.url("/me.png");
    let (send, mut emitted) = mpsc::unbounded_channel();
    let emit = |send: &mpsc::UnboundedSender<ProfileView>| {
        let send = send.clone();
        move |view| {
            let _ = send.send(view);
        }
    };
    let emissions = Arc::new(AtomicUsize::new(0));
    let counted = {
        let (emissions, send) = (emissions.clone(), send.clone());
        move |view| {
            emissions.fetch_add(1, Ordering::SeqCst);
            let _ = send.send(view);
        }
    };

    let first = pictures.show(&http, dana("Dana Demo", Some(url.clone())), counted);
    assert_eq!(first.picture, None, "initials until the picture arrives");
    // Renamed while the picture is on its way: the same URL is not fetched twice, and the
    // picture arrives with the new name.
    let renamed = pictures.show(&http, dana("Dana Renamed", Some(url.clone())), emit(&send));
    assert_eq!(renamed.picture, None);
    gate.notify_one();
    let followed = emitted.recv().await.expect("the picture follows");
    assert_eq!(followed.name.as_deref(), Some("Dana Renamed"));
    assert_eq!(
        followed.picture.as_deref(),
        Some(format!("data:image/png;base64,{PIXEL_PNG}").as_str())
    );
    assert_eq!(emissions.load(Ordering::SeqCst), 1);

    let again = pictures.show(&http, dana("Dana Again", Some(url)), emit(&send));
    assert!(
        again.picture.is_some(),
        "kept for the session: shown at once"
    );
    let none = pictures.show(&http, dana("Dana Plain", None), emit(&send));
    assert_eq!(none.picture, None);
    assert_eq!(server.requests(), ["/me.png"]);
}

#[test]
fn picture_logs_never_carry_the_query_or_credentials() {
    assert_eq!(
        redacted("https://user:pw@cdn.example.com/a/me.png?sig=secret#frag"),
        "https://cdn.example.com/a/me.png"
    );
    assert_eq!(redacted("%%%"), "(not a URL)");
}

#[tokio::test]
async fn picture_the_local_stacks_picture_passes_every_check() {
    let stack = kinvex_test_kit::stack::start(None).await;
    let url = kinvex_devstack::pictures::url(stack.issuer(), "kp_check");
    let data = fetch(&app_client(), &url, &Limits::default())
        .await
        .expect("the stack's picture is shown");
    assert!(
        data.starts_with("data:image/png;base64,iVBORw0KGgo"),
        "{data}"
    );
}

/// The window's path end to end, over the mock runtime and the local stack: the `profile`
/// command answers at once without the remote URL, and the demo person's picture follows as a
/// `profile` event carrying it as data; asked again, the command has it at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn picture_the_window_gets_the_demo_persons_picture_as_data_after_the_profile() {
    use crate::state::Desktop;
    use kinvex_auth::SignInOptions;
    use kinvex_auth::token_store::PlaintextFile;
    use kinvex_test_kit::browser::{HeadlessBrowser, sign_in_as};
    use kinvex_test_kit::env::Settings;
    use kinvex_test_kit::stack::{self, TokenFile};
    use tauri::Listener;
    use tauri::test::{INVOKE_KEY, get_ipc_response, mock_builder};

    let stack = stack::start(None).await;
    let tokens = TokenFile::new("picture");
    let auth = stack::auth(
        Settings::for_stack(&stack).config(),
        Box::new(PlaintextFile::new(tokens.to_path_buf())),
        Arc::new(HeadlessBrowser::new(sign_in_as(&stack.accounts[0]))),
    );
    stack::sign_in(&auth, &SignInOptions::default()).await;
    let app = crate::with_commands(mock_builder())
        .manage(Desktop::with_auth(Arc::new(auth)))
        .build(tauri::generate_context!())
        .expect("mock app builds");
    let window = tauri::WebviewWindowBuilder::new(&app, crate::window::MAIN, Default::default())
        .build()
        .expect("mock window builds");
    let (send, mut events) = mpsc::unbounded_channel();
    app.listen(crate::view::PROFILE_EVENT, move |event| {
        let _ = send.send(event.payload().to_string());
    });
    let ask = || {
        let window = window.clone();
        tokio::task::spawn_blocking(move || {
            let origin = if cfg!(windows) {
                "http://tauri.localhost"
            } else {
                "tauri://localhost"
            };
            get_ipc_response(
                &window,
                tauri::webview::InvokeRequest {
                    cmd: "profile".into(),
                    callback: tauri::ipc::CallbackFn(0),
                    error: tauri::ipc::CallbackFn(1),
                    url: origin.parse().expect("static url"),
                    body: tauri::ipc::InvokeBody::Json(serde_json::json!({})),
                    headers: Default::default(),
                    invoke_key: INVOKE_KEY.to_string(),
                },
            )
            .expect("profile answers")
            .deserialize::<serde_json::Value>()
            .expect("json")
        })
    };

    let first = ask().await.expect("asked");
    assert_eq!(first["name"], "Dana Demo");
    assert_eq!(first["picture"], serde_json::Value::Null, "{first}");
    assert!(
        !first.to_string().contains("/_devstack/pictures/"),
        "{first}"
    );
    let followed = tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("the picture followed in time")
        .expect("the app is listening");
    assert!(!followed.contains("/_devstack/pictures/"), "{followed}");
    let followed: serde_json::Value = serde_json::from_str(&followed).expect("json");
    assert_eq!(followed["name"], "Dana Demo");
    let picture = followed["picture"].as_str().expect("a picture");
    assert!(picture.starts_with("data:image/png;base64,"), "{picture}");
    let again = ask().await.expect("asked");
    assert_eq!(again["picture"], picture, "kept for the session");
}

#[test]
fn picture_the_web_view_may_show_data_images_and_load_none_from_the_network() {
    let config: serde_json::Value =
        serde_json::from_str(include_str!("../../tauri.conf.json")).expect("valid JSON");
    let csp = &config["app"]["security"]["csp"];
    assert_eq!(csp["img-src"], "'self' data:");
    assert_eq!(csp["default-src"], "'none'");
}
