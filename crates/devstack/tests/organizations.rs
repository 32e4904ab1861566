//! Organisations as Kinde keeps them: everyone is in at least the default one, the ID token's
//! `org_codes` lists them all, the access token's `org_code` names the one signed in to, a request
//! for an organisation the person is not in is refused, and webhooks carry the list. What the
//! person may do there (roles, permissions) and the feature flags in force come with it, one
//! can be created at sign-in, and the admin controls change all of it.

#![allow(clippy::unwrap_used)]

use kinvex_devstack::store::provider::DEFAULT_ORG;
use kinvex_devstack::user_agent::{Action, UserAgent};
use kinvex_devstack::webhooks::user_event_payload;
use kinvex_test_kit::oauth::{
    authorize_url, browse, claims, demo, other, param, pkce, refresh, sign_in,
};
use kinvex_test_kit::shipped::stack;
use serde_json::{Value, json};

fn organizations(payload: &Value) -> Vec<String> {
    payload["data"]["user"]["organizations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            assert_eq!(o["permissions"], Value::Null, "{o}");
            assert_eq!(o["roles"], Value::Null, "{o}");
            o["code"].as_str().unwrap().to_string()
        })
        .collect()
}

#[tokio::test]
async fn the_id_token_lists_every_organisation_and_the_access_token_names_the_current_one() {
    let stack = stack().await;
    let tokens = sign_in(&stack, &demo(&stack), &[]).await;
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["org_codes"], json!(["org_kinvex_demo", DEFAULT_ORG]));
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["org_code"], "org_kinvex_demo", "the default one");

    let tokens = sign_in(&stack, &demo(&stack), &[("org_code", DEFAULT_ORG)]).await;
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["org_code"], DEFAULT_ORG, "the one asked for");
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(
        id["org_codes"],
        json!(["org_kinvex_demo", DEFAULT_ORG]),
        "still all of them"
    );
}

#[tokio::test]
async fn a_person_outside_the_requested_organisation_is_refused() {
    let stack = stack().await;
    let ua = UserAgent::new();
    let url = authorize_url(&stack, &pkce(), &[("org_code", "org_kinvex_demo")]);
    let redirect = browse(&ua, &url, &other(&stack)).await;
    assert_eq!(param(&redirect, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&redirect, "code"), None);
    assert_eq!(param(&redirect, "state").as_deref(), Some("state-123"));

    // Signed in now, the same refusal comes without the sign-in page.
    let url = authorize_url(&stack, &pkce(), &[("org_code", "org_elsewhere")]);
    let redirect = browse(&ua, &url, &other(&stack)).await;
    assert_eq!(param(&redirect, "error").as_deref(), Some("access_denied"));
}

#[tokio::test]
async fn everyone_is_in_an_organisation_and_webhooks_say_which() {
    let stack = stack().await;
    let provider = stack.state.store.provider();
    let now = time::OffsetDateTime::now_utc();
    for account in &stack.accounts {
        let user = provider.user(&account.user_id).unwrap().unwrap();
        let payload = user_event_payload("user.updated", &user, "admin", now);
        assert!(!organizations(&payload).is_empty(), "{payload}");
    }
    let alex = provider.user(&stack.accounts[1].user_id).unwrap().unwrap();
    assert_eq!(
        organizations(&user_event_payload("user.created", &alex, "user", now)),
        [DEFAULT_ORG]
    );

    let register = |email: &str| Action::Register {
        given_name: "Robin".into(),
        family_name: "New".into(),
        email: email.into(),
        password: "a-long-password".into(),
    };
    let tokens = sign_in(
        &stack,
        &register("robin@example.com"),
        &[("prompt", "create")],
    )
    .await;
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(
        id["org_codes"],
        json!([DEFAULT_ORG]),
        "registered: the default"
    );
    let robin = provider.user(id["sub"].as_str().unwrap()).unwrap().unwrap();
    assert_eq!(
        organizations(&user_event_payload("user.created", &robin, "user", now)),
        [DEFAULT_ORG]
    );

    // Registering with an org_code joins that organisation instead.
    let tokens = sign_in(
        &stack,
        &register("sam@example.com"),
        &[("prompt", "create"), ("org_code", "org_kinvex_demo")],
    )
    .await;
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["org_code"], "org_kinvex_demo");
}

