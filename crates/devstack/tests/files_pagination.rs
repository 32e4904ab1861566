//! Live pages of `files:list`: a page given both ends (`paginationOpts.endCursor`) keeps exactly
//! the rows between them as files are added, as Convex's reactive pagination relies on.

#![allow(clippy::unwrap_used)]

use kinvex_devstack::Running;
use kinvex_devstack::store::backend::NewFile;
use kinvex_test_kit::backend::call;
use kinvex_test_kit::oauth::{demo, sign_in};
use kinvex_test_kit::shipped::stack_with;
use serde_json::{Value, json};

async fn list(stack: &Running, token: &str, options: Value) -> Value {
    let args = json!({ "paginationOpts": options });
    let (_, body) = call(stack, "query", "files:list", args, Some(token)).await;
    body["value"].clone()
}

fn names(page: &Value) -> Vec<String> {
    page["page"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_page_with_an_end_cursor_grows_with_a_new_file_instead_of_dropping_its_last() {
    let stack = stack_with(|c| c.extra_demo_files = 45).await;
    let token = sign_in(&stack, &demo(&stack), &[]).await["id_token"]
        .as_str()
        .unwrap()
        .to_string();
    let first = list(&stack, &token, json!({ "numItems": 20, "cursor": null })).await;
    let end = first["continueCursor"].clone();
    let second = list(&stack, &token, json!({ "numItems": 20, "cursor": end })).await;

    let newest = stack.state.clock.unix_ms() + 86_400_000.0;
    let owner = stack.accounts[0].user_id.clone();
    let file = NewFile {
        owner,
        name: "Added elsewhere.txt".into(),
        content_type: "text/plain".into(),
        size: 3,
    };
    stack
        .state
        .store
        .backend()
        .insert_file(&file, newest)
        .unwrap();

    let bounded = list(
        &stack,
        &token,
        json!({ "numItems": 20, "cursor": null, "endCursor": end }),
    )
    .await;
    let mut expected = vec!["Added elsewhere.txt".to_string()];
    expected.extend(names(&first));
    assert_eq!(names(&bounded), expected, "the page grew by the new file");
    assert_eq!(
        bounded["continueCursor"], end,
        "and still ends where it did"
    );
    assert_eq!(bounded["isDone"], false);

    // Without the end, the page would have pushed its last file out of reach of the next page.
    let unbounded = list(&stack, &token, json!({ "numItems": 20, "cursor": null })).await;
    assert_eq!(names(&unbounded), expected[..20]);
    let next = list(&stack, &token, json!({ "numItems": 20, "cursor": end })).await;
    assert_eq!(names(&next), names(&second), "the next page is unchanged");

    // A middle page's ends hold it exactly.
    let middle_end = second["continueCursor"].clone();
    let middle = list(
        &stack,
        &token,
        json!({ "numItems": 5, "cursor": end, "endCursor": middle_end }),
    )
    .await;
    assert_eq!(
        names(&middle),
        names(&second),
        "numItems does not cut a page with an end"
    );
}

#[tokio::test]
async fn an_end_cursor_that_is_not_one_is_refused_like_a_bad_cursor() {
    let stack = stack_with(|_| {}).await;
    let token = sign_in(&stack, &demo(&stack), &[]).await["id_token"]
        .as_str()
        .unwrap()
        .to_string();
    let args = json!({ "paginationOpts": { "numItems": 5, "cursor": null, "endCursor": "nope" } });
    let (_, body) = call(&stack, "query", "files:list", args, Some(&token)).await;
    assert_eq!(body["status"], "error", "{body}");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("InvalidCursor"),
        "{body}"
    );
}
