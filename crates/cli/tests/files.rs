//! `kinvex files --sort` and `--search`: the real binary against a local stack in this process,
//! signed in as the demo person (whose fourteen seeded files the stack holds) through the
//! plaintext token file the binary reads with `KINVEX_PLAINTEXT_TOKENS=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use kinvex_auth::SignInOptions;
use kinvex_auth::token_store::PlaintextFile;
use kinvex_devstack::Running;
use kinvex_test_kit::browser::{HeadlessBrowser, sign_in_as};
use kinvex_test_kit::env::Settings;
use kinvex_test_kit::stack;
use serde_json::Value;
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

/// Every run of the binary ends by then.
const BOUND: Duration = Duration::from_secs(60);

/// The demo person signed in to a fresh stack, in a home of the test's own.
struct Signed {
    stack: Running,
    home: TempDir,
}

async fn signed_in() -> Signed {
    let stack = stack::start(None).await;
    let home = tempfile::tempdir().unwrap();
    let mut private = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut private, 0o700);
    private.create(home.path().join("run")).unwrap();
    let tokens = home.path().join("data/kinvex/tokens.json");
    let auth = stack::auth(
        Settings::for_stack(&stack).config(),
        Box::new(PlaintextFile::new(tokens)),
        Arc::new(HeadlessBrowser::new(sign_in_as(&stack.accounts[0]))),
    );
    stack::sign_in(&auth, &SignInOptions::default()).await;
    Signed { stack, home }
}

impl Signed {
    /// `kinvex ARGS` with only the stack's settings and the test's home in its environment.
    async fn kinvex(&self, args: &[&str]) -> Output {
        let home = self.home.path();
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_kinvex"));
        command
            .args(args)
            .env_clear()
            .envs(Settings::for_stack(&self.stack).into_pairs())
            .env("HOME", home)
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_RUNTIME_DIR", home.join("run"))
            .env("KINVEX_PLAINTEXT_TOKENS", "1")
            .current_dir(home)
            .kill_on_drop(true);
        tokio::time::timeout(BOUND, command.output())
            .await
            .expect("kinvex ends in time")
            .expect("kinvex runs")
    }

    /// `kinvex files --json ARGS`: the names, in the order printed.
    async fn names(&self, args: &[&str]) -> Vec<String> {
        let output = self
            .kinvex(&[&["files", "--json", "--limit", "100"], args].concat())
            .await;
        assert!(output.status.success(), "{}", text(&output));
        json(&output)
            .as_array()
            .expect("an array")
            .iter()
            .map(|f| f["name"].as_str().expect("a name").to_string())
            .collect()
    }
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("one JSON document ({e}): {}", text(output)))
}

#[tokio::test]
async fn sort_orders_by_name_and_by_size() {
    let dana = signed_in().await;

    let by_name = dana.names(&["--sort", "name"]).await;
    assert_eq!(by_name.len(), 14, "{by_name:?}");
    let mut bytewise = by_name.clone();
    bytewise.sort();
    assert_eq!(by_name, bytewise, "A to Z by the name's bytes");
    assert_eq!(by_name[0], "<b>not bold</b> & \"quoted\".html");
    assert_eq!(by_name[1], "Budget 2026.xlsx");
    assert_eq!(
        by_name[12..],
        ["data-export.json", "Архив проекта.zip"],
        "capitals before small letters, Cyrillic last"
    );

    let output = dana
        .kinvex(&["files", "--json", "--limit", "100", "--sort", "size"])
        .await;
    assert!(output.status.success(), "{}", text(&output));
    let listed = json(&output);
    let sizes: Vec<u64> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["size"].as_u64().unwrap())
        .collect();
    assert_eq!(sizes.len(), 14);
    assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");
    assert_eq!(listed[0]["name"], "Product demo.mp4");
    assert_eq!(listed[13]["name"], "Empty placeholder");

    // The default is newest first, and says so by agreeing with --sort newest.
    assert_eq!(
        dana.names(&[]).await,
        dana.names(&["--sort", "newest"]).await
    );
    let mut oldest = dana.names(&["--sort", "oldest"]).await;
    oldest.reverse();
    assert_eq!(oldest, dana.names(&[]).await);
}

#[tokio::test]
async fn search_finds_names_ignoring_case_and_says_plainly_when_none_match() {
    let dana = signed_in().await;

    assert_eq!(
        dana.names(&["--search", "PDF", "--sort", "name"]).await,
        ["Invoice 0042.pdf", "Quarterly report.pdf"]
    );
    let table = dana.kinvex(&["files", "--search", "rEpOrT"]).await;
    assert!(table.status.success(), "{}", text(&table));
    let shown = String::from_utf8_lossy(&table.stdout);
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 3, "header, one row, footer: {shown}");
    assert!(lines[1].starts_with("Quarterly report.pdf "), "{shown}");
    assert_eq!(lines[2], "(1 file)");

    let none = dana.kinvex(&["files", "--search", "holiday"]).await;
    assert_eq!(none.status.code(), Some(0), "{}", text(&none));
    assert_eq!(
        String::from_utf8_lossy(&none.stdout),
        "No files match \"holiday\".\n"
    );
    assert!(none.stderr.is_empty(), "{}", text(&none));
    let none = dana
        .kinvex(&["files", "--json", "--search", "holiday"])
        .await;
    assert_eq!(none.status.code(), Some(0), "{}", text(&none));
    assert_eq!(json(&none), serde_json::json!([]));
}

#[tokio::test]
async fn an_unknown_sort_is_a_usage_error_naming_the_orders() {
    let dana = signed_in().await;
    let output = dana.kinvex(&["files", "--sort", "biggest"]).await;
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(output.stdout.is_empty(), "{}", text(&output));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("invalid value 'biggest' for '--sort <ORDER>'")
            && err.contains("[possible values: newest, oldest, name, size]"),
        "{err}"
    );
}
