//! `kinvex org list | switch | create`: the real binary against a local stack in this process,
//! for the demo person, who is in two organisations. The binary's BROWSER is a two-line script
//! that hands each URL through a FIFO to the test, whose one browser profile (the headless user
//! agent, cookies kept) follows it: the sign-in, and every later switch, in the same "browser",
//! so a silent switch finds the provider's session as it would in a person's own browser.

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use kinvex_devstack::Running;
use kinvex_devstack::user_agent::{Action, UserAgent};
use kinvex_test_kit::browser::sign_in_as;
use kinvex_test_kit::env::Settings;
use kinvex_test_kit::stack;
use serde_json::Value;
use std::process::{Output, Stdio};
use std::time::Duration;
use tempfile::TempDir;
use tokio::net::unix::pipe;

/// Every run of the binary ends by then.
const BOUND: Duration = Duration::from_secs(60);
const DEMO_ORG: &str = "org_kinvex_demo";
const DEFAULT_ORG: &str = "org_kinvex_default";

/// The FIFO's reading end, and what was read of it but not yet taken as a line.
struct Urls {
    fifo: pipe::Receiver,
    read: Vec<u8>,
}

impl Urls {
    /// The next URL the binary opened. Cancel-safe: bytes read stay in `read`.
    async fn next(&mut self) -> String {
        loop {
            if let Some(end) = self.read.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.read.drain(..=end).collect();
                return String::from_utf8(line).unwrap().trim_end().to_string();
            }
            self.fifo.readable().await.unwrap();
            let mut chunk = [0u8; 4096];
            match self.fifo.try_read(&mut chunk) {
                Ok(n) => self.read.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("reading the browser FIFO: {e}"),
            }
        }
    }
}

/// A person at a terminal and a browser: the stack, a home of their own, the browser profile.
struct Desk {
    stack: Running,
    home: TempDir,
    browser: UserAgent,
    urls: Urls,
}

/// What one run of the binary did: its output, and the URLs it opened in the browser.
struct Ran {
    output: Output,
    opened: Vec<String>,
}

impl Ran {
    fn text(&self) -> String {
        format!(
            "{}{}",
            String::from_utf8_lossy(&self.output.stdout),
            String::from_utf8_lossy(&self.output.stderr)
        )
    }

    fn json(&self) -> Value {
        assert!(self.output.status.success(), "{}", self.text());
        serde_json::from_slice(&self.output.stdout)
            .unwrap_or_else(|e| panic!("one JSON document ({e}): {}", self.text()))
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }
}

/// The demo person signed in with `kinvex login`, through the desk's browser.
async fn signed_in() -> Desk {
    let stack = stack::start(None).await;
    let home = tempfile::tempdir().unwrap();
    let mut private = std::fs::DirBuilder::new();
    std::os::unix::fs::DirBuilderExt::mode(&mut private, 0o700);
    private.create(home.path().join("run")).unwrap();
    let fifo = home.path().join("browser.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    std::fs::write(
        home.path().join("browser.sh"),
        format!("printf '%s\\n' \"$1\" > '{}'\n", fifo.display()),
    )
    .unwrap();
    // Read and write: the FIFO never reads as ended between two writers.
    let fifo = pipe::OpenOptions::new()
        .read_write(true)
        .open_receiver(&fifo)
        .unwrap();
    let mut desk = Desk {
        stack,
        home,
        browser: UserAgent::new(),
        urls: Urls {
            fifo,
            read: Vec::new(),
        },
    };
    let demo = sign_in_as(&desk.stack.accounts[0]);
    let login = desk.kinvex(&["login"], &demo).await;
    assert!(login.output.status.success(), "{}", login.text());
    desk
}

impl Desk {
    /// `kinvex ARGS` with only the stack's settings, the test's home and the browser script in
    /// its environment; `page` is what the person does on any page the provider shows.
    async fn kinvex(&mut self, args: &[&str], page: &Action) -> Ran {
        let home = self.home.path();
        let browser = format!("sh {}", home.join("browser.sh").display());
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_kinvex"));
        command
            .args(args)
            .env_clear()
            .envs(Settings::for_stack(&self.stack).into_pairs())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home)
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_RUNTIME_DIR", home.join("run"))
            .env("KINVEX_PLAINTEXT_TOKENS", "1")
            .env("BROWSER", browser)
            .current_dir(home)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let child = command.spawn().expect("kinvex runs");
        let mut output = std::pin::pin!(child.wait_with_output());
        let mut bound = std::pin::pin!(tokio::time::sleep(BOUND));
        let mut opened = Vec::new();
        loop {
            tokio::select! {
                output = &mut output => {
                    return Ran { output: output.expect("kinvex ends"), opened };
                }
                url = self.urls.next() => {
                    let followed = self.browser.authorize(&url, page, true).await;
                    if let Err(e) = followed {
                        panic!("the browser could not follow {url}: {e}");
                    }
                    opened.push(url);
                }
                () = &mut bound => panic!("kinvex {args:?} did not end within {BOUND:?}"),
            }
        }
    }

    /// `kinvex ARGS` that opens no browser.
    async fn run(&mut self, args: &[&str]) -> Ran {
        let ran = self.kinvex(args, &Action::Cancel).await;
        assert!(ran.opened.is_empty(), "{:?}", ran.opened);
        ran
    }

    /// The access token's organisation, as `whoami --json` reports it.
    async fn org_code(&mut self) -> String {
        let whoami = self.run(&["whoami", "--json"]).await.json();
        whoami["access"]["org_code"]
            .as_str()
            .unwrap_or_else(|| panic!("no org_code: {whoami}"))
            .to_string()
    }
}

