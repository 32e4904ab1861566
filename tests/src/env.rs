//! What `cargo xtask test` puts in the environment: the binaries under test, the drivers'
//! setup, where artifacts go.

/// The value of `name`; outside `cargo xtask test` a test fails saying so, rather than passing
/// without having run.
pub fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: end-to-end tests run through `cargo xtask test`")
    })
}
