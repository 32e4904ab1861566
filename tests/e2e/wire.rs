//! Wire compatibility: the official `convex` npm package's ConvexHttpClient, pinned in
//! tests/wire/package.json, calls the local backend and gets the results and errors a real
//! deployment would give it.

use kinvex_devstack::{Config, start};
use kinvex_e2e::repo_root;
use serde_json::{Value, json};

#[tokio::test]
async fn the_official_convex_http_client_gets_the_right_results_and_errors() {
    let stack = start(Config::default()).await.expect("stack starts");
    let demo = &stack.accounts[0];
    let now = stack.state.clock.unix();
    let claims = |exp: i64| {
        json!({
            "iss": stack.issuer(), "sub": demo.user_id, "aud": [stack.state.config.client_id],
            "iat": now - 20, "exp": exp, "email": demo.email, "given_name": "Dana"
        })
    };
    let token = stack.state.keys().sign(&claims(now + 600));
    let expired = stack.state.keys().sign(&claims(now - 10));

    let wire = repo_root().join("tests/wire");
    assert!(
        wire.join("node_modules/convex").is_dir(),
        "tests/wire/node_modules is missing: run `npm ci` there (cargo xtask test does)"
    );
    let output = tokio::process::Command::new("node")
        .arg(wire.join("http-client.mjs"))
        .current_dir(&wire)
        .env("CONVEX_URL", stack.api_url())
        .env("CONVEX_TOKEN", &token)
        .env("CONVEX_EXPIRED_TOKEN", &expired)
        .output()
        .await
        .expect("node runs (install Node.js 20 or later)");
    assert!(
        output.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Value = serde_json::from_slice(&output.stdout).expect("the script prints JSON");

    let anonymous = &results["anonymous"]["error"];
    assert_eq!(anonymous["name"], "ConvexError", "{results}");
    assert_eq!(
        anonymous["data"],
        json!({ "code": "UNAUTHENTICATED", "message": "Sign in to continue." }),
        "a ConvexError's data reaches the client intact"
    );
    let message = anonymous["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("[Request ID: ")
            && message.contains("] Server Error\nUncaught ConvexError: {"),
        "worded as a development deployment words it: {message}"
    );
    assert_eq!(
        results["current"]["value"]["kindeId"],
        demo.user_id.as_str(),
        "{results}"
    );
    let files = &results["files"]["value"];
    assert_eq!(files["page"].as_array().map(Vec::len), Some(5), "{results}");
    assert_eq!(files["isDone"], false);
    assert!(files["continueCursor"].is_string());
    assert!(results["stored"]["value"].is_string(), "{results}");
    let other_owner = results["otherOwner"]["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(other_owner.contains("ArgumentValidationError"), "{results}");
    let missing = results["missing"]["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        missing.contains("Could not find public function for 'users:everyone'"),
        "{results}"
    );
    let expired = results["expired"]["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        expired.contains("Could not verify OIDC token") && expired.contains("\"Unauthenticated\""),
        "an expired token is a 401 Unauthenticated: {results}"
    );
    let wrong_kind = results["wrongKind"]["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        wrong_kind
            .contains("Trying to execute users.js:current as Action, but it is defined as Query."),
        "{results}"
    );
    let no_cursor = results["noCursor"]["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        no_cursor.contains("Object is missing the required field `cursor`"),
        "{results}"
    );
    assert_eq!(
        results["consistent"]["value"]["kindeId"],
        demo.user_id.as_str(),
        "query_ts and query_at_ts: {results}"
    );
    let any_function = results["anyFunction"]["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(any_function.contains("BadDeployKey"), "{results}");
    let raw = results["rawFiles"].as_str().unwrap_or_default();
    let page: Value = serde_json::from_str(raw).unwrap_or_default();
    let size = page["value"]["page"][0]["size"].as_f64().unwrap_or(-1.0);
    assert!(
        raw.contains(&format!("\"size\":{size:?}")) && format!("{size:?}").ends_with(".0"),
        "sizes are written as floats: {raw}"
    );
    assert!(
        results["files"]["value"]["splitCursor"].is_null()
            && results["files"]["value"]
                .as_object()
                .is_some_and(|v| v.contains_key("pageStatus")),
        "{results}"
    );

    stack.stop().await;
}
