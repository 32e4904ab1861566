//! ID-token decoding and validation, with the provider the app discovers from the local stack.
//!
//! Input that is a JSON object is a set of claims: the target signs it with the provider's real
//! key (so the fuzzer reaches every claim check) and, when the token is accepted, asserts that
//! each claim rule held. Any other input is a token as received; never signed by the provider,
//! it must never be accepted, whatever its header, algorithm or shape.

use crate::stack;
use kinvex_auth::id_token::{self, Identity, LEEWAY, MAX_AGE};
use openidconnect::Nonce;
use serde_json::Value;
use std::time::{Duration, SystemTime};

/// The time tokens are checked at (2026-01-01T00:00:00Z), so seeds keep their meaning.
pub const NOW: i64 = 1_767_225_600;
pub const NONCE: &str = "fuzz-nonce";
/// Replaced by the stack's issuer in claims, whose port changes with every run.
pub const ISSUER: &str = "{issuer}";

pub fn target(data: &[u8]) {
    let shared = stack::shared();
    let issuer = shared.stack.issuer();
    let client_id = &shared.stack.state.config.client_id;
    let text = String::from_utf8_lossy(data).replace(ISSUER, issuer);
    let text = crate::corpus::mint_forged(&text).into_owned();
    let claims = serde_json::from_str::<Value>(&text)
        .ok()
        .filter(Value::is_object);
    let token = match &claims {
        Some(claims) => shared.stack.state.keys().sign(claims),
        None => text.clone(),
    };
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(NOW as u64);
    let nonce = Nonce::new(NONCE.into());
    let result = shared.run(id_token::validate(
        &shared.provider,
        &shared.http,
        client_id,
        &token,
        Some(&nonce),
        now,
    ));
    let Ok(identity) = result else { return };
    let Some(claims) = claims else {
        panic!("a token the provider never signed was accepted: {text:?}");
    };
    if let Err(broken) = rules(&claims, &identity, issuer, client_id) {
        panic!("an ID token breaking a rule was accepted ({broken}): {claims}");
    }
}

/// The rules an accepted token's claims must meet (OIDC Core §3.1.3.7 and §2).
fn rules(claims: &Value, identity: &Identity, issuer: &str, client_id: &str) -> Result<(), String> {
    if claims["iss"].as_str() != Some(issuer) {
        return Err("iss is not the issuer".into());
    }
    let audiences: Vec<&str> = match &claims["aud"] {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => return Err("aud is missing".into()),
    };
    if !audiences.contains(&client_id) {
        return Err("aud does not name the client".into());
    }
    match claims["azp"].as_str() {
        Some(azp) if azp != client_id => return Err("azp names another client".into()),
        None if audiences.len() > 1 => return Err("several audiences and no azp".into()),
        _ => {}
    }
    if claims["nonce"].as_str() != Some(NONCE) {
        return Err("the nonce is not the one sent".into());
    }
    let leeway = LEEWAY.as_secs() as f64;
    let exp = claims["exp"].as_f64().ok_or("exp is missing")?;
    if exp + leeway < NOW as f64 {
        return Err("it has expired".into());
    }
    let iat = claims["iat"].as_f64().ok_or("iat is missing")?;
    if iat > NOW as f64 + leeway || iat + (MAX_AGE.as_secs() as f64) < NOW as f64 {
        return Err("iat is out of bounds".into());
    }
    let sub = claims["sub"].as_str().ok_or("sub is missing")?;
    if sub.trim().is_empty() || sub.len() > 255 || sub.chars().any(char::is_control) {
        return Err("sub names no one".into());
    }
    if identity.subject != sub {
        return Err("the identity is not the token's subject".into());
    }
    Ok(())
}
