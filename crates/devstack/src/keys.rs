//! The provider's RS256 signing keys: generated at first start, kept as PKCS#8 PEM in the data
//! directory (or only in memory for an ephemeral stack), published as a JWKS.
//!
//! Rotation keeps earlier public keys in the JWKS so tokens already issued still verify, as a real
//! tenant's rotation does; a verifier that cached the old set sees an unknown `kid` and refetches.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Kinde signs with 2048-bit RSA only.
const BITS: usize = 2048;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read or write the signing key {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the signing key {path} is not a PKCS#8 RSA key: {message}; delete it to generate a new one"
    )]
    Malformed { path: PathBuf, message: String },
    #[error("RSA key generation failed: {0}")]
    Generate(String),
}

struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    public: RsaPublicKey,
}

/// The current signing key and the public halves of earlier ones.
pub struct KeySet {
    current: SigningKey,
    retired: Vec<(String, RsaPublicKey)>,
    dir: Option<PathBuf>,
}

impl KeySet {
    /// Loads the key kept in `dir`, or generates and saves one. `None` keeps it in memory only.
    pub fn open(dir: Option<&Path>) -> Result<KeySet, KeyError> {
        let current = match dir {
            Some(dir) => load_or_create(&dir.join("signing-key.pem"))?,
            None => from_private(generate()?)?,
        };
        Ok(KeySet {
            current,
            retired: Vec::new(),
            dir: dir.map(Path::to_path_buf),
        })
    }

    /// Signs `claims` as an RS256 JWT carrying the current `kid`.
    pub fn sign<T: Serialize>(&self, claims: &T) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.current.kid.clone());
        header.typ = Some("JWT".into());
        jsonwebtoken::encode(&header, claims, &self.current.encoding)
            .expect("RS256 signing with a valid RSA key cannot fail")
    }

    /// The public key with this `kid`, current or retired.
    pub fn decoding_key(&self, kid: &str) -> Option<jsonwebtoken::DecodingKey> {
        let public = if self.current.kid == kid {
            Some(&self.current.public)
        } else {
            self.retired
                .iter()
                .find(|(k, _)| k == kid)
                .map(|(_, key)| key)
        }?;
        jsonwebtoken::DecodingKey::from_rsa_raw_components(
            &public.n().to_bytes_be(),
            &public.e().to_bytes_be(),
        )
        .into()
    }

    pub fn current_kid(&self) -> &str {
        &self.current.kid
    }

    /// The JWKS document: the current key first, then retired ones.
    pub fn jwks(&self) -> Value {
        let current = std::iter::once((&self.current.kid, &self.current.public));
        let retired = self.retired.iter().map(|(kid, key)| (kid, key));
        let keys: Vec<Value> = current
            .chain(retired)
            .map(|(kid, key)| jwk(kid, key))
            .collect();
        json!({ "keys": keys })
    }

    /// Switches to a new key. With `keep_old` the previous public key stays published.
    pub fn rotate(&mut self, keep_old: bool) -> Result<(), KeyError> {
        let private = generate()?;
        if let Some(dir) = &self.dir {
            save(&dir.join("signing-key.pem"), &private)?;
        }
        let next = from_private(private)?;
        let previous = std::mem::replace(&mut self.current, next);
        if keep_old {
            self.retired.insert(0, (previous.kid, previous.public));
        } else {
            self.retired.clear();
        }
        Ok(())
    }
}

fn jwk(kid: &str, key: &RsaPublicKey) -> Value {
    json!({
        "kty": "RSA",
        "alg": "RS256",
        "use": "sig",
        "kid": kid,
        "n": URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
    })
}

/// Kinde's key ids look like `4c:fa:9e:…`; this one is the RFC 7638 thumbprint written that way.
fn kid_for(key: &RsaPublicKey) -> String {
    let canonical = format!(
        r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
        URL_SAFE_NO_PAD.encode(key.n().to_bytes_be())
    );
    let digest = Sha256::digest(canonical.as_bytes());
    digest[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn generate() -> Result<RsaPrivateKey, KeyError> {
    RsaPrivateKey::new(&mut rand::rngs::OsRng, BITS).map_err(|e| KeyError::Generate(e.to_string()))
}

fn from_private(private: RsaPrivateKey) -> Result<SigningKey, KeyError> {
    let pem = private
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    let encoding =
        EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| KeyError::Generate(e.to_string()))?;
    let public = private.to_public_key();
    Ok(SigningKey {
        kid: kid_for(&public),
        encoding,
        public,
    })
}

fn load_or_create(path: &Path) -> Result<SigningKey, KeyError> {
    match std::fs::read_to_string(path) {
        Ok(pem) => {
            let private = RsaPrivateKey::from_pkcs8_pem(&pem).map_err(|e| KeyError::Malformed {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
            from_private(private)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let private = generate()?;
            save(path, &private)?;
            from_private(private)
        }
        Err(source) => Err(KeyError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes the key readable by its owner only, replacing any previous one atomically.
fn save(path: &Path, private: &RsaPrivateKey) -> Result<(), KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let pem = private
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    let temporary = path.with_extension("pem.tmp");
    {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temporary).map_err(io)?;
        file.write_all(pem.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
    }
    std::fs::rename(&temporary, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_survives_a_restart_and_rotation_keeps_the_old_key_published() {
        let dir = std::env::temp_dir().join(format!("kinvex-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let first = KeySet::open(Some(&dir)).unwrap();
        let kid = first.current_kid().to_string();
        assert_eq!(kid.split(':').count(), 16, "Kinde-style kid: {kid}");
        let again = KeySet::open(Some(&dir)).unwrap();
        assert_eq!(again.current_kid(), kid, "same key after a restart");

        let mut rotated = again;
        rotated.rotate(true).unwrap();
        assert_ne!(rotated.current_kid(), kid);
        let kids: Vec<String> = rotated.jwks()["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(kids, vec![rotated.current_kid().to_string(), kid]);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
