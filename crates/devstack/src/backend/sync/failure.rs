//! Why a socket ends, and how each reason is told to the client, as get-convex/convex-backend
//! crates/local_backend/src/subs/mod.rs closes sockets: a bad request gets a `FatalError` and an
//! authentication failure an `AuthError`, both then a close with no code; an internal error a
//! close 1011 `InternalServerError`; a silent client 1000 `ClientDisconnected`.

use super::protocol::ServerMessage;

#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The client broke the protocol in a way Convex reports (a base version that does not
    /// match): `FatalError`, then a close with no code. npm gives up for good on it.
    #[error("{0}")]
    BadRequest(String),
    /// A token refused on Authenticate (`attempted`) or expired on a live socket: `AuthError`,
    /// then a close with no code; the client fetches a new token and reconnects.
    #[error("{error}")]
    Auth {
        error: String,
        base_version: Option<u32>,
        attempted: bool,
    },
    /// Anything else the client got wrong, as the deployment classifies it: a close 1011.
    #[error("{0}")]
    Internal(String),
    /// No frame from the client, pongs included, for the whole client timeout.
    #[error("the client sent nothing for too long; it reconnects when it is back")]
    Silent,
    /// The stack is stopping.
    #[error("the local backend is stopping; clients reconnect once it is started again")]
    Stopping,
    /// The client closed the socket or it broke: nothing more can be sent.
    #[error("the client went away")]
    Gone,
    /// A test dropped the socket ([`super::control`]): no message and no close frame, as a
    /// network failure looks to the client.
    #[error("the connection was cut by a test")]
    Cut,
}

/// A close frame's code and reason.
pub struct Close {
    pub code: u16,
    pub reason: &'static str,
}

impl Failure {
    /// The stable code of this failure, which is also the close reason where one is sent.
    pub fn code(&self) -> &'static str {
        match self {
            Failure::BadRequest(_) => "BadRequest",
            Failure::Auth { .. } => "AuthError",
            Failure::Internal(_) => "InternalServerError",
            Failure::Silent => "ClientDisconnected",
            Failure::Stopping => "ServerStopping",
            Failure::Gone => "ClientGone",
            Failure::Cut => "ConnectionCut",
        }
    }

    /// The message to send before closing, if any.
    pub fn message(&self) -> Option<ServerMessage> {
        match self {
            Failure::BadRequest(error) => Some(ServerMessage::FatalError {
                error: error.clone(),
            }),
            Failure::Auth {
                error,
                base_version,
                attempted,
            } => Some(ServerMessage::AuthError {
                error: error.clone(),
                base_version: *base_version,
                auth_update_attempted: *attempted,
            }),
            _ => None,
        }
    }

    /// The close frame: `None` for a close with no code (clients see 1005), and for a client
    /// that is gone or a connection cut.
    pub fn close(&self) -> Option<Close> {
        let code = match self {
            Failure::BadRequest(_) | Failure::Auth { .. } | Failure::Gone | Failure::Cut => {
                return None;
            }
            Failure::Internal(_) => 1011,
            Failure::Silent => 1000,
            Failure::Stopping => 1001,
        };
        Some(Close {
            code,
            reason: self.code(),
        })
    }
}