fn prompt_of(url: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "prompt")
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn both_organisations_are_listed_and_a_switch_with_a_browser_session_shows_no_page() {
    let mut dana = signed_in().await;
    let listed = dana.run(&["org", "list", "--json"]).await.json();
    assert_eq!(
        listed,
        serde_json::json!([
            { "code": DEMO_ORG, "name": "Northwind Studio", "current": true },
            { "code": DEFAULT_ORG, "name": "Kinvex", "current": false },
        ])
    );
    let table = dana.run(&["org", "list"]).await;
    assert_eq!(
        table.stdout(),
        "* Northwind Studio  org_kinvex_demo\n  Kinvex            org_kinvex_default\n",
        "{}",
        table.text()
    );
    assert_eq!(dana.org_code().await, DEMO_ORG);

    // Any page would be cancelled, failing the switch: it must need none.
    let switched = dana
        .kinvex(&["org", "switch", DEFAULT_ORG], &Action::Cancel)
        .await;
    assert!(switched.output.status.success(), "{}", switched.text());
    assert_eq!(
        switched.stdout(),
        "Switched to Kinvex (org_kinvex_default).\n"
    );
    assert_eq!(switched.opened.len(), 1, "{:?}", switched.opened);
    assert_eq!(prompt_of(&switched.opened[0]).as_deref(), Some("none"));
    assert_eq!(dana.org_code().await, DEFAULT_ORG);
    let listed = dana.run(&["org", "list", "--json"]).await.json();
    assert_eq!(listed[1]["current"], true, "{listed}");
    assert_eq!(listed[0]["current"], false, "{listed}");
}

#[tokio::test]
async fn without_a_browser_session_the_switch_opens_the_page_once() {
    let mut dana = signed_in().await;
    dana.browser = UserAgent::new();
    let demo = sign_in_as(&dana.stack.accounts[0]);
    let switched = dana
        .kinvex(&["org", "switch", DEFAULT_ORG, "--json"], &demo)
        .await;
    assert_eq!(
        switched.json(),
        serde_json::json!({ "code": DEFAULT_ORG, "name": "Kinvex", "current": true })
    );
    assert_eq!(switched.opened.len(), 2, "{:?}", switched.opened);
    assert_eq!(prompt_of(&switched.opened[0]).as_deref(), Some("none"));
    assert_eq!(prompt_of(&switched.opened[1]), None);
    assert!(
        switched.text().contains("Your browser is not signed in"),
        "{}",
        switched.text()
    );
    assert_eq!(dana.org_code().await, DEFAULT_ORG);
}

#[tokio::test]
async fn a_switch_to_an_organisation_one_is_not_in_fails_clearly_and_keeps_the_session() {
    let mut dana = signed_in().await;
    let refused = dana
        .kinvex(&["org", "switch", "org_not_hers"], &Action::Cancel)
        .await;
    assert_eq!(refused.output.status.code(), Some(1), "{}", refused.text());
    assert!(refused.output.stdout.is_empty(), "{}", refused.text());
    let err = String::from_utf8_lossy(&refused.output.stderr);
    assert!(
        err.ends_with(
            "error: You are not a member of the organization \"org_not_hers\", so you cannot switch to it. You are still signed in to Northwind Studio (org_kinvex_demo). See your organizations with `kinvex org list`. [not_a_member]\n"
        ),
        "{err}"
    );
    assert_eq!(dana.org_code().await, DEMO_ORG);
    let status = dana.run(&["status"]).await;
    assert!(status.output.status.success(), "{}", status.text());
}

#[tokio::test]
async fn create_makes_a_new_organisation_current() {
    let mut dana = signed_in().await;
    let created = dana
        .kinvex(&["org", "create", "Acme Labs", "--json"], &Action::Cancel)
        .await;
    let new = created.json();
    assert_eq!(new["name"], "Acme Labs", "{new}");
    assert_eq!(new["current"], true, "{new}");
    let code = new["code"].as_str().unwrap().to_string();
    assert!(code.starts_with("org_") && code != DEMO_ORG && code != DEFAULT_ORG);
    assert_eq!(dana.org_code().await, code);
    let listed = dana.run(&["org", "list", "--json"]).await.json();
    let codes: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, [DEMO_ORG, DEFAULT_ORG, code.as_str()]);

    let text = dana
        .kinvex(&["org", "create", "Beta Co"], &Action::Cancel)
        .await;
    assert!(text.output.status.success(), "{}", text.text());
    assert!(
        text.stdout()
            .starts_with("Created and switched to Beta Co (org_"),
        "{}",
        text.text()
    );
}

#[tokio::test]
async fn files_belong_to_the_person_in_every_organisation() {
    let mut dana = signed_in().await;
    let path = dana.home.path().join("minutes.txt");
    std::fs::write(&path, "the minutes").unwrap();
    let uploaded = dana.run(&["upload", path.to_str().unwrap()]).await;
    assert!(uploaded.output.status.success(), "{}", uploaded.text());
    let names = |files: Value| -> Vec<String> {
        files
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_string())
            .collect()
    };
    let before = names(
        dana.run(&["files", "--json", "--limit", "100"])
            .await
            .json(),
    );
    assert!(before.contains(&"minutes.txt".to_string()), "{before:?}");

    let switched = dana
        .kinvex(&["org", "switch", DEFAULT_ORG], &Action::Cancel)
        .await;
    assert!(switched.output.status.success(), "{}", switched.text());
    assert_eq!(dana.org_code().await, DEFAULT_ORG);
    let after = names(
        dana.run(&["files", "--json", "--limit", "100"])
            .await
            .json(),
    );
    assert_eq!(after, before, "the same files, whichever organisation");
}