#[tokio::test]
async fn an_admin_can_change_someones_organisations_but_never_to_none() {
    let stack = stack().await;
    let http = reqwest::Client::new();
    let user_id = &stack.accounts[1].user_id;
    let url = format!("{}/_devstack/users/{user_id}", stack.issuer());
    let empty = http
        .patch(&url)
        .json(&json!({ "organizations": [] }))
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 400);
    let set = http
        .patch(&url)
        .json(&json!({ "organizations": ["org_b"], "org_code": "org_a" }))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    let tokens = sign_in(&stack, &other(&stack), &[]).await;
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["org_codes"], json!(["org_a", "org_b"]));
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["org_code"], "org_a", "org_code makes it the default");
}

fn keys(roles: &Value) -> Vec<String> {
    roles
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert!(r["id"].as_str().is_some_and(|id| !id.is_empty()), "{r}");
            r["key"].as_str().unwrap().to_string()
        })
        .collect()
}

#[tokio::test]
async fn the_access_token_says_what_the_person_may_do_in_the_organisation_signed_in_to() {
    let stack = stack().await;
    let tokens = sign_in(&stack, &demo(&stack), &[]).await;
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["org_code"], "org_kinvex_demo");
    assert_eq!(access["org_name"], "Northwind Studio");
    assert_eq!(keys(&access["roles"]), ["admin"], "{access}");
    assert_eq!(access["roles"][0]["name"], "Admin");
    assert_eq!(
        access["permissions"],
        json!([
            "read:files",
            "write:files",
            "delete:files",
            "manage:members"
        ])
    );
    let flags = &access["feature_flags"];
    assert_eq!(
        flags["beta_search"],
        json!({ "t": "b", "v": true }),
        "override"
    );
    assert_eq!(
        flags["max_upload_mb"],
        json!({ "t": "i", "v": 1024 }),
        "override"
    );
    assert_eq!(flags["theme"], json!({ "t": "s", "v": "light" }), "default");
    assert_eq!(
        flags["retention"],
        json!({ "t": "j", "v": { "days": 30, "trash": true } })
    );
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(
        id["organizations"],
        json!([
            { "id": "org_kinvex_demo", "name": "Northwind Studio" },
            { "id": DEFAULT_ORG, "name": "Kinvex" },
        ])
    );

    let tokens = sign_in(&stack, &demo(&stack), &[("org_code", DEFAULT_ORG)]).await;
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["org_name"], "Kinvex");
    assert_eq!(keys(&access["roles"]), ["member"]);
    assert_eq!(access["permissions"], json!(["read:files"]));
    assert_eq!(
        access["feature_flags"]["beta_search"],
        json!({ "t": "b", "v": false }),
        "the tenant's default here"
    );
}

