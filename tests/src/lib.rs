//! Harness for end-to-end tests: the real debug app driven through tauri-driver and
//! WebKitWebDriver, Debian's Chromium driven through chromedriver, and the local stack.
//!
//! `cargo xtask test` provides what this needs: a display (Xvfb), a D-Bus session with
//! gnome-keyring, the drivers on the PATH and the app binary in `KINVEX_E2E_APP`. Run outside
//! that, a test fails with a message saying so rather than passing without having run.

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a window or page may take to appear on a slow CI runner.
pub const UI_TIMEOUT: Duration = Duration::from_secs(30);

/// A WebDriver server process. Dropping it stops the whole process group it leads, so the
/// browser or app it started never outlives a failed test.
pub struct Driver {
    child: Child,
    pub port: u16,
}

impl Driver {
    /// Starts `program` with `args` in its own process group and waits until every port in
    /// `ports` accepts connections (the first is the one clients talk to).
    pub fn spawn(program: &str, args: &[String], ports: &[u16], install_hint: &str) -> Driver {
        Driver::spawn_with(program, args, &[], ports, install_hint)
    }

    /// Like [`Driver::spawn`], with extra environment for the driver and what it launches.
    pub fn spawn_with(
        program: &str,
        args: &[String],
        env: &[(String, String)],
        ports: &[u16],
        install_hint: &str,
    ) -> Driver {
        let mut command = Command::new(program);
        command.args(args).stdout(Stdio::null());
        command.envs(env.iter().map(|(k, v)| (k, v)));
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("{program} could not start ({e}): {install_hint}"));
        let mut driver = Driver {
            child,
            port: ports[0],
        };
        for &port in ports {
            driver.wait_for_listener(program, port);
        }
        driver
    }

    /// Drivers announce nothing when ready; listening on their port is the signal.
    fn wait_for_listener(&mut self, program: &str, port: u16) {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + UI_TIMEOUT;
        while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{program} exited before listening on {port}: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "{program} did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    pub async fn session(&self, capabilities: serde_json::Value) -> Client {
        self.try_session(capabilities)
            .await
            .expect("a WebDriver session")
    }

    pub async fn try_session(
        &self,
        capabilities: serde_json::Value,
    ) -> Result<Client, fantoccini::error::NewSessionError> {
        let serde_json::Value::Object(capabilities) = capabilities else {
            panic!("capabilities must be an object")
        };
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            use nix::sys::signal::{Signal, killpg};
            let group = nix::unistd::Pid::from_raw(self.child.id() as i32);
            let _ = killpg(group, Signal::SIGTERM);
            let _ = self.child.wait();
            // The app is in the group too. It must be gone before the next test launches one,
            // or the single-instance handoff would send that launch to this dying window.
            let deadline = Instant::now() + Duration::from_secs(10);
            while killpg(group, None).is_ok() {
                if Instant::now() > deadline {
                    let _ = killpg(group, Signal::SIGKILL);
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        #[cfg(not(unix))]
        {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A WebDriver session plus where its screenshots go.
pub struct Session {
    client: Option<Client>,
    artifacts: PathBuf,
    _driver: Driver,
    /// When the app (or browser) was asked for: the start of a launch, for benchmarks.
    requested_at: std::time::SystemTime,
}

impl Session {
    /// The real app, launched by tauri-driver.
    pub async fn desktop() -> Session {
        Session::desktop_with(&[]).await
    }

    /// The real app with extra environment (its settings, `BROWSER`).
    pub async fn desktop_with(env: &[(String, String)]) -> Session {
        Session::desktop_at(&required_env("KINVEX_E2E_APP"), env).await
    }

    /// The app binary at `app` (an installed one, say) in a real window.
    pub async fn desktop_at(app: &str, env: &[(String, String)]) -> Session {
        // A port found free can be taken by another socket before WebKitWebDriver binds it
        // (outgoing connections draw from the same range); then the session cannot start, and
        // a second try with new ports is the remedy.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let (port, native_port) = (free_port(), free_port());
            let args = vec![
                "--port".into(),
                port.to_string(),
                "--native-port".into(),
                native_port.to_string(),
            ];
            // tauri-driver proxies to the WebKitWebDriver it starts; both must be listening.
            let driver = Driver::spawn_with(
                "tauri-driver",
                &args,
                env,
                &[port, native_port],
                "cargo install tauri-driver --locked",
            );
            let requested_at = std::time::SystemTime::now();
            match driver
                .try_session(serde_json::json!({ "tauri:options": { "application": app } }))
                .await
            {
                Ok(client) => {
                    return Session {
                        client: Some(client),
                        artifacts: artifacts(),
                        requested_at,
                        _driver: driver,
                    };
                }
                Err(e) if attempts < 3 => {
                    eprintln!("the app's WebDriver session did not start ({e}); trying new ports");
                }
                Err(e) => panic!("no WebDriver session for the app after {attempts} tries: {e}"),
            }
        }
    }

    /// Debian's Chromium, headless, with a fresh profile.
    pub async fn chromium(profile: &Path) -> Session {
        let port = free_port();
        let driver = Driver::spawn(
            "chromedriver",
            &[format!("--port={port}")],
            &[port],
            "apt-get install chromium chromium-driver",
        );
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1000,800",
        ];
        let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let requested_at = std::time::SystemTime::now();
        let client = driver
            .session(serde_json::json!({
                "browserName": "chrome",
                "goog:chromeOptions": { "binary": "/usr/bin/chromium", "args": args }
            }))
            .await;
        Session {
            client: Some(client),
            artifacts: artifacts(),
            requested_at,
            _driver: driver,
        }
    }

    /// When the launch was requested, as a wall-clock time a page's `performance.timeOrigin`
    /// can be compared with.
    pub fn requested_at(&self) -> std::time::SystemTime {
        self.requested_at
    }

    /// The WebDriver server's process id: the app and its WebKit processes descend from it.
    pub fn driver_pid(&self) -> u32 {
        self._driver.child.id()
    }

    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("session is open")
    }

    /// Waits until an element matching `css` exists and returns it.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client()
            .wait()
            .at_most(UI_TIMEOUT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element `{css}` within {UI_TIMEOUT:?}: {e}"))
    }

    /// Waits until an element matching `css` exists and returns its visible text.
    pub async fn text_of(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("element text")
    }

    /// Waits until an element matching the XPath `xpath` exists.
    pub async fn wait_for(&self, xpath: &str) -> fantoccini::elements::Element {
        self.client()
            .wait()
            .at_most(UI_TIMEOUT)
            .for_element(Locator::XPath(xpath))
            .await
            .unwrap_or_else(|e| panic!("nothing matched `{xpath}` within {UI_TIMEOUT:?}: {e}"))
    }

    /// Waits until the element with `data-testid` = `id` shows exactly `text`.
    pub async fn wait_for_text(&self, id: &str, text: &str) {
        self.wait_for(&format!(
            "//*[@data-testid='{id}'][normalize-space()='{text}']"
        ))
        .await;
    }

    /// Waits until the element with `data-testid` = `id` is shown (not `hidden`).
    pub async fn wait_shown(&self, id: &str) {
        self.wait_for(&format!("//*[@data-testid='{id}'][not(@hidden)]"))
            .await;
    }

    /// Waits until the element with `data-testid` = `id` has non-blank text and returns it.
    pub async fn filled_text_of(&self, id: &str) -> String {
        let xpath = format!("//*[@data-testid='{id}'][normalize-space()]");
        let element = self
            .client()
            .wait()
            .at_most(UI_TIMEOUT)
            .for_element(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("`{id}` stayed empty for {UI_TIMEOUT:?}: {e}"));
        element.text().await.expect("element text")
    }

    /// Types `text` into the input matching `css`.
    pub async fn fill(&self, css: &str, text: &str) {
        self.find(css).await.send_keys(text).await.expect("typing");
    }

    /// Waits until the input matching `css` holds a value containing `text`, and returns it.
    pub async fn wait_for_value(&self, css: &str, text: &str) -> String {
        let deadline = Instant::now() + UI_TIMEOUT;
        loop {
            let value = self
                .find(css)
                .await
                .prop("value")
                .await
                .ok()
                .flatten()
                .unwrap_or_default();
            if value.contains(text) {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "`{css}` never held `{text}` (has `{value}`)"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Clicks the element matching `css` once it is shown and enabled, as a person would.
    pub async fn click(&self, css: &str) {
        let deadline = Instant::now() + UI_TIMEOUT;
        loop {
            let element = self.find(css).await;
            let ready = element.is_displayed().await.unwrap_or(false)
                && element.is_enabled().await.unwrap_or(false);
            if ready {
                element.click().await.expect("click");
                return;
            }
            assert!(Instant::now() < deadline, "`{css}` never became clickable");
            // WebDriver offers no event for "became visible"; poll as its own waits do.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Saves a PNG of the viewport under the artifacts directory and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        // A snapshot shows the last painted frame: let the page paint what the DOM now holds.
        let painted = "const done = arguments[arguments.length - 1];\
                       requestAnimationFrame(() => requestAnimationFrame(() => done()));";
        let _ = self.client().execute_async(painted, Vec::new()).await;
        let png = self.client().screenshot().await.expect("screenshot");
        let path = self.artifacts.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Ends the WebDriver session (closing the app or browser).
    pub async fn close(mut self) {
        if let Some(client) = self.client.take() {
            client.close().await.expect("close the WebDriver session");
        }
    }
}

fn artifacts() -> PathBuf {
    let dir = PathBuf::from(required_env("KINVEX_E2E_ARTIFACTS"));
    std::fs::create_dir_all(&dir).expect("create the artifacts directory");
    dir
}

pub fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: end-to-end tests run through `cargo xtask test`")
    })
}

pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// The repository root, for files tests read (the wire-check script, contract cases).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_path_buf()
}

/// A stand-in for the app's loopback redirect listener: records each callback's query.
pub struct Callback {
    pub url: String,
    received: tokio::sync::mpsc::UnboundedReceiver<std::collections::HashMap<String, String>>,
}

impl Callback {
    pub async fn listen() -> Callback {
        use axum::extract::Query;
        use std::collections::HashMap;
        let (sender, received) = tokio::sync::mpsc::unbounded_channel();
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind a callback port");
        let port = listener.local_addr().expect("bound address").port();
        let app = axum::Router::new().route(
            "/callback",
            axum::routing::get(move |Query(query): Query<HashMap<String, String>>| {
                let _ = sender.send(query);
                async { "Signed in. You can return to the app." }
            }),
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Callback {
            url: format!("http://127.0.0.1:{port}/callback"),
            received,
        }
    }

    /// The next callback's query parameters.
    pub async fn next(&mut self) -> std::collections::HashMap<String, String> {
        tokio::time::timeout(UI_TIMEOUT, self.received.recv())
            .await
            .expect("the browser reached the callback in time")
            .expect("callback listener alive")
    }
}

/// A PKCE verifier and its S256 challenge, for tests that play the client.
pub fn pkce() -> (String, String) {
    use base64::Engine;
    use sha2::Digest;
    let verifier = kinvex_devstack::random::secret();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// How many Secret Service items the app's session for `issuer` occupies, counted with
/// libsecret's own `secret-tool` rather than through the code under test.
pub fn keychain_items(issuer: &str) -> usize {
    let output = Command::new("secret-tool")
        .args(["search", "--all", "service", "dev.kinvex.desktop"])
        .output()
        .expect("secret-tool runs (apt-get install libsecret-tools)");
    let listing = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    let account = format!("session {issuer} ");
    listing
        .lines()
        .filter(|l| l.contains("username") && l.contains(&account))
        .count()
}
