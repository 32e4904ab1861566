//! What the tests of every crate share, so each test file states only what it checks: a local
//! stack to sign in against, a headless browser that answers its pages, and the settings that
//! point the app at it. Test code only; no release build links it.

pub mod backend;
pub mod browser;
pub mod env;
pub mod oauth;
pub mod port;
pub mod shipped;
pub mod stack;