#[tokio::test]
async fn is_create_org_creates_an_organisation_with_the_person_as_its_admin() {
    let stack = stack().await;
    let ua = UserAgent::new();
    let create = [("is_create_org", "true"), ("org_name", "Acme Labs")];
    let pkce = pkce();
    let redirect = browse(&ua, &authorize_url(&stack, &pkce, &create), &other(&stack)).await;
    let code = param(&redirect, "code").expect("a code");
    let response = kinvex_test_kit::oauth::exchange(&stack, &code, &pkce.verifier).await;
    let tokens: Value = response.json().await.unwrap();
    let access = claims(tokens["access_token"].as_str().unwrap());
    let org = access["org_code"].as_str().unwrap().to_string();
    assert!(
        org.len() == 15
            && org.starts_with("org_")
            && org[4..].bytes().all(|b| b.is_ascii_hexdigit()),
        "a code like Kinde's: {org}"
    );
    assert_eq!(access["org_name"], "Acme Labs");
    assert_eq!(keys(&access["roles"]), ["admin"]);
    assert!(
        access["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("manage:members"))
    );
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(
        id["org_codes"],
        json!([DEFAULT_ORG, org]),
        "joined, default kept first"
    );
    assert_eq!(
        id["organizations"][1],
        json!({ "id": org, "name": "Acme Labs" })
    );

    // A member now: signing in to it again (silently, the browser has a session) works, and a
    // second creation makes another organisation.
    let url = authorize_url(&stack, &pkce, &[("org_code", &org), ("prompt", "none")]);
    let again = browse(&ua, &url, &other(&stack)).await;
    assert!(param(&again, "code").is_some(), "{again}");
    let url = authorize_url(&stack, &pkce, &create);
    let second = browse(&ua, &url, &other(&stack)).await;
    let code = param(&second, "code").expect("a code");
    let tokens: Value = kinvex_test_kit::oauth::exchange(&stack, &code, &pkce.verifier)
        .await
        .json()
        .await
        .unwrap();
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert_ne!(access["org_code"], org.as_str());
    assert_eq!(access["org_name"], "Acme Labs");
}

#[tokio::test]
async fn a_refresh_keeps_the_organisation_and_brings_what_changed_there() {
    let stack = stack().await;
    let tokens = sign_in(&stack, &demo(&stack), &[("org_code", DEFAULT_ORG)]).await;
    let http = reqwest::Client::new();
    let user_id = &stack.accounts[0].user_id;
    let set = http
        .put(format!(
            "{}/_devstack/organizations/{DEFAULT_ORG}/members/{user_id}",
            stack.issuer()
        ))
        .json(&json!({
            "roles": [{ "key": "editor", "name": "Editor" }],
            "permissions": ["read:files", "write:files"],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    let flag = http
        .put(format!("{}/_devstack/feature_flags/theme", stack.issuer()))
        .json(&json!({ "type": "s", "value": "dark", "org_code": DEFAULT_ORG }))
        .send()
        .await
        .unwrap();
    assert_eq!(flag.status(), 204);

    let refreshed: Value = refresh(&stack, tokens["refresh_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    let access = claims(refreshed["access_token"].as_str().unwrap());
    assert_eq!(
        access["org_code"], DEFAULT_ORG,
        "not the default organisation"
    );
    assert_eq!(keys(&access["roles"]), ["editor"]);
    assert_eq!(access["permissions"], json!(["read:files", "write:files"]));
    assert_eq!(
        access["feature_flags"]["theme"],
        json!({ "t": "s", "v": "dark" })
    );
}

#[tokio::test]
async fn an_admin_adds_a_member_and_sets_flags_through_the_controls() {
    let stack = stack().await;
    let http = reqwest::Client::new();
    let admin = |path: &str| format!("{}/_devstack/{path}", stack.issuer());
    let alex = &stack.accounts[1].user_id;

    // Refused while Alex is not a member of Northwind Studio.
    let pkce = pkce();
    let url = authorize_url(&stack, &pkce, &[("org_code", "org_kinvex_demo")]);
    let refused = browse(&UserAgent::new(), &url, &other(&stack)).await;
    assert_eq!(param(&refused, "error").as_deref(), Some("access_denied"));

    let unknown = http
        .put(admin(&format!("organizations/org_nowhere/members/{alex}")))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let added = http
        .put(admin(&format!(
            "organizations/org_kinvex_demo/members/{alex}"
        )))
        .json(&json!({
            "roles": [{ "key": "viewer", "name": "Viewer" }],
            "permissions": ["read:files"],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 200);
    let wrong_type = http
        .put(admin("feature_flags/max_upload_mb"))
        .json(&json!({ "type": "i", "value": "lots" }))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), 400);
    let removed = http
        .delete(admin("feature_flags/beta_search?org_code=org_kinvex_demo"))
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);

    let tokens = sign_in(&stack, &other(&stack), &[("org_code", "org_kinvex_demo")]).await;
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["org_name"], "Northwind Studio");
    assert_eq!(keys(&access["roles"]), ["viewer"]);
    assert_eq!(access["permissions"], json!(["read:files"]));
    assert_eq!(
        access["feature_flags"]["beta_search"],
        json!({ "t": "b", "v": false }),
        "the override removed, the default shows"
    );
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["org_codes"], json!([DEFAULT_ORG, "org_kinvex_demo"]));

    let created: Value = http
        .post(admin("organizations"))
        .json(&json!({ "name": "Globex" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        created["code"].as_str().unwrap().starts_with("org_"),
        "{created}"
    );
    assert_eq!(created["name"], "Globex");
}
