//! File storage with the official `convex` npm package as the client: tests/wire/storage-client.mjs
//! uploads, saves, lists, downloads (whole and a range) and removes a file against the local stack
//! exactly as Convex's docs write that client, so a client written for a real deployment works
//! against the stack unchanged.

use kinvex_devstack::{Config, start};
use kinvex_e2e::repo_root;
use serde_json::{Value, json};

#[tokio::test]
async fn the_official_convex_client_uploads_saves_downloads_and_removes_a_file() {
    let stack = start(Config::default()).await.expect("stack starts");
    let demo = &stack.accounts[0];
    let now = stack.state.clock.unix();
    let token = stack.state.keys().sign(&json!({
        "iss": stack.issuer(), "sub": demo.user_id, "aud": [stack.state.config.client_id],
        "iat": now - 20, "exp": now + 600,
    }));
    let wire = repo_root().join("tests/wire");
    assert!(
        wire.join("node_modules/convex").is_dir(),
        "tests/wire/node_modules is missing: run `npm ci` there (cargo xtask test does)"
    );
    let output = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        tokio::process::Command::new("node")
            .arg(wire.join("storage-client.mjs"))
            .current_dir(&wire)
            .env("CONVEX_URL", stack.api_url())
            .env("CONVEX_TOKEN", &token)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the script finishes within a minute")
    .expect("node runs (install Node.js 20 or later)");
    assert!(
        output.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Value = serde_json::from_slice(&output.stdout).expect("the script prints JSON");

    let post_url = results["postUrl"].as_str().unwrap_or_default();
    assert!(
        post_url.starts_with(&format!("{}/api/storage/upload?token=", stack.api_url())),
        "{results}"
    );
    assert_eq!(results["uploadStatus"], 200, "{results}");
    assert_eq!(results["listed"]["name"], "hello.txt", "{results}");
    assert_eq!(results["listed"]["contentType"], "text/plain", "{results}");
    assert_eq!(results["listed"]["size"], 32, "{results}");
    assert_eq!(results["listed"]["storageId"], results["storageId"]);
    assert!(
        results["url"]
            .as_str()
            .is_some_and(|u| u.starts_with(&format!("{}/api/storage/", stack.api_url()))),
        "{results}"
    );
    let get = &results["get"];
    assert_eq!(get["status"], 200, "{results}");
    assert_eq!(get["contentType"], "text/plain");
    assert_eq!(get["contentLength"], "32");
    assert_eq!(get["sha256"], get["expectedSha256"], "the bytes came back");
    assert_eq!(
        get["digest"],
        format!(
            "sha-256={}",
            get["expectedSha256"].as_str().unwrap_or_default()
        )
    );
    assert_eq!(
        results["range"],
        json!({ "status": 206, "contentRange": "bytes 0-4/32", "text": "Hello" })
    );
    assert_eq!(
        results["saveAgain"]["error"]["name"], "ConvexError",
        "{results}"
    );
    assert_eq!(
        results["saveAgain"]["error"]["data"]["code"],
        "ALREADY_SAVED"
    );
    assert_eq!(results["afterRemove"]["status"], 404, "{results}");
    assert_eq!(results["afterRemove"]["body"]["code"], "FileNotFound");
    stack.stop().await;
}
