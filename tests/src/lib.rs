//! Harness for end-to-end tests: launches the real debug app through tauri-driver and
//! WebKitWebDriver and hands the test a WebDriver client.
//!
//! `cargo xtask test` provides what this needs: a display (Xvfb), a D-Bus session with
//! gnome-keyring, `tauri-driver` on the PATH and the app binary in `KINVEX_E2E_APP`. Run outside
//! that, a test fails with a message saying so rather than passing without having run.

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the app may take to open its window and load the UI on a slow CI runner.
pub const UI_TIMEOUT: Duration = Duration::from_secs(30);

/// The app under test, running in a real window. Dropping it stops every process it started.
pub struct Desktop {
    client: Option<Client>,
    driver: Child,
    artifacts: PathBuf,
}

impl Desktop {
    /// Starts tauri-driver and opens a WebDriver session on the app.
    pub async fn launch() -> Desktop {
        let app = required_env("KINVEX_E2E_APP");
        let artifacts = PathBuf::from(required_env("KINVEX_E2E_ARTIFACTS"));
        std::fs::create_dir_all(&artifacts).expect("create the artifacts directory");

        let (port, native_port) = (free_port(), free_port());
        let driver = Command::new("tauri-driver")
            .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
            .stdout(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("tauri-driver could not start: install it with `cargo install tauri-driver --locked`");
        let mut desktop = Desktop {
            client: None,
            driver,
            artifacts,
        };
        // tauri-driver proxies to the WebKitWebDriver it starts; both must be listening.
        desktop.wait_for_listener(port);
        desktop.wait_for_listener(native_port);

        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "tauri:options".into(),
            serde_json::json!({ "application": app }),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("WebDriver session on the app");
        desktop.client = Some(client);
        desktop
    }

    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("session is open")
    }

    /// Waits until an element matching `css` exists and returns its visible text.
    pub async fn text_of(&self, css: &str) -> String {
        let element = self
            .client()
            .wait()
            .at_most(UI_TIMEOUT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element `{css}` within {UI_TIMEOUT:?}: {e}"));
        element.text().await.expect("element text")
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

    /// Saves a PNG of the window under the artifacts directory and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client().screenshot().await.expect("screenshot");
        let path = self.artifacts.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Ends the WebDriver session, which closes the app.
    pub async fn close(mut self) {
        if let Some(client) = self.client.take() {
            client.close().await.expect("close the WebDriver session");
        }
    }

    fn wait_for_listener(&mut self, port: u16) {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + UI_TIMEOUT;
        while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = self.driver.try_wait() {
                panic!("tauri-driver exited before listening: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "tauri-driver did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        let group = Pid::from_raw(self.driver.id() as i32);
        let _ = killpg(group, Signal::SIGTERM);
        let _ = self.driver.wait();
    }
}

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: end-to-end tests run through `cargo xtask test`")
    })
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
