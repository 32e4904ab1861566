//! One socket's state, as get-convex/convex-backend crates/sync/src/state.rs keeps it: the
//! query-set and identity versions the client asked for, the last version sent, the subscribed
//! queries with a hash of the result last sent for each, and the identity queries run as. It
//! checks the base-version rules; the socket task does the I/O.

use super::failure::Failure;
use super::protocol::{QuerySetModification, StateModification, StateVersion, Ts, canonical_path};
use serde_json::Value;
use std::collections::BTreeMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

/// Who the socket's functions run as.
#[derive(Clone, Debug, Default)]
pub enum Identity {
    /// Before any Authenticate, or after `tokenType: "None"`.
    #[default]
    Anonymous,
    /// A verified token: the identity functions see, and its `exp` in Unix seconds.
    User { identity: Value, expires: f64 },
}

impl Identity {
    pub fn value(&self) -> Option<&Value> {
        match self {
            Identity::Anonymous => None,
            Identity::User { identity, .. } => Some(identity),
        }
    }

    /// Whether a token's identity has expired at `now` (Unix seconds, no leeway, as Convex).
    pub fn expired(&self, now: i64) -> bool {
        matches!(self, Identity::User { expires, .. } if now as f64 >= *expires)
    }
}

/// What a query came to when it ran: its value, or the error text and `ConvexError` data.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Value(Value),
    Failed {
        /// What identifies the failure for "has it changed": the error without its request id.
        error: String,
        /// The `errorMessage` to send (with a request id).
        message: String,
        data: Option<Value>,
    },
}

impl Outcome {
    fn hash(&self) -> u64 {
        let mut hasher = DefaultHasher::new();
        match self {
            Outcome::Value(value) => ("value", value.to_string()).hash(&mut hasher),
            Outcome::Failed { error, data, .. } => {
                ("failed", error, data.as_ref().map(Value::to_string)).hash(&mut hasher)
            }
        }
        hasher.finish()
    }
}

struct Query {
    /// `module:function`.
    path: String,
    args: Value,
    /// The hash of the result last sent; `None` until one was.
    sent: Option<u64>,
}

#[derive(Default)]
pub struct Session {
    /// The `newVersion` of the last ModifyQuerySet received.
    query_set: u32,
    /// How many Authenticates were received.
    identity_version: u32,
    /// The `endVersion` of the last Transition sent.
    sent: StateVersion,
    queries: BTreeMap<u32, Query>,
    removed: Vec<u32>,
    pub identity: Identity,
}

impl Session {
    /// The version the last Transition ended at.
    pub fn sent(&self) -> StateVersion {
        self.sent
    }

    /// Applies a ModifyQuerySet; its changes go out with the next Transition.
    pub fn modify_query_set(
        &mut self,
        base_version: u32,
        new_version: u32,
        modifications: Vec<QuerySetModification>,
    ) -> Result<(), Failure> {
        if base_version != self.query_set {
            return Err(Failure::BadRequest(format!(
                "Base version {base_version} passed up doesn't match the current version {}",
                self.query_set
            )));
        }
        if new_version <= base_version {
            return Err(Failure::Internal(format!(
                "New version {new_version} must be greater than base version {base_version}"
            )));
        }
        for modification in modifications {
            match modification {
                QuerySetModification::Add {
                    query_id,
                    udf_path,
                    args,
                    component_path,
                } => {
                    if component_path.is_some() {
                        return Err(Failure::Internal(
                            "componentPath is for admin clients; the local backend has no components"
                                .into(),
                        ));
                    }
                    if self.queries.contains_key(&query_id) {
                        return Err(Failure::Internal(format!("Duplicate query id {query_id}")));
                    }
                    self.removed.retain(|id| *id != query_id);
                    self.queries.insert(
                        query_id,
                        Query {
                            path: canonical_path(&udf_path),
                            args: super::protocol::arguments(args),
                            sent: None,
                        },
                    );
                }
                QuerySetModification::Remove { query_id } => {
                    if self.queries.remove(&query_id).is_none() {
                        return Err(Failure::Internal(format!(
                            "Removing a nonexistent query id {query_id}"
                        )));
                    }
                    self.removed.push(query_id);
                }
            }
        }
        self.query_set = new_version;
        Ok(())
    }

    /// Applies an Authenticate whose token has been verified (or `Anonymous` for `None`).
    pub fn authenticate(&mut self, base_version: u32, identity: Identity) -> Result<(), Failure> {
        if base_version != self.identity_version {
            return Err(Failure::Internal(format!(
                "Base identity version {base_version} passed up doesn't match the current version {}",
                self.identity_version
            )));
        }
        self.identity_version += 1;
        self.identity = identity;
        Ok(())
    }

    /// Whether anything is waiting to go out besides re-run results: a query-set or identity
    /// version not yet sent, or a newly added query.
    pub fn pending(&self) -> bool {
        self.sent.query_set != self.query_set
            || self.sent.identity != self.identity_version
            || !self.removed.is_empty()
            || self.queries.values().any(|q| q.sent.is_none())
    }

