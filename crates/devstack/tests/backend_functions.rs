//! The backend's wire format and functions: HTTP errors for bad requests, function errors in a
//! 200, files only ever the caller's own, and pagination without gaps or repeats.

#![allow(clippy::unwrap_used)]

use kinvex_test_kit::backend::call;
use kinvex_test_kit::oauth::{demo, other, sign_in};
use kinvex_test_kit::shipped::{stack, stack_with};
use serde_json::{Value, json};

#[tokio::test]
async fn wire_format_errors_are_http_errors_and_function_errors_are_200() {
    let stack = stack().await;
    let http = reqwest::Client::new();
    let url = format!("{}/api/query", stack.api_url());
    let no_type = http
        .post(&url)
        .body(r#"{"path":"users:current","args":{}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(no_type.status(), 400);
    let bad_json = http
        .post(&url)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_json.status(), 400);
    let bad_client = http
        .post(&url)
        .header("content-type", "application/json")
        .header("convex-client", "noversion")
        .body(r#"{"path":"users:current","args":{}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad_client.status(), 400);

    let (status, body) = call(&stack, "query", "nope:missing", json!({}), None).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("error")));
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("Could not find public function for 'nope:missing'")
    );
    let (_, body) = call(&stack, "mutation", "users:current", json!({}), None).await;
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .ends_with("Server Error\nTrying to execute users.js:current as Mutation, but it is defined as Query.\n"),
        "a query is not a mutation: {body}"
    );

    let (status, body) = call(&stack, "query", "users:current", json!({}), None).await;
    assert_eq!(status, 200);
    assert_eq!(body["errorData"]["code"], "UNAUTHENTICATED");

    let run = http
        .post(format!("{}/api/run/users/current", stack.api_url()))
        .header("content-type", "application/json")
        .body(r#"{"args":{},"format":"json"}"#)
        .send()
        .await
        .unwrap();
    let run: Value = run.json().await.unwrap();
    assert_eq!(
        run["errorData"]["code"], "UNAUTHENTICATED",
        "/api/run reaches the same function"
    );
}

#[tokio::test]
async fn files_are_the_callers_own_whatever_the_arguments_say() {
    let stack = stack().await;
    let demo_token = sign_in(&stack, &demo(&stack), &[]).await["id_token"]
        .as_str()
        .unwrap()
        .to_string();
    let other_token = sign_in(&stack, &other(&stack), &[]).await["id_token"]
        .as_str()
        .unwrap()
        .to_string();
    let demo_id = stack.accounts[0].user_id.clone();
    let other_id = stack.accounts[1].user_id.clone();
    let page = json!({ "numItems": 100, "cursor": null });

    let (_, mine) = call(
        &stack,
        "query",
        "files:list",
        json!({ "paginationOpts": page }),
        Some(&other_token),
    )
    .await;
    let owners: Vec<&str> = mine["value"]["page"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["owner"].as_str().unwrap())
        .collect();
    assert_eq!(owners.len(), 3);
    assert!(owners.iter().all(|o| *o == other_id));

    // Naming the other person anywhere is refused by the validator, never obeyed.
    for args in [
        json!({ "paginationOpts": page, "kindeId": demo_id }),
        json!({ "paginationOpts": page, "owner": demo_id }),
        json!({ "paginationOpts": page, "userId": demo_id }),
    ] {
        let (status, body) = call(&stack, "query", "files:list", args, Some(&other_token)).await;
        assert_eq!(status, 200);
        assert_eq!(body["status"], "error");
        assert!(
            body["errorMessage"]
                .as_str()
                .unwrap()
                .contains("ArgumentValidationError"),
            "{body}"
        );
    }
    let (_, body) = call(
        &stack,
        "query",
        "users:current",
        json!({ "kindeId": demo_id }),
        Some(&other_token),
    )
    .await;
    assert_eq!(body["status"], "error");

    let (_, body) = call(
        &stack,
        "query",
        "files:list",
        json!({ "paginationOpts": page }),
        Some(&demo_token),
    )
    .await;
    assert!(
        body["value"]["page"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["owner"] == demo_id)
    );
}

#[tokio::test]
async fn files_page_without_gaps_or_repeats() {
    let stack = stack_with(|c| c.extra_demo_files = 45).await;
    let token = sign_in(&stack, &demo(&stack), &[]).await["id_token"]
        .as_str()
        .unwrap()
        .to_string();
    let mut cursor = Value::Null;
    let mut seen = Vec::new();
    loop {
        let args = json!({ "paginationOpts": { "numItems": 20, "cursor": cursor } });
        let (_, body) = call(&stack, "query", "files:list", args, Some(&token)).await;
        let value = &body["value"];
        for file in value["page"].as_array().unwrap() {
            seen.push((
                file["_creationTime"].as_f64().unwrap(),
                file["_id"].as_str().unwrap().to_string(),
            ));
        }
        if value["isDone"].as_bool().unwrap() {
            break;
        }
        cursor = value["continueCursor"].clone();
    }
    assert_eq!(seen.len(), 14 + 45);
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.partial_cmp(a).unwrap());
    sorted.dedup();
    assert_eq!(seen, sorted, "newest first, no repeats");
}

#[tokio::test]
async fn store_creates_the_caller_when_no_webhook_arrived() {
    let stack = stack().await;
    let now = stack.state.clock.unix();
    let newcomer = json!({
        "iss": stack.issuer(), "sub": "kp_newcomer", "aud": [stack.state.config.client_id],
        "iat": now, "exp": now + 600, "email": "new@example.com", "given_name": "Nia"
    });
    let token = stack.state.keys().sign(&newcomer);
    let (_, before) = call(&stack, "query", "users:current", json!({}), Some(&token)).await;
    assert_eq!(before["value"], Value::Null);
    let (_, stored) = call(&stack, "mutation", "users:store", json!({}), Some(&token)).await;
    assert!(stored["value"].is_string(), "{stored}");
    let (_, after) = call(&stack, "query", "users:current", json!({}), Some(&token)).await;
    assert_eq!(after["value"]["firstName"], "Nia");
    assert_eq!(after["value"]["_id"], stored["value"]);
}

#[tokio::test]
async fn store_with_a_token_without_email_or_names_keeps_what_was_stored() {
    let stack = stack().await;
    let now = stack.state.clock.unix();
    let claims = |extra: Value| {
        let mut base = json!({
            "iss": stack.issuer(), "sub": "kp_ada", "aud": ["convex"], "iat": now, "exp": now + 600
        });
        base.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        stack.state.keys().sign(&base)
    };
    let full =
        claims(json!({ "email": "ada@example.com", "given_name": "Ada", "family_name": "L" }));
    let bare = claims(json!({ "email": "" }));
    call(&stack, "mutation", "users:store", json!({}), Some(&full)).await;
    let (_, stored) = call(&stack, "mutation", "users:store", json!({}), Some(&bare)).await;
    assert!(stored["value"].is_string(), "{stored}");
    let (_, me) = call(&stack, "query", "users:current", json!({}), Some(&bare)).await;
    assert_eq!(me["value"]["email"], "ada@example.com", "{me}");
    assert_eq!(me["value"]["firstName"], "Ada", "{me}");
    assert_eq!(me["value"]["lastName"], "L", "{me}");
}
