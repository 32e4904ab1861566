//! A function's failure as a deployment reports it to clients (get-convex/convex-backend
//! crates/application/src/redaction.rs): `[Request ID: <id>] Server Error`, followed in
//! development by the error itself (`Uncaught ConvexError: {...}`), and nothing more in
//! production. A `ConvexError`'s data goes to clients in both, as `errorData`, which is what a
//! client should act on.

use super::functions::FunctionError;
use serde_json::{Value, json};

/// A request's id as Convex makes one: 8 random bytes in hex.
pub fn request_id() -> String {
    crate::random::hex(8)
}

/// The `errorMessage` clients receive for `error`.
pub fn message(error: &FunctionError, request_id: &str, production: bool) -> String {
    if production {
        format!("[Request ID: {request_id}] Server Error")
    } else {
        // The JS error's own text ends with a line break (its stack frames would follow).
        format!(
            "[Request ID: {request_id}] Server Error\n{}\n",
            error.message
        )
    }
}

/// The `status: "error"` body for `error`.
pub fn body(error: &FunctionError, request_id: &str, production: bool) -> Value {
    let mut body = json!({
        "status": "error",
        "errorMessage": message(error, request_id, production),
    });
    if let Some(data) = &error.data {
        body["errorData"] = data.clone();
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn development_shows_the_error_and_production_only_the_request_id() {
        let error = FunctionError {
            message: "Uncaught ConvexError: {\"code\":\"X\"}".into(),
            data: Some(json!({ "code": "X" })),
        };
        assert_eq!(
            message(&error, "0123456789abcdef", false),
            "[Request ID: 0123456789abcdef] Server Error\nUncaught ConvexError: {\"code\":\"X\"}\n"
        );
        assert_eq!(
            body(&error, "0123456789abcdef", true),
            json!({
                "status": "error",
                "errorMessage": "[Request ID: 0123456789abcdef] Server Error",
                "errorData": { "code": "X" }
            })
        );
    }

    #[test]
    fn a_request_id_is_16_hex_digits() {
        let id = request_id();
        assert_eq!(id.len(), 16);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
