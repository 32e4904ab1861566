//! `kinvex accounts | switch | logout --account | logout --all`: the real binary with two
//! accounts on one tenant and one on another, each tenant a local stack in this process. One
//! home (so one token file) for all of them, and one browser profile: the binary's BROWSER is a
//! script that hands each URL through a FIFO to the test, whose headless user agent follows it.

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use kinvex_devstack::Running;
use kinvex_devstack::user_agent::{Action, UserAgent};
use kinvex_test_kit::browser::sign_in_as;
use kinvex_test_kit::env::Settings;
use kinvex_test_kit::stack;
use serde_json::Value;
use std::process::{Output, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;
use tempfile::TempDir;
use tokio::net::unix::pipe;

/// Every run of the binary ends by then.
const BOUND: Duration = Duration::from_secs(60);

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

/// A person at a terminal with a browser, and two tenants to sign in to.
struct Desk {
    a: Running,
    b: Running,
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

    fn ok(&self) -> &Ran {
        assert!(self.output.status.success(), "{}", self.text());
        self
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.ok().output.stdout)
            .unwrap_or_else(|e| panic!("one JSON document ({e}): {}", self.text()))
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
}

#[derive(Clone, Copy)]
enum Tenant {
    A,
    B,
}

impl Desk {
    async fn new() -> Desk {
        let (a, b) = tokio::join!(stack::start(None), stack::start(None));
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
        Desk {
            a,
            b,
            home,
            browser: UserAgent::new(),
            urls: Urls {
                fifo,
                read: Vec::new(),
            },
        }
    }

    fn stack(&self, tenant: Tenant) -> &Running {
        match tenant {
            Tenant::A => &self.a,
            Tenant::B => &self.b,
        }
    }

    /// `kinvex ARGS` configured for `tenant`, with only that stack's settings, the desk's home
    /// and the browser script in its environment; `page` is what the person does on any page.
    async fn kinvex(&mut self, tenant: Tenant, args: &[&str], page: &Action) -> Ran {
        let home = self.home.path();
        let browser = format!("sh {}", home.join("browser.sh").display());
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_kinvex"));
        command
            .args(args)
            .env_clear()
            .envs(Settings::for_stack(self.stack(tenant)).into_pairs())
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
                    if let Err(e) = self.browser.authorize(&url, page, true).await {
                        panic!("the browser could not follow {url}: {e}");
                    }
                    opened.push(url);
                }
                () = &mut bound => panic!("kinvex {args:?} did not end within {BOUND:?}"),
            }
        }
    }

    /// `kinvex ARGS` that opens no browser.
    async fn run(&mut self, tenant: Tenant, args: &[&str]) -> Ran {
        let ran = self.kinvex(tenant, args, &Action::Cancel).await;
        assert!(ran.opened.is_empty(), "{:?}", ran.opened);
        ran
    }

    fn exchanges(&self, tenant: Tenant) -> u64 {
        self.stack(tenant)
            .state
            .stats
            .code_exchanges
            .load(Ordering::SeqCst)
    }

    /// The email `status --json` says is signed in on `tenant`.
    async fn signed_in_as(&mut self, tenant: Tenant) -> String {
        let status = self.run(tenant, &["status", "--json"]).await.json();
        status["email"].as_str().unwrap_or_default().to_string()
    }
}

