//! The local provider held to code nobody here wrote: Kinde's own npm packages, pinned in
//! tests/kinde/package.json, check its key set, tokens and webhooks, and Kinde's TypeScript SDK
//! signs in and refreshes against it. Whatever they find different from Kinde is a bug in the
//! stack.

use kinvex_devstack::user_agent::UserAgent;
use kinvex_devstack::webhooks::signed_user_event;
use kinvex_devstack::{CONVEX_AUDIENCE, Config, DEFAULT_REDIRECT_URI, Running, start};
use kinvex_e2e::repo_root;
use kinvex_test_kit::browser::sign_in_as;
use kinvex_test_kit::oauth::{param, sign_in};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// A script's whole run, browser part included, on a slow runner.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);

fn peers() -> PathBuf {
    let dir = repo_root().join("tests/kinde");
    assert!(
        dir.join("node_modules/@kinde-oss/kinde-typescript-sdk")
            .is_dir()
            && dir.join("node_modules/@kinde/jwt-validator").is_dir(),
        "tests/kinde/node_modules is missing: run `npm ci` there (cargo xtask test does)"
    );
    dir
}

fn node(script: &str) -> tokio::process::Command {
    let dir = peers();
    let mut command = tokio::process::Command::new("node");
    command
        .arg(dir.join(script))
        .current_dir(&dir)
        .kill_on_drop(true);
    command
}

async fn stack(adjust: impl FnOnce(&mut Config)) -> Running {
    let mut config = Config {
        data_dir: None,
        idp_port: 0,
        api_port: 0,
        site_port: 0,
        ..Config::default()
    };
    adjust(&mut config);
    start(config).await.expect("stack starts")
}

