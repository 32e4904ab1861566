//! Holds the local backend to the contract cases in `convex/contract/`, which the project's real
//! Convex functions are held to as well. Each case runs on a fresh, empty stack.

#![allow(clippy::unwrap_used)]

use kinvex_devstack::store::backend::{NewFile, UserFields};
use kinvex_devstack::store::storage::Saved;
use kinvex_devstack::{Config, Running, start};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::path::PathBuf;

fn cases() -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../convex/contract");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for file in files {
        let document: Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        for case in document["cases"].as_array().unwrap() {
            let name = format!(
                "{}: {}",
                file.file_name().unwrap().to_string_lossy(),
                case["name"].as_str().unwrap()
            );
            cases.push((name, case.clone()));
        }
    }
    cases
}

/// `"<blob:alias>"` and `"<file:alias>"` anywhere in `value`, replaced by the seeded ids.
fn resolve(value: &Value, ids: &HashMap<String, String>) -> Value {
    match value {
        Value::String(text) => text
            .strip_prefix('<')
            .and_then(|t| t.strip_suffix('>'))
            .and_then(|alias| ids.get(alias))
            .map_or_else(|| value.clone(), |id| Value::String(id.clone())),
        Value::Array(items) => Value::Array(items.iter().map(|v| resolve(v, ids)).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), resolve(v, ids)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Seeds the case's users, blobs (uploaded through an upload URL, as a client would) and files;
/// returns the ids of the aliased blobs and files.
async fn seed(stack: &Running, case: &Value) -> HashMap<String, String> {
    let mut ids = HashMap::new();
    let http = reqwest::Client::new();
    for blob in case["blobs"].as_array().into_iter().flatten() {
        let mut request = http
            .post(kinvex_devstack::backend::storage::upload_url(&stack.state))
            .body(blob["bytes"].as_str().unwrap().to_string());
        if let Some(content_type) = blob["contentType"].as_str() {
            request = request.header("content-type", content_type);
        }
        let answer: Value = request.send().await.unwrap().json().await.unwrap();
        let id = answer["storageId"].as_str().unwrap().to_string();
        ids.insert(format!("blob:{}", blob["alias"].as_str().unwrap()), id);
    }
    let store = stack.state.store.backend();
    let now_ms = stack.state.clock.unix_ms();
    let text = |v: &Value, key: &str| v[key].as_str().map(str::to_string);
    for user in case["users"].as_array().into_iter().flatten() {
        let fields = UserFields {
            email: text(user, "email").unwrap_or_default(),
            first_name: text(user, "firstName"),
            last_name: text(user, "lastName"),
            picture_url: text(user, "pictureUrl"),
            phone: text(user, "phone"),
        };
        store
            .upsert_user(user["kindeId"].as_str().unwrap(), &fields, now_ms)
            .unwrap();
    }
    for file in case["files"].as_array().into_iter().flatten() {
        let new = NewFile {
            owner: text(file, "owner").unwrap(),
            name: text(file, "name").unwrap(),
            content_type: text(file, "contentType").unwrap(),
            size: file["size"].as_i64().unwrap(),
        };
        let created = now_ms - file["ageHours"].as_f64().unwrap() * 3_600_000.0;
        let id = match resolve(&file["storageId"], &ids).as_str() {
            // A file over a seeded blob is saved as `files:save` saves it.
            Some(storage_id) => match stack
                .state
                .store
                .storage()
                .save_file(&new.owner, &new.name, storage_id, created)
                .unwrap()
            {
                Saved::File(id) => id,
                other => panic!("cannot seed {file}: {other:?}"),
            },
            None => store.insert_file(&new, created).unwrap(),
        };
        if let Some(alias) = file["alias"].as_str() {
            ids.insert(format!("file:{alias}"), id);
        }
    }
    for blob in case["blobs"].as_array().into_iter().flatten() {
        if blob["deleted"] == true {
            let id = &ids[&format!("blob:{}", blob["alias"].as_str().unwrap())];
            stack.state.store.storage().delete(id).unwrap();
        }
    }
    ids
}

/// The case's `after.blobs`: each aliased blob `present` or `gone`; the first that is not, if any.
fn blobs_after(stack: &Running, case: &Value, ids: &HashMap<String, String>) -> Option<String> {
    let expected = case["after"]["blobs"].as_object()?;
    expected.iter().find_map(|(alias, state)| {
        let id = &ids[&format!("blob:{alias}")];
        let present = stack.state.store.storage().get(id).unwrap().is_some();
        let actual = if present { "present" } else { "gone" };
        (state != actual).then(|| format!("blob {alias} is {actual}, not {state}"))
    })
}

/// A token whose verified identity is `identity`: the claims Kinde would put there.
fn token_for(stack: &Running, identity: &Map<String, Value>) -> String {
    let now = stack.state.clock.unix();
    let mut claims = json!({
        "iss": stack.issuer(),
        "aud": [stack.state.config.client_id],
        "iat": now,
        "exp": now + 600,
    });
    for (field, claim) in [
        ("subject", "sub"),
        ("email", "email"),
        ("givenName", "given_name"),
        ("familyName", "family_name"),
        ("pictureUrl", "picture"),
        ("phoneNumber", "phone_number"),
    ] {
        if let Some(value) = identity.get(field) {
            claims[claim] = value.clone();
        }
    }
    stack.state.keys().sign(&claims)
}

/// The local stack's wording (the real backend's) for each error kind in the contract.
fn kind_of(message: &str) -> &'static str {
    if message.contains("ArgumentValidationError") {
        "argument_validation"
    } else if message.contains("Could not find public function") {
        "function_not_found"
    } else {
        "other"
    }
}

fn matches(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::String(any), actual) if any == "<any>" => !actual.is_null(),
        // The contract's numbers are values; the backend writes a `v.number()` as a float
        // (`512.0`), which is the same number.
        (Value::Number(expected), Value::Number(actual)) => expected.as_f64() == actual.as_f64(),
        (Value::Object(expected), Value::Object(actual)) => expected
            .iter()
            .all(|(k, v)| actual.get(k).is_some_and(|a| matches(v, a))),
        (Value::Array(expected), Value::Array(actual)) => {
            expected.len() == actual.len()
                && expected.iter().zip(actual).all(|(e, a)| matches(e, a))
        }
        (expected, actual) => expected == actual,
    }
}

