//! The backend's public API as a Convex deployment serves it (get-convex/convex-backend
//! crates/local_backend/src/public_api.rs): the endpoints the official clients call, what it
//! refuses and with which code, function errors as deployments word them in development and in
//! production, and numbers written as floats.

#![allow(clippy::unwrap_used)]

use kinvex_devstack::Running;
use kinvex_test_kit::backend::call;
use kinvex_test_kit::oauth::{demo, sign_in};
use kinvex_test_kit::shipped::{stack, stack_with};
use serde_json::{Value, json};

async fn token(stack: &Running) -> String {
    sign_in(stack, &demo(stack), &[]).await["id_token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `POST {api}{path}` with a raw body and headers: the status and the body as JSON (or text).
async fn post(
    stack: &Running,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}{path}", stack.api_url()))
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

const JSON: (&str, &str) = ("content-type", "application/json");

/// A request that must be refused: path, headers, body, and the status and code expected.
type Refused<'a> = (&'a str, Vec<(&'a str, &'a str)>, String, u16, &'a str);

#[tokio::test]
async fn requests_are_refused_with_convex_codes() {
    let stack = stack().await;
    let cases: Vec<Refused> = vec![
        (
            "/api/query",
            vec![JSON],
            json!({ "path": "users:current" }).to_string(),
            400,
            "BadJsonBody",
        ),
        (
            "/api/query",
            vec![],
            json!({ "path": "users:current", "args": {} }).to_string(),
            400,
            "BadJsonBody",
        ),
        ("/api/query", vec![JSON], "{".into(), 400, "BadJsonBody"),
        (
            "/api/query",
            vec![JSON, ("convex-client", "npm-0.19.0")],
            json!({ "path": "users:current", "args": {} }).to_string(),
            400,
            "ClientVersionUnsupported",
        ),
        (
            "/api/query",
            vec![JSON, ("convex-client", "noversion")],
            json!({ "path": "users:current", "args": {} }).to_string(),
            400,
            "InvalidClientVersion",
        ),
        (
            "/api/run/users",
            vec![JSON],
            json!({ "args": {} }).to_string(),
            400,
            "MissingIdentifier",
        ),
        (
            "/api/query",
            vec![JSON],
            json!({ "path": "users:current", "args": {}, "format": "xml" }).to_string(),
            400,
            "BadFormat",
        ),
        (
            "/api/function",
            vec![JSON],
            json!({ "path": "users:current", "args": {} }).to_string(),
            403,
            "BadDeployKey",
        ),
    ];
    for (path, headers, body, status, code) in cases {
        let (got, answer) = post(&stack, path, &headers, body.clone()).await;
        assert_eq!(
            (got, answer["code"].as_str()),
            (status, Some(code)),
            "{path} {body}: {answer}"
        );
    }
    let (_, missing) = post(
        &stack,
        "/api/query",
        &[JSON],
        json!({ "path": "users:current" }).to_string(),
    )
    .await;
    assert!(
        missing["message"]
            .as_str()
            .unwrap()
            .contains("missing field `args`"),
        "{missing}"
    );
}

#[tokio::test]
async fn format_aliases_plus_json_types_and_16_mib_bodies_are_accepted() {
    let stack = stack().await;
    for format in [
        "json",
        "convex_json",
        "convex_clean_json",
        "convex_encoded_json",
        "export_json",
    ] {
        let body = json!({ "path": "users:current", "args": {}, "format": format }).to_string();
        let (status, answer) = post(&stack, "/api/query", &[JSON], body).await;
        assert_eq!(
            (status, answer["status"].as_str()),
            (200, Some("error")),
            "{format}: {answer}"
        );
        assert_eq!(answer["errorData"]["code"], "UNAUTHENTICATED");
    }
    let body = json!({ "path": "users:current", "args": {} }).to_string();
    let (status, _) = post(
        &stack,
        "/api/query",
        &[("content-type", "application/vnd.kinvex+json")],
        body,
    )
    .await;
    assert_eq!(status, 200, "application/*+json is JSON");

    let padding = "x".repeat(16 * 1024 * 1024 - 100);
    let big = json!({ "path": "users:current", "args": {}, "padding": padding }).to_string();
    let (status, answer) = post(&stack, "/api/query", &[JSON], big).await;
    assert_eq!(status, 200, "16 MiB is within the limit: {answer}");
    let padding = "x".repeat(16 * 1024 * 1024 + 4096);
    let too_big = json!({ "path": "users:current", "args": {}, "padding": padding }).to_string();
    let (status, answer) = post(&stack, "/api/query", &[JSON], too_big).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("BadJsonBody"))
    );
    assert_eq!(
        answer["message"],
        "Failed to buffer the request body: length limit exceeded"
    );
}

#[tokio::test]
async fn function_errors_carry_a_request_id_and_the_error_in_development() {
    let stack = stack().await;
    let (status, body) = call(&stack, "query", "users:current", json!({}), None).await;
    assert_eq!(status, 200);
    let message = body["errorMessage"].as_str().unwrap();
    let (id, rest) = message
        .strip_prefix("[Request ID: ")
        .and_then(|m| m.split_once("] "))
        .unwrap();
    assert!(
        id.len() == 16 && id.chars().all(|c| c.is_ascii_hexdigit()),
        "{message}"
    );
    assert_eq!(
        rest,
        "Server Error\nUncaught ConvexError: {\"code\":\"UNAUTHENTICATED\",\"message\":\"Sign in to continue.\"}\n"
    );
    assert_eq!(
        body["errorData"],
        json!({ "code": "UNAUTHENTICATED", "message": "Sign in to continue." })
    );
    assert!(body.get("logLines").is_none(), "no empty logLines: {body}");

    let (_, body) = call(&stack, "query", "users:everyone", json!({}), None).await;
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .ends_with("Server Error\nCould not find public function for 'users:everyone'.\n"),
        "{body}"
    );
    assert!(body.get("errorData").is_none());
}

