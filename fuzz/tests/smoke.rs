//! Every fuzz target over its seed corpus and a few thousand mutations of it, within a few
//! seconds each, so the ordinary suite exercises them; `cargo xtask fuzz` runs them under AFL++.

use kinvex_fuzz::corpus;
use std::time::Duration;

const BUDGET: Duration = Duration::from_secs(3);
const COUNT: usize = 2000;

fn smoke(name: &str) {
    let target = kinvex_fuzz::target(name).unwrap_or_else(|| panic!("no target {name}"));
    let runs = corpus::smoke(name, target, BUDGET, COUNT);
    eprintln!("{name}: {runs} inputs");
}

#[test]
fn callback_never_yields_a_code_for_a_wrong_state_host_or_path() {
    smoke("callback");
}

#[test]
fn id_token_forged_or_garbled_is_never_accepted() {
    smoke("id_token");
}

#[test]
fn webhook_unsigned_or_stale_is_never_applied() {
    smoke("webhook");
}

#[test]
fn convex_requests_never_fail_or_leak_to_the_anonymous() {
    smoke("convex");
}

#[test]
fn config_never_accepts_an_issuer_that_is_not_https() {
    smoke("config");
}

#[test]
fn forged_token_recipes_mint_tokens_of_the_named_shape() {
    use base64::Engine;
    let decode = |part: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .expect("base64url")
    };
    let token = kinvex_fuzz::corpus::mint_forged("forged-jwt RS256 k1\n{\"sub\":\"kp_x\"}\n");
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: serde_json::Value = serde_json::from_slice(&decode(parts[0])).expect("JSON");
    assert_eq!(
        (header["alg"].as_str(), header["kid"].as_str()),
        (Some("RS256"), Some("k1"))
    );
    assert_eq!(decode(parts[1]), b"{\"sub\":\"kp_x\"}");
    assert_eq!(decode(parts[2]).len(), 256);
    let none = kinvex_fuzz::corpus::mint_forged("forged-jwt none -\n{}");
    assert!(none.ends_with('.'), "alg none carries no signature: {none}");
    assert_eq!(
        kinvex_fuzz::corpus::mint_forged("not a recipe"),
        "not a recipe"
    );
}
