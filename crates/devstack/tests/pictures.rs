//! The stack's profile pictures: served as PNGs on the provider's origin, the demo person's
//! `picture` pointing at theirs (in the ID token and the backend's record alike), and the admin
//! control that sets or removes a person's picture.

#![allow(clippy::unwrap_used)]

use kinvex_test_kit::backend::call;
use kinvex_test_kit::oauth::{claims, demo, other, sign_in};
use kinvex_test_kit::shipped::stack;
use serde_json::{Value, json};

/// The width and height a PNG decoder reads from `bytes`.
fn decoded_size(bytes: &[u8]) -> (u32, u32) {
    let reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    let info = reader.info();
    (info.width, info.height)
}

#[tokio::test]
async fn pictures_are_small_pngs_the_same_for_an_id_and_different_between_ids() {
    let stack = stack().await;
    let http = reqwest::Client::new();
    let get = |id: &str| {
        http.get(format!("{}/_devstack/pictures/{id}", stack.issuer()))
            .send()
    };
    let first = get("kp_one.png").await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["content-type"], "image/png");
    let first = first.bytes().await.unwrap();
    assert!(first.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert!(first.len() < 64 * 1024, "{} bytes", first.len());
    assert_eq!(decoded_size(&first), (96, 96));
    let again = get("kp_one.png").await.unwrap().bytes().await.unwrap();
    assert_eq!(again, first);
    let another = get("kp_two.png").await.unwrap().bytes().await.unwrap();
    assert_ne!(another, first);
    for name in [
        "kp_one",
        "kp_one.svg",
        ".png",
        "kp%2F..%2Fx.png",
        "kp one.png",
    ] {
        assert_eq!(get(name).await.unwrap().status(), 404, "{name}");
    }
}

#[tokio::test]
async fn the_demo_person_has_a_served_picture_and_the_other_none() {
    let stack = stack().await;
    let demo_id = &stack.accounts[0].user_id;
    let expected = format!("{}/_devstack/pictures/{demo_id}.png", stack.issuer());

    let tokens = sign_in(&stack, &demo(&stack), &[]).await;
    let id_token = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["picture"], expected.as_str());
    let (status, record) = call(
        &stack,
        "query",
        "users:current",
        json!({}),
        tokens["id_token"].as_str(),
    )
    .await;
    assert_eq!(status, 200, "{record}");
    assert_eq!(record["value"]["pictureUrl"], expected.as_str(), "{record}");
    let served = reqwest::get(&expected).await.unwrap();
    assert_eq!(served.status(), 200);

    let tokens = sign_in(&stack, &other(&stack), &[]).await;
    let id_token = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token.get("picture"), None, "{id_token}");
}

#[tokio::test]
async fn the_admin_control_sets_and_removes_a_persons_picture() {
    let stack = stack().await;
    let http = reqwest::Client::new();
    let other_id = stack.accounts[1].user_id.clone();
    let patch = |body: Value| {
        http.patch(format!("{}/_devstack/users/{other_id}", stack.issuer()))
            .json(&body)
            .send()
    };
    let picture = format!("{}/_devstack/pictures/{other_id}.png", stack.issuer());
    assert_eq!(
        patch(json!({ "picture": picture })).await.unwrap().status(),
        200
    );
    let stored = |stack: &kinvex_devstack::Running| {
        stack
            .state
            .store
            .provider()
            .user(&stack.accounts[1].user_id)
            .unwrap()
            .unwrap()
            .picture
    };
    assert_eq!(stored(&stack).as_deref(), Some(picture.as_str()));
    let tokens = sign_in(&stack, &other(&stack), &[]).await;
    let id_token = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["picture"], picture.as_str());

    assert_eq!(
        patch(json!({ "phone": "+1 555" })).await.unwrap().status(),
        200
    );
    assert_eq!(stored(&stack).as_deref(), Some(picture.as_str()), "kept");
    assert_eq!(patch(json!({ "picture": "" })).await.unwrap().status(), 200);
    assert_eq!(stored(&stack), None, "removed");
}