#[tokio::test]
async fn local_backend_meets_every_contract_case() {
    let cases = cases();
    assert!(cases.len() >= 10, "the contract has its cases");
    let mut failures = Vec::new();
    for (name, case) in &cases {
        let stack = start(Config {
            seed_demo: false,
            ..Config::default()
        })
        .await
        .unwrap();
        let ids = seed(&stack, case).await;
        let call = &case["call"];
        let args = resolve(&call["args"], &ids);
        let mut request = reqwest::Client::new()
            .post(format!(
                "{}/api/{}",
                stack.api_url(),
                call["kind"].as_str().unwrap()
            ))
            .json(&json!({ "path": call["path"], "args": args, "format": "json" }));
        if let Some(identity) = case["identity"].as_object() {
            request = request.bearer_auth(token_for(&stack, identity));
        }
        let body: Value = request.send().await.unwrap().json().await.unwrap();
        let expect = &case["expect"];
        let ok = if let Some(value) = expect.get("value") {
            body["status"] == "success" && matches(value, &body["value"])
        } else {
            body["status"] == "error"
                && expect
                    .get("errorData")
                    .is_none_or(|data| matches(data, &body["errorData"]))
                && expect["errorKind"].as_str().is_none_or(|kind| {
                    body["errorMessage"]
                        .as_str()
                        .is_some_and(|m| kind_of(m) == kind)
                })
        };
        if !ok {
            failures.push(format!("{name}\n  expected {expect}\n  got      {body}"));
        } else if let Some(after) = blobs_after(&stack, case, &ids) {
            failures.push(format!("{name}\n  {after}"));
        }
        stack.stop().await;
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
