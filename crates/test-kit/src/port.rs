//! Loopback ports for tests that need one before anything listens on it.

use std::net::{Ipv4Addr, TcpListener};

/// A loopback port nothing listens on right now. Another socket may take it before the caller
/// binds it, so a caller that cannot bind it itself at once should be ready to try another.
pub fn free() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .unwrap_or_else(|e| panic!("no free loopback port: {e}"))
}