#[tokio::test]
async fn a_production_deployment_redacts_function_errors_but_keeps_their_data() {
    let stack = stack_with(|c| c.production = true).await;
    let (_, body) = call(&stack, "query", "users:current", json!({}), None).await;
    let message = body["errorMessage"].as_str().unwrap();
    assert!(
        message.starts_with("[Request ID: ") && message.ends_with("] Server Error"),
        "{message}"
    );
    assert_eq!(body["errorData"]["code"], "UNAUTHENTICATED");
    let (_, body) = call(&stack, "query", "users:everyone", json!({}), None).await;
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .ends_with("] Server Error"),
        "{body}"
    );
}

#[tokio::test]
async fn numbers_are_floats_and_pages_carry_split_cursor_and_page_status() {
    let stack = stack().await;
    let token = token(&stack).await;
    let response = reqwest::Client::new()
        .post(format!("{}/api/query", stack.api_url()))
        .bearer_auth(&token)
        .json(&json!({ "path": "files:list", "args": { "paginationOpts": { "numItems": 2, "cursor": null } }, "format": "json" }))
        .send()
        .await
        .unwrap();
    let text = response.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    let value = &body["value"];
    assert_eq!(value["splitCursor"], Value::Null, "{text}");
    assert_eq!(value["pageStatus"], Value::Null);
    assert!(value.get("splitCursor").is_some() && value.get("pageStatus").is_some());
    let size = value["page"][0]["size"].as_f64().unwrap();
    assert!(
        text.contains(&format!("\"size\":{size:?}")) && format!("{size:?}").contains('.'),
        "a v.number() is written as a float: {text}"
    );

    let (_, body) = call(
        &stack,
        "query",
        "files:list",
        json!({ "paginationOpts": { "numItems": 2 } }),
        Some(&token),
    )
    .await;
    assert_eq!(body["status"], "error", "cursor is required: {body}");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("ArgumentValidationError: Object is missing the required field `cursor`"),
        "{body}"
    );
}

#[tokio::test]
async fn the_official_clients_endpoints_answer_as_convex_does() {
    let stack = stack().await;
    let token = token(&stack).await;
    let bearer = format!("Bearer {token}");
    let auth = [JSON, ("authorization", bearer.as_str())];

    let batch = json!({ "queries": [
        { "path": "users:current", "args": {}, "format": "json" },
        { "path": "users:store", "args": {}, "format": "json" },
    ] });
    let (status, body) = post(&stack, "/api/query_batch", &auth, batch.to_string()).await;
    assert_eq!(status, 200, "{body}");
    let results = body["results"].as_array().unwrap();
    assert_eq!(
        results[0]["value"]["kindeId"],
        stack.accounts[0].user_id.as_str()
    );
    assert!(
        results[1]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("Trying to execute users.js:store as Query, but it is defined as Mutation."),
        "{body}"
    );

    let (status, ts) = post(&stack, "/api/query_ts", &[], "").await;
    assert_eq!(status, 200);
    let ts = ts["ts"].as_str().unwrap().to_string();
    let at = json!({ "path": "users:current", "args": {}, "ts": ts, "format": "json" });
    let (status, body) = post(&stack, "/api/query_at_ts", &auth, at.to_string()).await;
    assert_eq!(status, 200);
    assert_eq!(body["value"]["kindeId"], stack.accounts[0].user_id.as_str());

    let (status, body) = post(
        &stack,
        "/api/run/users/current",
        &auth,
        json!({ "args": {} }).to_string(),
    )
    .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("success")));

    // A deployment reads GET's `args` into a raw JSON value a query string cannot fill.
    let response = reqwest::Client::new()
        .get(format!(
            "{}/api/query?path=users:current&args=%7B%7D&format=json",
            stack.api_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "BadQueryArgs", "{body}");
}

#[tokio::test]
async fn identity_claims_reach_functions_with_convex_names() {
    let stack = stack().await;
    let now = stack.state.clock.unix();
    let token = stack.state.keys().sign(&json!({
        "iss": stack.issuer(), "sub": "kp_claims", "aud": [stack.state.config.client_id],
        "iat": now, "exp": now + 600, "email": "c@example.com", "given_name": "Cleo",
        "family_name": null, "picture": "https://example.com/c.png", "phone_number": "+1 555",
        "updated_at": now
    }));
    let (_, stored) = call(&stack, "mutation", "users:store", json!({}), Some(&token)).await;
    assert!(stored["value"].is_string(), "{stored}");
    let (_, current) = call(&stack, "query", "users:current", json!({}), Some(&token)).await;
    let user = &current["value"];
    assert_eq!(user["firstName"], "Cleo");
    assert_eq!(
        user["pictureUrl"], "https://example.com/c.png",
        "picture is pictureUrl"
    );
    assert_eq!(user["phone"], "+1 555", "phone_number is phoneNumber");
    assert!(
        user.get("lastName").is_none(),
        "a null name is no name: {user}"
    );
}
