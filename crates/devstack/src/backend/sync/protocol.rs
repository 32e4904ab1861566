//! The sync protocol's messages as JSON text frames, in the shapes of get-convex/convex-backend
//! crates/convex/sync_types/src/types/json.rs: what the official clients send, and what they
//! require of the server's answers (always `logLines` and `journal`, `ts` as base64, `errorData`
//! only for a `ConvexError`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A u64 timestamp (nanoseconds since the epoch), written as the standard base64 of its 8
/// little-endian bytes: always 12 characters, `AAAAAAAAAAA=` for 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ts(pub u64);

impl Serialize for Ts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(self.0.to_le_bytes()))
    }
}

impl<'de> Deserialize<'de> for Ts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Ts, D::Error> {
        let text = String::deserialize(deserializer)?;
        let bytes = STANDARD
            .decode(&text)
            .map_err(|e| D::Error::custom(format!("a timestamp is base64: {e}")))?;
        let bytes: [u8; 8] = bytes
            .try_into()
            .map_err(|_| D::Error::custom("a timestamp is 8 bytes"))?;
        Ok(Ts(u64::from_le_bytes(bytes)))
    }
}

/// `{querySet, identity, ts}`: where a socket's state stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StateVersion {
    pub query_set: u32,
    pub identity: u32,
    pub ts: Ts,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type")]