#[tokio::test]
async fn kindes_packages_accept_the_stacks_keys_tokens_and_webhooks() {
    let stack = stack(|_| {}).await;
    let tokens = sign_in(
        &stack,
        &sign_in_as(&stack.accounts[0]),
        &[("audience", CONVEX_AUDIENCE)],
    )
    .await;
    let user = stack
        .state
        .store
        .provider()
        .user(&stack.accounts[0].user_id)
        .expect("the store answers")
        .expect("the demo user exists");
    let webhook = signed_user_event(&stack.state, "user.updated", &user, "admin");

    let run = node("tokens.mjs")
        .env("KINDE_ISSUER_URL", stack.issuer())
        .env(
            "KINDE_ACCESS_TOKEN",
            tokens["access_token"].as_str().expect("an access token"),
        )
        .env(
            "KINDE_ID_TOKEN",
            tokens["id_token"].as_str().expect("an ID token"),
        )
        .env("KINDE_WEBHOOK_JWT", &webhook.jwt)
        .output();
    let output = tokio::time::timeout(SCRIPT_TIMEOUT, run)
        .await
        .expect("tokens.mjs finishes within a minute")
        .expect("node runs (install Node.js 20 or later)");
    assert!(
        output.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let r: Value = serde_json::from_slice(&output.stdout).expect("the script prints JSON");

    // @kinde/jwt-validator: the key set at /.well-known/jwks.json verifies both tokens.
    assert_eq!(r["validator"]["access"]["valid"], true, "{r}");
    assert_eq!(r["validator"]["id"]["valid"], true, "{r}");
    assert_eq!(r["validator"]["tampered"]["valid"], false, "{r}");

    // @kinde/jwt-decoder: the claims Kinde's types and SDKs read.
    let header = &r["decoder"]["accessHeader"];
    assert_eq!(header["alg"], "RS256", "{r}");
    assert_eq!(header["typ"], "JWT", "{r}");
    let access = &r["decoder"]["access"];
    for claim in ["aud", "scp", "permissions", "roles"] {
        assert!(access[claim].is_array(), "access token {claim}: {access}");
    }
    for claim in ["azp", "iss", "jti", "sub", "org_code"] {
        assert!(access[claim].is_string(), "access token {claim}: {access}");
    }
    assert!(access["feature_flags"].is_object(), "{access}");
    assert!(access["exp"].is_i64() && access["iat"].is_i64(), "{access}");
    assert!(
        access.get("email").is_none(),
        "no email by default: {access}"
    );
    assert_eq!(access["org_code"], "org_kinvex_demo");
    let id = &r["decoder"]["id"];
    assert_eq!(
        id["org_codes"],
        json!(["org_kinvex_demo", "org_kinvex_default"])
    );
    assert_eq!(id["email"], "demo@kinvex.dev");

    // @kinde/js-utils, reading the tokens as Kinde's React and Next.js SDKs do.
    let js = &r["jsUtils"];
    assert_eq!(js["currentOrganization"]["value"], "org_kinvex_demo", "{r}");
    assert_eq!(
        js["userOrganizations"]["value"],
        json!(["org_kinvex_demo", "org_kinvex_default"]),
        "{r}"
    );
    assert_eq!(
        js["permissions"]["value"]["orgCode"], "org_kinvex_demo",
        "{r}"
    );
    // Dana is Northwind Studio's admin; the seeded flags are the tenant's.
    assert_eq!(
        js["permissions"]["value"]["permissions"],
        json!([
            "read:files",
            "write:files",
            "delete:files",
            "manage:members"
        ]),
        "{r}"
    );
    assert_eq!(js["roles"]["value"][0]["key"], "admin", "{r}");
    assert_eq!(js["flag"]["value"], "light", "{r}");
    assert_eq!(
        js["userProfile"]["value"]["id"],
        stack.accounts[0].user_id.as_str(),
        "{r}"
    );
    assert_eq!(
        js["userProfile"]["value"]["email"], "demo@kinvex.dev",
        "{r}"
    );
    assert_eq!(js["authenticated"]["value"], true, "{r}");

    // @kinde/webhooks: the event verifies against the key set and decodes to Kinde's shape.
    let event = &r["webhook"]["decoded"]["value"];
    assert_eq!(event["type"], "user.updated", "{r}");
    assert_eq!(event["source"], "admin");
    assert!(
        event["event_id"]
            .as_str()
            .is_some_and(|e| e.starts_with("event_"))
    );
    assert_eq!(event["data"]["user"]["id"], user.id.as_str());
    let organizations = event["data"]["user"]["organizations"]
        .as_array()
        .expect("organizations is a list");
    assert!(!organizations.is_empty(), "never empty: {event}");
    assert_eq!(
        organizations[0],
        json!({ "code": "org_kinvex_demo", "permissions": null, "roles": null })
    );
    assert_eq!(r["webhook"]["tampered"]["value"], Value::Null, "{r}");

    stack.stop().await;
}

/// Runs sdk.mjs against `stack`: the SDK builds its URLs, the headless browser signs in as the
/// demo user with the login URL, and the SDK takes it from the callback.
async fn sdk_session(stack: &Running) -> (Value, Value) {
    let mut child = node("sdk.mjs")
        .env("KINDE_ISSUER_URL", stack.issuer())
        .env("KINDE_CLIENT_ID", &stack.state.config.client_id)
        .env("KINDE_REDIRECT_URL", DEFAULT_REDIRECT_URI)
        .env("KINDE_AUDIENCE", format!("{CONVEX_AUDIENCE} files"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs (install Node.js 20 or later)");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let exchange = async {
        let urls: Value = serde_json::from_str(
            &stdout
                .next_line()
                .await
                .expect("sdk.mjs writes")
                .expect("sdk.mjs prints its URLs"),
        )
        .expect("the URLs are JSON");
        let login = urls["login"].as_str().expect("a login URL");
        let handoff = UserAgent::new()
            .authorize(login, &sign_in_as(&stack.accounts[0]), false)
            .await
            .expect("the SDK's login URL signs in");
        stdin
            .write_all(format!("{}\n", handoff.redirect).as_bytes())
            .await
            .expect("sdk.mjs reads the callback");
        let results: Value = serde_json::from_str(
            &stdout
                .next_line()
                .await
                .expect("sdk.mjs writes")
                .expect("sdk.mjs prints its results"),
        )
        .expect("the results are JSON");
        (urls, results)
    };
    let outcome = tokio::time::timeout(SCRIPT_TIMEOUT, exchange).await;
    let status = child.wait().await.expect("sdk.mjs ends");
    let mut stderr = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = tokio::io::AsyncReadExt::read_to_string(&mut err, &mut stderr).await;
    }
    let outcome = outcome.unwrap_or_else(|_| panic!("sdk.mjs did not finish: {stderr}"));
    assert!(status.success(), "sdk.mjs failed: {stderr}");
    outcome
}

fn assert_signed_in(r: &Value, stack: &Running) {
    assert_eq!(r["callback"].get("error"), None, "{r}");
    assert_eq!(r["authenticated"]["value"], true, "{r}");
    let user_id = stack.accounts[0].user_id.as_str();
    assert_eq!(r["user"]["value"]["id"], user_id, "{r}");
    assert_eq!(r["user"]["value"]["given_name"], "Dana", "{r}");
    assert_eq!(r["profile"]["value"]["id"], user_id, "{r}");
    assert_eq!(
        r["organization"]["value"]["orgCode"], "org_kinvex_demo",
        "{r}"
    );
    assert_eq!(
        r["organizations"]["value"]["orgCodes"],
        json!(["org_kinvex_demo", "org_kinvex_default"]),
        "{r}"
    );
    assert_eq!(
        r["permissions"]["value"]["permissions"],
        json!([
            "read:files",
            "write:files",
            "delete:files",
            "manage:members"
        ]),
        "{r}"
    );
    assert_eq!(r["flag"]["value"]["value"], "light", "{r}");
    assert_eq!(
        r["flag"]["value"]["is_default"], false,
        "the tenant's seeded flag, not the SDK's default: {r}"
    );
    assert_eq!(
        r["audienceClaim"]["value"],
        json!(["convex", "files"]),
        "repeated audience= parameters: {r}"
    );
}

#[tokio::test]
async fn kindes_typescript_sdk_signs_in_registers_and_refreshes_against_the_stack() {
    let stack = stack(|c| c.audiences = vec![CONVEX_AUDIENCE.into(), "files".into()]).await;
    let (urls, r) = sdk_session(&stack).await;
    assert_signed_in(&r, &stack);
    assert_eq!(r["refresh"].get("error"), None, "{r}");
    assert_eq!(r["refresh"]["tokenType"], "Bearer", "{r}");
    assert_eq!(r["refresh"]["idTokenReplaced"], true, "{r}");
    assert_eq!(r["refresh"]["accessTokenReused"], false, "{r}");
    assert_eq!(r["afterRefresh"]["authenticated"]["value"], true, "{r}");
    assert_eq!(r["jsUtilsRefresh"]["success"], true, "{r}");

    // The SDK's registration URL (start_page=registration) opens the registration page.
    let register = urls["register"].as_str().expect("a registration URL");
    let register = url::Url::parse(register).expect("a URL");
    assert_eq!(
        param(&register, "start_page").as_deref(),
        Some("registration")
    );
    let page = reqwest::get(register.as_str())
        .await
        .expect("the provider answers")
        .text()
        .await
        .expect("a page");
    assert!(
        page.contains("action=\"/oauth2/auth/register\""),
        "the registration form first: {page}"
    );
    let action = kinvex_devstack::user_agent::Action::Register {
        given_name: "Robin".into(),
        family_name: "New".into(),
        email: "robin@example.com".into(),
        password: "a-long-password".into(),
    };
    let handoff = UserAgent::new()
        .authorize(register.as_str(), &action, false)
        .await
        .expect("the SDK's registration URL registers");
    assert!(
        param(&handoff.redirect, "code").is_some(),
        "{}",
        handoff.redirect
    );
    stack.stop().await;
}

#[tokio::test]
async fn kindes_sdks_keep_the_session_when_a_refresh_brings_no_id_token() {
    let stack = stack(|c| {
        c.audiences = vec![CONVEX_AUDIENCE.into(), "files".into()];
        c.refresh_id_token = false;
        c.refresh_reuses_access_token = true;
    })
    .await;
    let (_, r) = sdk_session(&stack).await;
    assert_signed_in(&r, &stack);
    assert_eq!(r["refresh"].get("error"), None, "{r}");
    assert!(
        !r["refresh"]["returned"]
            .as_array()
            .expect("the refresh's fields")
            .contains(&json!("id_token")),
        "{r}"
    );
    // The session survives: the access token still works. Kinde's TypeScript SDK (2.15.1) drops
    // its ID token when a refresh brings none, so what it read from it (the user, the list of
    // organisations) is gone until the next sign-in; a client must keep the last one, as
    // js-utils does.
    assert_eq!(r["refresh"]["accessTokenReused"], true, "still valid: {r}");
    assert_eq!(r["afterRefresh"]["authenticated"]["value"], true, "{r}");
    assert_eq!(r["refresh"]["idTokenKept"], false, "{r}");
    assert_eq!(
        r["afterRefresh"]["user"]["error"], "Token is required",
        "{r}"
    );
    assert_eq!(r["jsUtilsRefresh"]["success"], true, "{r}");
    assert_eq!(r["jsUtilsRefresh"]["idTokenKept"], true, "{r}");
    assert_eq!(
        r["jsUtilsRefresh"]["userOrganizations"]["value"],
        json!(["org_kinvex_demo", "org_kinvex_default"]),
        "{r}"
    );
    stack.stop().await;
}
