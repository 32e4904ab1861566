//! Fuzz targets for the inputs an attacker controls: the callback the browser delivers, the ID
//! token the provider returns, the webhook body, the backend's requests, and the configuration.
//!
//! Each target is `fn target(data: &[u8])` and panics when a property that matters fails (a
//! forged token accepted, a code taken for a wrong state, an http issuer accepted, a crash or an
//! unbounded wait). AFL++ drives them coverage-guided through afl.rs (`cargo xtask fuzz`, the
//! `afl` feature); the tests run them over the seed corpus and its mutations.

pub mod callback;
pub mod config;
pub mod convex;
pub mod corpus;
pub mod id_token;
pub mod stack;
pub mod webhook;

/// A target by name, as `cargo xtask fuzz` and the harness binary name them.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// A fuzz target: it panics when an input breaks a property.
pub type Target = fn(&[u8]);

/// Every target, with the name of its seed folder under `fuzz/corpus`.
pub const TARGETS: &[(&str, Target)] = &[
    ("callback", callback::target),
    ("id_token", id_token::target),
    ("webhook", webhook::target),
    ("convex", convex::target),
    ("config", config::target),
];
