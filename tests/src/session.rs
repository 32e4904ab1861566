//! A WebDriver session on the real app or on Chromium, with the waits a test needs to act on
//! its page as a person would.

use crate::driver::Driver;
use crate::{UI_TIMEOUT, paths, required_env};
use fantoccini::{Client, Locator};
use kinvex_test_kit::port;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A WebDriver session plus where its screenshots go.
pub struct Session {
    client: Option<Client>,
    artifacts: PathBuf,
    driver: Driver,
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
            let (port, native_port) = (port::free(), port::free());
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
                        artifacts: paths::artifacts(),
                        requested_at,
                        driver,
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
        let port = port::free();
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
            artifacts: paths::artifacts(),
            requested_at,
            driver,
        }
    }

    /// When the launch was requested, as a wall-clock time a page's `performance.timeOrigin`
    /// can be compared with.
    pub fn requested_at(&self) -> std::time::SystemTime {
        self.requested_at
    }

    /// The WebDriver server's process id: the app and its WebKit processes descend from it.
    pub fn driver_pid(&self) -> u32 {
        self.driver.pid()
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
            if Instant::now() >= deadline {
                panic!(
                    "`{css}` never held `{text}` (has `{value}`); the window shows: {}",
                    self.state_of_the_window().await
                );
            }
            // A value set by script changes neither the DOM nor fires an event: nothing to wait
            // on but the value itself.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Which screen is shown, and the banner's and the live region's text: what a failed wait
    /// reports, so a failure says what the person would have seen.
    async fn state_of_the_window(&self) -> String {
        let script = "const shown = [...document.querySelectorAll('section.screen')].filter((s) => !s.hidden).map((s) => s.id); \
                      const banner = document.getElementById('banner'); \
                      return `screen ${shown.join(',')}; banner ${banner.hidden ? '(hidden)' : banner.textContent.trim()}; \
                      announced ${document.getElementById('announcer')?.textContent ?? ''}`;";
        match self.client().execute(script, Vec::new()).await {
            Ok(value) => value.as_str().unwrap_or_default().to_string(),
            Err(e) => format!("(unreadable: {e})"),
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

    /// Presses the keys of `chord` together on the focused element and lets them go, as a
    /// person at the keyboard would (`['\u{E008}', '\u{E004}']` is Shift+Tab).
    pub async fn press(&self, chord: &[char]) {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let mut keys = KeyActions::new("keyboard".into());
        for &value in chord {
            keys = keys.then(KeyAction::Down { value });
        }
        for &value in chord.iter().rev() {
            keys = keys.then(KeyAction::Up { value });
        }
        self.client()
            .perform_actions(keys)
            .await
            .unwrap_or_else(|e| panic!("pressing {chord:?}: {e}"));
    }

    /// The `data-testid` (or else the id) of the element that has the keyboard's focus, or
    /// `body` when none has.
    pub async fn focused(&self) -> String {
        let script = "const e = document.activeElement; \
                      return !e || e === document.body ? 'body' : (e.dataset.testid || e.id || e.tagName);";
        self.client()
            .execute(script, Vec::new())
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// Presses `chord` until the element with `data-testid` = `id` has the focus; at most
    /// `presses` times, so a control the keyboard cannot reach fails the test.
    pub async fn press_until_focused(&self, chord: &[char], id: &str, presses: usize) {
        for _ in 0..presses {
            if self.focused().await == id {
                return;
            }
            self.press(chord).await;
        }
        let now = self.focused().await;
        assert_eq!(
            now, id,
            "`{id}` not reached by {chord:?} in {presses} presses"
        );
    }

    /// Waits until the window's live region (`announcer`) says `text` (it may end in the
    /// no-break space that makes a repeated announcement read again).
    pub async fn wait_announced(&self, text: &str) {
        self.wait_for(&format!(
            "//*[@data-testid='announcer'][starts-with(normalize-space(), '{text}')]"
        ))
        .await;
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
