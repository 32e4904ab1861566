//! Identifiers and secrets from the operating system's CSPRNG, and the hash secrets are stored as.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::{Rng, RngCore, rngs::OsRng};
use sha2::{Digest, Sha256};

/// An opaque 256-bit secret: codes, refresh tokens, session cookies.
pub fn secret() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn salt() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

/// What is stored in place of a secret.
pub fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// A salted password hash. The local stack only ever holds demo and test accounts; a real
/// tenant's password storage is Kinde's concern, not this stand-in's.
pub fn password_hash(salt: &[u8], password: &str) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(salt);
    hasher.update(password.as_bytes());
    hasher.finalize().to_vec()
}

/// Kinde user ids look like `kp_` followed by 32 hex digits.
pub fn kinde_user_id() -> String {
    format!("kp_{}", hex(16))
}

/// Convex document ids are 32 lowercase alphanumerics.
pub fn document_id() -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghjkmnpqrstvwxyz";
    (0..32)
        .map(|_| ALPHABET[OsRng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

pub fn hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buffer);
    buffer.iter().map(|b| format!("{b:02x}")).collect()
}

/// A human-friendly password for the seeded demo account.
pub fn demo_password() -> String {
    const WORDS: &[&str] = &[
        "amber", "birch", "cobalt", "dune", "ember", "fjord", "grove", "harbor", "iris", "juniper",
        "kestrel", "lagoon", "meadow", "nectar", "orchid", "pebble", "quartz", "raven", "sierra",
        "tundra", "umber", "violet", "willow", "yarrow",
    ];
    let pick = || WORDS[OsRng.gen_range(0..WORDS.len())];
    format!(
        "{}-{}-{}-{}",
        pick(),
        pick(),
        pick(),
        OsRng.gen_range(10..100)
    )
}
