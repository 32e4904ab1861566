//! The seed corpus in `fuzz/corpus/<target>/`, and the mutations the smoke runs make of it:
//! plain random edits, not coverage-guided (that is AFL++'s part, under `cargo xtask fuzz`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The folder of `target`'s seeds.
pub fn dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target)
}

/// Every seed of `target`, sorted by file name.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir(target))
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    paths.sort();
    paths.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

/// xorshift64*: reproducible from its seed, which a failing run prints.
pub struct Mutator(u64);

impl Mutator {
    pub fn new(seed: u64) -> Mutator {
        Mutator(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// One to four random edits of `input`, with bytes that matter to the parsers.
    pub fn mutate(&mut self, input: &[u8], others: &[Vec<u8>]) -> Vec<u8> {
        const BYTES: &[u8] = b"&=?/%.:;\"{}[],\\\r\n \0\xff+#@-_";
        let mut out = input.to_vec();
        for _ in 0..=self.below(4) {
            let at = self.below(out.len() + 1);
            match self.below(6) {
                0 if at < out.len() => out[at] ^= 1 << self.below(8),
                1 => out.insert(at, BYTES[self.below(BYTES.len())]),
                2 if at < out.len() => {
                    let end = (at + 1 + self.below(8)).min(out.len());
                    out.drain(at..end);
                }
                3 if at < out.len() => {
                    let end = (at + 1 + self.below(16)).min(out.len());
                    let piece = out[at..end].to_vec();
                    out.splice(at..at, piece);
                }
                4 if !others.is_empty() => {
                    let other = &others[self.below(others.len())];
                    let from = self.below(other.len() + 1);
                    out.truncate(at);
                    out.extend_from_slice(&other[from..]);
                }
                _ => out.insert(at, self.next() as u8),
            }
        }
        out
    }
}

/// Runs `target` over its seeds, then over mutations of them until `budget` or `count` runs;
/// returns how many inputs ran.
pub fn smoke(name: &str, target: fn(&[u8]), budget: Duration, count: usize) -> usize {
    let seeds = seeds(name);
    assert!(!seeds.is_empty(), "no seeds in {}", dir(name).display());
    for seed in &seeds {
        target(seed);
    }
    let started = Instant::now();
    let mut mutator = Mutator::new(0x6b69_6e76_6578 ^ name.len() as u64);
    let mut runs = seeds.len();
    while runs < count && started.elapsed() < budget {
        let base = &seeds[runs % seeds.len()];
        let input = mutator.mutate(base, &seeds);
        target(&input);
        runs += 1;
    }
    runs
}

/// A forged token written as a recipe, so no token-shaped text is kept in the repository: a
/// first line `forged-jwt ALG KID` (`-` for no `kid`), then the claims. The token is minted
/// here at run time with a signature no key made (none at all for `alg: none`). Anything else
/// is returned as it is.
pub fn mint_forged(text: &str) -> std::borrow::Cow<'_, str> {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let Some(recipe) = text.strip_prefix("forged-jwt ") else {
        return text.into();
    };
    let (line, claims) = recipe.split_once('\n').unwrap_or((recipe, ""));
    let mut words = line.split(' ');
    let alg = words.next().unwrap_or("none");
    let mut header = serde_json::json!({ "alg": alg, "typ": "JWT" });
    if let Some(kid) = words.next().filter(|k| *k != "-") {
        header["kid"] = kid.into();
    }
    let signature_len = match alg {
        "none" => 0,
        a if a.starts_with("HS") => 32,
        _ => 256,
    };
    let signature: Vec<u8> = (0..signature_len).map(|i| (i * 7 + 19) as u8).collect();
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.trim_end()),
        URL_SAFE_NO_PAD.encode(signature)
    )
    .into()
}