/// `(email, issuer, active, this_tenant)` of each account `accounts --json` lists.
fn listed(accounts: &Value) -> Vec<(String, String, bool, bool)> {
    accounts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["email"].as_str().unwrap().to_string(),
                a["issuer"].as_str().unwrap().to_string(),
                a["active"].as_bool().unwrap(),
                a["this_tenant"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn two_accounts_on_two_tenants_are_listed_switched_without_a_browser_and_signed_out_apart() {
    let mut desk = Desk::new().await;
    let (a, b) = (desk.a.issuer().to_string(), desk.b.issuer().to_string());
    let dana = desk.a.accounts[0].clone();
    let alex = desk.a.accounts[1].clone();

    // Dana signs in on tenant A, then Alex is added there by a plain `login` (signed in
    // already, it shows the page), then Dana signs in on tenant B.
    desk.kinvex(Tenant::A, &["login"], &sign_in_as(&dana))
        .await
        .ok();
    let added = desk.kinvex(Tenant::A, &["login"], &sign_in_as(&alex)).await;
    assert!(
        added.ok().stdout().contains(&alex.email),
        "{}",
        added.text()
    );
    let dana_b = desk.b.accounts[0].clone();
    desk.kinvex(Tenant::B, &["login"], &sign_in_as(&dana_b))
        .await
        .ok();
    assert_eq!(desk.signed_in_as(Tenant::A).await, alex.email);

    let accounts = desk.run(Tenant::A, &["accounts", "--json"]).await.json();
    assert_eq!(
        listed(&accounts),
        [
            (dana.email.clone(), a.clone(), false, true),
            (alex.email.clone(), a.clone(), true, true),
            (dana_b.email.clone(), b.clone(), true, false),
        ],
        "{accounts}"
    );
    let table = desk.run(Tenant::A, &["accounts"]).await;
    let stdout = table.stdout();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", table.text());
    assert!(
        lines[1].starts_with("* ") && lines[1].contains(&alex.email),
        "{}",
        table.text()
    );
    assert!(
        lines[2].ends_with(&format!("{b} (other tenant, active there)")),
        "{}",
        table.text()
    );

    // Back to Dana on A: her stored session, no page, no code exchanged.
    let exchanged = desk.exchanges(Tenant::A);
    let switched = desk.run(Tenant::A, &["switch", &dana.email]).await;
    assert!(
        switched.ok().stdout().starts_with("Switched to "),
        "{}",
        switched.text()
    );
    assert!(
        switched.stdout().contains(&dana.email),
        "{}",
        switched.text()
    );
    assert_eq!(desk.exchanges(Tenant::A), exchanged);
    assert_eq!(desk.signed_in_as(Tenant::A).await, dana.email);
    assert_eq!(
        desk.signed_in_as(Tenant::B).await,
        dana_b.email,
        "B unchanged"
    );

    // Alex is only on A: from B's settings, the switch says which settings to use.
    let elsewhere = desk.run(Tenant::B, &["switch", &alex.email]).await;
    assert_eq!(
        elsewhere.output.status.code(),
        Some(1),
        "{}",
        elsewhere.text()
    );
    assert!(
        elsewhere
            .stderr()
            .contains(&format!("KINDE_ISSUER_URL={a}"))
            && elsewhere.stderr().ends_with("[account_on_other_tenant]\n"),
        "{}",
        elsewhere.text()
    );
    let unknown = desk.run(Tenant::A, &["switch", "nobody@example.com"]).await;
    assert!(
        unknown.stderr().ends_with("[no_such_account]\n"),
        "{}",
        unknown.text()
    );

    // Signing Alex out leaves Dana signed in on both tenants.
    let out = desk
        .run(
            Tenant::A,
            &["logout", "--account", &alex.email, "--no-browser", "--json"],
        )
        .await
        .json();
    assert_eq!(out["accounts"][0]["email"], alex.email.as_str(), "{out}");
    let accounts = desk.run(Tenant::A, &["accounts", "--json"]).await.json();
    assert_eq!(
        listed(&accounts),
        [
            (dana.email.clone(), a.clone(), true, true),
            (dana_b.email.clone(), b.clone(), true, false),
        ],
        "{accounts}"
    );
    assert_eq!(desk.signed_in_as(Tenant::A).await, dana.email);
    let gone = desk.run(Tenant::A, &["switch", &alex.email]).await;
    assert!(
        gone.stderr().ends_with("[no_such_account]\n"),
        "{}",
        gone.text()
    );

    // `--all`, from B's settings, signs out every account of every tenant.
    desk.run(Tenant::B, &["logout", "--all", "--no-browser"])
        .await
        .ok();
    let accounts = desk.run(Tenant::A, &["accounts", "--json"]).await.json();
    assert_eq!(accounts, serde_json::json!([]));
    for tenant in [Tenant::A, Tenant::B] {
        let status = desk.run(tenant, &["status"]).await;
        assert_eq!(status.output.status.code(), Some(1), "{}", status.text());
    }
}
