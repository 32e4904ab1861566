//! Between the app's plain JSON and the `convex` crate's values. Arguments go in as Convex JSON
//! (what the HTTP API takes, `$integer` and the like included); results come out as the HTTP
//! API's `format: json` writes them (`Value::export`: a float stays a JSON number, an int64 is
//! a decimal string), so `crate::data` reads both alike.

use crate::ConvexError;
use convex::FunctionResult;
use serde_json::Value;
use std::collections::BTreeMap;

/// A call's `args`, which must be an object.
pub(super) fn args(
    function: &str,
    args: Value,
) -> Result<BTreeMap<String, convex::Value>, ConvexError> {
    let invalid = |detail: String| ConvexError::InvalidCall {
        function: function.to_string(),
        detail,
    };
    if function.is_empty() {
        return Err(invalid("no function name".into()));
    }
    match convex::Value::try_from(args) {
        Ok(convex::Value::Object(fields)) => Ok(fields),
        Ok(_) => Err(invalid("the arguments are not an object".into())),
        Err(e) => Err(invalid(format!(
            "the arguments are not Convex values ({e})"
        ))),
    }
}

/// A function's result as the app sees it: its value, or the function's error.
pub(super) fn outcome(function: &str, result: FunctionResult) -> Result<Value, ConvexError> {
    match result {
        FunctionResult::Value(value) => Ok(value.export()),
        FunctionResult::ErrorMessage(message) => Err(ConvexError::Function {
            function: function.to_string(),
            message,
            data: None,
        }),
        FunctionResult::ConvexError(error) => Err(ConvexError::Function {
            function: function.to_string(),
            message: error.message,
            data: Some(error.data.export()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn results_read_as_the_http_apis_json_format() {
        let mut fields = BTreeMap::new();
        fields.insert("size".to_string(), convex::Value::Float64(482113.0));
        fields.insert("count".to_string(), convex::Value::Int64(3));
        let value = outcome(
            "files:list",
            FunctionResult::Value(convex::Value::Object(fields)),
        );
        let value = value.unwrap_or_default();
        assert_eq!(value, json!({ "size": 482113.0, "count": "3" }));
        assert!(value["size"].is_f64(), "a float stays a JSON number");
    }

    #[test]
    fn a_convex_error_keeps_its_data_and_arguments_must_be_an_object() {
        let error = convex::ConvexError {
            message: "Uncaught ConvexError".into(),
            data: convex::Value::try_from(json!({ "code": "UNAUTHENTICATED" }))
                .unwrap_or(convex::Value::Null),
        };
        match outcome("users:current", FunctionResult::ConvexError(error)) {
            Err(ConvexError::Function { data, .. }) => {
                assert_eq!(data, Some(json!({ "code": "UNAUTHENTICATED" })));
            }
            other => panic!("expected a function error, got {other:?}"),
        }
        assert!(matches!(
            args("files:list", json!([1])),
            Err(ConvexError::InvalidCall { .. })
        ));
        let parsed = args(
            "files:list",
            json!({ "paginationOpts": { "numItems": 20, "cursor": null } }),
        );
        assert!(parsed.is_ok_and(|fields| fields.contains_key("paginationOpts")));
    }
}