pub enum ClientMessage {
    #[serde(rename_all = "camelCase")]
    Connect {
        session_id: String,
        #[serde(default)]
        max_observed_timestamp: Option<Ts>,
        /// The client's clock in ms; Rust always sends 0.
        #[serde(default)]
        client_ts: Option<i64>,
        /// Sockets this client opened before this one: 0 on a client's first.
        #[serde(default)]
        connection_count: Option<u32>,
    },
    #[serde(rename_all = "camelCase")]
    ModifyQuerySet {
        base_version: u32,
        new_version: u32,
        modifications: Vec<QuerySetModification>,
    },
    #[serde(rename_all = "camelCase")]
    Mutation {
        request_id: u32,
        udf_path: String,
        args: Vec<Value>,
        #[serde(default)]
        component_path: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    Action {
        request_id: u32,
        udf_path: String,
        args: Vec<Value>,
        #[serde(default)]
        component_path: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    Authenticate {
        base_version: u32,
        token_type: TokenType,
        /// The JWT for `User`, the admin key for `Admin`.
        #[serde(default)]
        value: Option<String>,
    },
    /// Debug events and network notices: the server only logs them.
    Event {},
}

impl ClientMessage {
    /// The message's `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientMessage::Connect { .. } => "Connect",
            ClientMessage::ModifyQuerySet { .. } => "ModifyQuerySet",
            ClientMessage::Mutation { .. } => "Mutation",
            ClientMessage::Action { .. } => "Action",
            ClientMessage::Authenticate { .. } => "Authenticate",
            ClientMessage::Event {} => "Event",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum TokenType {
    User,
    None,
    Admin,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type")]
pub enum QuerySetModification {
    #[serde(rename_all = "camelCase")]
    Add {
        query_id: u32,
        udf_path: String,
        args: Vec<Value>,
        #[serde(default)]
        component_path: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    Remove { query_id: u32 },
}

/// A function's path as Convex resolves it: split at the last `:` (none means the default
/// export), without the module's `.js`. `messages`, `messages:default`, `messages.js:list` and
/// `dir/file:fn` are all accepted (convex-backend crates/convex/sync_types/src/udf_path.rs).
pub fn canonical_path(udf_path: &str) -> String {
    let (module, function) = udf_path.rsplit_once(':').unwrap_or((udf_path, "default"));
    let module = module.strip_suffix(".js").unwrap_or(module);
    format!("{module}:{function}")
}

/// A call's arguments: the clients send the one args object inside an array.
pub fn arguments(mut args: Vec<Value>) -> Value {
    if args.len() == 1 {
        args.remove(0)
    } else {
        Value::Array(args)
    }
}

#[derive(Debug, Serialize)]
#[serde(tag = "type")]
pub enum ServerMessage {
    #[serde(rename_all = "camelCase")]
    Transition {
        start_version: StateVersion,
        end_version: StateVersion,
        modifications: Vec<StateModification>,
        client_clock_skew: Option<i64>,
        server_ts: u64,
    },
    #[serde(rename_all = "camelCase")]
    MutationResponse {
        request_id: u32,
        success: bool,
        /// The value on success, the error message on failure.
        result: Value,
        ts: Option<Ts>,
        log_lines: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error_data: Option<Value>,
    },
    #[serde(rename_all = "camelCase")]
    ActionResponse {
        request_id: u32,
        success: bool,
        result: Value,
        log_lines: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error_data: Option<Value>,
    },
    #[serde(rename_all = "camelCase")]
    AuthError {
        error: String,
        base_version: Option<u32>,
        auth_update_attempted: bool,
    },
    FatalError {
        error: String,
    },
    Ping,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum StateModification {
    #[serde(rename_all = "camelCase")]
    QueryUpdated {
        query_id: u32,
        value: Value,
        log_lines: Vec<String>,
        journal: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    QueryFailed {
        query_id: u32,
        error_message: String,
        log_lines: Vec<String>,
        journal: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error_data: Option<Value>,
    },
    #[serde(rename_all = "camelCase")]
    QueryRemoved { query_id: u32 },
}

impl StateModification {
    pub fn query_id(&self) -> u32 {
        match self {
            StateModification::QueryUpdated { query_id, .. }
            | StateModification::QueryFailed { query_id, .. }
            | StateModification::QueryRemoved { query_id } => *query_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timestamps_are_twelve_characters_of_little_endian_base64() {
        assert_eq!(json!(Ts(0)), json!("AAAAAAAAAAA="));
        let ts = Ts(1_755_820_800_000_456_789);
        let text = serde_json::to_string(&ts).unwrap_or_default();
        assert_eq!(text.len(), 14, "{text}");
        assert_eq!(serde_json::from_str::<Ts>(&text).ok(), Some(ts));
        assert!(serde_json::from_str::<Ts>("\"AAAA\"").is_err());
    }

    #[test]
    fn client_messages_parse_as_both_official_clients_write_them() {
        let connect: ClientMessage = serde_json::from_value(json!({
            "type": "Connect", "sessionId": "s", "connectionCount": 0,
            "lastCloseReason": null, "clientTs": 0
        }))
        .unwrap_or(ClientMessage::Event {});
        assert!(matches!(
            connect,
            ClientMessage::Connect {
                max_observed_timestamp: None,
                client_ts: Some(0),
                connection_count: Some(0),
                ..
            }
        ));
        let auth: Result<ClientMessage, _> = serde_json::from_value(json!({
            "type": "Authenticate", "baseVersion": 0, "tokenType": "Admin", "value": "k",
            "impersonating": { "subject": "x" }
        }));
        assert!(matches!(
            auth,
            Ok(ClientMessage::Authenticate {
                token_type: TokenType::Admin,
                ..
            })
        ));
        let event: Result<ClientMessage, _> =
            serde_json::from_value(json!({ "type": "Event", "eventType": "x", "event": {} }));
        assert!(event.is_ok());
    }

    #[test]
    fn udf_paths_resolve_as_convex_resolves_them() {
        assert_eq!(canonical_path("users:current"), "users:current");
        assert_eq!(canonical_path("users.js:current"), "users:current");
        assert_eq!(canonical_path("users"), "users:default");
        assert_eq!(canonical_path("dir/file.js:fn"), "dir/file:fn");
    }

    #[test]
    fn error_data_is_left_out_unless_there_is_some() {
        let failed = StateModification::QueryFailed {
            query_id: 1,
            error_message: "m".into(),
            log_lines: Vec::new(),
            journal: None,
            error_data: None,
        };
        assert_eq!(
            json!(failed),
            json!({ "type": "QueryFailed", "queryId": 1, "errorMessage": "m", "logLines": [], "journal": null })
        );
        assert_eq!(json!(ServerMessage::Ping), json!({ "type": "Ping" }));
    }
}