    /// Re-runs every query with `run` and moves to the timestamp `latest` gives then; the modifications hold a result for
    /// each new query and each whose result changed, and a `QueryRemoved` for each removal,
    /// ordered by query id. Returns the start and end versions, or `None` (and stays where it
    /// was) when the Transition would say nothing and `always` is off: a commit that changed
    /// none of this socket's results.
    pub fn advance(
        &mut self,
        always: bool,
        mut run: impl FnMut(&str, &Value, Option<&Value>) -> Outcome,
        latest: impl FnOnce() -> u64,
    ) -> Option<(StateVersion, StateVersion, Vec<StateModification>)> {
        let versions_moved = self.pending();
        let mut modifications: Vec<StateModification> = self
            .removed
            .drain(..)
            .map(|query_id| StateModification::QueryRemoved { query_id })
            .collect();
        let identity = self.identity.value();
        for (query_id, query) in &mut self.queries {
            let outcome = run(&query.path, &query.args, identity);
            let hash = outcome.hash();
            if query.sent == Some(hash) {
                continue;
            }
            query.sent = Some(hash);
            modifications.push(match outcome {
                Outcome::Value(value) => StateModification::QueryUpdated {
                    query_id: *query_id,
                    value,
                    log_lines: Vec::new(),
                    journal: None,
                },
                Outcome::Failed { message, data, .. } => StateModification::QueryFailed {
                    query_id: *query_id,
                    error_message: message,
                    log_lines: Vec::new(),
                    journal: None,
                    error_data: data,
                },
            });
        }
        modifications.sort_by_key(StateModification::query_id);
        if !always && !versions_moved && modifications.is_empty() {
            return None;
        }
        let start = self.sent;
        self.sent = StateVersion {
            query_set: self.query_set,
            identity: self.identity_version,
            ts: Ts(latest().max(start.ts.0)),
        };
        Some((start, self.sent, modifications))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn add(query_id: u32, path: &str) -> QuerySetModification {
        QuerySetModification::Add {
            query_id,
            udf_path: path.into(),
            args: vec![json!({})],
            component_path: None,
        }
    }

    fn echo(path: &str, _: &Value, _: Option<&Value>) -> Outcome {
        Outcome::Value(json!(path))
    }

    #[test]
    fn transitions_chain_and_send_only_new_or_changed_results() {
        let mut session = Session::default();
        assert!(
            session
                .modify_query_set(0, 1, vec![add(0, "a.js:x"), add(2, "b")])
                .is_ok()
        );
        assert!(
            session.advance(false, echo, || 9).is_some(),
            "new queries go out"
        );
        let mut session = Session::default();
        assert!(
            session
                .modify_query_set(0, 1, vec![add(0, "a.js:x"), add(2, "b")])
                .is_ok()
        );
        let (start, end, mods) = session.advance(true, echo, || 10).unwrap_or_default();
        assert_eq!(start, StateVersion::default());
        assert_eq!((end.query_set, end.identity, end.ts), (1, 0, Ts(10)));
        assert_eq!(mods.len(), 2);
        assert_eq!(
            mods[1],
            StateModification::QueryUpdated {
                query_id: 2,
                value: json!("b:default"),
                log_lines: vec![],
                journal: None
            }
        );
        assert!(!session.pending());
        assert!(
            session.advance(false, echo, || 12).is_none(),
            "a commit that changed nothing"
        );
        let (again, later, mods) = session.advance(true, echo, || 5).unwrap_or_default();
        assert_eq!(again, end);
        assert_eq!(later.ts, Ts(10), "ts never goes back");
        assert!(mods.is_empty(), "unchanged results are left out: {mods:?}");
        assert!(
            session
                .modify_query_set(1, 2, vec![QuerySetModification::Remove { query_id: 0 }])
                .is_ok()
        );
        let (_, _, mods) = session.advance(false, echo, || 11).unwrap_or_default();
        assert_eq!(mods, vec![StateModification::QueryRemoved { query_id: 0 }]);
    }

    #[test]
    fn base_version_mismatches_fail_as_convex_fails_them() {
        let mut session = Session::default();
        assert!(matches!(
            session.modify_query_set(1, 2, vec![]),
            Err(Failure::BadRequest(m)) if m == "Base version 1 passed up doesn't match the current version 0"
        ));
        assert!(matches!(
            session.modify_query_set(0, 0, vec![]),
            Err(Failure::Internal(_))
        ));
        assert!(session.modify_query_set(0, 1, vec![add(0, "a:x")]).is_ok());
        assert!(matches!(
            session.modify_query_set(1, 2, vec![add(0, "a:y")]),
            Err(Failure::Internal(_))
        ));
        let mut session = Session::default();
        assert!(matches!(
            session.modify_query_set(0, 1, vec![QuerySetModification::Remove { query_id: 9 }]),
            Err(Failure::Internal(_))
        ));
        assert!(matches!(
            session.authenticate(1, Identity::Anonymous),
            Err(Failure::Internal(_))
        ));
        assert!(session.authenticate(0, Identity::Anonymous).is_ok());
        assert!(session.pending(), "a new identity version goes out");
    }

    #[test]
    fn a_token_expires_at_its_exp_with_no_leeway() {
        let user = Identity::User {
            identity: json!({}),
            expires: 100.0,
        };
        assert!(!user.expired(99));
        assert!(user.expired(100));
        assert!(!Identity::Anonymous.expired(i64::MAX));
    }
}
